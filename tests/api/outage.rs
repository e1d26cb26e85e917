//! Database outages, staged with a TCP proxy between the service and
//! PostgreSQL: requests that need the database answer 503 within the
//! configured bound, readiness follows, liveness does not, and the service
//! recovers by itself when the database returns.

use std::future::Future;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::helpers::{self, Backend, POINTS, Reply, TestApp};
use crate::proxy::{DbProxy, redirect, upstream_of};

/// `database.acquire_timeout_ms` (and `connect_timeout_ms` and
/// `statement_timeout_ms`) of the service under test.
const ACQUIRE_TIMEOUT_MS: u64 = 1000;

/// How long an answer may take during an outage: the acquire timeout, plus
/// slack for a loaded two-core CI machine.
const ANSWER_BOUND: Duration = Duration::from_millis(ACQUIRE_TIMEOUT_MS + 2000);

/// How long the service may take to notice the database is back.
const RECOVERY_BOUND: Duration = Duration::from_secs(15);

/// A service on a fresh PostgreSQL schema, reached through a proxy, with one
/// point stored; `None` when PostgreSQL is not available.
async fn service_behind_proxy() -> Option<(TestApp, DbProxy, String)> {
    let (mut settings, _) = helpers::test_settings(Backend::Postgres)?;
    let proxy = DbProxy::start(upstream_of(&settings.database.url)).await;
    settings.database.url = redirect(&settings.database.url, proxy.address());
    settings.database.max_connections = 4;
    settings.database.acquire_timeout_ms = ACQUIRE_TIMEOUT_MS;
    settings.database.connect_timeout_ms = ACQUIRE_TIMEOUT_MS;
    settings.database.statement_timeout_ms = ACQUIRE_TIMEOUT_MS;
    let app = helpers::spawn_with(settings, None).await;
    let point = app.create(json!({"code": "outage"})).await;
    let item = TestApp::item(point["id"].as_str().expect("id"));
    Some((app, proxy, item))
}

/// Sends a request and asserts it is answered within [`ANSWER_BOUND`].
async fn answered_in_time(what: &str, request: impl Future<Output = Reply>) -> Reply {
    let started = Instant::now();
    let reply = tokio::time::timeout(ANSWER_BOUND * 3, request)
        .await
        .unwrap_or_else(|_| panic!("{what}: no answer at all within {:?}", ANSWER_BOUND * 3));
    let took = started.elapsed();
    assert!(took < ANSWER_BOUND, "{what}: answered after {took:?}");
    reply
}

/// Asserts that what needs the database is a 503 in time, and that the
/// probes say so.
async fn assert_unavailable(app: &TestApp, item: &str) {
    let read = answered_in_time("GET one", app.request("GET", item, None)).await;
    read.assert_error(503);
    let list = answered_in_time("GET list", app.request("GET", POINTS, None)).await;
    list.assert_error(503);
    let create = answered_in_time(
        "POST",
        app.request("POST", POINTS, Some(&json!({"code": "during"}))),
    )
    .await;
    create.assert_error(503);
    let ready = answered_in_time("ready", app.request("GET", "/health/ready", None)).await;
    ready.assert_error(503);
    let live = answered_in_time("live", app.request("GET", "/health/live", None)).await;
    assert_eq!(live.status.as_u16(), 200, "{}", live.text);
}

/// Polls until the point can be read and the service is ready again.
async fn assert_recovers(app: &TestApp, item: &str) {
    let started = Instant::now();
    loop {
        let read = app.request("GET", item, None).await;
        let ready = app.request("GET", "/health/ready", None).await;
        if read.status.as_u16() == 200 && ready.status.as_u16() == 200 {
            return;
        }
        assert!(
            started.elapsed() < RECOVERY_BOUND,
            "not recovered after {RECOVERY_BOUND:?}: GET {} {}, ready {} {}",
            read.status,
            read.text,
            ready.status,
            ready.text
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[pg_gate::requires_postgres]
async fn a_database_that_goes_down_gives_503s_in_time_and_the_service_recovers_by_itself() {
    // Arrange
    let Some((app, proxy, item)) = service_behind_proxy().await else {
        return;
    };

    // Act & Assert: down
    proxy.cut();
    assert_unavailable(&app, &item).await;

    // Act & Assert: back
    proxy.restore();
    assert_recovers(&app, &item).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[pg_gate::requires_postgres]
async fn a_network_that_silently_drops_packets_gives_503s_in_time_and_the_service_recovers() {
    // Arrange
    let Some((app, proxy, item)) = service_behind_proxy().await else {
        return;
    };

    // Act & Assert: silent
    proxy.blackhole();
    assert_unavailable(&app, &item).await;

    // Act & Assert: back
    proxy.restore();
    assert_recovers(&app, &item).await;
}
