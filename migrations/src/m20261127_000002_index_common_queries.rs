//! Indexes for the list queries clients run most often.
//!
//! The set is deliberately small: every index slows every write and takes
//! space, and the unique indexes of the first migration already serve lookups
//! by `id`, `code` and `token_local` and ordering by `code`.

use sea_orm_migration::prelude::{DbErr, DeriveIden, DeriveMigrationName, Index};
// `DeriveIden` expands to paths through `sea_orm`.
use sea_orm_migration::sea_orm;
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
    Lwt,
}

const IX_TYPE_CODE_ID: &str = "ix_integration_points_type_code_id";
const IX_LWT_ID: &str = "ix_integration_points_lwt_id";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // `filter={"type": …}&order=["code"]`: the points of one kind (all the
        // Telegram bots, say) by code. The trailing `id` is the tiebreak every
        // list ends with, so the index yields rows already in final order.
        manager
            .create_index(
                Index::create()
                    .name(IX_TYPE_CODE_ID)
                    .table(IntegrationPoints::Table)
                    .col(IntegrationPoints::Type)
                    .col(IntegrationPoints::Code)
                    .col(IntegrationPoints::Id)
                    .to_owned(),
            )
            .await?;
        // `filter={"ext.lwt": {"gt": …}}&order=["ext.lwt"]`: clients that sync
        // by asking what changed since their last poll.
        manager
            .create_index(
                Index::create()
                    .name(IX_LWT_ID)
                    .table(IntegrationPoints::Table)
                    .col(IntegrationPoints::Lwt)
                    .col(IntegrationPoints::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for name in [IX_LWT_ID, IX_TYPE_CODE_ID] {
            manager
                .drop_index(
                    Index::drop()
                        .name(name)
                        .table(IntegrationPoints::Table)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
