//! [`SeaOrmHealthCheck`]: readiness follows the database and its migrations,
//! and the pool's figures follow its connections.

use std::time::Duration;

use domain::health::{HealthCheck, HealthError};
use infrastructure::{SeaOrmHealthCheck, connect, migrate, migrate_down};
use migration::{Migrator, MigratorTrait};

use domain::integration_point::IntegrationPointRepository as _;

use crate::support::{Backend, Scratch, TestDb, point};

const BOUND: Duration = Duration::from_secs(5);

async fn readiness_follows_the_migrations(backend: Backend) {
    // Arrange
    let Some(scratch) = Scratch::new(backend) else {
        return;
    };
    let db = connect(&scratch.settings).await.expect("connect");
    let health = SeaOrmHealthCheck::new(db.clone(), BOUND);

    // Act
    let unmigrated = health.check().await;
    migrate(&db).await.expect("migrate");
    let migrated = health.check().await;
    migrate_down(&db, 1).await.expect("revert one");
    let reverted = health.check().await;

    // Assert
    assert!(
        matches!(unmigrated, Err(HealthError::MigrationsPending(n)) if n == Migrator::migrations().len()),
        "{unmigrated:?}"
    );
    assert!(migrated.is_ok(), "{migrated:?}");
    assert!(
        matches!(reverted, Err(HealthError::MigrationsPending(1))),
        "{reverted:?}"
    );
    db.close().await;
    scratch.remove().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_follows_the_migrations_on_sqlite() {
    readiness_follows_the_migrations(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[pg_gate::requires_postgres]
async fn readiness_follows_the_migrations_on_postgres() {
    readiness_follows_the_migrations(Backend::Postgres).await;
}

on_both_backends!(
    a_closed_pool_is_not_ready,
    the_pool_figures_count_connections_held
);

async fn a_closed_pool_is_not_ready(db: TestDb) {
    let health = SeaOrmHealthCheck::new(db.database.clone(), BOUND);
    db.database.close().await;

    let checked = health.check().await;

    assert!(
        matches!(checked, Err(HealthError::Unreachable(_))),
        "{checked:?}"
    );
}

async fn the_pool_figures_count_connections_held(db: TestDb) {
    // Arrange: the test pools allow 4 connections (on a SQLite file, 4
    // readers and the writer), and the repository holds none between calls.
    let health = SeaOrmHealthCheck::new(db.database.clone(), BOUND);
    db.repository
        .find(point("A").id())
        .await
        .expect("a read through the pool");

    // Act
    let status = health.pool();

    // Assert
    let allowed = match db.backend {
        Backend::Sqlite => 5,
        Backend::Postgres => 4,
    };
    assert_eq!(status.max(), allowed, "{status:?}");
    assert!(status.size() >= 1, "{status:?}");
    assert_eq!(status.in_use(), 0, "{status:?}");
}
