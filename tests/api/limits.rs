//! Limits on hostile input, each answered in the §4 shape: nesting of bodies,
//! length of query strings, slow request heads, slow requests.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::helpers::{self, Backend, POINTS, TestApp};
use crate::on_both_backends;

/// The header read timeout and request timeout of [`spawn_impatient`].
const IMPATIENCE: Duration = Duration::from_millis(500);
/// How much later than a timeout its effect may show on a loaded machine.
const SLACK: Duration = Duration::from_secs(5);

/// The service with both timeouts at [`IMPATIENCE`].
async fn spawn_impatient(backend: Backend) -> Option<TestApp> {
    let (mut settings, sqlite_file) = helpers::test_settings(backend)?;
    let millis = u64::try_from(IMPATIENCE.as_millis()).expect("small");
    settings.server.header_read_timeout_ms = millis;
    settings.server.request_timeout_ms = millis;
    Some(helpers::spawn_with(settings, sqlite_file).await)
}

/// A raw connection to the service, for what an HTTP client will not send.
async fn connect(app: &TestApp) -> TcpStream {
    let address = app.address.trim_start_matches("http://");
    TcpStream::connect(address)
        .await
        .expect("the service accepts connections")
}

/// Everything the service sends until it closes the connection, and how
/// long that took; fails past `bound`.
async fn read_until_closed(stream: &mut TcpStream, bound: Duration) -> (String, Duration) {
    let started = Instant::now();
    let mut received = Vec::new();
    tokio::time::timeout(bound, stream.read_to_end(&mut received))
        .await
        .expect("the service closes the connection in time")
        .expect("the connection reads cleanly");
    (
        String::from_utf8_lossy(&received).into_owned(),
        started.elapsed(),
    )
}

/// The JSON body of a raw HTTP/1.1 response.
fn raw_body(response: &str) -> Value {
    let (_, body) = response.split_once("\r\n\r\n").expect("a head and a body");
    serde_json::from_str(body).unwrap_or_else(|e| panic!("a JSON body ({e}): {response}"))
}

on_both_backends! {
    /// A client may shut its side of the connection once its request is sent
    /// (a half-close, as `nc -N` does) and still read the answer.
    async fn a_client_that_half_closes_after_its_request_gets_the_response(app) {
        // Arrange
        let mut stream = connect(&app).await;
        let request = format!("GET {POINTS}?limit=1 HTTP/1.1\r\nHost: x\r\n\r\n");

        // Act
        stream.write_all(request.as_bytes()).await.expect("request sent");
        stream.shutdown().await.expect("half-closed");
        let (response, _) = read_until_closed(&mut stream, SLACK).await;

        // Assert
        assert!(response.starts_with("HTTP/1.1 200 OK"), "{response}");
    }
}

