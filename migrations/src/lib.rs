//! Schema migrations of the integration points database, for SQLite and
//! PostgreSQL.
//!
//! Each migration writes its schema with sea-query statements of its own and
//! never imports the application's entities: a migration is a frozen record of
//! one step, and must keep meaning the same thing when the entities move on.
//!
//! The service binary runs them through [`Migrator`] (`up`, `down`, `status`);
//! [`MigratorTrait`] is re-exported so that callers need no direct dependency on
//! `sea-orm-migration`.

pub use sea_orm_migration::{MigrationStatus, MigratorTrait};
use sea_orm_migration::{MigrationTrait, async_trait};

/// The unique indexes' names, as the migration that creates them gives them,
/// so that an adapter telling which rule a violation broke reads them from
/// here rather than restating them.
pub use m20261127_000001_create_integration_points::{UX_CODE, UX_TOKEN_LOCAL};

mod m20261127_000001_create_integration_points;
mod m20261127_000002_index_common_queries;
mod m20261129_000001_create_point_changes;
mod m20261129_000002_record_point_changes_per_statement;
mod m20261129_000003_add_change_writers;
mod m20261129_000004_plan_list_revision_once;

/// Every migration of the database, oldest first.
#[derive(Debug, Clone, Copy, Default)]
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261127_000001_create_integration_points::Migration),
            Box::new(m20261127_000002_index_common_queries::Migration),
            Box::new(m20261129_000001_create_point_changes::Migration),
            Box::new(m20261129_000002_record_point_changes_per_statement::Migration),
            Box::new(m20261129_000003_add_change_writers::Migration),
            Box::new(m20261129_000004_plan_list_revision_once::Migration),
        ]
    }
}
