//! Access control (contract §6): the auth matrix over every operation, the
//! open endpoints, and the loopback rule.

use integration_points::access::AuthSettings;
use integration_points::startup::Application;
use serde_json::{Value, json};

use crate::helpers::{self, Backend, POINTS, Reply, TestApp};
use crate::on_both_backends;

/// Reads and writes.
const ADMIN_KEY: &str = "admin-key-0123456789abcdef";
/// Reads only.
const READER_KEY: &str = "reader-key-0123456789abcdef";
/// Writes only.
const WRITER_KEY: &str = "writer-key-0123456789abcdef";

/// The service with three keys: `admin` (read, write), `reader`, `writer`.
/// The reader's key is configured by its digest, as a file should hold it.
async fn spawn_guarded(backend: Backend) -> Option<TestApp> {
    let (mut settings, sqlite_file) = helpers::test_settings(backend)?;
    let reader_digest = api::KeyDigest::from_config(READER_KEY)
        .expect("a valid key")
        .to_config();
    settings.auth = serde_json::from_value::<AuthSettings>(json!({"keys": [
        {"name": "admin", "key": ADMIN_KEY, "scopes": ["read", "write"]},
        {"name": "reader", "key": reader_digest, "scopes": ["read"]},
        {"name": "writer", "key": WRITER_KEY, "scopes": ["write"]},
    ]}))
    .expect("valid keys");
    Some(helpers::spawn_with(settings, sqlite_file).await)
}

