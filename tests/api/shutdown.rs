//! Graceful shutdown of the real binary: on SIGTERM it drains for
//! `server.shutdown_delay_ms` (not ready, `Connection: close`), on SIGINT
//! not at all; then it stops accepting, lets requests in flight finish
//! within `server.shutdown_timeout_ms`, closes the pool and exits 0.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::helpers::{self, Backend, POINTS, TestApp};
use crate::process::{ScratchDir, ServiceProcess};

/// A create request whose body arrives in two halves, with the server
/// provably inside the handler, reading the body, in between.
struct SlowCreate {
    stream: TcpStream,
    rest: Vec<u8>,
}

impl SlowCreate {
    /// Sends the head and the first half of the body, and waits until the
    /// server asks for the body (`100 Continue`): from then on the request
    /// is in flight in the handler, not waiting in a socket buffer.
    async fn start(port: u16, code: &str) -> Self {
        let body = serde_json::to_vec(&serde_json::json!({"code": code})).expect("JSON");
        let mut stream = TcpStream::connect(("127.0.0.1", port))
            .await
            .expect("the service accepts before the signal");
        let head = format!(
            "POST {POINTS} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nExpect: 100-continue\r\n\r\n",
            body.len()
        );
        stream.write_all(head.as_bytes()).await.expect("head sent");
        let interim = read_head(&mut stream).await;
        assert!(
            interim.starts_with("HTTP/1.1 100"),
            "the server asks for the body: {interim:?}"
        );
        let (first, rest) = body.split_at(body.len() / 2);
        stream.write_all(first).await.expect("first half sent");
        Self {
            stream,
            rest: rest.to_vec(),
        }
    }

    /// Sends the rest of the body and reads the whole response: its status
    /// and body.
    async fn finish(mut self) -> (u16, Value) {
        self.stream
            .write_all(&self.rest)
            .await
            .expect("the connection is still open");
        let mut response = Vec::new();
        self.stream
            .read_to_end(&mut response)
            .await
            .expect("a response");
        let response = String::from_utf8(response).expect("UTF-8");
        let (head, body) = response.split_once("\r\n\r\n").expect("head and body");
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .expect("a status line");
        let body = serde_json::from_str(body).unwrap_or(Value::Null);
        (status, body)
    }
}

/// Reads up to the blank line that ends a response head.
async fn read_head(stream: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0_u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let read = stream.read(&mut byte).await.expect("readable");
        assert_eq!(read, 1, "the connection closed inside a head: {head:?}");
        head.push(byte[0]);
    }
    String::from_utf8(head).expect("UTF-8")
}

