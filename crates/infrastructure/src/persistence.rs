//! Storage of integration points in SQLite or PostgreSQL, through sea-orm.
//!
//! The schema comes from the `migration` crate; the entity here mirrors it and
//! never leaves this module tree: the repository speaks domain types only.

mod changes;
mod connect;
pub(crate) mod entity;
mod error;
mod health;
mod mapper;
mod pool;
mod query;
mod repository;
mod wakeups;

pub use changes::SeaOrmChangeLog;
pub use connect::{
    ConnectError, Database, DatabaseSettings, SqliteSynchronous, connect, is_transient, migrate,
    migrate_down, migration_status, pending_migrations, ping, redact_url_password,
};
pub use health::SeaOrmHealthCheck;
pub use repository::SeaOrmIntegrationPointRepository;
pub use wakeups::{ChangeListener, ChangeSignal};
