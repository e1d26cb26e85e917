//! Errors raised outside the handlers: routing, failures of the service,
//! panics. Each one is in the shape of contract §4.

use poem::http::Method;
use serde_json::json;

use crate::service::{Failure, INTERNAL_DETAIL, TestService};
use crate::{POINTS, client, create, error, header, item, message, text};

#[tokio::test]
async fn an_unknown_route_is_a_404() {
    for path in [
        "/nope",
        "/rest/v1/service",
        &format!("{POINTS}/"),
        &format!("{POINTS}/a/b/c"),
    ] {
        let client = client(&TestService::default());

        let response = client.get(path).send().await;

        error(response, 404).await;
    }
}

#[tokio::test]
async fn a_trailing_slash_on_a_point_is_a_404() {
    let client = client(&TestService::default());
    let created = create(&client, json!({"code": "ABCDE"})).await;

    let response = client.get(format!("{}/", item(&created))).send().await;

    error(response, 404).await;
}

#[tokio::test]
async fn an_unsupported_method_is_a_405_listing_the_paths_methods() {
    let foo = Method::from_bytes(b"FOO").expect("a valid method token");
    let point = format!("{POINTS}/b4680fbe-016c-d86f-1d6b-50e54938780c");
    let cases = [
        (foo, POINTS.to_owned(), "GET, HEAD, POST, LOOKUP"),
        (Method::PUT, point.clone(), "GET, HEAD, PATCH, DELETE"),
        (Method::GET, format!("{POINTS}/lookup"), "POST"),
        (Method::DELETE, format!("{point}/rotate_token"), "POST"),
    ];
    for (method, path, allow) in cases {
        // Arrange
        let client = client(&TestService::default());

        // Act
        let response = client.request(method.clone(), &path).send().await;

        // Assert
        assert_eq!(
            header(&response, "allow").as_deref(),
            Some(allow),
            "{method} {path}"
        );
        error(response, 405).await;
    }
}

#[tokio::test]
async fn an_unexpected_store_failure_is_an_opaque_500() {
    // Arrange
    let service = TestService::default();
    let client = client(&service);
    service.fail_next(Failure::StoreUnknown);

    // Act
    let response = client.get(POINTS).send().await;

    // Assert
    let body = error(response, 500).await;
    assert_eq!(message(&body), "internal server error");
    assert!(!body.to_string().contains(INTERNAL_DETAIL));
}

#[tokio::test]
async fn an_unavailable_store_is_a_503() {
    let service = TestService::default();
    let client = client(&service);
    service.fail_next(Failure::StoreUnavailable);

    let response = client
        .post(POINTS)
        .body_json(&json!({"code": "A"}))
        .send()
        .await;

    error(response, 503).await;
}

#[tokio::test]
async fn a_panic_in_a_handler_is_an_opaque_500() {
    // Arrange
    let service = TestService::default();
    let client = client(&service);
    service.fail_next(Failure::Panic);

    // Act
    let response = client
        .get(format!("{POINTS}/b4680fbe-016c-d86f-1d6b-50e54938780c"))
        .send()
        .await;

    // Assert
    let body = error(response, 500).await;
    assert_eq!(message(&body), "internal server error");
}

#[tokio::test]
async fn the_service_keeps_serving_after_a_panic() {
    let service = TestService::default();
    let client = client(&service);
    service.fail_next(Failure::Panic);
    error(client.get(POINTS).send().await, 500).await;

    let response = client.get(POINTS).send().await;

    assert_eq!(text(response).await, "[]");
}
