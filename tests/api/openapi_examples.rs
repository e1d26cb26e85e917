//! The examples of the OpenAPI document, which Swagger UI fills "Try it out"
//! with, run in order through the real service on an empty database: each
//! must succeed, as it does for a person clicking through /docs.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Backend, POINTS, TestApp, spawn_app};

/// The operation at `path` (relative to the collection) and `method`.
fn operation<'a>(spec: &'a Value, path: &str, method: &str) -> &'a Value {
    let operation = &spec["paths"][format!("{POINTS}{path}")][method];
    assert!(operation.is_object(), "{method} {path} is documented");
    operation
}

fn body_example(operation: &Value) -> Value {
    let example = operation["requestBody"]["content"]["application/json"]["example"].clone();
    assert!(!example.is_null(), "a body example in {operation}");
    example
}

/// The examples of the parameters in `place` that have one.
fn param_examples(operation: &Value, place: &str) -> Vec<(String, String)> {
    operation["parameters"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|param| param["in"] == place && !param["example"].is_null())
        .map(|param| {
            let example = match &param["example"] {
                Value::String(text) => text.clone(),
                other => other.to_string(),
            };
            (param["name"].as_str().expect("a name").to_owned(), example)
        })
        .collect()
}

/// The path of an operation on one point, with its `{id}` example filled in.
fn item_path(operation: &Value, suffix: &str) -> String {
    let params = param_examples(operation, "path");
    let id = params
        .iter()
        .find(|(name, _)| name == "id")
        .map(|(_, id)| id.clone())
        .unwrap_or_else(|| panic!("an id example in {operation}"));
    format!("{POINTS}/{id}{suffix}")
}

/// The documented example of the error `status` of `operation`.
fn error_example(operation: &Value, status: u16) -> Value {
    operation["responses"][status.to_string()]["content"]["application/json; charset=utf-8"]
        ["schema"]["example"]
        .clone()
}

struct Answer {
    status: u16,
    total: Option<String>,
    body: Value,
}

async fn send(
    app: &TestApp,
    method: Method,
    path: &str,
    query: &[(String, String)],
    body: Option<&Value>,
) -> Answer {
    let mut request = app
        .client
        .request(method, format!("{}{path}", app.address))
        .query(query);
    if let Some(body) = body {
        request = request.json(body);
    }
    let response = request.send().await.expect("the request is sent");
    let status = response.status().as_u16();
    let total = response
        .headers()
        .get("x-total-count")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let text = response.text().await.expect("a body");
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
    };
    Answer {
        status,
        total,
        body,
    }
}

/// A service on an empty SQLite database, and the document it serves.
async fn app_and_document() -> (TestApp, Value) {
    let app = spawn_app(Backend::Sqlite)
        .await
        .expect("SQLite is always available");
    let spec = send(&app, Method::GET, "/openapi.json", &[], None)
        .await
        .body;
    (app, spec)
}

#[tokio::test]
async fn the_pre_filled_examples_succeed_in_order_on_an_empty_database() {
    // Arrange
    let (app, spec) = app_and_document().await;
    let create = operation(&spec, "", "post");
    let list = operation(&spec, "", "get");
    let get = operation(&spec, "/{id}", "get");
    let patch = operation(&spec, "/{id}", "patch");
    let lookup = operation(&spec, "/lookup", "post");
    let rotate = operation(&spec, "/{id}/rotate_token", "post");
    let delete = operation(&spec, "/{id}", "delete");

    // Act & Assert, step by step as a person runs them.
    let created = send(&app, Method::POST, POINTS, &[], Some(&body_example(create))).await;
    assert_eq!(created.status, 200, "create: {}", created.body);
    let id = created.body["id"].clone();

    let listed = send(
        &app,
        Method::GET,
        POINTS,
        &param_examples(list, "query"),
        None,
    )
    .await;
    assert_eq!(listed.status, 200, "list: {}", listed.body);
    assert_eq!(listed.total.as_deref(), Some("1"), "list");
    assert_eq!(listed.body[0]["id"], id, "list returns what create made");

    let got = send(&app, Method::GET, &item_path(get, ""), &[], None).await;
    assert_eq!(got.status, 200, "get: {}", got.body);
    assert_eq!(got.body, created.body, "get returns what create made");

    let patched = send(
        &app,
        Method::PATCH,
        &item_path(patch, ""),
        &[],
        Some(&body_example(patch)),
    )
    .await;
    assert_eq!(patched.status, 200, "patch: {}", patched.body);
    assert_ne!(
        patched.body["ext"]["lwt"], created.body["ext"]["lwt"],
        "patch changes something"
    );

    let key = body_example(lookup);
    let found = send(
        &app,
        Method::POST,
        &format!("{POINTS}/lookup"),
        &[],
        Some(&key),
    )
    .await;
    assert_eq!(found.status, 200, "lookup: {}", found.body);
    assert_eq!(found.body, json!([id]));
    let by_method = send(
        &app,
        Method::from_bytes(b"LOOKUP").expect("a method"),
        POINTS,
        &[],
        Some(&key),
    )
    .await;
    assert_eq!(by_method.body, found.body, "LOOKUP answers as its alias");

    let rotated = send(
        &app,
        Method::POST,
        &item_path(rotate, "/rotate_token"),
        &[],
        None,
    )
    .await;
    assert_eq!(rotated.status, 200, "rotate_token: {}", rotated.body);
    assert_ne!(rotated.body["token_local"], created.body["token_local"]);

    let deleted = send(&app, Method::DELETE, &item_path(delete, ""), &[], None).await;
    assert_eq!(deleted.status, 204, "delete: {}", deleted.body);

    // The sequence leaves the database as it found it, so it can run again.
    let again = send(&app, Method::POST, POINTS, &[], Some(&body_example(create))).await;
    assert_eq!(again.status, 200, "create again: {}", again.body);
}

#[tokio::test]
async fn the_documented_errors_are_what_the_service_answers() {
    let (app, spec) = app_and_document().await;
    let create = operation(&spec, "", "post");
    let get = operation(&spec, "/{id}", "get");
    let lookup = operation(&spec, "/lookup", "post");

    let missing = send(&app, Method::GET, &item_path(get, ""), &[], None).await;
    let no_match = send(
        &app,
        Method::POST,
        &format!("{POINTS}/lookup"),
        &[],
        Some(&body_example(lookup)),
    )
    .await;
    let bad_id = send(&app, Method::GET, &format!("{POINTS}/ABCDE"), &[], None).await;
    let empty_code = send(&app, Method::POST, POINTS, &[], Some(&json!({"code": ""}))).await;
    send(
        &app,
        Method::POST,
        POINTS,
        &[],
        Some(&json!({"code": "ABCDE"})),
    )
    .await;
    let taken = send(
        &app,
        Method::POST,
        POINTS,
        &[],
        Some(&json!({"code": "ABCDE"})),
    )
    .await;

    for (what, answer, operation, status) in [
        ("get of the example id", &missing, get, 404),
        ("lookup of the example key", &no_match, lookup, 404),
        ("get of a malformed id", &bad_id, get, 400),
        ("create with an empty code", &empty_code, create, 400),
        ("create with a code in use", &taken, create, 409),
    ] {
        assert_eq!(answer.status, status, "{what}");
        assert_eq!(answer.body, error_example(operation, status), "{what}");
    }
}