on_both_backends! {
    async fn a_body_nested_deeper_than_32_levels_is_a_400(app) {
        let nested = |levels: usize| {
            let comment = format!("{}{}", "[".repeat(levels), "]".repeat(levels));
            format!(r#"{{"code": "deep", "opts": {{"comment": {comment}}}}}"#)
        };

        let too_deep = app.request_raw("POST", POINTS, "application/json", nested(31)).await;
        let at_most_32 = app.request_raw("POST", POINTS, "application/json", nested(30)).await;

        let body = too_deep.assert_error(400);
        assert_eq!(body["error_message"], "the request body nests deeper than 32 levels");
        let body = at_most_32.assert_bad_field("opts.comment");
        assert!(body["error_message"].as_str().is_some_and(|m| m.contains("sequence")), "{body}");
    }
}

on_both_backends! {
    async fn a_query_string_over_60_kib_is_a_414(app) {
        // Arrange: raw, as HTTP clients refuse URIs this long.
        let mut stream = connect(&app).await;
        let padding = "x".repeat(60 * 1024);
        let request = format!("GET {POINTS}?mask=id&pad={padding} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");

        // Act
        stream.write_all(request.as_bytes()).await.expect("written");
        let (response, _) = read_until_closed(&mut stream, SLACK).await;

        // Assert
        assert!(response.starts_with("HTTP/1.1 414 "), "{}", &response[..response.len().min(200)]);
        let body = raw_body(&response);
        assert_eq!(body["error_code"], 1414);
        assert_eq!(body["error_message"], "the query string is longer than 61440 bytes");
    }
}

on_both_backends! {
    async fn a_filter_listing_1000_ids_fits_in_the_query_string(app) {
        // Arrange
        let point = app.create(json!({"code": "wanted"})).await;
        let mut ids: Vec<Value> = (0..999)
            .map(|n| json!(format!("00000000-0000-7000-8000-{n:012}")))
            .collect();
        ids.push(point["id"].clone());
        let filter = json!({"id": {"in": ids}}).to_string();

        // Act
        let reply = app
            .client
            .get(format!("{}{POINTS}", app.address))
            .query(&[("filter", filter.as_str()), ("mask", "code")])
            .send()
            .await
            .expect("the request is sent");

        // Assert
        assert_eq!(reply.status().as_u16(), 200);
        let body: Value = reply.json().await.expect("a JSON body");
        assert_eq!(body, json!([{"code": "wanted"}]));
    }
}

on_both_backends! {
    spawn = spawn_impatient;
    async fn a_request_head_that_stalls_is_cut_off_with_a_408(app) {
        // Arrange
        let mut stream = connect(&app).await;

        // Act: a head that never ends.
        stream
            .write_all(format!("GET {POINTS} HTTP/1.1\r\nHost: test\r\nX-Slow: ").as_bytes())
            .await
            .expect("written");
        let (response, took) = read_until_closed(&mut stream, IMPATIENCE + SLACK).await;

        // Assert
        assert!(response.starts_with("HTTP/1.1 408 "), "{response}");
        assert_eq!(raw_body(&response)["error_code"], 1408, "{response}");
        assert!(took >= IMPATIENCE - Duration::from_millis(50), "cut off after {took:?}");
    }
}

on_both_backends! {
    spawn = spawn_impatient;
    async fn an_idle_connection_is_closed(app) {
        // Arrange: a request answered, then silence on the kept-alive connection.
        let mut stream = connect(&app).await;
        stream
            .write_all(b"GET /health/live HTTP/1.1\r\nHost: test\r\n\r\n")
            .await
            .expect("written");

        // Act
        let (response, _) = read_until_closed(&mut stream, IMPATIENCE + SLACK).await;

        // Assert: the answer, then the connection closed without another.
        assert!(response.starts_with("HTTP/1.1 200 "), "{response}");
        assert_eq!(response.matches("HTTP/1.1").count(), 1, "{response}");
    }
}

on_both_backends! {
    spawn = spawn_impatient;
    async fn a_request_whose_body_stalls_is_cut_off_with_a_503(app) {
        // Arrange
        let mut stream = connect(&app).await;
        let head = format!(
            "POST {POINTS} HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n\
             Content-Length: 100\r\nConnection: close\r\n\r\n{{\"code\": "
        );

        // Act: the head whole, the body a few bytes short, then nothing.
        stream.write_all(head.as_bytes()).await.expect("written");
        let (response, took) = read_until_closed(&mut stream, IMPATIENCE + SLACK).await;

        // Assert
        assert!(response.starts_with("HTTP/1.1 503 "), "{response}");
        let body = raw_body(&response);
        assert_eq!(body["error_code"], 1503, "{response}");
        assert_eq!(body["error_message"], "the request was not completed within 500 ms; retry later");
        assert!(took >= IMPATIENCE - Duration::from_millis(50), "cut off after {took:?}");
    }
}

on_both_backends! {
    spawn = spawn_impatient;
    async fn prompt_clients_are_not_affected_by_the_timeouts(app) {
        for _ in 0..3 {
            let reply = app.request("POST", POINTS, Some(&json!({"code": uuid::Uuid::now_v7().to_string()}))).await;
            assert_eq!(reply.status.as_u16(), 200, "{}", reply.text);
        }
    }
}
