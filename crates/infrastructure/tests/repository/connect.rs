//! `connect` and the health checks: per-connection settings, in-memory
//! databases, schemas, timeouts and failures.

use std::time::{Duration, Instant};

use domain::integration_point::{IntegrationPointRepository, StoreError};
use infrastructure::{
    ConnectError, SeaOrmIntegrationPointRepository, connect, migrate, pending_migrations, ping,
};
use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectionTrait, DbBackend, Statement};

use crate::support::{Backend, Scratch, TestDb, point, postgres_url, settings, unique_name};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_in_memory_sqlite_database_keeps_its_data_for_the_life_of_the_pool() {
    // Arrange
    let db = connect(&settings("sqlite::memory:".into(), None))
        .await
        .expect("connect");
    migrate(&db).await.expect("migrate");
    let repository = SeaOrmIntegrationPointRepository::new(&db);
    let stored = point("A");
    repository.insert(&stored).await.expect("insert");

    // Act: concurrent readers, which must all see the one database.
    let readers: Vec<_> = (0..4)
        .map(|_| {
            let repository = repository.clone();
            let id = stored.id();
            tokio::spawn(async move { repository.find(id).await })
        })
        .collect();

    // Assert
    for reader in readers {
        let found = reader.await.expect("reader task").expect("find");
        assert_eq!(found.as_ref(), Some(&stored));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sqlite_database_file_gets_its_missing_directories() {
    // Arrange: the `sqlite:` form, two levels of directories missing.
    let root = std::env::temp_dir().join(unique_name("infrastructure_tests"));
    let file = root.join("a").join("b").join("points.db");
    let url = format!("sqlite:{}?mode=rwc", file.display());

    // Act
    let db = connect(&settings(url, None)).await;

    // Assert
    db.expect("connect").close().await;
    assert!(file.is_file(), "{} exists", file.display());
    let _ = std::fs::remove_dir_all(&root);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[pg_gate::requires_postgres]
async fn a_postgres_schema_is_created_and_becomes_the_search_path() {
    let Some(scratch) = Scratch::new(Backend::Postgres) else {
        return;
    };
    let expected = scratch
        .settings
        .schema
        .clone()
        .expect("test schemas are set");

    let db = connect(&scratch.settings).await.expect("connect");
    let schema: String = db
        .connection()
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT current_schema() AS s",
        ))
        .await
        .expect("query")
        .expect("one row")
        .try_get("", "s")
        .expect("schema name");

    assert_eq!(schema, expected);
    db.close().await;
    scratch.remove().await;
}

#[tokio::test]
async fn invalid_settings_are_rejected_before_any_connection() {
    let postgres = "postgres://nobody@127.0.0.1:1/none".to_owned();
    let with =
        |url: &str, schema: Option<&str>| settings(url.to_owned(), schema.map(str::to_owned));
    let mut empty_pool = with(&postgres, None);
    empty_pool.max_connections = 0;
    let mut inverted_pool = with(&postgres, None);
    inverted_pool.min_connections = 5;
    let cases = [
        ("unsupported scheme", with("mysql://root@db/x", None)),
        ("schema on SQLite", with("sqlite::memory:", Some("points"))),
        (
            "schema that is not an identifier",
            with(&postgres, Some(r#"x"; DROP SCHEMA public; --"#)),
        ),
        ("no connections", empty_pool),
        ("more idle than total connections", inverted_pool),
    ];

    for (what, settings) in cases {
        let result = connect(&settings).await;

        assert!(
            matches!(
                result,
                Err(ConnectError::UnsupportedUrl
                    | ConnectError::SchemaWithoutPostgres
                    | ConnectError::InvalidSchema(_)
                    | ConnectError::InvalidPoolSize { .. })
            ),
            "{what}: {result:?}"
        );
    }
}

#[tokio::test]
async fn a_database_that_never_answers_times_out() {
    // Arrange: a listener that completes TCP handshakes but never speaks.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = silent.local_addr().expect("address").port();
    let mut settings = settings(format!("postgres://nobody@127.0.0.1:{port}/none"), None);
    settings.connect_timeout = Duration::from_millis(300);
    settings.acquire_timeout = Duration::from_secs(60);
    let started = Instant::now();

    // Act
    let result = connect(&settings).await;

    // Assert
    assert!(
        matches!(result, Err(ConnectError::TimedOut(_))),
        "{result:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

async fn health_checks_report_pending_migrations_without_changing_anything(backend: Backend) {
    // Arrange
    let Some(scratch) = Scratch::new(backend) else {
        return;
    };
    let db = connect(&scratch.settings).await.expect("connect");

    // Act
    let answers = ping(&db).await;
    let before = pending_migrations(&db).await.expect("status");
    let before_again = pending_migrations(&db).await.expect("status");
    migrate(&db).await.expect("migrate");
    let after = pending_migrations(&db).await.expect("status");

    // Assert
    assert!(answers.is_ok(), "{answers:?}");
    let migrations = Migrator::migrations().len();
    assert_eq!((before, before_again, after), (migrations, migrations, 0));
    db.close().await;
    scratch.remove().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_checks_report_pending_migrations_without_changing_anything_on_sqlite() {
    health_checks_report_pending_migrations_without_changing_anything(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[pg_gate::requires_postgres]
async fn health_checks_report_pending_migrations_without_changing_anything_on_postgres() {
    health_checks_report_pending_migrations_without_changing_anything(Backend::Postgres).await;
}

on_both_backends!(a_closed_pool_is_reported_unavailable);
async fn a_closed_pool_is_reported_unavailable(db: TestDb) {
    db.database.close().await;

    let pinged = ping(&db.database).await;
    let found = db.repository.find(point("A").id()).await;

    assert!(
        matches!(pinged, Err(StoreError::Unavailable(_))),
        "{pinged:?}"
    );
    assert!(
        matches!(found, Err(StoreError::Unavailable(_))),
        "{found:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[pg_gate::requires_postgres]
async fn a_missing_postgres_database_is_named_once_with_how_to_create_it() {
    // Arrange: the test server, a database on it that does not exist.
    let Some(url) = postgres_url() else {
        return;
    };
    let (server, _) = url.rsplit_once('/').expect("a database in the URL");
    let missing = unique_name("missing");

    // Act
    let result = connect(&settings(format!("{server}/{missing}"), None)).await;

    // Assert
    let Err(error) = result else {
        panic!("connected to a database that does not exist");
    };
    let message = error.to_string();
    assert!(
        matches!(error, ConnectError::NoSuchDatabase { .. }),
        "{message}"
    );
    assert!(
        message.starts_with(&format!("the database \"{missing}\" does not exist on ")),
        "{message}"
    );
    assert!(message.contains(&format!(" {missing}")), "{message}");
    assert_eq!(message.matches("does not exist").count(), 1, "{message}");
    assert!(std::error::Error::source(&error).is_none(), "{message}");
}
