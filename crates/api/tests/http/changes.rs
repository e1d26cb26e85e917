//! The change feed, over the real feed of what the API writes: the page's
//! shape, its parameters, 410, the event stream, and the list's
//! `X-Revision`.

use api::ApiConfig;
use domain::change_feed::{ChangeLog, ChangeOp, Cursor};
use domain::integration_point::{PointId, Timestamp};
use serde_json::{Value, json};

use crate::feed::TestFeed;
use crate::service::TestService;
use crate::{Client, POINTS, client_of_feed, create, error, field, header, item, ok_json, text};

const CHANGES: &str = "/rest/v1/service/integration_points/changes";

/// When the change log records the changes of a test.
const AT_MILLIS: i64 = 1_567_000_000_000;

/// [`AT_MILLIS`] as a change shows it.
const AT: &str = "2019-08-28T13:46:40.000Z";

/// A client over a fresh feed, with one point created through the API: the
/// feed's first change, `0-1`.
async fn arrange() -> (Client, TestService, TestFeed, Value) {
    let service = TestService::default();
    service.changes().set_time(AT_MILLIS);
    let feed = TestFeed::of(&service);
    let client = client_of_feed(&service, &feed, ApiConfig::default());
    let created = create(&client, json!({"code": "ABCDE", "opts": {"title": "T"}})).await;
    (client, service, feed, created)
}

/// Deletes `point` through the API.
async fn delete(client: &Client, point: &Value) {
    let response = client.delete(item(point)).send().await;
    assert!(response.0.status().is_success(), "delete");
}

fn stored(service: &TestService, created: &Value) -> domain::integration_point::IntegrationPoint {
    let id = PointId::parse(created["id"].as_str().expect("an id")).expect("a UUID");
    service.stored(id).expect("stored")
}

#[tokio::test]
async fn a_page_of_changes_has_the_contract_shape() {
    // Arrange
    let (client, _, _, created) = arrange().await;
    delete(&client, &created).await;

    // Act
    let response = client.get(CHANGES).send().await;

    // Assert
    assert_eq!(
        ok_json(response).await,
        json!({
            "changes": [
                {"revision": "0-1", "op": "create", "id": created["id"], "version": 1, "at": AT, "point": created},
                {"revision": "0-2", "op": "delete", "id": created["id"], "version": 1, "at": AT},
            ],
            "next": "0-2",
        })
    );
}

#[tokio::test]
async fn mask_and_flat_shape_the_embedded_point() {
    let (client, _, _, created) = arrange().await;

    let response = client
        .get(format!("{CHANGES}?mask=id,opts.title&flat=true"))
        .send()
        .await;

    let body = ok_json(response).await;
    assert_eq!(
        body["changes"][0]["point"],
        json!({"id": created["id"], "opts.title": "T"})
    );
}

#[tokio::test]
async fn since_limit_and_wait_reach_the_feed() {
    let (client, service, feed, created) = arrange().await;
    let point = stored(&service, &created);
    for _ in 0..3 {
        service.changes().record(ChangeOp::Update, point.clone());
    }

    let response = client
        .get(format!("{CHANGES}?since=0-2&limit=1&wait=5"))
        .send()
        .await;

    let body = ok_json(response).await;
    assert_eq!(body["changes"][0]["revision"], "0-3");
    assert_eq!(body["next"], "0-3");
    let request = feed.last_request().expect("a request");
    assert_eq!(request.since(), Some(&Cursor::new(0, 2).into()));
    assert_eq!(request.limit(), 1);
    assert_eq!(request.wait().as_secs(), 5);
}

#[tokio::test]
async fn without_a_limit_a_page_holds_at_most_a_hundred() {
    let (client, _, feed, _) = arrange().await;

    ok_json(client.get(CHANGES).send().await).await;

    assert_eq!(feed.last_request().map(|r| r.limit()), Some(100));
}

#[tokio::test]
async fn invalid_parameters_are_400s_naming_the_parameter() {
    let (client, _, _, _) = arrange().await;
    for (query, expected) in [
        ("since=yesterday", "since"),
        ("since=1", "since"),
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("wait=61", "wait"),
        ("mask=nope", "mask"),
    ] {
        let response = client.get(format!("{CHANGES}?{query}")).send().await;
        let body = error(response, 400).await;
        assert_eq!(field(&body), Some(expected), "{query}");
    }
}

#[tokio::test]
async fn a_since_older_than_retention_is_410() {
    // Arrange: retention drops the changes 0-1 to 0-3.
    let (client, service, _, created) = arrange().await;
    let log = service.changes();
    for _ in 0..2 {
        log.record(ChangeOp::Update, stored(&service, &created));
    }
    let later = Timestamp::from_millis(AT_MILLIS + 1).expect("a time");
    assert_eq!(log.expire(later, 100).await.ok(), Some(3), "expired");

    // Act
    let page = client.get(format!("{CHANGES}?since=0-2")).send().await;
    let stream = client
        .get(format!("{CHANGES}?since=0-2"))
        .header("Accept", "text/event-stream")
        .send()
        .await;

    // Assert
    error(page, 410).await;
    error(stream, 410).await;
}

#[tokio::test]
async fn an_event_stream_carries_id_event_and_data_per_change() {
    // Arrange
    let (client, _, feed, created) = arrange().await;
    delete(&client, &created).await;
    feed.stop().await;

    // Act
    let response = client
        .get(format!("{CHANGES}?mask=id"))
        .header("Accept", "text/event-stream")
        .send()
        .await;

    // Assert
    assert_eq!(response.0.status().as_u16(), 200);
    assert_eq!(
        header(&response, "content-type").as_deref(),
        Some("text/event-stream")
    );
    let body = text(response).await;
    let id = created["id"].as_str().expect("an id");
    assert_eq!(
        body,
        format!(
            "id: 0-1\nevent: create\ndata: {{\"revision\":\"0-1\",\"op\":\"create\",\"id\":\"{id}\",\"version\":1,\"at\":\"{AT}\",\"point\":{{\"id\":\"{id}\"}}}}\n\n\
             id: 0-2\nevent: delete\ndata: {{\"revision\":\"0-2\",\"op\":\"delete\",\"id\":\"{id}\",\"version\":1,\"at\":\"{AT}\"}}\n\n"
        )
    );
}

#[tokio::test]
async fn last_event_id_resumes_a_stream_and_wins_over_since() {
    let (client, _, feed, _) = arrange().await;
    feed.stop().await;

    let response = client
        .get(format!("{CHANGES}?since=7-1"))
        .header("Accept", "text/event-stream")
        .header("Last-Event-ID", "7-5")
        .send()
        .await;

    assert_eq!(response.0.status().as_u16(), 200);
    assert_eq!(feed.last_watch(), Some(Some(Cursor::new(7, 5).into())));
}

#[tokio::test]
async fn a_malformed_last_event_id_is_a_400_naming_it() {
    let (client, _, _, _) = arrange().await;

    let response = client
        .get(CHANGES)
        .header("Accept", "text/event-stream")
        .header("Last-Event-ID", "seven")
        .send()
        .await;

    let body = error(response, 400).await;
    assert_eq!(field(&body), Some("Last-Event-ID"));
}

#[tokio::test]
async fn a_list_carries_the_feed_revision_of_its_snapshot() {
    let (client, service, _, _) = arrange().await;

    let response = client.get(POINTS).send().await;

    assert_eq!(
        header(&response, "x-revision"),
        Some(service.revision().to_string())
    );
}
