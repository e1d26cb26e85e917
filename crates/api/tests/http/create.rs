//! `POST` on the collection.

use api::ApiConfig;
use api::testing::with_defaults;
use serde_json::json;

use crate::service::TestService;
use crate::{POINTS, client, client_with, create, error, field, header, message, ok_json};

#[tokio::test]
async fn creating_a_point_answers_200_with_the_point_its_location_and_its_etag() {
    // Arrange
    let client = client(&TestService::default());

    // Act
    let response = client
        .post(POINTS)
        .body_json(&json!({"code": "ABCDE", "url": "http://trapper.com", "opts": {"issync": true}}))
        .send()
        .await;

    // Assert
    let id = "00000000-0000-0000-0000-000000000001";
    assert_eq!(
        header(&response, "location"),
        Some(format!("{POINTS}/{id}"))
    );
    assert_eq!(
        header(&response, "etag").as_deref(),
        Some(r#""1567000001000-1""#)
    );
    assert_eq!(
        ok_json(response).await,
        with_defaults(json!({
            "id": id,
            "code": "ABCDE",
            // The first token the sequential generator hands out.
            "token_local": format!("{:032x}", 1),
            "url": "http://trapper.com",
            "opts": {"issync": true},
            "ext": {"ct": "2019-08-28T13:46:41.000Z", "lwt": "2019-08-28T13:46:41.000Z"}
        }))
    );
}

#[tokio::test]
async fn the_created_point_is_returned_as_mask_and_flat_ask() {
    let client = client(&TestService::default());

    let response = client
        .post(format!("{POINTS}?mask=code,opts.title&flat=true"))
        .body_json(&json!({"code": "ABCDE"}))
        .send()
        .await;

    assert_eq!(
        ok_json(response).await,
        json!({"code": "ABCDE", "opts.title": ""})
    );
}

#[tokio::test]
async fn an_invalid_value_is_a_400_naming_its_field() {
    let client = client(&TestService::default());

    let response = client
        .post(POINTS)
        .body_json(&json!({"code": ""}))
        .send()
        .await;

    let body = error(response, 400).await;
    assert_eq!(
        body,
        json!({"error_code": 1400, "error_message": "code: must not be empty",
               "error_details": {"field": "code"}})
    );
}

#[tokio::test]
async fn a_missing_code_is_a_400_naming_it() {
    let client = client(&TestService::default());

    let response = client
        .post(POINTS)
        .body_json(&json!({"type": "telegram"}))
        .send()
        .await;

    let body = error(response, 400).await;
    assert_eq!(
        (field(&body), message(&body)),
        (Some("code"), "code: is required")
    );
}

#[tokio::test]
async fn body_errors_name_the_field_at_fault() {
    let cases = [
        (
            json!({"code": "A", "opts": {"titel": "x"}}),
            "opts.titel",
            "unknown field",
        ),
        (
            json!({"code": "A", "tokenlocal": "x"}),
            "tokenlocal",
            "unknown field",
        ),
        (
            json!({"code": "A", "url": null}),
            "url",
            "invalid type: null",
        ),
        (json!({"code": "A", "id": null}), "id", "invalid type: null"),
        (
            json!({"code": "A", "opts": {"issync": "yes"}}),
            "opts.issync",
            "invalid type: string",
        ),
        (json!({"code": 5}), "code", "invalid type: integer"),
        (
            json!({"code": "A", "opts": ["t", "c", true, false]}),
            "opts",
            "invalid type: sequence",
        ),
        (
            json!({"code": "A", "ext": {"ct": "2019-08-28T13:34:16.427Z"}}),
            "ext",
            "read-only",
        ),
        (
            json!({"code": "A", "type": "Telegram"}),
            "type",
            "must match",
        ),
        (
            json!({"code": "A", "opts": {"title": "\u{0}"}}),
            "opts.title",
            "NUL",
        ),
    ];
    for (json, expected_field, expected_message) in cases {
        // Arrange
        let client = client(&TestService::default());

        // Act
        let response = client.post(POINTS).body_json(&json).send().await;

        // Assert
        let body = error(response, 400).await;
        assert_eq!(field(&body), Some(expected_field), "{json}");
        assert!(
            message(&body).starts_with(&format!("{expected_field}: "))
                && message(&body).contains(expected_message),
            "{json}: {body}"
        );
    }
}

#[tokio::test]
async fn a_body_that_is_not_a_json_object_is_a_400() {
    for raw in [
        "",
        "{",
        "[\"ABCDE\"]",
        "\"ABCDE\"",
        "null",
        "{\"code\": \"A\"} {}",
    ] {
        let client = client(&TestService::default());

        let response = client
            .post(POINTS)
            .content_type("application/json")
            .body(raw)
            .send()
            .await;

        let body = error(response, 400).await;
        assert_eq!(field(&body), None, "{raw:?}");
    }
}

#[tokio::test]
async fn invalid_utf8_is_a_400() {
    let client = client(&TestService::default());

    let response = client
        .post(POINTS)
        .content_type("application/json")
        .body(b"{\"code\": \"\xff\"}".to_vec())
        .send()
        .await;

    error(response, 400).await;
}

#[tokio::test]
async fn a_taken_code_is_a_409_naming_it() {
    // Arrange
    let client = client(&TestService::default());
    create(&client, json!({"code": "ABCDE"})).await;

    // Act
    let response = client
        .post(POINTS)
        .body_json(&json!({"code": "ABCDE"}))
        .send()
        .await;

    // Assert
    let body = error(response, 409).await;
    assert_eq!(
        (field(&body), message(&body)),
        (Some("code"), "code: already in use")
    );
}

#[tokio::test]
async fn a_body_that_is_not_declared_json_is_a_415() {
    for content_type in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        None,
    ] {
        let client = client(&TestService::default());
        let request = client.post(POINTS).body(r#"{"code": "A"}"#);
        let request = match content_type {
            Some(content_type) => request.content_type(content_type),
            None => request,
        };

        let response = request.send().await;

        error(response, 415).await;
    }
}

#[tokio::test]
async fn a_body_over_the_limit_is_a_413() {
    // Arrange
    let config = ApiConfig {
        body_limit: 64,
        ..ApiConfig::default()
    };
    let client = client_with(&TestService::default(), config);
    let body = json!({"code": "A", "opts": {"comment": "x".repeat(100)}});

    // Act
    let response = client.post(POINTS).body_json(&body).send().await;

    // Assert
    let body = error(response, 413).await;
    assert_eq!(message(&body), "the request body is larger than 64 bytes");
}
