//! `PATCH`, `DELETE` and `rotate_token` on a point.

use api::testing::with_defaults;
use domain::integration_point::{IfMatch, PointId, Revision, Timestamp, Version};
use serde_json::{Value, json};

use crate::service::{Failure, TestService};
use crate::{POINTS, client, create, error, field, header, item, message, ok_json, text};

fn revision(millis: i64, version: i64) -> Revision {
    Revision {
        created_at: Timestamp::from_millis(millis).expect("in range"),
        version: Version::new(version).expect("positive"),
    }
}

fn id(point: &Value) -> PointId {
    PointId::parse(point["id"].as_str().expect("an id")).expect("a valid id")
}

#[tokio::test]
async fn a_patch_merges_and_answers_the_point_with_its_new_etag() {
    // Arrange
    let client = client(&TestService::default());
    let created = create(
        &client,
        json!({"code": "ABCDE", "opts": {"comment": "keep"}}),
    )
    .await;

    // Act
    let response = client
        .patch(item(&created))
        .body_json(&json!({"opts": {"title": "x"}}))
        .send()
        .await;

    // Assert
    assert_eq!(
        header(&response, "etag").as_deref(),
        Some(r#""1567000001000-2""#)
    );
    let patched = ok_json(response).await;
    assert_eq!(
        patched["opts"],
        with_defaults(json!({"opts": {"title": "x", "comment": "keep"}}))["opts"]
    );
    assert_eq!(patched["code"], "ABCDE");
    assert_eq!(patched["ext"]["lwt"], "2019-08-28T13:46:42.000Z");
}

#[tokio::test]
async fn patching_back_what_was_read_changes_nothing() {
    // Arrange
    let client = client(&TestService::default());
    let created = create(&client, json!({"code": "ABCDE"})).await;

    // Act
    let response = client
        .patch(item(&created))
        .body_json(&created)
        .send()
        .await;

    // Assert
    assert_eq!(
        header(&response, "etag").as_deref(),
        Some(r#""1567000001000-1""#)
    );
    assert_eq!(ok_json(response).await, created);
}

#[tokio::test]
async fn a_patch_of_a_read_only_field_is_a_400_naming_it() {
    let cases = [
        (json!({"id": "b4680fbe-016c-d86f-1d6b-50e54938780c"}), "id"),
        (json!({"token_local": "ff".repeat(16)}), "token_local"),
        (
            json!({"ext": {"lwt": "2000-01-01T00:00:00.000Z"}}),
            "ext.lwt",
        ),
    ];
    for (patch, expected) in cases {
        // Arrange
        let client = client(&TestService::default());
        let created = create(&client, json!({"code": "ABCDE"})).await;

        // Act
        let response = client.patch(item(&created)).body_json(&patch).send().await;

        // Assert
        let body = error(response, 400).await;
        assert_eq!(field(&body), Some(expected), "{patch}");
        assert_eq!(
            message(&body),
            format!("{expected}: may only be sent with its current value")
        );
    }
}

#[tokio::test]
async fn patch_body_errors_name_the_field_at_fault() {
    let cases = [
        (json!({"code": null}), "code"),
        (json!({"opts": {"titel": "x"}}), "opts.titel"),
        (json!({"opts": null}), "opts"),
        (json!({"ext": {"ct": 5}}), "ext.ct"),
        (json!({"url": "trapper.com"}), "url"),
    ];
    for (patch, expected) in cases {
        let client = client(&TestService::default());
        let created = create(&client, json!({"code": "ABCDE"})).await;

        let response = client.patch(item(&created)).body_json(&patch).send().await;

        let body = error(response, 400).await;
        assert_eq!(field(&body), Some(expected), "{patch}");
    }
}

#[tokio::test]
async fn a_patch_to_a_taken_code_is_a_409() {
    let client = client(&TestService::default());
    create(&client, json!({"code": "TAKEN"})).await;
    let created = create(&client, json!({"code": "ABCDE"})).await;

    let response = client
        .patch(item(&created))
        .body_json(&json!({"code": "TAKEN"}))
        .send()
        .await;

    let body = error(response, 409).await;
    assert_eq!(field(&body), Some("code"));
}

#[tokio::test]
async fn contention_is_a_409() {
    let service = TestService::default();
    let client = client(&service);
    let created = create(&client, json!({"code": "ABCDE"})).await;
    service.fail_next(Failure::Contended);

    let response = client
        .patch(item(&created))
        .body_json(&json!({"url": "http://other.example"}))
        .send()
        .await;

    let body = error(response, 409).await;
    assert_eq!(field(&body), None);
}

#[tokio::test]
async fn a_patch_body_must_be_json() {
    let client = client(&TestService::default());
    let created = create(&client, json!({"code": "ABCDE"})).await;

    let response = client
        .patch(item(&created))
        .content_type("text/plain")
        .body("{}")
        .send()
        .await;

    error(response, 415).await;
}

#[tokio::test]
async fn if_match_reaches_the_service_as_the_revisions_it_names() {
    let cases = [
        (None, None),
        (Some("*"), Some(IfMatch::Any)),
        (
            Some(r#""1567000001000-1", W/"1-1", "garbage""#),
            Some(IfMatch::OneOf(vec![revision(1_567_000_001_000, 1)])),
        ),
    ];
    for (header_value, expected) in cases {
        // Arrange
        let service = TestService::default();
        let client = client(&service);
        let created = create(&client, json!({"code": "ABCDE"})).await;
        let request = client.patch(item(&created)).body_json(&json!({}));
        let request = match header_value {
            Some(value) => request.header("If-Match", value),
            None => request,
        };

        // Act
        ok_json(request.send().await).await;

        // Assert
        assert_eq!(service.last_if_match(), Some(expected), "{header_value:?}");
    }
}

#[tokio::test]
async fn a_stale_or_weak_if_match_is_a_412_on_every_conditional_write() {
    for tag in [r#""1567000001000-2""#, r#"W/"1567000001000-1""#] {
        // Arrange
        let client = client(&TestService::default());
        let created = create(&client, json!({"code": "ABCDE"})).await;
        let path = item(&created);

        // Act
        let responses = [
            client
                .patch(&path)
                .header("If-Match", tag)
                .body_json(&json!({}))
                .send()
                .await,
            client.delete(&path).header("If-Match", tag).send().await,
            client
                .post(format!("{path}/rotate_token"))
                .header("If-Match", tag)
                .send()
                .await,
        ];

        // Assert
        for response in responses {
            error(response, 412).await;
        }
    }
}

#[tokio::test]
async fn a_delete_answers_204_without_a_body_and_the_point_is_gone() {
    // Arrange
    let service = TestService::default();
    let client = client(&service);
    let created = create(&client, json!({"code": "ABCDE"})).await;

    // Act
    let response = client
        .delete(item(&created))
        .header("If-Match", r#""1567000001000-1""#)
        .send()
        .await;

    // Assert
    assert_eq!(response.0.status().as_u16(), 204);
    assert_eq!(text(response).await, "");
    assert_eq!(service.stored(id(&created)), None);
    assert_eq!(
        service.last_if_match(),
        Some(Some(IfMatch::OneOf(vec![revision(1_567_000_001_000, 1)])))
    );
}

#[tokio::test]
async fn deleting_an_unknown_or_malformed_id_is_a_404_or_a_400() {
    let client = client(&TestService::default());

    let unknown = client
        .delete(format!("{POINTS}/b4680fbe-016c-d86f-1d6b-50e54938780c"))
        .send()
        .await;
    let malformed = client.delete(format!("{POINTS}/42")).send().await;

    error(unknown, 404).await;
    assert_eq!(field(&error(malformed, 400).await), Some("id"));
}

#[tokio::test]
async fn rotating_the_token_answers_the_point_with_a_new_token_and_etag() {
    // Arrange
    let client = client(&TestService::default());
    let created = create(&client, json!({"code": "ABCDE"})).await;

    // Act
    let response = client
        .post(format!("{}/rotate_token?mask=token_local", item(&created)))
        .header("If-Match", "*")
        .send()
        .await;

    // Assert
    assert_eq!(
        header(&response, "etag").as_deref(),
        Some(r#""1567000001000-2""#)
    );
    let rotated = ok_json(response).await;
    // The second token the sequential generator hands out; create took the first.
    assert_eq!(rotated, json!({"token_local": format!("{:032x}", 2)}));
}

#[tokio::test]
async fn rotating_the_token_of_an_unknown_point_is_a_404() {
    let client = client(&TestService::default());

    let response = client
        .post(format!(
            "{POINTS}/b4680fbe-016c-d86f-1d6b-50e54938780c/rotate_token"
        ))
        .send()
        .await;

    error(response, 404).await;
}
