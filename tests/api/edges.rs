//! HTTP edges (contract §10) through the real server: CORS and compression.

use integration_points::access::AuthSettings;
use integration_points::configuration::CorsSettings;
use serde_json::json;

use crate::helpers::{self, Backend, POINTS, TestApp};

const ORIGIN: &str = "http://127.0.0.1:5173";
const KEY: &str = "browser-key-0123456789abcdef";

/// The service on SQLite, with a key and `ORIGIN` allowed to call it.
async fn spawn_for_browsers() -> TestApp {
    let (mut settings, sqlite_file) =
        helpers::test_settings(Backend::Sqlite).expect("SQLite is always available");
    settings.http.cors = serde_json::from_value::<CorsSettings>(json!({
        "allowed_origins": [ORIGIN],
    }))
    .expect("a valid origin");
    settings.auth = serde_json::from_value::<AuthSettings>(json!({"keys": [
        {"name": "browser", "key": KEY, "scopes": ["read", "write"]},
    ]}))
    .expect("a valid key");
    helpers::spawn_with(settings, sqlite_file).await
}

#[tokio::test]
async fn a_page_of_an_allowed_origin_can_preflight_without_a_key_then_read_the_total() {
    // Arrange
    let app = spawn_for_browsers().await;
    let bearer = format!("Bearer {KEY}");
    let auth = [("Authorization", bearer.as_str())];
    let created = app
        .request_with("POST", POINTS, Some(&json!({"code": "ABCDE"})), &auth)
        .await;
    assert_eq!(created.status.as_u16(), 200, "{}", created.text);

    // Act: what a browser sends before and for `fetch(…, {method: "LOOKUP"})`.
    let preflight = app
        .request_with(
            "OPTIONS",
            POINTS,
            None,
            &[
                ("Origin", ORIGIN),
                ("Access-Control-Request-Method", "LOOKUP"),
                (
                    "Access-Control-Request-Headers",
                    "authorization,content-type",
                ),
            ],
        )
        .await;
    let list = app
        .request_with("GET", POINTS, None, &[auth[0], ("Origin", ORIGIN)])
        .await;

    // Assert
    assert_eq!(preflight.status.as_u16(), 200, "{}", preflight.text);
    assert_eq!(
        preflight.header("access-control-allow-origin"),
        Some(ORIGIN)
    );
    assert!(
        preflight
            .header("access-control-allow-methods")
            .is_some_and(|methods| methods.contains("LOOKUP")),
        "{:?}",
        preflight.header("access-control-allow-methods")
    );
    assert_eq!(list.status.as_u16(), 200, "{}", list.text);
    assert_eq!(list.header("access-control-allow-origin"), Some(ORIGIN));
    assert_eq!(list.header("x-total-count"), Some("1"));
    assert!(
        list.header("access-control-expose-headers")
            .is_some_and(|exposed| exposed.to_ascii_lowercase().contains("x-total-count")),
        "{:?}",
        list.header("access-control-expose-headers")
    );
}

#[tokio::test]
async fn another_origin_gets_no_cors_headers() {
    let app = spawn_for_browsers().await;

    let preflight = app
        .request_with(
            "OPTIONS",
            POINTS,
            None,
            &[
                ("Origin", "http://127.0.0.1:9999"),
                ("Access-Control-Request-Method", "GET"),
            ],
        )
        .await;

    assert!(preflight.status.is_client_error(), "{}", preflight.status);
    assert_eq!(preflight.header("access-control-allow-origin"), None);
}

#[tokio::test]
async fn a_large_list_is_sent_gzipped_to_a_client_that_takes_gzip() {
    let (settings, sqlite_file) =
        helpers::test_settings(Backend::Sqlite).expect("SQLite is always available");
    let app = helpers::spawn_with(settings, sqlite_file).await;
    for i in 0..10 {
        app.create(json!({"code": format!("POINT-{i}")})).await;
    }

    let url = format!("{}{POINTS}", app.address);
    let get = |coding: Option<&'static str>| {
        let mut request = app.client.get(&url);
        if let Some(coding) = coding {
            request = request.header("Accept-Encoding", coding);
        }
        async move { request.send().await.expect("the request is sent") }
    };

    let plain = get(None).await;
    let gzipped = get(Some("gzip")).await;

    assert_eq!(plain.headers().get("content-encoding"), None);
    assert_eq!(
        gzipped
            .headers()
            .get("content-encoding")
            .map(|v| v.as_bytes()),
        Some(&b"gzip"[..])
    );
    let plain = plain.bytes().await.expect("a body");
    let gzipped = gzipped.bytes().await.expect("a body");
    assert!(
        gzipped.len() * 3 < plain.len(),
        "{} bytes gzipped, {} plain",
        gzipped.len(),
        plain.len()
    );
    assert_eq!(&gzipped[..2], &[0x1f, 0x8b], "the gzip magic number");
}
