//! Response compression (contract §10).

use async_compression::tokio::bufread::{BrotliDecoder, GzipDecoder};
use serde_json::json;
use tokio::io::AsyncReadExt as _;

use crate::service::TestService;
use crate::{Client, POINTS, client, create, header, text};

/// A client over a service with enough points for a list of several KiB.
async fn with_points() -> Client {
    let client = client(&TestService::default());
    for i in 0..10 {
        create(
            &client,
            json!({"code": format!("POINT-{i}"), "url": "https://example.com/hook"}),
        )
        .await;
    }
    client
}

async fn bytes(response: poem::test::TestResponse) -> Vec<u8> {
    response.0.into_body().into_vec().await.expect("a body")
}

async fn decode(coding: &str, compressed: &[u8]) -> String {
    let mut decoded = String::new();
    match coding {
        "gzip" => GzipDecoder::new(compressed)
            .read_to_string(&mut decoded)
            .await
            .expect("valid gzip"),
        "br" => BrotliDecoder::new(compressed)
            .read_to_string(&mut decoded)
            .await
            .expect("valid brotli"),
        other => panic!("no decoder for {other}"),
    };
    decoded
}

#[tokio::test]
async fn a_large_list_is_compressed_with_the_coding_asked_for() {
    let client = with_points().await;
    let plain = text(client.get(POINTS).send().await).await;
    assert!(plain.len() >= 1024, "the list is {} bytes", plain.len());

    for coding in ["gzip", "br"] {
        let response = client
            .get(POINTS)
            .header("Accept-Encoding", coding)
            .send()
            .await;

        assert_eq!(
            header(&response, "content-encoding").as_deref(),
            Some(coding)
        );
        assert!(
            header(&response, "vary").is_some_and(|vary| vary.contains("Accept-Encoding")),
            "{coding}"
        );
        assert_eq!(header(&response, "x-total-count").as_deref(), Some("10"));
        let compressed = bytes(response).await;
        assert!(
            compressed.len() * 3 < plain.len(),
            "{coding}: {} bytes",
            compressed.len()
        );
        assert_eq!(decode(coding, &compressed).await, plain, "{coding}");
    }
}

#[tokio::test]
async fn brotli_is_chosen_when_the_client_takes_both() {
    let client = with_points().await;

    let response = client
        .get(POINTS)
        .header("Accept-Encoding", "gzip, deflate, br")
        .send()
        .await;

    assert_eq!(header(&response, "content-encoding").as_deref(), Some("br"));
}

#[tokio::test]
async fn without_accept_encoding_the_list_is_sent_as_it_is() {
    let client = with_points().await;

    let response = client.get(POINTS).send().await;

    assert_eq!(header(&response, "content-encoding"), None);
    assert!(header(&response, "vary").is_some_and(|vary| vary.contains("Accept-Encoding")));
}

#[tokio::test]
async fn bodies_under_1_kib_are_never_compressed() {
    let client = client(&TestService::default());
    let point = create(&client, json!({"code": "A"})).await;
    let item = crate::item(&point);

    for path in [
        item.as_str(),
        "/rest/v1/service/integration_points/nope",
        "/health/live",
    ] {
        let response = client
            .get(path)
            .header("Accept-Encoding", "gzip, br")
            .send()
            .await;

        assert_eq!(header(&response, "content-encoding"), None, "{path}");
        assert!(bytes(response).await.len() < 1024, "{path}");
    }
}

#[tokio::test]
async fn the_documentation_is_compressed() {
    let client = client(&TestService::default());

    for path in ["/docs", "/openapi.json"] {
        let response = client
            .get(path)
            .header("Accept-Encoding", "br")
            .send()
            .await;

        assert_eq!(response.0.status().as_u16(), 200, "{path}");
        assert_eq!(
            header(&response, "content-encoding").as_deref(),
            Some("br"),
            "{path}"
        );
    }
}
