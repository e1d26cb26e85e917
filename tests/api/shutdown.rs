//! Graceful shutdown of the real binary: on SIGTERM or SIGINT it stops
//! accepting, lets requests in flight finish within
//! `server.shutdown_timeout_ms`, closes the pool and exits 0.

use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::helpers::POINTS;
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
    // Arrange: three creates in flight, each stopped halfway through its body.
    let scratch = ScratchDir::new();
    let url = scratch.sqlite_url();
    let mut service = ServiceProcess::start(&[("APP__DATABASE__URL", &url)]).await;
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
