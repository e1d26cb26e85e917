//! Starting while the database is down, as containers do when they start
//! in any order: `serve` listens at once, is live but not ready, answers the
//! API with the JSON 503, and connects (and migrates) by itself when the
//! database appears; with `database.startup_timeout_ms` it gives up instead.

use std::net::SocketAddr;
use std::process::Output;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::helpers::{self, Backend, POINTS, TestApp};
use crate::process::{self, PROCESS_BOUND, ServiceProcess};
use crate::proxy::{DbProxy, redirect, upstream_of};

/// A password in the database URL, which must appear in no output. Trust
/// authentication ignores it, which lets it stand for a real one.
const DB_PASSWORD: &str = "startup-SECRET-0012";

/// A loopback address where nothing listens (yet).
fn unused_address() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
}

/// The test database's URL with `DB_PASSWORD` in it, pointed at `address`,
/// and its schema; `None` without PostgreSQL.
fn postgres_at(address: SocketAddr) -> Option<(String, String, SocketAddr)> {
    let (settings, _) = helpers::test_settings(Backend::Postgres)?;
    let url = helpers::with_password(&settings.database.url, DB_PASSWORD);
    let upstream = upstream_of(&url);
    Some((redirect(&url, address), settings.database.schema, upstream))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[pg_gate::requires_postgres]
async fn serve_starts_with_the_database_down_and_connects_when_it_comes_up() {
    // Arrange: a URL where no database listens yet.
    let address = unused_address();
    let Some((url, schema, upstream)) = postgres_at(address) else {
        return;
    };
    let service = ServiceProcess::start_listening(&[
        ("APP__DATABASE__URL", &url),
        ("APP__DATABASE__SCHEMA", &schema),
        ("APP__DATABASE__CONNECT_TIMEOUT_MS", "1000"),
    ])
    .await;
    let app = TestApp::of_process(service);

    // Act & Assert: down
    let live = app.request("GET", "/health/live", None).await;
    assert_eq!(live.status.as_u16(), 200, "{}", live.text);
    app.request("GET", "/health/ready", None)
        .await
        .assert_error(503);
    app.request("POST", POINTS, Some(&json!({"code": "early"})))
        .await
        .assert_error(503);
    app.request("GET", POINTS, None).await.assert_error(503);
    let down_for = Duration::from_secs(3);
    tokio::time::sleep(down_for).await;

    // Act: the database appears.
    let appeared = Instant::now();
    let _database = DbProxy::start_on(address, upstream).await;

    // Assert: served without a restart.
    loop {
        let ready = app.request("GET", "/health/ready", None).await;
        if ready.status.as_u16() == 200 {
            break;
        }
        assert!(
            appeared.elapsed() < PROCESS_BOUND,
            "not ready after the database appeared: {}",
            ready.text
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let point = app.create(json!({"code": "late"})).await;
    let read = app
        .request(
            "GET",
            &TestApp::item(point["id"].as_str().expect("id")),
            None,
        )
        .await;
    assert_eq!(read.json(), point);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[pg_gate::requires_postgres]
async fn failed_attempts_are_logged_once_per_interval_without_the_password() {
    // Arrange
    let address = unused_address();
    let Some((url, schema, upstream)) = postgres_at(address) else {
        return;
    };
    let mut service = ServiceProcess::start_listening(&[
        ("APP__DATABASE__URL", &url),
        ("APP__DATABASE__SCHEMA", &schema),
    ])
    .await;

    // Act: down for a while (attempts after 0.25, 0.5, 1, 2, 4, 5 … s), then up.
    let down_for = Duration::from_secs(7);
    tokio::time::sleep(down_for).await;
    let _database = DbProxy::start_on(address, upstream).await;
    let ready = service
        .wait_for_log(|line| line["fields"]["message"] == "database ready")
        .await;

    // Assert
    let failures: Vec<_> = service
        .logs()
        .into_iter()
        .filter(|line| {
            line["fields"]["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("the database is not available yet"))
        })
        .collect();
    assert!(
        (1..=2).contains(&failures.len()),
        "one line per 5 s of failures at most, and at least one: {failures:#?}"
    );
    assert_eq!(failures[0]["level"], "WARN");
    assert!(
        failures[0]["fields"]["error"]
            .as_str()
            .is_some_and(|e| e.contains("cannot connect to the database")),
        "the line says why: {:?}",
        failures[0]
    );
    assert!(
        ready["fields"]["database"]
            .as_str()
            .is_some_and(|d| d.contains("postgres:<redacted>@")),
        "{ready}"
    );
    let output = service.lines().join("\n");
    assert!(
        !output.contains(DB_PASSWORD),
        "the password leaked: {output}"
    );
}

/// Runs the binary to completion with `args` on the database at `url` and
/// `schema`, and `env` besides, off the test's runtime.
async fn run_down(
    args: &'static [&'static str],
    url: String,
    schema: String,
    env: &'static [(&'static str, &'static str)],
) -> Output {
    tokio::task::spawn_blocking(move || {
        let mut all = vec![
            ("APP__DATABASE__URL", url.as_str()),
            ("APP__DATABASE__SCHEMA", schema.as_str()),
        ];
        all.extend_from_slice(env);
        process::run(args, &all)
    })
    .await
    .expect("the binary runs")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[pg_gate::requires_postgres]
async fn serve_gives_up_after_the_startup_timeout_with_a_clear_message_and_exit_status() {
    // Arrange: a database that never appears.
    let address = unused_address();
    let Some((url, schema, _)) = postgres_at(address) else {
        return;
    };

    // Act
    let started = Instant::now();
    let output = run_down(
        &["serve"],
        url,
        schema,
        &[
            ("APP__SERVER__PORT", "0"),
            ("APP__DATABASE__STARTUP_TIMEOUT_MS", "1500"),
        ],
    )
    .await;
    let took = started.elapsed();

    // Assert
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "exit status {}", output.status);
    assert!(
        (Duration::from_millis(1500)..PROCESS_BOUND).contains(&took),
        "gave up after the timeout, not before: {took:?}"
    );
    assert!(
        stderr.contains("gave up on the database at postgres://postgres:<redacted>@")
            && stderr.contains("database.startup_timeout_ms"),
        "{stderr}"
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        !stderr.contains(DB_PASSWORD) && !stdout.contains(DB_PASSWORD),
        "the password leaked: {stderr}\n{stdout}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[pg_gate::requires_postgres]
async fn migrate_still_fails_fast_while_the_database_is_down() {
    // Arrange
    let address = unused_address();
    let Some((url, schema, _)) = postgres_at(address) else {
        return;
    };

    // Act
    let started = Instant::now();
    let output = run_down(&["migrate", "up"], url, schema, &[]).await;

    // Assert
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "exit status {}", output.status);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert!(
        stderr.contains("failed to connect to the database"),
        "{stderr}"
    );
    assert!(
        !stderr.contains(DB_PASSWORD),
        "the password leaked: {stderr}"
    );
}
