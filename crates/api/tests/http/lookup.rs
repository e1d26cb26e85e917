//! `LOOKUP` on the collection, and its alias `POST …/lookup`.

use domain::integration_point::{Field, LookupKey};
use serde_json::json;

use crate::service::TestService;
use crate::{POINTS, client, create, error, field, header, item, lookup_method, ok_json};

fn lookup_alias() -> String {
    format!("{POINTS}/lookup")
}

#[tokio::test]
async fn lookup_by_a_string_answers_the_matching_ids() {
    // Arrange
    let client = client(&TestService::default());
    let created = create(&client, json!({"code": "ABCDE"})).await;

    // Act
    let response = client
        .request(lookup_method(), POINTS)
        .body_json(&json!("ABCDE"))
        .send()
        .await;

    // Assert
    assert_eq!(ok_json(response).await, json!([created["id"]]));
}

#[tokio::test]
async fn a_bare_key_finds_an_id_written_in_upper_case() {
    // Arrange
    let client = client(&TestService::default());
    let id = "b4680fbe-016c-d86f-1d6b-50e54938780c";
    let created = create(&client, json!({"id": id, "code": "ABCDE"})).await;
    let id = id.to_uppercase();

    // Act
    let response = client
        .request(lookup_method(), POINTS)
        .body_json(&json!(id))
        .send()
        .await;

    // Assert
    assert_eq!(ok_json(response).await, json!([created["id"]]));
}

#[tokio::test]
async fn the_post_alias_answers_as_lookup_does() {
    let client = client(&TestService::default());
    let created = create(&client, json!({"code": "ABCDE"})).await;

    let response = client
        .post(lookup_alias())
        .body_json(&json!("ABCDE"))
        .send()
        .await;

    assert_eq!(ok_json(response).await, json!([created["id"]]));
}

#[tokio::test]
async fn a_lookup_object_searches_its_one_field() {
    // Arrange
    let service = TestService::default();
    let client = client(&service);
    let created = create(&client, json!({"code": "ABCDE"})).await;

    // Act
    let response = client
        .request(lookup_method(), POINTS)
        .body_json(&json!({"token_local": created["token_local"]}))
        .send()
        .await;

    // Assert
    assert_eq!(ok_json(response).await, json!([created["id"]]));
    assert_eq!(
        service.last_lookup(),
        Some(
            LookupKey::for_field(
                Field::TokenLocal,
                created["token_local"].as_str().expect("a token")
            )
            .expect("a key field")
        )
    );
}

#[tokio::test]
async fn no_match_is_a_404_with_exactly_the_source_documents_body() {
    for (path, body) in [
        (POINTS.to_owned(), json!("nothing")),
        (lookup_alias(), json!("")),
        (lookup_alias(), json!({"id": "not a uuid"})),
    ] {
        // Arrange
        let client = client(&TestService::default());
        let method = if path == POINTS {
            lookup_method()
        } else {
            poem::http::Method::POST
        };

        // Act
        let response = client.request(method, &path).body_json(&body).send().await;

        // Assert
        assert_eq!(
            error(response, 404).await,
            json!({"error_code": 1404, "error_message": "Lookup failed"}),
            "{path} {body}"
        );
    }
}

#[tokio::test]
async fn other_lookup_bodies_are_400s() {
    for raw in [
        "5",
        "null",
        "[\"ABCDE\"]",
        "",
        "{}",
        r#"{"code": "A", "id": "B"}"#,
        r#"{"url": "A"}"#,
        r#"{"code": 5}"#,
        r#"{"code": null}"#,
        "{\"code\": ",
    ] {
        let client = client(&TestService::default());

        let response = client
            .request(lookup_method(), POINTS)
            .content_type("application/json")
            .body(raw)
            .send()
            .await;

        error(response, 400).await;
    }
}

#[tokio::test]
async fn a_lookup_value_of_the_wrong_type_is_named_by_its_key() {
    let client = client(&TestService::default());

    let response = client
        .request(lookup_method(), POINTS)
        .body_json(&json!({"code": 5}))
        .send()
        .await;

    let body = error(response, 400).await;
    assert_eq!(field(&body), Some("code"));
}

#[tokio::test]
async fn a_lookup_body_that_is_not_declared_json_is_a_415() {
    for method in [lookup_method(), poem::http::Method::POST] {
        let client = client(&TestService::default());
        let path = if method == lookup_method() {
            POINTS.to_owned()
        } else {
            lookup_alias()
        };

        let response = client
            .request(method, path)
            .content_type("text/plain")
            .body("\"ABCDE\"")
            .send()
            .await;

        error(response, 415).await;
    }
}

#[tokio::test]
async fn lookup_on_a_point_is_a_405_listing_the_points_methods() {
    let client = client(&TestService::default());
    let created = create(&client, json!({"code": "ABCDE"})).await;

    let response = client
        .request(lookup_method(), item(&created))
        .body_json(&json!("ABCDE"))
        .send()
        .await;

    assert_eq!(
        header(&response, "allow").as_deref(),
        Some("GET, HEAD, PATCH, DELETE")
    );
    error(response, 405).await;
}
