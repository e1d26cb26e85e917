//! The HTTP API over the real use cases on an in-memory repository: the
//! status, headers and body of every operation, and of every error path,
//! whatever layer raises it.

mod changes;
mod compression;
mod cors;
mod create;
mod docs;
mod errors;
mod feed;
mod lookup;
mod operations;
mod paging;
mod read;
mod service;
mod write;

use api::{ApiConfig, app};
use application::testing::FixedHealth;
use poem::endpoint::BoxEndpoint;
use poem::http::Method;
use poem::test::{TestClient, TestResponse};
use serde_json::{Value, json};

use crate::feed::TestFeed;
use crate::service::TestService;

/// The collection path.
const POINTS: &str = "/rest/v1/service/integration_points";

type Client = TestClient<BoxEndpoint<'static>>;

fn client(service: &TestService) -> Client {
    client_with(service, ApiConfig::default())
}

fn client_with(service: &TestService, config: ApiConfig) -> Client {
    client_of_feed(service, &TestFeed::of(service), config)
}

fn client_of_feed(service: &TestService, feed: &TestFeed, config: ApiConfig) -> Client {
    TestClient::new(app(
        service.clone(),
        feed.clone(),
        FixedHealth::default(),
        config,
    ))
}

fn lookup_method() -> Method {
    Method::from_bytes(b"LOOKUP").expect("a valid method token")
}

fn header(response: &TestResponse, name: &str) -> Option<String> {
    response
        .0
        .headers()
        .get(name)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned)
}

async fn text(response: TestResponse) -> String {
    response
        .0
        .into_body()
        .into_string()
        .await
        .expect("a UTF-8 body")
}

/// Asserts a successful JSON answer and returns its body.
async fn ok_json(response: TestResponse) -> Value {
    assert_eq!(response.0.status().as_u16(), 200, "status");
    assert_eq!(
        header(&response, "content-type").as_deref(),
        Some("application/json; charset=utf-8")
    );
    serde_json::from_str(&text(response).await).expect("a JSON body")
}

/// Asserts `status` and the error shape of contract §4, and returns the body.
async fn error(response: TestResponse, status: u16) -> Value {
    assert_eq!(response.0.status().as_u16(), status, "status");
    let content_type = header(&response, "content-type").unwrap_or_default();
    assert!(
        content_type.starts_with("application/json"),
        "content type {content_type:?}"
    );
    let raw = text(response).await;
    let body: Value = serde_json::from_str(&raw).expect("a JSON error body");
    let object = body.as_object().expect("an object");
    assert_eq!(
        object.get("error_code"),
        Some(&json!(1000 + status)),
        "{raw}"
    );
    assert!(
        object["error_message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "error_message in {raw}"
    );
    for key in object.keys() {
        assert!(
            ["error_code", "error_message", "error_details"].contains(&key.as_str()),
            "unexpected key {key} in {raw}"
        );
    }
    if let Some(details) = object.get("error_details") {
        let details = details.as_object().expect("error_details is an object");
        assert!(details["field"].is_string() && details.len() == 1, "{raw}");
    }
    body
}

/// The `error_details.field` of an error body.
fn field(body: &Value) -> Option<&str> {
    body.pointer("/error_details/field").and_then(Value::as_str)
}

/// The `error_message` of an error body.
fn message(body: &Value) -> &str {
    body["error_message"].as_str().unwrap_or_default()
}

/// Creates a point through the API and returns its representation.
async fn create(client: &Client, body: Value) -> Value {
    ok_json(client.post(POINTS).body_json(&body).send().await).await
}

/// The item path of a representation.
fn item(point: &Value) -> String {
    format!("{POINTS}/{}", point["id"].as_str().expect("an id"))
}
