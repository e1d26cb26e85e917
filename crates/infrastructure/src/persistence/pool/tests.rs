//! The pool's promises: connections come back as they went out unless a
//! statement on them did not finish, idle connections that died are replaced
//! unseen, every statement has a deadline, and a SQLite file has one writer.

use std::path::PathBuf;
use std::time::Duration;

use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement};

use super::{ConnectionPool, IDLE_BEFORE_PING};
use crate::persistence::connect::{Database, DatabaseSettings, SqliteSynchronous, connect};
use crate::persistence::error::is_unavailable;

/// A query that keeps SQLite busy for a good while: it counts to five million.
const SLOW_SQLITE_QUERY: &str = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c \
                                 WHERE x < 5000000) SELECT count(*) AS n FROM c";

fn settings(url: String, max_connections: u32, statement_timeout: Duration) -> DatabaseSettings {
    DatabaseSettings {
        url,
        max_connections,
        min_connections: 1,
        connect_timeout: Duration::from_secs(10),
        acquire_timeout: Duration::from_secs(10),
        statement_timeout,
        schema: None,
        prepared_statements: true,
        sqlite_synchronous: SqliteSynchronous::Full,
    }
}

/// The PostgreSQL server to test against, if any; CI must have one.
fn postgres_url() -> Option<String> {
    match std::env::var("TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var_os("CI").is_some() => {
            panic!("CI is set but TEST_DATABASE_URL is not: PostgreSQL tests may not be skipped")
        }
        _ => {
            eprintln!("skipped: set TEST_DATABASE_URL to run the PostgreSQL tests");
            None
        }
    }
}

/// A SQLite file in a directory of its own, removed on drop.
struct TempSqlite(PathBuf);

impl TempSqlite {
    fn new() -> Self {
        let name = format!("pool_tests_{}", uuid::Uuid::now_v7().simple());
        Self(std::env::temp_dir().join(name))
    }

    fn url(&self) -> String {
        format!("sqlite://{}?mode=rwc", self.0.join("points.db").display())
    }
}

