//! The change feed end to end: list + watch on one service, and the gapless
//! order across two service processes sharing one PostgreSQL.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{POINTS, TestApp, postgres_url};
use crate::on_both_backends;
use crate::process::ServiceProcess;

const CHANGES: &str = "/rest/v1/service/integration_points/changes";

/// One Server-Sent Event.
#[derive(Debug, Clone)]
struct SseEvent {
    id: String,
    event: String,
    data: Value,
}

/// Reads an event stream, handing each event to `on_event` until it says
/// stop (false) or the stream ends.
async fn read_events(mut response: reqwest::Response, mut on_event: impl FnMut(SseEvent) -> bool) {
    let mut buffer = String::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        buffer.push_str(std::str::from_utf8(&chunk).expect("UTF-8 events"));
        while let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            let (mut id, mut event, mut data) = (String::new(), String::new(), None);
            for line in block.lines() {
                if let Some(value) = line.strip_prefix("id: ") {
                    id = value.to_owned();
                } else if let Some(value) = line.strip_prefix("event: ") {
                    event = value.to_owned();
                } else if let Some(value) = line.strip_prefix("data: ") {
                    data = Some(serde_json::from_str(value).expect("JSON data"));
                }
            }
            // A block without data is a heartbeat comment.
            if let Some(data) = data
                && !on_event(SseEvent { id, event, data })
            {
                return;
            }
        }
    }
}

/// Opens an event stream at `address`, after `since` when given.
async fn watch(client: &reqwest::Client, address: &str, since: Option<&str>) -> reqwest::Response {
    let url = match since {
        Some(since) => format!("{address}{CHANGES}?since={since}"),
        None => format!("{address}{CHANGES}"),
    };
    let response = client
        .get(url)
        .header("Accept", "text/event-stream")
        .send()
        .await
        .expect("the stream opens");
    assert_eq!(response.status(), 200);
    response
}

