//! Cross-origin requests from browsers (contract §10).

use api::{Access, ApiConfig, ApiKey, CorsOrigins, KeyDigest, KeyRing, Scope};
use poem::http::Method;
use serde_json::json;

use crate::service::TestService;
use crate::{Client, POINTS, client, client_with, create, error, header, message};

const ALLOWED: &str = "https://admin.example.com";
const OTHER: &str = "https://evil.example.net";
const KEY: &str = "0123456789abcdef-reader";

fn client_allowing(origins: CorsOrigins, access: Access) -> Client {
    client_with(
        &TestService::default(),
        ApiConfig {
            cors: origins,
            access,
            ..ApiConfig::default()
        },
    )
}

fn listed() -> CorsOrigins {
    CorsOrigins::Listed(vec![ALLOWED.to_owned()])
}

fn keys() -> Access {
    let digest = KeyDigest::from_config(KEY).expect("a valid key");
    let key = ApiKey::new("reader", digest, [Scope::Read]).expect("a valid key");
    Access::Keys(KeyRing::new(vec![key]).expect("a valid ring"))
}

/// The comma-separated items of a header, lowercased.
fn items(value: Option<String>) -> Vec<String> {
    value
        .unwrap_or_default()
        .split(',')
        .map(|item| item.trim().to_ascii_lowercase())
        .filter(|item| !item.is_empty())
        .collect()
}

#[tokio::test]
async fn a_preflight_is_answered_without_a_key_for_lookup_and_patch() {
    // Arrange: a service that wants a key for everything else.
    let client = client_allowing(listed(), keys());

    for method in ["LOOKUP", "PATCH"] {
        // Act
        let response = client
            .options(POINTS)
            .header("Origin", ALLOWED)
            .header("Access-Control-Request-Method", method)
            .header(
                "Access-Control-Request-Headers",
                "authorization, content-type, if-match",
            )
            .send()
            .await;

        // Assert
        assert_eq!(response.0.status().as_u16(), 200, "{method}");
        assert_eq!(
            header(&response, "access-control-allow-origin").as_deref(),
            Some(ALLOWED)
        );
        let methods = items(header(&response, "access-control-allow-methods"));
        for expected in ["get", "head", "post", "patch", "delete", "lookup"] {
            assert!(
                methods.contains(&expected.to_owned()),
                "{expected} in {methods:?}"
            );
        }
        let headers = items(header(&response, "access-control-allow-headers"));
        for expected in [
            "Authorization",
            "Content-Type",
            "If-Match",
            "If-None-Match",
            "X-Request-Id",
        ] {
            assert!(
                headers.contains(&expected.to_ascii_lowercase()),
                "{expected} in {headers:?}"
            );
        }
    }
}

#[tokio::test]
async fn a_request_from_an_allowed_origin_may_read_the_listed_headers() {
    let client = client_allowing(listed(), Access::Open);

    let response = client.get(POINTS).header("Origin", ALLOWED).send().await;

    assert_eq!(response.0.status().as_u16(), 200);
    assert_eq!(
        header(&response, "access-control-allow-origin").as_deref(),
        Some(ALLOWED)
    );
    let exposed = items(header(&response, "access-control-expose-headers"));
    for expected in [
        "X-Total-Count",
        "X-Total-Count-Estimated",
        "X-Revision",
        "Link",
        "ETag",
        "Location",
        "X-Request-Id",
    ] {
        assert!(
            exposed.contains(&expected.to_ascii_lowercase()),
            "{expected} in {exposed:?}"
        );
    }
    assert!(items(header(&response, "vary")).contains(&"origin".to_owned()));
}

#[tokio::test]
async fn errors_reach_an_allowed_origin_in_the_error_shape_with_cors_headers() {
    // A page must be able to read why its request failed.
    let client = client_allowing(listed(), keys());

    let response = client.get(POINTS).header("Origin", ALLOWED).send().await;

    assert_eq!(
        header(&response, "access-control-allow-origin").as_deref(),
        Some(ALLOWED)
    );
    error(response, 401).await;
}

#[tokio::test]
async fn a_request_from_another_origin_is_served_without_cors_headers() {
    let service = TestService::default();
    let client = client_with(
        &service,
        ApiConfig {
            cors: listed(),
            ..ApiConfig::default()
        },
    );
    create(&client, json!({"code": "A"})).await;

    let response = client.get(POINTS).header("Origin", OTHER).send().await;

    assert_eq!(response.0.status().as_u16(), 200);
    for name in [
        "access-control-allow-origin",
        "access-control-expose-headers",
        "access-control-allow-methods",
    ] {
        assert_eq!(header(&response, name), None, "{name}");
    }
    assert!(items(header(&response, "vary")).contains(&"origin".to_owned()));
}

#[tokio::test]
async fn a_preflight_from_another_origin_gets_no_cors_headers_and_no_500() {
    for access in [Access::Open, keys()] {
        let client = client_allowing(listed(), access);

        let response = client
            .options(POINTS)
            .header("Origin", OTHER)
            .header("Access-Control-Request-Method", "GET")
            .send()
            .await;

        let status = response.0.status().as_u16();
        assert_eq!(header(&response, "access-control-allow-origin"), None);
        assert!((400..500).contains(&status), "{status}");
        error(response, status).await;
    }
}

#[tokio::test]
async fn without_allowed_origins_no_response_carries_cors_headers() {
    let client = client(&TestService::default());

    let preflight = client
        .options(POINTS)
        .header("Origin", ALLOWED)
        .header("Access-Control-Request-Method", "GET")
        .send()
        .await;
    let get = client.get(POINTS).header("Origin", ALLOWED).send().await;

    assert_eq!(header(&preflight, "access-control-allow-origin"), None);
    assert_eq!(preflight.0.status().as_u16(), 405);
    assert_eq!(header(&get, "access-control-allow-origin"), None);
    assert_eq!(header(&get, "vary"), None);
}

#[tokio::test]
async fn any_origin_is_allowed_with_a_star() {
    let client = client_allowing(CorsOrigins::Any, Access::Open);

    let response = client.get(POINTS).header("Origin", OTHER).send().await;

    assert_eq!(
        header(&response, "access-control-allow-origin").as_deref(),
        Some(OTHER)
    );
}

#[tokio::test]
async fn a_preflight_for_a_method_the_api_does_not_take_is_a_403_in_the_error_shape() {
    let client = client_allowing(listed(), Access::Open);

    let response = client
        .options(POINTS)
        .header("Origin", ALLOWED)
        .header("Access-Control-Request-Method", "PUT")
        .send()
        .await;

    let body = error(response, 403).await;
    assert!(message(&body).contains("CORS preflight refused"), "{body}");
}

#[tokio::test]
async fn an_options_request_that_is_no_preflight_is_the_apis_to_answer() {
    let client = client_allowing(listed(), Access::Open);

    let response = client
        .request(Method::OPTIONS, POINTS)
        .header("Origin", ALLOWED)
        .send()
        .await;

    assert!(header(&response, "allow").is_some_and(|allow| allow.contains("LOOKUP")));
    error(response, 405).await;
}