/// One request of an operation: method, path, body.
type Call = (&'static str, String, Option<Value>);

/// The read operations on `point`.
fn reads(point: &Value) -> Vec<Call> {
    let item = TestApp::item(point["id"].as_str().expect("an id"));
    let token = point["token_local"].clone();
    vec![
        ("GET", POINTS.to_owned(), None),
        ("GET", item.clone(), None),
        ("HEAD", item, None),
        ("LOOKUP", POINTS.to_owned(), Some(token.clone())),
        ("POST", format!("{POINTS}/lookup"), Some(token)),
    ]
}

/// The write operations on `point`.
fn writes(point: &Value) -> Vec<Call> {
    let item = TestApp::item(point["id"].as_str().expect("an id"));
    vec![
        ("POST", POINTS.to_owned(), Some(json!({"code": "another"}))),
        (
            "PATCH",
            item.clone(),
            Some(json!({"opts": {"title": "changed"}})),
        ),
        ("POST", format!("{item}/rotate_token"), None),
        ("DELETE", item, None),
    ]
}

async fn send(app: &TestApp, (method, path, body): &Call, authorization: Option<&str>) -> Reply {
    let headers: Vec<(&str, &str)> = authorization
        .map(|value| ("authorization", value))
        .into_iter()
        .collect();
    app.request_with(method, path, body.as_ref(), &headers)
        .await
}

fn bearer(key: &str) -> String {
    format!("Bearer {key}")
}

/// Creates a point with the admin key.
async fn create(app: &TestApp) -> Value {
    let reply = app
        .request_with(
            "POST",
            POINTS,
            Some(&json!({"code": "ABCDE", "token_remote": "r"})),
            &[("authorization", &bearer(ADMIN_KEY))],
        )
        .await;
    assert_eq!(reply.status.as_u16(), 200, "{}", reply.text);
    reply.json()
}

/// Asserts a 401 in the §4 shape with a bearer challenge. `HEAD` has no body
/// to check.
fn assert_unauthorized(reply: &Reply, method: &str, what: &str) {
    if method == "HEAD" {
        assert_eq!(reply.status.as_u16(), 401, "{what}");
    } else {
        reply.assert_error(401);
    }
    let challenge = reply.header("www-authenticate").unwrap_or_default();
    assert!(challenge.starts_with("Bearer"), "{what}: {challenge:?}");
}

fn assert_forbidden(reply: &Reply, method: &str, what: &str) {
    if method == "HEAD" {
        assert_eq!(reply.status.as_u16(), 403, "{what}");
    } else {
        let body = reply.assert_error(403);
        assert!(
            body["error_message"]
                .as_str()
                .is_some_and(|m| m.contains("scope")),
            "{what}: {body}"
        );
    }
}

/// The point as the admin reads it now.
async fn current(app: &TestApp, point: &Value) -> Reply {
    let item = TestApp::item(point["id"].as_str().expect("an id"));
    app.request_with("GET", &item, None, &[("authorization", &bearer(ADMIN_KEY))])
        .await
}

on_both_backends! {
    spawn = spawn_guarded;
    async fn requests_without_a_valid_key_are_401s_and_change_nothing(app) {
        // Arrange
        let point = create(&app).await;
        let before = current(&app, &point).await;
        let credentials = [
            (None, "no Authorization header"),
            (Some("Bearer not-a-configured-key-0123".to_owned()), "an unknown key"),
            (Some(format!("Basic {ADMIN_KEY}")), "another scheme"),
            (Some("Bearer".to_owned()), "an empty key"),
            (Some(format!("Bearer {}", &ADMIN_KEY[1..])), "a near miss"),
        ];

        for (authorization, what) in &credentials {
            for call in reads(&point).iter().chain(&writes(&point)) {
                // Act
                let reply = send(&app, call, authorization.as_deref()).await;

                // Assert
                assert_unauthorized(&reply, call.0, &format!("{} {} with {what}", call.0, call.1));
            }
        }
        let after = current(&app, &point).await;
        assert_eq!(after.text, before.text, "nothing changed");
        assert_eq!(after.header("etag"), before.header("etag"));
    }
}

on_both_backends! {
    spawn = spawn_guarded;
    async fn a_read_only_key_gets_403_on_every_write_and_changes_nothing(app) {
        // Arrange
        let point = create(&app).await;
        let before = current(&app, &point).await;

        for call in writes(&point) {
            // Act
            let reply = send(&app, &call, Some(&bearer(READER_KEY))).await;

            // Assert
            assert_forbidden(&reply, call.0, &format!("{} {}", call.0, call.1));
        }
        let after = current(&app, &point).await;
        assert_eq!(after.text, before.text, "nothing changed");
    }
}

on_both_backends! {
    spawn = spawn_guarded;
    async fn a_write_only_key_gets_403_on_every_read(app) {
        let point = create(&app).await;

        for call in reads(&point) {
            let reply = send(&app, &call, Some(&bearer(WRITER_KEY))).await;

            assert_forbidden(&reply, call.0, &format!("{} {}", call.0, call.1));
        }
    }
}

on_both_backends! {
    spawn = spawn_guarded;
    async fn each_key_may_do_what_its_scopes_allow(app) {
        let point = create(&app).await;

        for call in reads(&point) {
            for key in [READER_KEY, ADMIN_KEY] {
                let reply = send(&app, &call, Some(&bearer(key))).await;
                assert_eq!(reply.status.as_u16(), 200, "{} {}: {}", call.0, call.1, reply.text);
            }
        }
        for (call, key) in writes(&point).into_iter().zip([ADMIN_KEY, WRITER_KEY, ADMIN_KEY, WRITER_KEY]) {
            let reply = send(&app, &call, Some(&bearer(key))).await;
            assert!(reply.status.is_success(), "{} {}: {}", call.0, call.1, reply.text);
        }
    }
}

on_both_backends! {
    spawn = spawn_guarded;
    async fn the_bearer_scheme_is_case_insensitive(app) {
        for scheme in ["bearer", "BEARER", "bEaReR"] {
            let authorization = format!("{scheme} {READER_KEY}");

            let reply = app.request_with("GET", POINTS, None, &[("authorization", &authorization)]).await;

            assert_eq!(reply.status.as_u16(), 200, "{scheme}: {}", reply.text);
        }
    }
}

on_both_backends! {
    spawn = spawn_guarded;
    async fn probes_metrics_and_documentation_need_no_key(app) {
        for path in ["/health/live", "/health/ready", "/metrics", "/openapi.json", "/docs"] {
            let reply = app.request("GET", path, None).await;

            assert_eq!(reply.status.as_u16(), 200, "{path}: {}", reply.text);
        }
    }
}

on_both_backends! {
    spawn = spawn_guarded;
    async fn unknown_paths_and_methods_are_guarded_too(app) {
        let unknown_path = app.request("GET", "/rest/v1/service/other", None).await;
        let unknown_method = app.request("PUT", POINTS, None).await;

        assert_unauthorized(&unknown_path, "GET", "an unknown path");
        assert_unauthorized(&unknown_method, "PUT", "an unknown method");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_keys_the_service_serves_anyone_on_loopback() {
    // Arrange: the tests' default settings, on 127.0.0.1 without keys.
    let app = helpers::spawn_app(Backend::Sqlite)
        .await
        .expect("SQLite is always available");

    // Act
    let reply = app.request("GET", POINTS, None).await;

    // Assert
    assert_eq!(reply.status.as_u16(), 200, "{}", reply.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_keys_the_service_refuses_to_start_on_another_address() {
    // Arrange
    let (mut settings, _) =
        helpers::test_settings(Backend::Sqlite).expect("SQLite is always available");
    settings.server.host = "0.0.0.0".to_owned();

    // Act
    let refused = Application::build(&settings).await;

    // Assert
    let message = format!("{:#}", refused.err().expect("the service refuses to start"));
    assert!(
        message.starts_with("refusing to serve on 0.0.0.0 without API keys"),
        "{message}"
    );
    assert!(message.contains("auth.keys"), "{message}");
}
