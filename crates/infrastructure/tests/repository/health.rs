//! [`SeaOrmHealthCheck`]: readiness follows the database and its migrations,
//! and the pool's figures follow its connections.

use std::time::Duration;

use domain::health::{HealthCheck, HealthError};
use infrastructure::{SeaOrmHealthCheck, connect, migrate, migrate_down};

use crate::support::{Backend, Scratch, TestDb};

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
        matches!(unmigrated, Err(HealthError::MigrationsPending(2))),
        "{unmigrated:?}"
    );
    assert!(migrated.is_ok(), "{migrated:?}");
    assert!(
        matches!(reverted, Err(HealthError::MigrationsPending(1))),
        "{reverted:?}"
    );
    db.close().await.expect("close");
    scratch.remove().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_follows_the_migrations_on_sqlite() {
    readiness_follows_the_migrations(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_follows_the_migrations_on_postgres() {
    readiness_follows_the_migrations(Backend::Postgres).await;
}

on_both_backends!(
    a_closed_pool_is_not_ready,
    the_pool_figures_count_connections_held
);

async fn a_closed_pool_is_not_ready(db: TestDb) {
    let health = SeaOrmHealthCheck::new(db.connection.clone(), BOUND);
    db.connection.close_by_ref().await.expect("close");

    let checked = health.check().await;

    assert!(
        matches!(checked, Err(HealthError::Unreachable(_))),
        "{checked:?}"
    );
}

async fn the_pool_figures_count_connections_held(db: TestDb) {
    // Arrange: the test pools open at most 4 connections.
    use sea_orm::TransactionTrait as _;
    let health = SeaOrmHealthCheck::new(db.connection.clone(), BOUND);
    let held = [
        db.connection.begin().await.expect("begin"),
        db.connection.begin().await.expect("begin"),
    ];

    // Act
    let status = health.pool();

    // Assert
    assert_eq!(status.max(), 4, "{:?}", db.backend);
    // The pool may also be checking a connection it just got back: not idle.
    assert!((2..=4).contains(&status.in_use()), "{status:?}");
    assert!(status.size() >= status.in_use(), "{status:?}");
    drop(held);
}