/// Opens an event stream at `address` after the event `last_event_id`
/// (from the oldest retained change without one), as a client reconnects;
/// a replica that cannot reach its store for the moment answers 503, and is
/// asked again.
async fn resume(
    client: &reqwest::Client,
    address: &str,
    last_event_id: Option<&str>,
) -> reqwest::Response {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let mut request = client
            .get(format!("{address}{CHANGES}"))
            .header("Accept", "text/event-stream");
        if let Some(id) = last_event_id {
            request = request.header("Last-Event-ID", id);
        }
        let response = request.send().await.expect("the stream opens");
        if response.status() != 503 || tokio::time::Instant::now() >= deadline {
            assert_eq!(response.status(), 200);
            return response;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// What a client following one replica's feed received.
#[derive(Debug, Default)]
struct Followed {
    /// Each connection's events, in the order received.
    connections: Vec<Vec<SseEvent>>,
    /// Every change once, in the order first received: the feed delivers at
    /// least once across reconnections, and a client tells repeats by their
    /// revision.
    changes: Vec<SseEvent>,
    revisions: HashSet<String>,
}

impl Followed {
    fn receive(&mut self, event: SseEvent) {
        if let Some(connection) = self.connections.last_mut() {
            connection.push(event.clone());
        }
        if self.revisions.insert(event.id.clone()) {
            self.changes.push(event);
        }
    }

    fn reconnects(&self) -> usize {
        self.connections.len().saturating_sub(1)
    }
}

/// Follows the feed of replica `replica` at `address` into `followed`, from
/// the oldest retained change, until `more` answers false, as a client
/// does: a stream that ends before then is opened again after the last
/// change received.
async fn follow(
    client: reqwest::Client,
    address: String,
    replica: usize,
    followed: Arc<Mutex<Followed>>,
    more: impl Fn(&Followed) -> bool,
) {
    let lock = || followed.lock().unwrap_or_else(PoisonError::into_inner);
    loop {
        let last = lock().changes.last().map(|event| event.id.clone());
        let stream = resume(&client, &address, last.as_deref()).await;
        lock().connections.push(Vec::new());
        let mut finished = false;
        read_events(stream, |event| {
            let mut followed = lock();
            followed.receive(event);
            finished = !more(&followed);
            !finished
        })
        .await;
        let followed = lock();
        if finished || !more(&followed) {
            return;
        }
        eprintln!(
            "replica {replica}: stream {} ended after {} events ({} changes in all); reconnecting",
            followed.connections.len(),
            followed.connections.last().map_or(0, Vec::len),
            followed.changes.len(),
        );
    }
}

on_both_backends! {
    async fn a_client_lists_then_watches_exactly_the_later_changes(app) {
        // Arrange: a point before the list, and the list's revision.
        let before = app.create(json!({"code": "BEFORE"})).await;
        let listed = app.request("GET", POINTS, None).await;
        let revision = listed.header("x-revision").expect("X-Revision").to_owned();
        assert_eq!(listed.json().as_array().map(Vec::len), Some(1));

        // Act: a long poll waits for the next change; a stream follows.
        let poll = {
            let (client, url) = (app.client.clone(), format!("{}{CHANGES}?since={revision}&wait=10", app.address));
            tokio::spawn(async move { client.get(url).send().await.expect("poll").json::<Value>().await.expect("JSON") })
        };
        let stream = watch(&app.client, &app.address, Some(&revision)).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        let after = app.create(json!({"code": "AFTER"})).await;
        let path = TestApp::item(after["id"].as_str().expect("an id"));
        app.request("PATCH", &path, Some(&json!({"url": "https://example.com"}))).await;

        // Assert
        let page = poll.await.expect("the poll");
        // The poll answers once the create commits; the patch may or may not
        // have committed by the time it reads.
        let polled = page["changes"].as_array().expect("changes");
        assert!(!polled.is_empty() && polled.iter().all(|c| c["id"] == after["id"]), "{page}");
        assert_eq!(polled[0]["point"], after);
        assert_eq!(page["next"], polled[polled.len() - 1]["revision"]);
        let mut events = Vec::new();
        tokio::time::timeout(Duration::from_secs(20), read_events(stream, |event| {
            events.push(event);
            events.len() < 2
        }))
        .await
        .expect("both changes stream in time");
        let seen: Vec<_> = events.iter().map(|e| (e.event.as_str(), e.data["id"].clone(), e.data["version"].clone())).collect();
        assert_eq!(seen, [("create", after["id"].clone(), json!(1)), ("update", after["id"].clone(), json!(2))]);
        assert!(events.iter().all(|e| e.data["id"] != before["id"]), "the listed change is not repeated");
        assert_eq!(events[0].id, events[0].data["revision"]);
    }
}

on_both_backends! {
    async fn a_stream_resumes_after_its_last_event_id(app) {
        let first = app.create(json!({"code": "FIRST"})).await;
        let second = app.create(json!({"code": "SECOND"})).await;
        let mut ids = Vec::new();
        tokio::time::timeout(Duration::from_secs(20), read_events(watch(&app.client, &app.address, None).await, |event| {
            ids.push(event.id);
            ids.len() < 2
        }))
        .await
        .expect("both events");

        let resumed = app
            .client
            .get(format!("{}{CHANGES}?wait=0", app.address))
            .header("Accept", "text/event-stream")
            .header("Last-Event-ID", &ids[0])
            .send()
            .await
            .expect("the stream opens");
        let mut events = Vec::new();
        tokio::time::timeout(Duration::from_secs(20), read_events(resumed, |event| {
            events.push(event);
            false
        }))
        .await
        .expect("an event");

        assert_eq!(events[0].data["id"], second["id"]);
        assert_ne!(events[0].data["id"], first["id"]);
    }
}

/// A write and what it did, as the writer saw it acknowledged.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Acked {
    id: String,
    op: &'static str,
    version: i64,
}

/// One writer: creates points, then patches, rotates and deletes among
/// everyone's, counting each acknowledged write.
async fn writer(
    client: reqwest::Client,
    address: String,
    number: usize,
    writes: usize,
    shared: Arc<Mutex<Vec<String>>>,
    acked: Arc<Mutex<Vec<Acked>>>,
) {
    // The version is the ETag's last part: `"<ct>-<version>"`.
    let record = |id: &str, op: &'static str, etag: &str| {
        let version = etag
            .trim_matches('"')
            .rsplit('-')
            .next()
            .and_then(|v| v.parse().ok())
            .expect("an ETag ending in the version");
        acked
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Acked {
                id: id.to_owned(),
                op,
                version,
            });
    };
    let mut own = Vec::new();
    for i in 0..writes {
        let pick = {
            let points = shared.lock().unwrap_or_else(PoisonError::into_inner);
            (!points.is_empty()).then(|| points[(i * 7 + number * 13) % points.len()].clone())
        };
        let (method, path, body, op) = match (i % 10, pick) {
            (0 | 5, _) | (_, None) => (
                "POST",
                POINTS.to_owned(),
                Some(json!({"code": format!("W{number}-{i}")})),
                "create",
            ),
            (9, _) if own.len() > 3 => {
                let id: String = own.remove(0);
                ("DELETE", TestApp::item(&id), None, "delete")
            }
            (7, Some(id)) => (
                "POST",
                format!("{}/rotate_token", TestApp::item(&id)),
                None,
                "update",
            ),
            (_, Some(id)) => (
                "PATCH",
                TestApp::item(&id),
                Some(json!({"opts": {"comment": format!("{number}-{i}")}})),
                "update",
            ),
        };
        let mut request = client.request(
            method.parse().expect("a method"),
            format!("{address}{path}"),
        );
        if let Some(body) = &body {
            request = request.json(body);
        }
        let response = request.send().await.expect("the write is answered");
        let status = response.status().as_u16();
        let etag = response
            .headers()
            .get("etag")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let text = response.text().await.unwrap_or_default();
        match (op, status) {
            ("create", 200) => {
                let body: Value = serde_json::from_str(&text).expect("JSON");
                let id = body["id"].as_str().expect("an id").to_owned();
                record(&id, "create", &etag);
                own.push(id.clone());
                shared
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(id);
            }
            ("update", 200) => {
                let body: Value = serde_json::from_str(&text).expect("JSON");
                record(body["id"].as_str().expect("an id"), "update", &etag);
            }
            ("delete", 204) => {
                let id = path.rsplit('/').next().expect("an id").to_owned();
                shared
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .retain(|p| *p != id);
                acked
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(Acked {
                        id,
                        op: "delete",
                        version: 0,
                    });
            }
            // Someone deleted the point first, or kept winning the race.
            (_, 404 | 409) => {}
            (op, status) => panic!("{method} {path} ({op}): {status} {text}"),
        }
    }
}

