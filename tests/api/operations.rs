//! What operators see of the running service: the probes, the metrics, the
//! request ids, and the log lines of a request.

use serde_json::{Value, json};

use crate::helpers::{POINTS, TestApp};
use crate::on_both_backends;
use crate::process::{ScratchDir, ServiceProcess};

/// The value of the sample `name{labels}` in an exposition.
fn sample(exposition: &str, name_and_labels: &str) -> Option<f64> {
    exposition.lines().find_map(|line| {
        line.strip_prefix(name_and_labels)
            .and_then(|rest| rest.strip_prefix(' '))
            .and_then(|value| value.parse().ok())
    })
}

on_both_backends! {
    async fn a_migrated_database_makes_the_service_live_and_ready(app) {
        let live = app.request("GET", "/health/live", None).await;
        let ready = app.request("GET", "/health/ready", None).await;

        assert_eq!(live.status.as_u16(), 200, "{}", live.text);
        assert_eq!(ready.json(), json!({"status": "ok"}));
    }
}

on_both_backends! {
    async fn metrics_count_requests_by_route_template_and_show_the_pool(app) {
        // Arrange
        let point = app.create(json!({"code": "metered"})).await;
        app.request("GET", &TestApp::item(point["id"].as_str().expect("id")), None).await;

        // Act
        let metrics = app.request("GET", "/metrics", None).await;

        // Assert
        let exposition = metrics.text;
        assert_eq!(
            sample(
                &exposition,
                r#"http_requests_total{method="GET",route="/rest/v1/service/integration_points/{id}",status="200"}"#
            ),
            Some(1.0),
            "{exposition}"
        );
        let max = sample(&exposition, "db_pool_max_size").expect("db_pool_max_size");
        let size = sample(&exposition, "db_pool_size").expect("db_pool_size");
        assert!(max >= 1.0 && (1.0..=max).contains(&size), "{exposition}");
        assert!(sample(&exposition, "db_pool_idle").is_some(), "{exposition}");
        assert!(sample(&exposition, "db_pool_in_use").is_some(), "{exposition}");
        assert!(sample(&exposition, "db_pool_waiting").is_some(), "{exposition}");
        assert!(sample(&exposition, "http_requests_in_flight").is_some(), "{exposition}");
        assert!(sample(&exposition, "process_resident_memory_bytes").is_some_and(|bytes| bytes > 0.0), "{exposition}");
    }
}

on_both_backends! {
    async fn every_response_carries_the_clients_request_id_or_a_new_one(app) {
        let echoed = app.request_with("GET", POINTS, None, &[("x-request-id", "client-7")]).await;
        let fresh = app.request("GET", "/no/such/route", None).await;

        assert_eq!(echoed.header("x-request-id"), Some("client-7"));
        let fresh_id = fresh.header("x-request-id").expect("x-request-id");
        assert!(uuid::Uuid::parse_str(fresh_id).is_ok(), "{fresh_id}");
    }
}

/// The `request` span of a JSON log line, if it was logged inside one.
fn request_span(line: &Value) -> Option<&Value> {
    line["spans"]
        .as_array()?
        .iter()
        .find(|span| span["name"] == "request")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_give_each_request_one_access_line_and_its_id_on_every_line() {
    // Arrange
    let scratch = ScratchDir::new();
    let url = scratch.sqlite_url();
    let mut service =
        ServiceProcess::start(&[("APP__DATABASE__URL", &url), ("APP__LOG__LEVEL", "debug")]).await;
    let secret = "5eb63bbbe01eeed093cb22bb8f5acdc3";
    let filter = format!(r#"{{"token_local": "{secret}"}}"#);
    let client = reqwest::Client::new();

    // Act
    let response = client
        .get(format!("{}{POINTS}", service.address))
        .query(&[("filter", filter.as_str())])
        .header("x-request-id", "trace-me-42")
        .send()
        .await
        .expect("sent");
    let access = service
        .wait_for_log(|line| {
            line["fields"]["message"] == "answered"
                && request_span(line).is_some_and(|span| span["request_id"] == "trace-me-42")
        })
        .await;

    // Assert
    assert_eq!(response.status().as_u16(), 200);
    let span = request_span(&access).expect("the request span");
    assert_eq!(span["method"], "GET", "{access}");
    assert_eq!(span["route"], POINTS, "{access}");
    assert_eq!(access["fields"]["status"], 200, "{access}");
    assert!(access["fields"]["latency_ms"].is_f64(), "{access}");
    let logs = service.logs();
    let of_request: Vec<&Value> = logs
        .iter()
        .filter(|line| request_span(line).is_some())
        .collect();
    for line in &of_request {
        assert!(
            request_span(line).is_some_and(|span| span["request_id"].is_string()),
            "{line}"
        );
    }
    let answered = of_request
        .iter()
        .filter(|line| {
            line["fields"]["message"] == "answered"
                && request_span(line).is_some_and(|span| span["request_id"] == "trace-me-42")
        })
        .count();
    assert_eq!(answered, 1, "one access line per request");
    assert!(
        !service.lines().iter().any(|line| line.contains(secret)),
        "query string values stay out of the log"
    );
}