impl Drop for TempSqlite {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn sql(backend: DbBackend, sql: &str) -> Statement {
    Statement::from_string(backend, sql)
}

async fn query_i64(route: &impl ConnectionTrait, text: &str, column: &str) -> i64 {
    route
        .query_one_raw(sql(route.get_database_backend(), text))
        .await
        .expect("query")
        .expect("one row")
        .try_get::<i64>("", column)
        .expect("integer column")
}

async fn backend_pid(pool: &ConnectionPool) -> i64 {
    i64::from(
        pool.reads()
            .query_one_raw(sql(DbBackend::Postgres, "SELECT pg_backend_pid() AS pid"))
            .await
            .expect("query")
            .expect("one row")
            .try_get::<i32>("", "pid")
            .expect("pid"),
    )
}

async fn connect_postgres(max: u32, statement_timeout: Duration) -> Option<Database> {
    let url = postgres_url()?;
    Some(
        connect(&settings(url, max, statement_timeout))
            .await
            .expect("connect"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_connection_of_a_sqlite_file_gets_the_settings_the_repository_relies_on() {
    // PRAGMA synchronous reads back 2 for FULL and 1 for NORMAL.
    for (synchronous, expected) in [(SqliteSynchronous::Full, 2), (SqliteSynchronous::Normal, 1)] {
        // Arrange: hold every reader and the writer, so that each is a
        // different connection.
        let file = TempSqlite::new();
        let db = connect(&DatabaseSettings {
            sqlite_synchronous: synchronous,
            ..settings(file.url(), 3, Duration::from_secs(10))
        })
        .await
        .expect("connect");
        let pool = db.pool();
        let super::Pools::Sqlite {
            reads,
            writes: Some(writes),
        } = &pool.pools
        else {
            panic!("a SQLite file has a reading and a writing pool");
        };
        let route = pool.reads();
        let mut held = Vec::new();
        for _ in 0..3 {
            held.push(route.checkout(reads).await.expect("a reader"));
        }
        held.push(route.checkout(writes).await.expect("the writer"));

        for connection in &mut held {
            // Act
            let mut read = async |text: &str, column: &str| -> i64 {
                connection
                    .fetch_optional(&sql(DbBackend::Sqlite, text), Duration::from_secs(10), true)
                    .await
                    .expect("query")
                    .expect("one row")
                    .try_get::<i64>("", column)
                    .expect("integer column")
            };
            let folds_case = read("SELECT 'a' LIKE 'A' AS v", "v").await;
            let busy_timeout = read("PRAGMA busy_timeout", "timeout").await;
            let foreign_keys = read("PRAGMA foreign_keys", "foreign_keys").await;
            let synchronous_read = read("PRAGMA synchronous", "synchronous").await;
            let cache_size = read("PRAGMA cache_size", "cache_size").await;
            let journal_mode = connection
                .fetch_optional(
                    &sql(DbBackend::Sqlite, "PRAGMA journal_mode"),
                    Duration::from_secs(10),
                    true,
                )
                .await
                .expect("query")
                .expect("one row")
                .try_get::<String>("", "journal_mode")
                .expect("text column");

            // Assert
            assert_eq!(folds_case, 0, "case_sensitive_like is on");
            assert_eq!(busy_timeout, 5000);
            assert_eq!(foreign_keys, 1);
            assert_eq!(synchronous_read, expected, "{synchronous:?}");
            assert_eq!(cache_size, -256);
            assert_eq!(journal_mode, "wal");
        }
        // Migrations write through sea-orm's own connections: the same.
        let admin = db
            .connection()
            .query_one_raw(sql(DbBackend::Sqlite, "PRAGMA synchronous"))
            .await
            .expect("query")
            .expect("one row")
            .try_get::<i64>("", "synchronous")
            .expect("integer column");
        assert_eq!(admin, expected, "migrations' connection, {synchronous:?}");
        drop(held);
        db.close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_to_a_sqlite_file_take_turns_on_one_connection() {
    // Arrange
    let file = TempSqlite::new();
    let mut settings = settings(file.url(), 4, Duration::from_secs(10));
    settings.acquire_timeout = Duration::from_millis(200);
    let db = connect(&settings).await.expect("connect");
    let pool = db.pool();
    let super::Pools::Sqlite {
        writes: Some(writes),
        ..
    } = &pool.pools
    else {
        panic!("a SQLite file has a writing pool");
    };
    let writer = pool.writes().checkout(writes).await.expect("the writer");

    // Act: the one writer is out, so another write waits for it; reads do not.
    let write = pool.writes().execute_unprepared("CREATE TABLE t (x)").await;
    let read = query_i64(&pool.reads(), "SELECT 1 AS one", "one").await;

    // Assert
    assert!(
        matches!(write, Err(DbErr::ConnectionAcquire(_))),
        "{write:?}"
    );
    assert_eq!(read, 1);
    assert_eq!(pool.status().max(), 5, "four readers and one writer");
    drop(writer);
    pool.writes()
        .execute_unprepared("CREATE TABLE t (x)")
        .await
        .expect("the writer is back");
    db.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sqlite_statement_past_its_deadline_is_unavailable_and_its_connection_replaced() {
    // Arrange: one reader, so the pool's size shows what became of it.
    let file = TempSqlite::new();
    let db = connect(&settings(file.url(), 1, Duration::from_millis(100)))
        .await
        .expect("connect");
    let pool = db.pool();
    let readers_before = pool.status().size() - 1;

    // Act
    let slow = pool
        .reads()
        .query_one_raw(sql(DbBackend::Sqlite, SLOW_SQLITE_QUERY))
        .await;
    let readers_after = pool.status().size() - 1;

    // Assert
    let error = slow.expect_err("past the deadline");
    assert!(is_unavailable(&error), "{error:?}");
    assert_eq!(
        (readers_before, readers_after),
        (1, 0),
        "closed, not reused"
    );
    assert_eq!(query_i64(&pool.reads(), "SELECT 1 AS one", "one").await, 1);
    db.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_in_memory_database_survives_a_statement_past_its_deadline() {
    // Arrange: its one connection is the database.
    let db = connect(&settings(
        "sqlite::memory:".into(),
        1,
        Duration::from_millis(100),
    ))
    .await
    .expect("connect");
    let pool = db.pool();
    pool.writes()
        .execute_unprepared("CREATE TABLE kept (x); INSERT INTO kept VALUES (1)")
        .await
        .expect("create");

    // Act
    let slow = pool
        .reads()
        .query_one_raw(sql(DbBackend::Sqlite, SLOW_SQLITE_QUERY))
        .await;

    // Assert: the connection was kept, and with it the data. The slow query
    // still runs to its end first, so the deadline is lifted for the check.
    assert!(slow.is_err(), "past the deadline");
    let mut patient = pool.clone();
    patient.deadlines.statement = Duration::from_secs(60);
    assert_eq!(
        query_i64(&patient.reads(), "SELECT x FROM kept", "x").await,
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[pg_gate::requires_postgres]
async fn a_postgres_statement_past_its_deadline_is_unavailable_and_stopped_by_the_server_too() {
    // Arrange
    let Some(db) = connect_postgres(1, Duration::from_millis(200)).await else {
        return;
    };
    let pool = db.pool();

    // Act
    let server_timeout = pool
        .reads()
        .query_one_raw(sql(DbBackend::Postgres, "SHOW statement_timeout"))
        .await
        .expect("query")
        .expect("one row")
        .try_get::<String>("", "statement_timeout")
        .expect("setting");
    let slow = pool.reads().execute_unprepared("SELECT pg_sleep(5)").await;

    // Assert: whichever deadline struck first, the request is told the store
    // is unavailable, and the pool carries on.
    assert_eq!(server_timeout, "200ms");
    let error = slow.expect_err("past the deadline");
    assert!(is_unavailable(&error), "{error:?}");
    assert_eq!(
        query_i64(&pool.reads(), "SELECT 1::int8 AS one", "one").await,
        1
    );
    db.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[pg_gate::requires_postgres]
async fn a_postgres_connection_abandoned_mid_statement_is_closed_not_reused() {
    // Arrange
    let Some(db) = connect_postgres(1, Duration::from_secs(10)).await else {
        return;
    };
    let pool = db.pool().clone();
    let before = backend_pid(&pool).await;

    // Act: the caller gives up while the statement runs.
    let running = {
        let pool = pool.clone();
        tokio::spawn(async move { pool.reads().execute_unprepared("SELECT pg_sleep(5)").await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    running.abort();
    let _ = running.await;
    let after = backend_pid(&pool).await;

    // Assert
    assert_ne!(before, after, "a new connection, not the abandoned one");
    db.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[pg_gate::requires_postgres]
async fn a_database_error_leaves_the_connection_in_the_pool() {
    // Arrange
    let Some(db) = connect_postgres(1, Duration::from_secs(10)).await else {
        return;
    };
    let pool = db.pool();
    let before = backend_pid(pool).await;

    // Act
    let failed = pool
        .reads()
        .execute_unprepared("SELECT no_such_column")
        .await;
    let after = backend_pid(pool).await;

    // Assert
    assert!(failed.is_err());
    assert_eq!(before, after, "the same connection, reused");
    db.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[pg_gate::requires_postgres]
async fn an_idle_connection_that_died_is_replaced_without_failing_a_statement() {
    // Arrange: the pool's one connection is killed by the server while idle.
    let Some(db) = connect_postgres(1, Duration::from_secs(10)).await else {
        return;
    };
    let pool = db.pool();
    let victim = backend_pid(pool).await;
    db.connection()
        .execute_unprepared(&format!("SELECT pg_terminate_backend({victim})"))
        .await
        .expect("terminate");
    tokio::time::sleep(IDLE_BEFORE_PING + Duration::from_millis(200)).await;

    // Act
    let replacement = backend_pid(pool).await;

    // Assert
    assert_ne!(replacement, victim);
    db.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_pool_refuses_statements_as_unavailable() {
    // Arrange
    let file = TempSqlite::new();
    let db = connect(&settings(file.url(), 2, Duration::from_secs(10)))
        .await
        .expect("connect");

    // Act
    db.close().await;
    let read = db
        .pool()
        .reads()
        .query_one_raw(sql(DbBackend::Sqlite, "SELECT 1"))
        .await;

    // Assert
    let error = read.expect_err("closed");
    assert!(is_unavailable(&error), "{error:?}");
    assert_eq!(db.pool().status().size(), 0, "{:?}", db.pool().status());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_status_counts_requests_waiting_for_a_connection() {
    // Arrange: the one reader is out.
    let file = TempSqlite::new();
    let db = connect(&settings(file.url(), 1, Duration::from_secs(10)))
        .await
        .expect("connect");
    let pool = db.pool().clone();
    let super::Pools::Sqlite { reads, .. } = &pool.pools else {
        panic!("a SQLite file has a reading pool");
    };
    let held = pool.reads().checkout(reads).await.expect("the reader");

    // Act
    let waiter = {
        let pool = pool.clone();
        tokio::spawn(async move { query_i64(&pool.reads(), "SELECT 1 AS one", "one").await })
    };
    let mut status = pool.status();
    for _ in 0..100 {
        if status.waiting() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
        status = pool.status();
    }

    // Assert
    assert_eq!(status.waiting(), 1, "{status:?}");
    assert_eq!(status.in_use(), 1, "{status:?}");
    drop(held);
    assert_eq!(waiter.await.expect("the waiter"), 1);
    assert_eq!(pool.status().waiting(), 0);
    db.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[pg_gate::requires_postgres]
async fn reads_survive_a_database_that_dropped_every_connection() {
    // Arrange: both connections of the pool killed by the server while idle
    // for less than the ping threshold, as a restart or a failover does.
    let Some(db) = connect_postgres(2, Duration::from_secs(10)).await else {
        return;
    };
    let pool = db.pool();
    let super::Pools::Postgres(connections) = &pool.pools else {
        panic!("a PostgreSQL pool");
    };
    let mut held = Vec::new();
    let mut victims = Vec::new();
    for _ in 0..2 {
        let mut checkout = pool
            .reads()
            .checkout(connections)
            .await
            .expect("a connection");
        let pid: i32 = checkout
            .fetch_optional(
                &sql(DbBackend::Postgres, "SELECT pg_backend_pid() AS pid"),
                Duration::from_secs(10),
                true,
            )
            .await
            .expect("query")
            .expect("one row")
            .try_get("", "pid")
            .expect("pid");
        victims.push(i64::from(pid));
        held.push(checkout);
    }
    drop(held);
    for victim in &victims {
        db.connection()
            .execute_unprepared(&format!("SELECT pg_terminate_backend({victim})"))
            .await
            .expect("terminate");
    }

    // Act: at once, well within the ping threshold.
    let first = backend_pid(pool).await;
    let second = backend_pid(pool).await;

    // Assert: both answered, by fresh connections.
    assert!(!victims.contains(&first), "{first} in {victims:?}");
    assert!(!victims.contains(&second), "{second} in {victims:?}");
    db.close().await;
}

/// A PostgreSQL pool set up for a pooler in transaction mode, on a schema of
/// its own; `None` without PostgreSQL.
async fn connect_postgres_unprepared(max: u32) -> Option<Database> {
    let url = postgres_url()?;
    let mut settings = settings(url, max, Duration::from_millis(4321));
    settings.prepared_statements = false;
    settings.schema = Some(format!("pool_{}", uuid::Uuid::now_v7().simple()));
    Some(connect(&settings).await.expect("connect"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[pg_gate::requires_postgres]
async fn without_prepared_statements_each_statement_gets_the_session_settings_in_a_transaction() {
    // Arrange
    let Some(db) = connect_postgres_unprepared(1).await else {
        return;
    };
    let route = db.pool().reads();
    let text = |sql_text: &str, column: &'static str| {
        let statement = sql(DbBackend::Postgres, sql_text);
        let route = &route;
        async move {
            route
                .query_one_raw(statement)
                .await
                .expect("query")
                .expect("one row")
                .try_get::<String>("", column)
                .expect("text column")
        }
    };

    // Act
    let timeout = text("SELECT current_setting('statement_timeout') AS v", "v").await;
    let schema = text("SELECT current_schema()::text AS v", "v").await;
    // A statement alone would be its own transaction, started with it.
    let in_block = text(
        "SELECT (transaction_timestamp() < statement_timestamp())::text AS v",
        "v",
    )
    .await;
    let named = query_i64(
        &route,
        "SELECT count(*) AS n FROM pg_prepared_statements",
        "n",
    )
    .await;

    // Assert
    assert_eq!(timeout, "4321ms");
    assert!(schema.starts_with("pool_"), "{schema}");
    assert_eq!(in_block, "true");
    assert_eq!(named, 0, "no named statement is left on the server");
    db.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[pg_gate::requires_postgres]
async fn without_prepared_statements_a_failed_statement_is_rolled_back_and_the_connection_reused() {
    // Arrange
    let Some(db) = connect_postgres_unprepared(1).await else {
        return;
    };
    let pool = db.pool();
    let before = backend_pid(pool).await;

    // Act
    let failed = pool
        .reads()
        .query_one_raw(sql(DbBackend::Postgres, "SELECT 1 / 0 AS n"))
        .await;
    let after = backend_pid(pool).await;
    let state = query_i64(
        &pool.reads(),
        "SELECT count(*) AS n FROM pg_stat_activity \
         WHERE pid = pg_backend_pid() AND state = 'active'",
        "n",
    )
    .await;

    // Assert
    assert!(failed.is_err());
    assert_eq!(before, after, "the same connection, reused");
    assert_eq!(state, 1, "and usable: not left in an aborted transaction");
    db.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[pg_gate::requires_postgres]
async fn reads_planned_per_execution_are_not_prepared_and_cached_on_postgres() {
    // Arrange: one connection, so every statement below runs on it.
    let Some(db) = connect_postgres(1, Duration::from_secs(10)).await else {
        return;
    };
    let pool = db.pool();
    let cached = || async {
        query_i64(
            &pool.reads(),
            "SELECT count(*) AS n FROM pg_prepared_statements \
             WHERE statement IN ('SELECT 41::int8 + 1 AS v', 'SELECT 40::int8 + 2 AS v')",
            "n",
        )
        .await
    };

    // Act & Assert
    query_i64(
        &pool.reads().planned_per_execution(),
        "SELECT 41::int8 + 1 AS v",
        "v",
    )
    .await;
    assert_eq!(cached().await, 0, "planned per execution");
    query_i64(&pool.reads(), "SELECT 40::int8 + 2 AS v", "v").await;
    assert_eq!(cached().await, 1, "prepared once and cached");
    db.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[pg_gate::requires_postgres]
async fn the_other_replicas_are_notified_while_every_statement_connection_is_busy() {
    // Arrange: one statement connection, busy for 3 s, and a listener of the
    // feed's channel.
    let Some(db) = connect_postgres(1, Duration::from_secs(10)).await else {
        return;
    };
    let url = postgres_url().expect("a PostgreSQL URL");
    let mut listener = sea_orm::sqlx::postgres::PgListener::connect(&url)
        .await
        .expect("a listener");
    listener.listen("point_changes").await.expect("listen");
    let schema = query_text(db.pool(), "SELECT current_schema()::text AS s", "s").await;
    let busy = {
        let pool = db.pool().clone();
        tokio::spawn(async move { pool.reads().execute_unprepared("SELECT pg_sleep(3)").await })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;

    // Act: a write of this process committed.
    db.change_signal().announce();
    let heard = tokio::time::timeout(Duration::from_secs(1), async {
        loop {
            let notification = listener.recv().await.expect("the listener's connection");
            if notification.payload() == schema {
                break;
            }
        }
    })
    .await;

    // Assert
    assert!(heard.is_ok(), "notified before the busy statement ended");
    busy.await
        .expect("the statement's task")
        .expect("the statement");
    db.close().await;
}

async fn query_text(pool: &ConnectionPool, text: &str, column: &str) -> String {
    pool.reads()
        .query_one_raw(sql(DbBackend::Postgres, text))
        .await
        .expect("query")
        .expect("one row")
        .try_get::<String>("", column)
        .expect("text column")
}
