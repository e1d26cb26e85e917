//! `point_changes.writer`: the id of the transaction that recorded each
//! change, so that a list's revision can name the changes its snapshot saw.
//!
//! On PostgreSQL a change's `tx` is not always its writer's id (it is raised
//! to the point's previous change, see `m20261129_000001_create_point_changes`),
//! and whether a snapshot saw a change depends on the writer alone. The
//! column's default is the writing transaction's id, so the trigger's insert,
//! which names the point's columns only, fills it without being replaced.
//! Changes recorded before this migration keep `NULL`: every snapshot taken
//! after it saw them, and readers take `tx` for their writer, which any such
//! snapshot saw too. SQLite has one writer and no snapshot to compare with;
//! it gets the column, always `NULL`, so that both tables read alike.

use sea_orm_migration::prelude::{DbErr, DeriveMigrationName};
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};
use sea_orm_migration::{MigrationTrait, SchemaManager, async_trait};

/// The migration.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let statements: &[&str] = match manager.get_database_backend() {
            // Two steps: a default given with ADD COLUMN would be evaluated
            // for every existing row (in this transaction); set afterwards,
            // it applies to new rows only, and the table is not rewritten.
            DbBackend::Postgres => &[
                "ALTER TABLE point_changes ADD COLUMN writer BIGINT",
                "ALTER TABLE point_changes ALTER COLUMN writer \
                 SET DEFAULT pg_current_xact_id()::text::bigint",
            ],
            DbBackend::Sqlite => &["ALTER TABLE point_changes ADD COLUMN writer INTEGER"],
            other => {
                return Err(DbErr::BackendNotSupported {
                    db: other.as_str(),
                    ctx: "point_changes.writer",
                });
            }
        };
        let connection = manager.get_connection();
        for statement in statements {
            connection.execute_unprepared(statement).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("ALTER TABLE point_changes DROP COLUMN writer")
            .await?;
        Ok(())
    }
}
