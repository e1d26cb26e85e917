//! The driven adapters of the integration points service: storage in SQLite or
//! PostgreSQL through sea-orm, and the production clock, id and token
//! generators.
//!
//! Startup, in order: [`connect`] with [`DatabaseSettings`], [`migrate`], then
//! [`SeaOrmIntegrationPointRepository::new`]. [`SeaOrmHealthCheck`] answers
//! readiness checks (through [`ping`] and [`pending_migrations`]) and reports
//! the pool's figures.

pub mod persistence;
pub mod system;

pub use persistence::{
    ChangeListener, ChangeSignal, ConnectError, Database, DatabaseSettings, SeaOrmChangeLog,
    SeaOrmHealthCheck, SeaOrmIntegrationPointRepository, SqliteSynchronous, connect, is_transient,
    migrate, migrate_down, migration_status, pending_migrations, ping, redact_url_password,
};
/// sea-orm's connection that [`Database::connection`] lends, and the error
/// type of migrations, so that callers need no direct dependency on sea-orm.
pub use sea_orm::{DatabaseConnection, DbErr};
pub use system::{OsRandomTokens, RandomnessUnavailable, SystemClock, UuidV7Ids};
