//! `count`, `after` and the `Link` to the next page (contract §3).

use api::ApiConfig;
use domain::integration_point::Count;
use serde_json::{Value, json};

use crate::service::TestService;
use crate::{POINTS, client, client_with, create, error, field, header, ok_json};

async fn with_codes(codes: &[&str]) -> (TestService, crate::Client) {
    let service = TestService::default();
    let client = client(&service);
    for code in codes {
        create(&client, json!({"code": code})).await;
    }
    (service, client)
}

fn codes(body: &Value) -> Vec<&str> {
    body.as_array()
        .expect("an array")
        .iter()
        .map(|p| p["code"].as_str().expect("a code"))
        .collect()
}

/// The target of a `Link: <…>; rel="next"` header.
fn next_target(link: &str) -> &str {
    link.strip_prefix('<')
        .and_then(|rest| rest.strip_suffix(r#">; rel="next""#))
        .unwrap_or_else(|| panic!("not a next link: {link}"))
}

#[tokio::test]
async fn count_none_answers_without_a_total() {
    let (_, client) = with_codes(&["A", "B"]).await;

    let response = client.get(format!("{POINTS}?count=none")).send().await;

    assert_eq!(header(&response, "x-total-count"), None);
    assert_eq!(header(&response, "x-total-count-estimated"), None);
    ok_json(response).await;
}

#[tokio::test]
async fn an_exact_total_is_not_marked_estimated() {
    let (_, client) = with_codes(&["A", "B", "C"]).await;

    for count in ["exact", "estimated"] {
        let response = client
            .get(format!("{POINTS}?count={count}&limit=1"))
            .send()
            .await;

        assert_eq!(
            header(&response, "x-total-count").as_deref(),
            Some("3"),
            "{count}"
        );
        assert_eq!(
            header(&response, "x-total-count-estimated"),
            None,
            "{count}"
        );
    }
}

#[tokio::test]
async fn the_count_mode_reaches_the_service_with_the_configured_bound() {
    let service = TestService::default();
    let config = ApiConfig {
        exact_count_max: 7,
        ..ApiConfig::default()
    };
    let client = client_with(&service, config);

    for (query, expected) in [
        ("", Count::Estimated { exact_up_to: 7 }),
        ("?count=estimated", Count::Estimated { exact_up_to: 7 }),
        ("?count=exact", Count::Exact),
        ("?count=none", Count::Skip),
    ] {
        ok_json(client.get(format!("{POINTS}{query}")).send().await).await;

        let count = service.last_query().expect("listed").count();
        assert_eq!(count, expected, "{query:?}");
    }
}

#[tokio::test]
async fn a_full_page_links_to_the_next_and_the_last_page_does_not() {
    // Arrange
    let (_, client) = with_codes(&["A", "B", "C", "D", "E"]).await;
    let first = format!("{POINTS}?order=%5B%22code%22%5D&limit=2&mask=code");

    // Act: follow the links to the end.
    let mut pages = Vec::new();
    let mut target = Some(first);
    while let Some(url) = target.take() {
        let response = client.get(&url).send().await;
        target = header(&response, "link").map(|link| next_target(&link).to_owned());
        pages.push(codes(&ok_json(response).await).join(""));
    }

    // Assert
    assert_eq!(pages, ["AB", "CD", "E"]);
}

#[tokio::test]
async fn the_link_keeps_the_query_but_offset_and_an_earlier_after() {
    let (_, client) = with_codes(&["A", "B", "C", "D"]).await;

    let response = client
        .get(format!("{POINTS}?mask=code&offset=1&limit=1&count=none"))
        .send()
        .await;

    let link = header(&response, "link").expect("a full page links to the next");
    let target = next_target(&link);
    assert!(
        target.starts_with(&format!("{POINTS}?mask=code&limit=1&count=none&after=")),
        "{target}"
    );
    let next = client.get(target).send().await;
    let link = header(&next, "link").expect("a full page links to the next");
    assert_eq!(next_target(&link).matches("after=").count(), 1, "{link}");
    assert_eq!(codes(&ok_json(next).await), ["C"]);
}

/// The cursor of the first page of one point in the default order.
async fn first_cursor(client: &crate::Client) -> String {
    let response = client.get(format!("{POINTS}?limit=1")).send().await;
    let link = header(&response, "link").expect("a next link");
    let cursor = next_target(&link).rsplit("after=").next();
    cursor.expect("a cursor").to_owned()
}

#[tokio::test]
async fn a_cursor_of_another_order_is_a_400_naming_after() {
    let (_, client) = with_codes(&["A", "B"]).await;
    let cursor = first_cursor(&client).await;

    let response = client
        .get(format!("{POINTS}?limit=1&order=code&after={cursor}"))
        .send()
        .await;

    let body = error(response, 400).await;
    assert_eq!(field(&body), Some("after"), "{body}");
}

#[tokio::test]
async fn bad_count_and_after_values_are_400s_naming_the_parameter() {
    let (_, client) = with_codes(&["A", "B"]).await;
    let cursor = first_cursor(&client).await;
    let mut tampered = cursor.clone();
    tampered.insert(3, 'x');
    let cases = [
        ("count=planned".to_owned(), "count"),
        ("count=EXACT".to_owned(), "count"),
        ("after=not-a-cursor".to_owned(), "after"),
        (format!("after={tampered}"), "after"),
        (format!("after={cursor}&offset=3"), "after"),
        ("after=".to_owned(), "after"),
    ];
    for (query, parameter) in cases {
        let response = client.get(format!("{POINTS}?{query}")).send().await;

        let body = error(response, 400).await;
        assert_eq!(field(&body), Some(parameter), "{query}: {body}");
    }
}
