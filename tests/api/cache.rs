//! Reads from memory end to end: two service processes on one PostgreSQL,
//! each with its own cache, kept coherent by the change feed (contract §9).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use sea_orm::ConnectionTrait as _;
use serde_json::{Value, json};

use crate::helpers::{POINTS, TestApp, postgres_url};
use crate::process::ServiceProcess;

/// How soon another replica must stop answering with a state it has been
/// told is gone: the age a replica's cache may reach unconfirmed
/// (`cache.max_staleness_ms` + `feed.poll_interval_ms` by default). The
/// feed's own delivery target is far shorter, but on a cluster shared with
/// other tests, their open transactions hold the feed back.
const BOUND: Duration = Duration::from_secs(2);

/// One counter or gauge of a replica's `GET /metrics`.
async fn metric(app: &TestApp, name: &str) -> f64 {
    let text = app.request("GET", "/metrics", None).await.text;
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in:\n{text}"))
}

async fn lookup_status(app: &TestApp, token: &Value) -> u16 {
    app.request("LOOKUP", POINTS, Some(token))
        .await
        .status
        .as_u16()
}

/// Waits until `app` answers LOOKUP `token` with a match from memory (once
/// it has applied the change that created the point, which empties its
/// LOOKUP answers).
async fn answered_from_memory(app: &TestApp, token: &Value) {
    tokio::time::timeout(BOUND * 5, async {
        loop {
            let hits = metric(app, "cache_hits_total").await;
            let status = lookup_status(app, token).await;
            if status == 200 && metric(app, "cache_hits_total").await > hits {
                return;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("the replica answers the token from memory");
}

/// Two processes on a fresh schema of the test database; the second's
/// listener carries `listener_name` so that a test can find it.
async fn replicas(url: &str, listener_name: &str) -> (TestApp, TestApp) {
    let schema = format!("e2e_cache_{}", uuid::Uuid::now_v7().simple());
    let direct = crate::helpers::postgres_listen_url(url);
    let listen_url = crate::helpers::named_listen_url(url, listener_name);
    let env = [
        ("APP__DATABASE__URL", url),
        ("APP__DATABASE__SCHEMA", schema.as_str()),
        ("APP__DATABASE__MAX_CONNECTIONS", "4"),
    ];
    let mut first_env = env.to_vec();
    first_env.push(("APP__FEED__LISTEN_URL", direct.as_str()));
    let first = ServiceProcess::start(&first_env).await;
    let mut second_env = env.to_vec();
    second_env.push(("APP__FEED__LISTEN_URL", listen_url.as_str()));
    let second = ServiceProcess::start(&second_env).await;
    (TestApp::of_process(first), TestApp::of_process(second))
}

/// Ends the LISTEN sessions named `name` every few milliseconds until
/// `stop` is set, so that a replica's listener stays lost however fast it
/// reconnects; how many it ended.
async fn keep_ending_listeners(url: String, name: String, stop: Arc<AtomicBool>) -> i64 {
    let db = infrastructure::connect(&crate::helpers::one_connection(&url))
        .await
        .expect("the test database");
    let mut ended = 0;
    while !stop.load(Ordering::SeqCst) {
        ended += crate::helpers::end_listeners(db.connection(), &name).await;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    db.close().await;
    ended
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_rotated_on_one_replica_stops_matching_on_the_other_within_the_bound_and_never_again()
 {
    let _turn = crate::helpers::exclusive_turn().await;
    let Some(url) = postgres_url() else {
        return;
    };
    // Arrange: B has the token cached
    let (a, b) = replicas(&url, "ip-cache-e2e-rotate").await;
    let point = a.create(json!({"code": "ROTATE"})).await;
    let (id, old_token) = (
        point["id"].as_str().expect("an id"),
        point["token_local"].clone(),
    );
    answered_from_memory(&b, &old_token).await;

    // Act
    let rotated = a
        .request("POST", &format!("{}/rotate_token", TestApp::item(id)), None)
        .await;
    let rotated_at = Instant::now();
    let on_a = lookup_status(&a, &old_token).await;
    let mut stopped_after = None;
    while rotated_at.elapsed() < BOUND * 3 {
        let status = lookup_status(&b, &old_token).await;
        match (status, stopped_after) {
            (404, None) => stopped_after = Some(rotated_at.elapsed()),
            (404, Some(_)) | (200, None) => {}
            (status, _) => panic!("B answered {status} for the old token after it stopped"),
        }
    }

    // Assert
    assert_eq!(rotated.status.as_u16(), 200, "{}", rotated.text);
    assert_eq!(on_a, 404, "the writing replica stops matching at once");
    let stopped_after = stopped_after.expect("B stops matching the old token");
    assert!(stopped_after < BOUND, "B matched it for {stopped_after:?}");
    let new_token = rotated.json()["token_local"].clone();
    assert_eq!(lookup_status(&b, &new_token).await, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_go_to_the_database_while_the_listener_is_lost_and_from_memory_once_caught_up() {
    let _turn = crate::helpers::exclusive_turn().await;
    let Some(url) = postgres_url() else {
        return;
    };
    // Arrange: B answers a token from memory
    let name = format!("ip-cache-e2e-{}", uuid::Uuid::now_v7().simple());
    let (a, b) = replicas(&url, &name).await;
    let point = a.create(json!({"code": "LISTENER"})).await;
    let (id, old_token) = (
        point["id"].as_str().expect("an id"),
        point["token_local"].clone(),
    );
    answered_from_memory(&b, &old_token).await;
    let bypasses = metric(&b, "cache_stale_bypasses_total").await;

    // Act: B's listening session ends, and again whenever it comes back
    let stop = Arc::new(AtomicBool::new(false));
    let ending = tokio::spawn(keep_ending_listeners(
        crate::helpers::postgres_listen_url(&url),
        name.clone(),
        Arc::clone(&stop),
    ));
    tokio::time::timeout(BOUND * 5, async {
        while metric(&b, "cache_stale_bypasses_total").await == bypasses {
            lookup_status(&b, &old_token).await;
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("B's reads bypass the cache");
    let rotated = a
        .request("POST", &format!("{}/rotate_token", TestApp::item(id)), None)
        .await;
    let lost = metric(&b, "cache_stale_bypasses_total").await;
    let while_lost = lookup_status(&b, &old_token).await;
    let after = metric(&b, "cache_stale_bypasses_total").await;
    stop.store(true, Ordering::SeqCst);
    assert!(
        ending.await.expect("no panic") >= 1,
        "B's listener was ended"
    );
    // The listener reconnects (after its back-off) and the cache is used again.
    let new_token = rotated.json()["token_local"].clone();
    let caught_up = tokio::time::timeout(Duration::from_secs(15), async {
        loop {
            let before = metric(&b, "cache_stale_bypasses_total").await;
            let status = lookup_status(&b, &new_token).await;
            if metric(&b, "cache_stale_bypasses_total").await == before {
                return status;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("B uses its cache again");

    // Assert: while lost, the read went to the database and saw the
    // rotation at once; once back, the cache answers, and answers right
    assert_eq!(while_lost, 404);
    assert_eq!(after, lost + 1.0);
    assert_eq!(caught_up, 200);
    assert_eq!(lookup_status(&b, &old_token).await, 404);
    let hits = metric(&b, "cache_hits_total").await;
    assert_eq!(lookup_status(&b, &new_token).await, 200);
    assert!(metric(&b, "cache_hits_total").await > hits);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_held_back_by_an_open_transaction_is_read_from_the_database_within_the_bound() {
    use sea_orm::TransactionTrait as _;
    let _turn = crate::helpers::exclusive_turn().await;
    let Some(url) = postgres_url() else {
        return;
    };
    // Arrange: B answers a token from memory, then a transaction elsewhere
    // in the cluster takes an id and stays open, so that no replica's feed
    // may hand out a change committed after it.
    let (a, b) = replicas(&url, "ip-cache-e2e-held").await;
    let point = a.create(json!({"code": "HELD"})).await;
    let (id, old_token) = (
        point["id"].as_str().expect("an id"),
        point["token_local"].clone(),
    );
    answered_from_memory(&b, &old_token).await;
    let other = infrastructure::connect(&crate::helpers::one_connection(&url))
        .await
        .expect("the test database");
    let open = other.connection().begin().await.expect("begin");
    open.execute_unprepared("SELECT pg_current_xact_id()")
        .await
        .expect("an id for the open transaction");

    // Act: A rotates the token; its change waits behind the open transaction.
    let rotated = a
        .request("POST", &format!("{}/rotate_token", TestApp::item(id)), None)
        .await;
    let rotated_at = Instant::now();
    let mut stopped_after = None;
    // The open transaction holds back the feed of every test on the cluster:
    // it stays open only until B has stopped matching (and a little after,
    // to see it does not match again).
    while rotated_at.elapsed() < BOUND * 3
        && stopped_after
            .is_none_or(|after| rotated_at.elapsed() < after + Duration::from_millis(200))
    {
        match (lookup_status(&b, &old_token).await, stopped_after) {
            (404, None) => stopped_after = Some(rotated_at.elapsed()),
            (404, Some(_)) | (200, None) => {}
            (status, _) => panic!("B answered {status} for the old token after it stopped"),
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    open.rollback().await.expect("rollback");
    other.close().await;

    // Assert: B stopped matching the old token, at the latest once its cache
    // was older than allowed (counted from when the rotation was recorded,
    // before its answer, give or take one check), while the feed was still
    // held back; and did not match it again.
    assert_eq!(rotated.status.as_u16(), 200, "{}", rotated.text);
    let stopped_after = stopped_after.expect("B stops matching the old token");
    assert!(
        stopped_after < BOUND + Duration::from_millis(500),
        "B matched it for {stopped_after:?}"
    );
}

crate::on_both_backends! {
    async fn an_etag_answered_from_memory_still_validates_and_a_write_moves_it(app) {
        let _turn = crate::helpers::exclusive_turn().await;
        // Arrange: the point is read until the cache answers it
        let point = app.create(json!({"code": "ETAG"})).await;
        let path = TestApp::item(point["id"].as_str().expect("an id"));
        let etag = tokio::time::timeout(BOUND * 5, async {
            loop {
                let hits = metric(&app, "cache_hits_total").await;
                let read = app.request("GET", &path, None).await;
                if metric(&app, "cache_hits_total").await > hits {
                    return read.header("etag").expect("an ETag").to_owned();
                }
            }
        })
        .await
        .expect("the cache answers the point");

        // Act
        let unchanged = app.request_with("GET", &path, None, &[("if-none-match", &etag)]).await;
        let patched = app.request("PATCH", &path, Some(&json!({"url": "https://new.example"}))).await;
        let after = app.request_with("GET", &path, None, &[("if-none-match", &etag)]).await;

        // Assert
        assert_eq!(unchanged.status.as_u16(), 304);
        assert_eq!(patched.status.as_u16(), 200, "{}", patched.text);
        assert_eq!(after.status.as_u16(), 200);
        assert_eq!(after.json()["url"], "https://new.example");
        assert_ne!(after.header("etag"), Some(etag.as_str()));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_cache_off_reads_go_to_the_database_and_report_no_cache() {
    // Arrange
    let (mut settings, file) =
        crate::helpers::test_settings(crate::helpers::Backend::Sqlite).expect("SQLite");
    settings.cache.enabled = false;
    let app = crate::helpers::spawn_with(settings, file).await;
    let point = app.create(json!({"code": "OFF"})).await;
    let path = TestApp::item(point["id"].as_str().expect("an id"));

    // Act
    let reads = [
        app.request("GET", &path, None).await.status.as_u16(),
        app.request("GET", &path, None).await.status.as_u16(),
    ];
    let metrics = app.request("GET", "/metrics", None).await.text;

    // Assert
    assert_eq!(reads, [200, 200]);
    assert!(!metrics.contains("cache_hits"), "{metrics}");
}
