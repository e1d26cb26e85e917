//! `GET` on the collection and on a point.

use api::ApiConfig;
use domain::integration_point::{Field, Page, SortDirection, SortKey};
use poem::http::Method;
use serde_json::json;

use crate::service::TestService;
use crate::{
    POINTS, client, client_with, create, error, field, header, item, message, ok_json, text,
};

#[tokio::test]
async fn a_point_is_returned_with_its_etag() {
    // Arrange
    let client = client(&TestService::default());
    let created = create(&client, json!({"code": "ABCDE"})).await;

    // Act
    let response = client.get(item(&created)).send().await;

    // Assert
    assert_eq!(
        header(&response, "etag").as_deref(),
        Some(r#""1567000001000-1""#)
    );
    assert_eq!(ok_json(response).await, created);
}

#[tokio::test]
async fn a_point_is_returned_as_mask_and_flat_ask() {
    let client = client(&TestService::default());
    let created = create(&client, json!({"code": "ABCDE"})).await;

    let response = client
        .get(format!("{}?mask=id,ext&flat=1", item(&created)))
        .send()
        .await;

    assert_eq!(
        ok_json(response).await,
        json!({"id": created["id"], "ext.ct": created["ext"]["ct"], "ext.lwt": created["ext"]["lwt"]})
    );
}

#[tokio::test]
async fn a_current_if_none_match_answers_304_without_a_body() {
    for tag in [
        r#""1567000001000-1""#,
        r#"W/"1567000001000-1""#,
        r#""0-9", "1567000001000-1""#,
        "*",
    ] {
        // Arrange
        let client = client(&TestService::default());
        let created = create(&client, json!({"code": "ABCDE"})).await;

        // Act
        let response = client
            .get(item(&created))
            .header("If-None-Match", tag)
            .send()
            .await;

        // Assert
        assert_eq!(response.0.status().as_u16(), 304, "{tag}");
        assert_eq!(
            header(&response, "etag").as_deref(),
            Some(r#""1567000001000-1""#)
        );
        assert_eq!(text(response).await, "", "{tag}");
    }
}

#[tokio::test]
async fn a_stale_if_none_match_answers_the_point() {
    let client = client(&TestService::default());
    let created = create(&client, json!({"code": "ABCDE"})).await;

    let response = client
        .get(item(&created))
        .header("If-None-Match", r#""1567000001000-7""#)
        .send()
        .await;

    assert_eq!(ok_json(response).await, created);
}

#[tokio::test]
async fn head_answers_the_headers_of_get_without_a_body() {
    let client = client(&TestService::default());
    let created = create(&client, json!({"code": "ABCDE"})).await;

    let response = client.request(Method::HEAD, item(&created)).send().await;

    assert_eq!(response.0.status().as_u16(), 200);
    assert_eq!(
        header(&response, "etag").as_deref(),
        Some(r#""1567000001000-1""#)
    );
    assert_eq!(text(response).await, "");
}

#[tokio::test]
async fn a_malformed_id_is_a_400_naming_id() {
    let client = client(&TestService::default());

    let response = client.get(format!("{POINTS}/not-a-uuid")).send().await;

    let body = error(response, 400).await;
    assert_eq!(field(&body), Some("id"));
}

#[tokio::test]
async fn an_unknown_id_is_a_404() {
    let client = client(&TestService::default());

    let response = client
        .get(format!("{POINTS}/b4680fbe-016c-d86f-1d6b-50e54938780c"))
        .send()
        .await;

    let body = error(response, 404).await;
    assert_eq!(body["error_message"], "integration point not found");
}

#[tokio::test]
async fn a_list_answers_the_page_and_the_total_count() {
    // Arrange
    let client = client(&TestService::default());
    for code in ["A", "B", "C"] {
        create(&client, json!({"code": code})).await;
    }

    // Act
    let response = client
        .get(format!("{POINTS}?offset=1&limit=1&mask=code"))
        .send()
        .await;

    // Assert
    assert_eq!(header(&response, "x-total-count").as_deref(), Some("3"));
    assert_eq!(ok_json(response).await, json!([{"code": "B"}]));
}

#[tokio::test]
async fn a_list_passes_the_parsed_query_to_the_service() {
    // Arrange
    let service = TestService::default();
    let client = client(&service);

    // Act
    let response = client
        .get(POINTS)
        .query("filter", &r#"{"opts": {"issync": true}}"#)
        .query("order", &r#"[{"code": "desc"}]"#)
        .query("offset", &"5")
        .send()
        .await;

    // Assert
    assert_eq!(ok_json(response).await, json!([]));
    let query = service.last_query().expect("listed");
    assert!(query.filter().is_some());
    assert_eq!(
        query.sort().keys().first(),
        Some(&SortKey {
            field: Field::Code,
            direction: SortDirection::Desc
        })
    );
    assert_eq!(query.page(), Page::new(5, 1000, 1000).expect("valid"));
}

#[tokio::test]
async fn the_default_limit_is_the_configured_maximum() {
    let service = TestService::default();
    let config = ApiConfig {
        max_limit: 50,
        ..ApiConfig::default()
    };
    let client = client_with(&service, config);

    ok_json(client.get(POINTS).send().await).await;

    let page = service.last_query().expect("listed").page();
    assert_eq!((page.offset(), page.limit()), (0, 50));
}

#[tokio::test]
async fn invalid_list_parameters_are_400s_naming_the_parameter() {
    let cases = [
        ("limit=1001", "limit"),
        ("limit=-1", "limit"),
        ("offset=-1", "offset"),
        ("offset=ten", "offset"),
        ("offset=9223372036854775808", "offset"),
        ("filter=%7B%22tokenlocal%22%3A%22x%22%7D", "filter"),
        ("filter=not-json", "filter"),
        ("order=%5B%22nope%22%5D", "order"),
        ("mask=id,tokenlocal", "mask"),
        ("flat=yes", "flat"),
    ];
    for (query, parameter) in cases {
        // Arrange
        let client = client(&TestService::default());

        // Act
        let response = client.get(format!("{POINTS}?{query}")).send().await;

        // Assert
        let body = error(response, 400).await;
        assert_eq!(field(&body), Some(parameter), "{query}: {body}");
        assert!(
            body["error_message"]
                .as_str()
                .is_some_and(|m| m.contains(parameter)),
            "{query}: {body}"
        );
    }
}

#[tokio::test]
async fn a_parameter_error_reads_as_the_parameter_and_its_problem() {
    let client = client(&TestService::default());

    let response = client.get(format!("{POINTS}?offset=-1")).send().await;

    let body = error(response, 400).await;
    assert_eq!(message(&body), "offset: invalid digit found in string");
}

#[tokio::test]
async fn mask_and_flat_are_checked_on_get_one_too() {
    for (query, parameter) in [("mask=nope", "mask"), ("flat=2", "flat")] {
        let client = client(&TestService::default());
        let created = create(&client, json!({"code": "ABCDE"})).await;

        let response = client
            .get(format!("{}?{query}", item(&created)))
            .send()
            .await;

        let body = error(response, 400).await;
        assert_eq!(field(&body), Some(parameter), "{query}");
    }
}
