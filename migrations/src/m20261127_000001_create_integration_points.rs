//! Creates the `integration_points` table and the indexes that make `id`,
//! `code` and `token_local` unique.
//!
//! Uniqueness is the database's job, not the service's: two replicas racing to
//! create the same code must yield exactly one winner, which only a unique index
//! can promise.

use sea_orm_migration::prelude::{ColumnDef, DbErr, DeriveIden, DeriveMigrationName, Index, Table};
use sea_orm_migration::schema::{big_integer, boolean, pk_uuid, text};
// `DeriveIden` expands to paths through `sea_orm`.
use sea_orm_migration::sea_orm::{self, DbBackend};
use sea_orm_migration::{MigrationTrait, SchemaManager, async_trait};

/// The migration.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum IntegrationPoints {
    Table,
    Id,
    Code,
    Type,
    TokenLocal,
    TokenRemote,
    TokenRemote2,
    Url,
    RecvSvcscriptcode,
    RecvSvcscriptcodeWs,
    SendSvcscriptcode,
    SendSvcscriptcodeWs,
    OptsTitle,
    OptsComment,
    OptsAllowFilesApi,
    OptsIssync,
    Ct,
    Lwt,
    Version,
}

/// The unique index on `code`: the name PostgreSQL reports a violation by.
pub const UX_CODE: &str = "ux_integration_points_code";
/// The unique index on `token_local`: the name PostgreSQL reports a violation by.
pub const UX_TOKEN_LOCAL: &str = "ux_integration_points_token_local";
const IX_CT_ID: &str = "ix_integration_points_ct_id";

/// A `text NOT NULL` column that compares by code point on every backend.
///
/// PostgreSQL gets `COLLATE "C"`: byte order of UTF-8, which is code point order
/// and exactly SQLite's default BINARY collation. So `order`, `lt` and `gt` give
/// the same answers on both backends (and the in-memory rules of the domain), and
/// btree indexes on these columns can serve `LIKE 'prefix%'`, which they cannot
/// under a linguistic collation.
fn text_column(column: IntegrationPoints, backend: DbBackend) -> ColumnDef {
    let mut def = text(column);
    if backend == DbBackend::Postgres {
        def.extra(r#"COLLATE "C""#);
    }
    def
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();
        let text = |column| text_column(column, backend);
        manager
            .create_table(
                Table::create()
                    .table(IntegrationPoints::Table)
                    .col(pk_uuid(IntegrationPoints::Id))
                    .col(text(IntegrationPoints::Code))
                    .col(text(IntegrationPoints::Type))
                    .col(text(IntegrationPoints::TokenLocal))
                    .col(text(IntegrationPoints::TokenRemote))
                    .col(text(IntegrationPoints::TokenRemote2))
                    .col(text(IntegrationPoints::Url))
                    .col(text(IntegrationPoints::RecvSvcscriptcode))
                    .col(text(IntegrationPoints::RecvSvcscriptcodeWs))
                    .col(text(IntegrationPoints::SendSvcscriptcode))
                    .col(text(IntegrationPoints::SendSvcscriptcodeWs))
                    .col(text(IntegrationPoints::OptsTitle))
                    .col(text(IntegrationPoints::OptsComment))
                    .col(boolean(IntegrationPoints::OptsAllowFilesApi))
                    .col(boolean(IntegrationPoints::OptsIssync))
                    // Milliseconds since the Unix epoch rather than a timestamp type:
                    // sqlx stores chrono timestamps on SQLite as RFC 3339 text of
                    // variable width, which does not sort as time, while integers
                    // compare and sort correctly and identically on both backends.
                    .col(big_integer(IntegrationPoints::Ct))
                    .col(big_integer(IntegrationPoints::Lwt))
                    // The row version: starts at 1, moves on every write, and drives
                    // ETags and compare-and-swap updates.
                    .col(big_integer(IntegrationPoints::Version))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(UX_CODE)
                    .table(IntegrationPoints::Table)
                    .col(IntegrationPoints::Code)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(UX_TOKEN_LOCAL)
                    .table(IntegrationPoints::Table)
                    .col(IntegrationPoints::TokenLocal)
                    .unique()
                    .to_owned(),
            )
            .await?;
        // The default list order is `ext.ct`, then `id`.
        manager
            .create_index(
                Index::create()
                    .name(IX_CT_ID)
                    .table(IntegrationPoints::Table)
                    .col(IntegrationPoints::Ct)
                    .col(IntegrationPoints::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Dropping the table drops its indexes with it.
        manager
            .drop_table(Table::drop().table(IntegrationPoints::Table).to_owned())
            .await
    }
}
