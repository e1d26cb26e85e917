//! What operators use: the health probes, the metrics, and request ids.

use api::{ApiConfig, app};
use application::testing::{FixedHealth, UNREACHABLE_DETAIL, Verdict};
use domain::health::PoolStatus;
use poem::http::Method;
use poem::test::TestClient;
use serde_json::json;
use uuid::Uuid;

use crate::feed::TestFeed;
use crate::service::TestService;
use crate::{Client, POINTS, client, error, header, message, text};

fn client_of(health: &FixedHealth) -> Client {
    let service = TestService::default();
    TestClient::new(app(
        service.clone(),
        TestFeed::of(&service),
        health.clone(),
        ApiConfig::default(),
    ))
}

async fn scrape(client: &Client) -> String {
    let response = client.get("/metrics").send().await;
    assert_eq!(response.0.status().as_u16(), 200);
    assert_eq!(
        header(&response, "content-type").as_deref(),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    text(response).await
}

/// The value of the sample `name{labels}` in an exposition.
fn sample(exposition: &str, name_and_labels: &str) -> Option<f64> {
    exposition.lines().find_map(|line| {
        line.strip_prefix(name_and_labels)
            .and_then(|rest| rest.strip_prefix(' '))
            .and_then(|value| value.parse().ok())
    })
}

#[tokio::test]
async fn liveness_answers_ok_even_when_the_database_does_not() {
    // Arrange
    let health = FixedHealth::default();
    health.set(Verdict::Unreachable);
    let client = client_of(&health);

    // Act
    let response = client.get("/health/live").send().await;

    // Assert
    assert_eq!(response.0.status().as_u16(), 200);
    assert_eq!(text(response).await, r#"{"status":"ok"}"#);
}

#[tokio::test]
async fn readiness_answers_ok_when_the_check_passes() {
    let client = client_of(&FixedHealth::default());

    let response = client.get("/health/ready").send().await;

    assert_eq!(response.0.status().as_u16(), 200);
    assert_eq!(text(response).await, r#"{"status":"ok"}"#);
}

#[tokio::test]
async fn readiness_is_a_503_that_says_what_failed_without_internal_detail() {
    let cases = [
        (
            Verdict::Pending(2),
            "not ready: 2 database migration(s) pending",
        ),
        (
            Verdict::Unreachable,
            "not ready: the database does not answer",
        ),
    ];
    for (verdict, expected) in cases {
        // Arrange
        let health = FixedHealth::default();
        health.set(verdict);
        let client = client_of(&health);

        // Act
        let body = error(client.get("/health/ready").send().await, 503).await;

        // Assert
        assert_eq!(message(&body), expected, "{verdict:?}");
        assert!(!body.to_string().contains(UNREACHABLE_DETAIL), "{body}");
    }
}

#[tokio::test]
async fn probes_and_metrics_answer_other_methods_with_a_405_listing_get() {
    let client = client_of(&FixedHealth::default());
    for path in ["/health/live", "/health/ready", "/metrics"] {
        let response = client.post(path).send().await;

        assert_eq!(
            header(&response, "allow").as_deref(),
            Some("GET, HEAD"),
            "{path}"
        );
        error(response, 405).await;
    }
}

#[tokio::test]
async fn every_response_carries_a_request_id_a_new_uuid_when_the_client_sent_none() {
    let client = client(&TestService::default());
    for path in ["/health/live", POINTS, "/nope"] {
        let response = client.get(path).send().await;

        let id = header(&response, "x-request-id").expect("x-request-id");
        let uuid = Uuid::parse_str(&id).expect("a UUID");
        assert_eq!(uuid.get_version_num(), 7, "{path}");
    }
}

#[tokio::test]
async fn a_sane_client_request_id_is_echoed_and_any_other_replaced() {
    let client = client(&TestService::default());
    let cases = [
        ("req-42:a.b_c", true),
        ("has spaces", false),
        (&*"x".repeat(65), false),
    ];
    for (sent, echoed) in cases {
        let response = client
            .get("/health/live")
            .header("x-request-id", sent)
            .send()
            .await;

        let id = header(&response, "x-request-id").expect("x-request-id");
        assert_eq!(id == sent, echoed, "{sent:?} answered with {id:?}");
    }
}

#[tokio::test]
async fn requests_are_counted_by_method_route_template_and_status() {
    // Arrange
    let client = client_of(&FixedHealth::default());
    let missing = format!("{POINTS}/b4680fbe-016c-d86f-1d6b-50e54938780c");
    client.get(&missing).send().await;
    client.get(&missing).send().await;
    client
        .post(POINTS)
        .body_json(&json!({"code": "A"}))
        .send()
        .await;

    // Act
    let exposition = scrape(&client).await;

    // Assert
    let item = r#"route="/rest/v1/service/integration_points/{id}""#;
    assert_eq!(
        sample(
            &exposition,
            &format!(r#"http_requests_total{{method="GET",{item},status="404"}}"#)
        ),
        Some(2.0),
        "{exposition}"
    );
    assert_eq!(
        sample(
            &exposition,
            &format!(r#"http_requests_total{{method="POST",route="{POINTS}",status="200"}}"#)
        ),
        Some(1.0),
        "{exposition}"
    );
    assert_eq!(
        sample(
            &exposition,
            &format!(r#"http_request_duration_seconds_count{{method="GET",{item}}}"#)
        ),
        Some(2.0),
        "{exposition}"
    );
    assert!(
        exposition.contains(&format!(
            r#"http_request_duration_seconds_bucket{{method="GET",{item},le="+Inf"}} 2"#
        )),
        "latency has buckets: {exposition}"
    );
}

#[tokio::test]
async fn any_number_of_unknown_paths_and_methods_adds_one_label_value_each() {
    // Arrange
    let client = client_of(&FixedHealth::default());
    for i in 0..20 {
        client.get(format!("/random/{i}")).send().await;
        let method = Method::from_bytes(format!("X{i}").as_bytes()).expect("a token");
        client.request(method, POINTS).send().await;
    }

    // Act
    let exposition = scrape(&client).await;

    // Assert
    assert_eq!(
        sample(
            &exposition,
            r#"http_requests_total{method="GET",route="unmatched",status="404"}"#
        ),
        Some(20.0),
        "{exposition}"
    );
    assert_eq!(
        sample(
            &exposition,
            &format!(r#"http_requests_total{{method="other",route="{POINTS}",status="405"}}"#)
        ),
        Some(20.0),
        "{exposition}"
    );
    assert!(!exposition.contains("/random/"), "{exposition}");
}

#[tokio::test]
async fn the_pool_gauges_show_the_pool_as_it_is_when_scraped() {
    // Arrange
    let health = FixedHealth::default();
    let client = client_of(&health);
    health.set_pool(PoolStatus::new(5, 2, 16).with_waiting(4));

    // Act
    let exposition = scrape(&client).await;

    // Assert
    for (gauge, value) in [
        ("db_pool_size", 5.0),
        ("db_pool_idle", 2.0),
        ("db_pool_in_use", 3.0),
        ("db_pool_max_size", 16.0),
        ("db_pool_waiting", 4.0),
    ] {
        assert_eq!(sample(&exposition, gauge), Some(value), "{exposition}");
    }
}

#[tokio::test]
async fn each_app_counts_only_its_own_requests() {
    // Arrange: two apps in one process, as the tests and replicas have.
    let busy = client_of(&FixedHealth::default());
    let quiet = client_of(&FixedHealth::default());
    busy.get("/health/live").send().await;

    // Act
    let exposition = scrape(&quiet).await;

    // Assert
    assert!(!exposition.contains("/health/live"), "{exposition}");
}

#[tokio::test]
async fn requests_in_flight_count_the_scrape_itself_and_none_that_finished() {
    // Arrange
    let client = client_of(&FixedHealth::default());
    for _ in 0..3 {
        client.get("/health/live").send().await;
    }

    // Act
    let exposition = scrape(&client).await;

    // Assert
    assert_eq!(
        sample(&exposition, "http_requests_in_flight"),
        Some(1.0),
        "{exposition}"
    );
}

#[tokio::test]
async fn build_info_names_the_version() {
    let client = client_of(&FixedHealth::default());

    let exposition = scrape(&client).await;

    assert_eq!(
        sample(
            &exposition,
            &format!(r#"build_info{{version="{}"}}"#, env!("CARGO_PKG_VERSION"))
        ),
        Some(1.0),
        "{exposition}"
    );
}

#[tokio::test]
async fn latency_buckets_start_at_100_microseconds() {
    // Arrange
    let client = client_of(&FixedHealth::default());
    client.get("/health/live").send().await;

    // Act
    let exposition = scrape(&client).await;

    // Assert
    let first_bucket = exposition
        .lines()
        .find(|line| line.starts_with("http_request_duration_seconds_bucket{"))
        .expect("a latency bucket");
    assert!(first_bucket.contains(r#"le="0.0001""#), "{exposition}");
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn process_metrics_describe_this_process() {
    let client = client_of(&FixedHealth::default());

    let exposition = scrape(&client).await;

    for (metric, floor) in [
        ("process_cpu_seconds_total", 0.0),
        ("process_resident_memory_bytes", 1.0),
        ("process_virtual_memory_bytes", 1.0),
        ("process_open_fds", 1.0),
        ("process_start_time_seconds", 1.0e9),
    ] {
        let value = sample(&exposition, metric).unwrap_or_else(|| panic!("{metric}: {exposition}"));
        assert!(value >= floor, "{metric} = {value}");
    }
    assert!(
        exposition.contains("# TYPE process_cpu_seconds_total counter"),
        "{exposition}"
    );
}

#[tokio::test]
async fn the_feed_listening_gauge_falls_while_the_listener_is_lost_and_rises_once_back() {
    // Arrange
    let service = TestService::default();
    let client = TestClient::new(app(
        service.clone(),
        TestFeed::of(&service),
        FixedHealth::default(),
        ApiConfig::default(),
    ));
    let wakeups = service.changes().wakeups();
    let listening = async |expected: f64| {
        tokio::time::timeout(std::time::Duration::from_secs(10), async {
            while sample(&scrape(&client).await, "feed_listening") != Some(expected) {
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
        })
        .await
        .is_ok()
    };

    // Act
    let at_first = listening(1.0).await;
    wakeups.silence();
    let while_lost = listening(0.0).await;
    wakeups.resume();
    let once_back = listening(1.0).await;

    // Assert
    assert!(at_first, "1 while listening");
    assert!(while_lost, "0 once the feed finds the listener lost");
    assert!(once_back, "1 again once it is back");
}