/// Polls until connecting to `port` is refused, and returns how long it took.
async fn until_refused(port: u16) -> Duration {
    let started = Instant::now();
    loop {
        match TcpStream::connect(("127.0.0.1", port)).await {
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                return started.elapsed();
            }
            _ => {
                assert!(
                    started.elapsed() < Duration::from_secs(10),
                    "the listener is still open after the signal"
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
}

fn logged(service: &ServiceProcess, message: &str) -> bool {
    service
        .logs()
        .iter()
        .any(|line| line["fields"]["message"] == message)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_requests_in_flight_finish_refuses_new_ones_and_exits_0() {
    // Arrange: three creates in flight, each stopped halfway through its body,
    // on a service that stops accepting as soon as it is told to stop.
    let scratch = ScratchDir::new();
    let url = scratch.sqlite_url();
    let mut service = ServiceProcess::start(&[
        ("APP__DATABASE__URL", &url),
        ("APP__SERVER__SHUTDOWN_DELAY_MS", "0"),
    ])
    .await;
    let mut in_flight = Vec::new();
    for i in 0..3 {
        in_flight.push(SlowCreate::start(service.port, &format!("in-flight-{i}")).await);
    }

    // Act
    service.signal("TERM");
    until_refused(service.port).await;
    let mut answers = Vec::new();
    for request in in_flight {
        answers.push(request.finish().await);
    }
    let status = service.wait().await;

    // Assert
    for (i, (status, body)) in answers.iter().enumerate() {
        assert_eq!(*status, 200, "request {i}: {body}");
        assert_eq!(body["code"], format!("in-flight-{i}"), "request {i}");
    }
    assert!(status.success(), "exit status {status}");
    assert!(logged(&service, "SIGTERM received; shutting down"));
    assert!(logged(&service, "database connections closed"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_stops_an_idle_service_with_exit_code_0() {
    let scratch = ScratchDir::new();
    let url = scratch.sqlite_url();
    let mut service = ServiceProcess::start(&[("APP__DATABASE__URL", &url)]).await;

    service.signal("INT");
    let status = service.wait().await;

    assert!(status.success(), "exit status {status}");
    assert!(logged(&service, "SIGINT received; shutting down"));
    assert!(logged(&service, "database connections closed"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_that_outlives_the_shutdown_timeout_is_cut_and_the_process_still_exits_0() {
    // Arrange: a client that never sends the rest of its body.
    let scratch = ScratchDir::new();
    let url = scratch.sqlite_url();
    let mut service = ServiceProcess::start(&[
        ("APP__DATABASE__URL", &url),
        ("APP__SERVER__SHUTDOWN_DELAY_MS", "0"),
        ("APP__SERVER__SHUTDOWN_TIMEOUT_MS", "500"),
    ])
    .await;
    let mut stalled = SlowCreate::start(service.port, "stalled").await;

    // Act
    let signalled = Instant::now();
    service.signal("TERM");
    let status = service.wait().await;
    let took = signalled.elapsed();

    // Assert
    assert!(status.success(), "exit status {status}");
    assert!(
        (Duration::from_millis(500)..Duration::from_secs(10)).contains(&took),
        "waited out the grace period, then exited: {took:?}"
    );
    let mut rest = Vec::new();
    let read = stalled.stream.read_to_end(&mut rest).await;
    assert!(
        matches!(read, Ok(0)) || read.is_err(),
        "the stalled connection is closed: {read:?} {rest:?}"
    );
}

/// `server.shutdown_delay_ms` of the drain tests.
const DRAIN_DELAY: Duration = Duration::from_millis(1500);

/// Requests sent this close to the end of the delay may meet a listener
/// that has just closed: no server can win that race, only shrink it, and
/// the delay is there so that load balancers stop sending long before.
const DRAIN_MARGIN: Duration = Duration::from_millis(250);

/// One create sent by a keep-alive client, and what came of it.
struct Sent {
    at: Instant,
    /// The status, the id created, and whether the response said
    /// `Connection: close`; or why no response came.
    outcome: Result<(u16, Option<String>, bool), String>,
}

/// A client on one keep-alive connection (reqwest's pool reuses it while the
/// server keeps it open) that sends creates until `stop`.
async fn keep_alive_client(address: String, which: usize, stop: Arc<AtomicBool>) -> Vec<Sent> {
    let client = reqwest::Client::new();
    let mut sent = Vec::new();
    for n in 0.. {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let at = Instant::now();
        let response = client
            .post(format!("{address}{POINTS}"))
            .json(&serde_json::json!({"code": format!("drain-{which}-{n}")}))
            .send()
            .await;
        let outcome = match response {
            Ok(response) => {
                let status = response.status().as_u16();
                let close = response
                    .headers()
                    .get("connection")
                    .is_some_and(|value| value == "close");
                let body: Value = response.json().await.unwrap_or(Value::Null);
                let id = body["id"].as_str().map(str::to_owned);
                Ok((status, id, close))
            }
            Err(error) => Err(format!("{error:?}")),
        };
        sent.push(Sent { at, outcome });
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    sent
}

/// Every id the service on `env`'s database lists.
async fn stored_ids(env: &[(&str, &str)]) -> HashSet<String> {
    let service = ServiceProcess::start(env).await;
    let app = TestApp::of_process(service);
    let mut ids = HashSet::new();
    for offset in (0..).step_by(1000) {
        let page = app
            .request("GET", &format!("{POINTS}?offset={offset}&limit=1000"), None)
            .await
            .json();
        let page = page.as_array().expect("a list").clone();
        if page.is_empty() {
            break;
        }
        ids.extend(
            page.iter()
                .filter_map(|p| p["id"].as_str().map(str::to_owned)),
        );
    }
    ids
}

/// Clients send creates continuously on keep-alive connections through a
/// SIGTERM; every request sent before the drain delay ends is answered,
/// and every create answered 200 is stored.
async fn sigterm_loses_nothing_sent_before_the_delay_ends(database: &[(&str, &str)]) {
    // Arrange
    let delay_ms = DRAIN_DELAY.as_millis().to_string();
    let mut env = database.to_vec();
    env.push(("APP__SERVER__SHUTDOWN_DELAY_MS", &delay_ms));
    let mut service = ServiceProcess::start(&env).await;
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..4)
        .map(|which| {
            tokio::spawn(keep_alive_client(
                service.address.clone(),
                which,
                Arc::clone(&stop),
            ))
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let probe = reqwest::Client::new();
    let ready = format!("{}/health/ready", service.address);

    // Act
    let signalled = Instant::now();
    service.signal("TERM");
    let not_ready = loop {
        let reply = probe.get(&ready).send().await.expect("ready answers");
        if reply.status().as_u16() == 503 {
            let body: Value = reply.json().await.expect("JSON");
            break (Instant::now(), body);
        }
        assert!(
            signalled.elapsed() < DRAIN_DELAY,
            "still ready while draining"
        );
    };
    let status = service.wait().await;
    stop.store(true, Ordering::Relaxed);
    let mut sent = Vec::new();
    for client in clients {
        sent.extend(client.await.expect("the client finishes"));
    }

    // Assert
    assert!(status.success(), "exit status {status}");
    assert_eq!(not_ready.1["error_code"], 1503, "{}", not_ready.1);
    assert_eq!(not_ready.1["error_message"], "not ready: shutting down");
    let deadline = signalled + DRAIN_DELAY - DRAIN_MARGIN;
    let before_deadline: Vec<&Sent> = sent.iter().filter(|s| s.at < deadline).collect();
    let while_draining = before_deadline
        .iter()
        .filter(|s| s.at > not_ready.0)
        .count();
    assert!(
        while_draining >= 20,
        "the clients kept sending while draining: {while_draining}"
    );
    for request in &before_deadline {
        let sent_after = request.at.saturating_duration_since(signalled);
        match &request.outcome {
            Ok((200, Some(_), close)) => assert!(
                *close || request.at < not_ready.0,
                "a response while draining keeps its connection ({sent_after:?} after SIGTERM)"
            ),
            outcome => panic!("lost, sent {sent_after:?} after SIGTERM: {outcome:?}"),
        }
    }
    let acknowledged: HashSet<String> = sent
        .iter()
        .filter_map(|s| match &s.outcome {
            Ok((200, Some(id), _)) => Some(id.clone()),
            _ => None,
        })
        .collect();
    let stored = stored_ids(database).await;
    let missing: Vec<_> = acknowledged.difference(&stored).collect();
    assert!(
        missing.is_empty(),
        "acknowledged but not stored: {missing:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_under_keep_alive_load_loses_no_request_on_sqlite() {
    let scratch = ScratchDir::new();
    let url = scratch.sqlite_url();
    sigterm_loses_nothing_sent_before_the_delay_ends(&[("APP__DATABASE__URL", &url)]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[pg_gate::requires_postgres]
async fn sigterm_under_keep_alive_load_loses_no_request_on_postgres() {
    let Some((settings, _)) = helpers::test_settings(Backend::Postgres) else {
        return;
    };
    sigterm_loses_nothing_sent_before_the_delay_ends(&[
        ("APP__DATABASE__URL", &settings.database.url),
        ("APP__DATABASE__SCHEMA", &settings.database.schema),
    ])
    .await;
}