/// The proof of the feed's order: 8 writers over 2 service processes on one
/// PostgreSQL, 5,000 writes, and a watcher on each process. Each watcher, a
/// client that reconnects after its last event when a stream ends, sees
/// every acknowledged change exactly once (never twice within one stream),
/// and each point's changes in version order.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_replicas_deliver_every_change_once_and_in_order_per_point() {
    const WRITERS: usize = 8;
    const WRITES: usize = 5_000;
    let Some(url) = postgres_url() else {
        return;
    };
    // Arrange: two processes, one schema.
    let schema = format!("e2e_feed_{}", uuid::Uuid::now_v7().simple());
    let env = [
        ("APP__DATABASE__URL", url.as_str()),
        ("APP__DATABASE__SCHEMA", schema.as_str()),
        ("APP__DATABASE__MAX_CONNECTIONS", "8"),
    ];
    let first = ServiceProcess::start(&env).await;
    let second = ServiceProcess::start(&env).await;
    let client = reqwest::Client::new();
    let addresses = [first.address.clone(), second.address.clone()];
    let acked = Arc::new(Mutex::new(Vec::new()));
    let followed: Vec<Arc<Mutex<Followed>>> = vec![Arc::default(), Arc::default()];
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watchers: Vec<_> = addresses
        .iter()
        .zip(&followed)
        .enumerate()
        .map(|(replica, (address, followed))| {
            let (acked, done) = (Arc::clone(&acked), Arc::clone(&done));
            tokio::spawn(follow(
                client.clone(),
                address.clone(),
                replica,
                Arc::clone(followed),
                move |followed| {
                    let expected = acked.lock().unwrap_or_else(PoisonError::into_inner).len();
                    !(done.load(std::sync::atomic::Ordering::SeqCst)
                        && followed.changes.len() >= expected)
                },
            ))
        })
        .collect();

    // Act: the writers, half on each process.
    let shared = Arc::new(Mutex::new(Vec::new()));
    let writers: Vec<_> = (0..WRITERS)
        .map(|number| {
            tokio::spawn(writer(
                client.clone(),
                addresses[number % 2].clone(),
                number,
                WRITES / WRITERS,
                Arc::clone(&shared),
                Arc::clone(&acked),
            ))
        })
        .collect();
    for writer in writers {
        writer.await.expect("the writer finishes");
    }
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let acked = acked.lock().unwrap_or_else(PoisonError::into_inner).clone();
    // A last write wakes watchers that already hold every change, so that
    // each checks the count once more.
    let marker: Value = client
        .post(format!("{}{POINTS}", addresses[0]))
        .json(&json!({"code": "MARKER"}))
        .send()
        .await
        .expect("the marker")
        .json()
        .await
        .expect("JSON");
    for watcher in watchers {
        tokio::time::timeout(Duration::from_secs(120), watcher)
            .await
            .expect("every change reaches both watchers within two minutes")
            .expect("the watcher runs");
    }

    // Assert
    assert!(
        acked.len() >= WRITES * 9 / 10,
        "most writes succeed: {}",
        acked.len()
    );
    let expected: HashSet<(String, &str, i64)> = acked
        .iter()
        .filter(|a| a.op != "delete")
        .map(|a| (a.id.clone(), a.op, a.version))
        .collect();
    for (replica, followed) in followed.iter().enumerate() {
        let followed = followed.lock().unwrap_or_else(PoisonError::into_inner);
        eprintln!(
            "replica {replica}: {} reconnects, {} changes",
            followed.reconnects(),
            followed.changes.len()
        );
        for (number, connection) in followed.connections.iter().enumerate() {
            let revisions: HashSet<&str> = connection.iter().map(|e| e.id.as_str()).collect();
            assert_eq!(
                revisions.len(),
                connection.len(),
                "replica {replica}: no change twice within stream {}",
                number + 1
            );
        }
        let seen: Vec<&SseEvent> = followed
            .changes
            .iter()
            .filter(|e| e.data["id"] != marker["id"])
            .collect();
        assert_eq!(
            seen.len(),
            acked.len(),
            "replica {replica}: every acknowledged change"
        );
        let delivered: HashSet<(String, &str, i64)> = seen
            .iter()
            .filter(|e| e.event != "delete")
            .map(|e| {
                let op = if e.event == "create" {
                    "create"
                } else {
                    "update"
                };
                (
                    e.data["id"].as_str().unwrap_or_default().to_owned(),
                    op,
                    e.data["version"].as_i64().unwrap_or(0),
                )
            })
            .collect();
        assert_eq!(
            delivered, expected,
            "replica {replica}: the very changes acknowledged"
        );
        let mut last: HashMap<&str, (i64, bool)> = HashMap::new();
        for event in &seen {
            let id = event.data["id"].as_str().unwrap_or_default();
            let version = event.data["version"].as_i64().unwrap_or(0);
            match (event.event.as_str(), last.get(id)) {
                ("create", None | Some((_, true))) => {
                    assert_eq!(version, 1, "replica {replica}: {id} starts at 1")
                }
                ("update", Some((previous, false))) => assert_eq!(
                    version,
                    previous + 1,
                    "replica {replica}: {id} in version order"
                ),
                ("delete", Some((previous, false))) => assert_eq!(
                    version, *previous,
                    "replica {replica}: {id} deleted at its last version"
                ),
                (op, before) => panic!("replica {replica}: {op} of {id} after {before:?}"),
            }
            last.insert(id, (version, event.event == "delete"));
        }
    }
}

/// Event streams never end on their own: a replica told to stop must end
/// them, or its graceful shutdown would wait its whole timeout (10 s). They
/// end when the drain begins, so that clients reconnect elsewhere.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopping_replica_ends_its_event_streams_and_exits_promptly() {
    // Arrange
    let scratch = crate::process::ScratchDir::new();
    let url = scratch.sqlite_url();
    let mut process = ServiceProcess::start(&[
        ("APP__DATABASE__URL", url.as_str()),
        ("APP__SERVER__SHUTDOWN_DELAY_MS", "0"),
    ])
    .await;
    let client = reqwest::Client::new();
    let stream = watch(&client, &process.address, None).await;

    // Act
    let started = std::time::Instant::now();
    process.signal("TERM");
    let status = process.wait().await;

    // Assert
    assert!(status.success(), "{status}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "exited after {:?}",
        started.elapsed()
    );
    tokio::time::timeout(Duration::from_secs(5), read_events(stream, |_| true))
        .await
        .expect("the stream has ended");
}

/// Each point's title in a list's body.
fn titles(list: &Value) -> HashMap<String, String> {
    list.as_array()
        .expect("a list")
        .iter()
        .map(|p| {
            (
                p["id"].as_str().expect("an id").to_owned(),
                p["opts"]["title"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// The changes after `since` (from the oldest retained without it) up to the
/// marker point's, each as its point's id, version and title.
async fn changes_until(
    app: &TestApp,
    since: Option<&str>,
    marker: &Value,
) -> Vec<(String, i64, String)> {
    let mut delivered = Vec::new();
    let mut since = since.map(str::to_owned);
    loop {
        let path = match &since {
            Some(since) => format!("{CHANGES}?since={since}&limit=1000&wait=10"),
            None => format!("{CHANGES}?limit=1000&wait=10"),
        };
        let page = app.request("GET", &path, None).await.json();
        for change in page["changes"].as_array().expect("changes") {
            if change["id"] == marker["id"] {
                return delivered;
            }
            delivered.push((
                change["id"].as_str().expect("an id").to_owned(),
                change["version"].as_i64().expect("a version"),
                change["point"]["opts"]["title"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            ));
        }
        since = Some(page["next"].as_str().expect("next").to_owned());
    }
}

on_both_backends! {
    async fn lists_taken_while_writes_commit_lead_to_exactly_the_changes_they_do_not_reflect(app) {
        // Arrange: points that two writers keep retitling while lists run, so
        // that writes commit while a list reads (and, on PostgreSQL, while
        // another write is still in flight). Every title is new, so a listed
        // title names the version the list reflects.
        let mut ids = Vec::new();
        for i in 0..6 {
            ids.push(app.create(json!({"code": format!("P{i}")})).await["id"].as_str().expect("an id").to_owned());
        }
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let patched = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let writers: Vec<_> = (0..2)
            .map(|w| {
                let (client, address, ids) = (app.client.clone(), app.address.clone(), ids.clone());
                let (stop, patched) = (stop.clone(), patched.clone());
                tokio::spawn(async move {
                    let mut n = 0_usize;
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        let id = &ids[(n * 2 + w) % ids.len()];
                        let response = client
                            .patch(format!("{address}{}", TestApp::item(id)))
                            .json(&json!({"opts": {"title": format!("w{w}-{n}")}}))
                            .send()
                            .await
                            .expect("a patch");
                        assert_eq!(response.status(), 200);
                        n += 1;
                        patched.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                    n
                })
            })
            .collect();

        // Act: lists until the writers have made 60 writes at least.
        let mut lists = Vec::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while (lists.len() < 60 || patched.load(std::sync::atomic::Ordering::Relaxed) < 60)
            && tokio::time::Instant::now() < deadline
        {
            let listed = app.request("GET", &format!("{POINTS}?limit=1000"), None).await;
            let revision = listed.header("x-revision").expect("X-Revision").to_owned();
            lists.push((titles(&listed.json()), revision));
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let mut patches = 0;
        for writer in writers {
            patches += writer.await.expect("the writer");
        }
        let marker = app.create(json!({"code": "MARKER"})).await;

        // Assert: from each revision, each point's versions after the one
        // listed, each once, in order.
        assert!(patches >= 60, "the writers ran throughout ({patches} patches)");
        let mut history: HashMap<String, Vec<(i64, String)>> = HashMap::new();
        for (id, version, title) in changes_until(&app, None, &marker).await {
            history.entry(id).or_default().push((version, title));
        }
        let snapshots = lists.iter().filter(|(_, revision)| revision.split('-').count() > 2).count();
        for (listed, revision) in &lists {
            let mut delivered: HashMap<String, Vec<i64>> = HashMap::new();
            for (id, version, _) in changes_until(&app, Some(revision), &marker).await {
                delivered.entry(id).or_default().push(version);
            }
            for id in &ids {
                let versions = &history[id];
                let at = versions.iter().position(|(_, title)| *title == listed[id]).expect("a listed title");
                let expected: Vec<i64> = versions[at + 1..].iter().map(|(version, _)| *version).collect();
                let got = delivered.remove(id).unwrap_or_default();
                assert_eq!(got, expected, "point {id} from revision {revision} (listed at version {})", versions[at].0);
            }
            assert!(delivered.is_empty(), "changes of no listed point: {delivered:?}");
        }
        eprintln!("{} lists, {snapshots} of them with a snapshot, {patches} patches", lists.len());
    }
}

/// The value of the sample `name` (a series without labels) in a `/metrics`
/// text.
fn sample(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

on_both_backends! {
    async fn the_feed_metrics_count_an_open_stream_and_the_changes_sent_to_it(app) {
        // Arrange: a stream that stays open, reading every event.
        let stream = watch(&app.client, &app.address, None).await;
        let (sent, mut received) = tokio::sync::mpsc::unbounded_channel();
        let reader = tokio::spawn(read_events(stream, move |event| sent.send(event).is_ok()));
        let before = app.request("GET", "/metrics", None).await.text;

        // Act
        let created = app.create(json!({"code": "METRICS"})).await;
        let event = tokio::time::timeout(Duration::from_secs(20), received.recv())
            .await
            .expect("the change streams in time")
            .expect("an event");
        let during = app.request("GET", "/metrics", None).await.text;
        reader.abort();

        // Assert
        assert_eq!(event.data["id"], created["id"]);
        assert_eq!(sample(&before, "feed_watchers"), Some(1.0), "{before}");
        assert_eq!(sample(&before, "feed_changes_delivered_total"), Some(0.0), "{before}");
        assert_eq!(sample(&during, "feed_watchers"), Some(1.0), "{during}");
        assert_eq!(sample(&during, "feed_changes_delivered_total"), Some(1.0), "{during}");
        assert_eq!(sample(&during, "feed_delivery_lag_seconds_count"), Some(1.0), "{during}");
        let lag = sample(&during, "feed_delivery_lag_seconds_sum").expect("a lag sum");
        assert!((0.0..20.0).contains(&lag), "lag {lag} s");
        assert!(
            during.lines().any(|line| line == "feed_delivery_lag_seconds_bucket{le=\"30\"} 1"),
            "{during}"
        );
    }
}

/// How long a change may take to reach a watcher of a replica whose
/// listening connection was just ended: ample for the listener to reconnect
/// (its first attempt comes after a tenth of a second) on a loaded CI
/// machine, and far below the safety poll of the test's replicas, so that
/// only the listener can deliver in time.
const LISTENER_BOUND: Duration = Duration::from_secs(10);

/// The safety poll of the replicas of the listener test: longer than the
/// whole test.
const RARE_POLL_MS: &str = "600000";

/// Ends the LISTEN sessions named `name` on the test's PostgreSQL at `url`;
/// how many it ended.
async fn end_listeners(url: &str, name: &str) -> i64 {
    let db = infrastructure::connect(&crate::helpers::one_connection(url))
        .await
        .expect("the test database");
    let ended = crate::helpers::end_listeners(db.connection(), name).await;
    db.close().await;
    ended
}

/// What a replica logs when its listener has connected.
const LISTENER_CONNECTED: &str = "change listener connected";

/// What a replica's feed logs when it learns that its listener was lost.
const LISTENER_LOST: &str = "change listener lost: the change feed polls until it is back";

/// How many times `process` has logged `message`.
fn logged(process: &ServiceProcess, message: &str) -> usize {
    process
        .logs()
        .iter()
        .filter(|line| line["fields"]["message"] == message)
        .count()
}

/// Waits until `process` has logged `message` `count` times; how long that
/// took from `since`.
async fn logged_times(
    process: &ServiceProcess,
    message: &str,
    count: usize,
    since: std::time::Instant,
) -> Result<Duration, tokio::time::error::Elapsed> {
    tokio::time::timeout(LISTENER_BOUND, async {
        while logged(process, message) < count {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        since.elapsed()
    })
    .await
}

/// Waits until the `feed_listening` gauge of the service at `address` shows
/// `listening`; whether it did within [`LISTENER_BOUND`].
async fn gauge_shows(client: &reqwest::Client, address: &str, listening: bool) -> bool {
    let expected = if listening { 1.0 } else { 0.0 };
    tokio::time::timeout(LISTENER_BOUND, async {
        loop {
            let text = client
                .get(format!("{address}/metrics"))
                .send()
                .await
                .expect("the metrics are answered")
                .text()
                .await
                .expect("a text");
            if sample(&text, "feed_listening") == Some(expected) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .is_ok()
}

/// Creates a point `code` through the service at `address`.
async fn create_on(client: &reqwest::Client, address: &str, code: &str) -> Value {
    let response = client
        .post(format!("{address}{POINTS}"))
        .json(&json!({"code": code}))
        .send()
        .await
        .expect("the create is answered");
    assert_eq!(response.status(), 200);
    response.json().await.expect("JSON")
}

/// A replica whose listening connection is ended listens again (and says so
/// in `feed_listening`), and its watchers miss nothing: neither a change
/// another replica made while it was not listening, which no notification
/// announces, nor those made after.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watcher_gets_every_change_once_in_order_when_its_replicas_listener_is_ended() {
    let _turn = crate::helpers::exclusive_turn().await;
    let Some(url) = postgres_url() else {
        return;
    };
    // Arrange: two processes on one schema that never poll in time, so that
    // only its listener tells B of A's writes; B's listening session has a
    // name the test can find, and a client watches B.
    let schema = format!("e2e_feed_{}", uuid::Uuid::now_v7().simple());
    let name = format!("ip-feed-e2e-{}", uuid::Uuid::now_v7().simple());
    let direct = crate::helpers::postgres_listen_url(&url);
    let named = crate::helpers::named_listen_url(&url, &name);
    let env = [
        ("APP__DATABASE__URL", url.as_str()),
        ("APP__DATABASE__SCHEMA", schema.as_str()),
        ("APP__FEED__POLL_INTERVAL_MS", RARE_POLL_MS),
    ];
    let a =
        ServiceProcess::start(&[&env[..], &[("APP__FEED__LISTEN_URL", direct.as_str())]].concat())
            .await;
    let mut b =
        ServiceProcess::start(&[&env[..], &[("APP__FEED__LISTEN_URL", named.as_str())]].concat())
            .await;
    b.wait_for_log(|line| line["fields"]["message"] == LISTENER_CONNECTED)
        .await;
    let (connected, lost) = (logged(&b, LISTENER_CONNECTED), logged(&b, LISTENER_LOST));
    let client = reqwest::Client::new();
    assert!(gauge_shows(&client, &b.address, true).await, "B listens");
    let stream = watch(&client, &b.address, None).await;
    let (sent, mut received) = tokio::sync::mpsc::unbounded_channel();
    let reader = tokio::spawn(read_events(stream, move |event| sent.send(event).is_ok()));
    let before = create_on(&client, &a.address, "BEFORE").await;
    let heard = tokio::time::timeout(LISTENER_BOUND, received.recv())
        .await
        .expect("B hears A's write")
        .expect("an event");
    assert_eq!(heard.data["id"], before["id"]);

    // Act: B's listener is ended, and once B knows, A writes; B's watcher
    // must have that change before anything else is written (a later
    // notification would bring it along). Then A and B write again.
    let ended = end_listeners(&direct, &name).await;
    let ended_at = std::time::Instant::now();
    assert_eq!(ended, 1, "B's listening session is ended");
    logged_times(&b, LISTENER_LOST, lost + 1, ended_at)
        .await
        .expect("B learns that its listener is lost");
    let during = create_on(&client, &a.address, "DURING").await;
    let mut events = Vec::new();
    if let Ok(Some(event)) = tokio::time::timeout(LISTENER_BOUND, received.recv()).await {
        events.push(event);
    }
    let during_arrived = ended_at.elapsed();
    let listening_again = logged_times(&b, LISTENER_CONNECTED, connected + 1, ended_at).await;
    let gauge_back = gauge_shows(&client, &b.address, true).await;
    let after_a = create_on(&client, &a.address, "AFTER-A").await;
    let after_b = create_on(&client, &b.address, "AFTER-B").await;
    while events.len() < 3 {
        match tokio::time::timeout(LISTENER_BOUND, received.recv()).await {
            Ok(Some(event)) => events.push(event),
            Ok(None) | Err(_) => break,
        }
    }
    let extra = tokio::time::timeout(Duration::from_millis(300), received.recv()).await;
    reader.abort();

    // Assert
    let listening_again = listening_again.expect("B listens again");
    assert!(gauge_back, "B's feed_listening gauge is 1 again");
    eprintln!(
        "B listened again {listening_again:?} after its listener was ended; \
         the change made meanwhile arrived after {during_arrived:?}"
    );
    let ids: Vec<&Value> = events.iter().map(|event| &event.data["id"]).collect();
    assert_eq!(
        ids.first(),
        Some(&&during["id"]),
        "the change made while B was not listening arrives by itself"
    );
    assert_eq!(
        ids,
        [&during["id"], &after_a["id"], &after_b["id"]],
        "each change once, in order"
    );
    assert!(extra.is_err(), "nothing more: {extra:?}");
}

/// Waits until `/metrics` counts no open event stream; how long that took, or
/// `None` past `bound`.
async fn until_no_watchers(app: &TestApp, bound: Duration) -> Option<Duration> {
    let started = std::time::Instant::now();
    while started.elapsed() < bound {
        let text = app.request("GET", "/metrics", None).await.text;
        if sample(&text, "feed_watchers") == Some(0.0) {
            return Some(started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    None
}

/// Opens an event stream and waits until `/metrics` counts it.
async fn counted_stream(app: &TestApp) -> reqwest::Response {
    let stream = watch(&app.client, &app.address, None).await;
    let text = app.request("GET", "/metrics", None).await.text;
    assert_eq!(sample(&text, "feed_watchers"), Some(1.0), "{text}");
    stream
}

/// Far below the 15 s between heartbeats, whose failed writes were once the
/// only way a replica learnt that a watcher had gone.
const PROMPTLY: Duration = Duration::from_secs(5);

on_both_backends! {
    async fn a_stream_whose_client_disconnects_ends_at_once(app) {
        // Arrange
        let stream = counted_stream(&app).await;

        // Act
        drop(stream);

        // Assert
        let ended = until_no_watchers(&app, PROMPTLY).await;
        assert!(ended.is_some(), "the stream still runs {PROMPTLY:?} after its client left");
    }
}

/// The service with a header read timeout far below the 15 s heartbeat.
async fn spawn_with_quick_heads(backend: crate::helpers::Backend) -> Option<TestApp> {
    let (mut settings, sqlite_file) = crate::helpers::test_settings(backend)?;
    settings.server.header_read_timeout_ms = 1_000;
    Some(crate::helpers::spawn_with(settings, sqlite_file).await)
}

on_both_backends! {
    spawn = spawn_with_quick_heads;
    /// A connection that writes nothing for a header read timeout is taken
    /// for an idle one: a quiet stream's heartbeat must come sooner, and then
    /// its client's leaving is still noticed.
    async fn a_stream_quiet_for_longer_than_the_head_timeout_lives_and_ends_with_its_client(app) {
        // Arrange: a stream with nothing to send for 2.5 head timeouts.
        let stream = counted_stream(&app).await;
        let (sent, mut received) = tokio::sync::mpsc::unbounded_channel();
        let reader = tokio::spawn(read_events(stream, move |event| sent.send(event).is_ok()));
        tokio::time::sleep(Duration::from_millis(2_500)).await;

        // Act
        let created = app.create(json!({"code": "QUIET"})).await;
        let event = tokio::time::timeout(PROMPTLY, received.recv()).await;
        reader.abort();

        // Assert
        let event = event.expect("the quiet stream still delivers").expect("an event");
        assert_eq!(event.data["id"], created["id"]);
        let ended = until_no_watchers(&app, PROMPTLY).await;
        assert!(ended.is_some(), "the stream still runs {PROMPTLY:?} after its client left");
    }
}
