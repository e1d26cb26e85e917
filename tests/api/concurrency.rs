//! Writes racing each other, in one process and across replicas.

use std::sync::Arc;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{self, Backend, POINTS, TestApp};
use crate::on_both_backends;
use crate::process::ServiceProcess;

/// Sends `n` copies of a request at once and returns their statuses.
async fn race(
    apps: &[Arc<TestApp>],
    n: usize,
    request: impl Fn(usize) -> (String, String, Option<Value>, Vec<(String, String)>),
) -> Vec<StatusCode> {
    let mut tasks = Vec::with_capacity(n);
    for i in 0..n {
        let app = Arc::clone(&apps[i % apps.len()]);
        let (method, path, body, headers) = request(i);
        tasks.push(tokio::spawn(async move {
            let headers: Vec<(&str, &str)> = headers
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            app.request_with(&method, &path, body.as_ref(), &headers)
                .await
                .status
        }));
    }
    let mut statuses = Vec::with_capacity(n);
    for task in tasks {
        statuses.push(task.await.expect("the request task finishes"));
    }
    statuses
}

fn count(statuses: &[StatusCode], status: StatusCode) -> usize {
    statuses.iter().filter(|s| **s == status).count()
}

async fn same_code_creates_have_one_winner(apps: &[Arc<TestApp>]) {
    let statuses = race(apps, 20, |_| {
        (
            "POST".into(),
            POINTS.into(),
            Some(json!({"code": "race"})),
            vec![],
        )
    })
    .await;

    assert_eq!(count(&statuses, StatusCode::OK), 1, "{statuses:?}");
    assert_eq!(count(&statuses, StatusCode::CONFLICT), 19, "{statuses:?}");
    let listed = apps[0].request("GET", POINTS, None).await.json();
    assert_eq!(listed.as_array().map(Vec::len), Some(1));
}

async fn same_if_match_patches_have_one_winner(apps: &[Arc<TestApp>]) {
    let point = apps[0].create(json!({"code": "guarded"})).await;
    let path = TestApp::item(point["id"].as_str().expect("id"));
    let etag = apps[0]
        .request("GET", &path, None)
        .await
        .header("etag")
        .expect("etag")
        .to_owned();

    let statuses = race(apps, 20, |i| {
        (
            "PATCH".into(),
            path.clone(),
            Some(json!({"opts": {"title": format!("writer {i}")}})),
            vec![("if-match".into(), etag.clone())],
        )
    })
    .await;

    assert_eq!(count(&statuses, StatusCode::OK), 1, "{statuses:?}");
    assert_eq!(
        count(&statuses, StatusCode::PRECONDITION_FAILED),
        19,
        "{statuses:?}"
    );
}

on_both_backends! {
    async fn twenty_concurrent_creates_of_one_code_give_one_200_and_nineteen_409s(app) {
        same_code_creates_have_one_winner(&[Arc::new(app)]).await;
    }
}

on_both_backends! {
    async fn twenty_concurrent_patches_with_one_if_match_give_one_200_and_nineteen_412s(app) {
        same_if_match_patches_have_one_winner(&[Arc::new(app)]).await;
    }
}

on_both_backends! {
    async fn concurrent_patches_of_different_fields_both_land(app) {
        let app = Arc::new(app);
        for round in 0..10 {
            let point = app.create(json!({"code": format!("fields{round}")})).await;
            let path = TestApp::item(point["id"].as_str().expect("id"));

            let statuses = race(std::slice::from_ref(&app), 2, |i| {
                let body = if i == 0 { json!({"opts": {"title": "T"}}) } else { json!({"opts": {"comment": "C"}}) };
                ("PATCH".into(), path.clone(), Some(body), vec![])
            })
            .await;

            assert_eq!(statuses, [StatusCode::OK, StatusCode::OK]);
            let stored = app.request("GET", &path, None).await.json();
            assert_eq!(stored["opts"]["title"], "T", "round {round}");
            assert_eq!(stored["opts"]["comment"], "C", "round {round}");
        }
    }
}

on_both_backends! {
    async fn concurrent_rotations_leave_one_token_that_lookup_finds(app) {
        let app = Arc::new(app);
        let point = app.create(json!({"code": "rotating"})).await;
        let id = point["id"].as_str().expect("id").to_owned();
        let path = format!("{}/rotate_token", TestApp::item(&id));

        let statuses = race(std::slice::from_ref(&app), 10, |_| ("POST".into(), path.clone(), None, vec![])).await;

        assert!(statuses.iter().all(|s| *s == StatusCode::OK), "{statuses:?}");
        let current = app.request("GET", &TestApp::item(&id), None).await.json();
        let token = current["token_local"].clone();
        assert_eq!(app.request("LOOKUP", POINTS, Some(&token)).await.json(), json!([id]));
        app.request("LOOKUP", POINTS, Some(&point["token_local"])).await.assert_error(404);
    }
}

/// Two service processes on one PostgreSQL schema, as two replicas behind a
/// load balancer would be. They start one after the other, so that the first
/// has migrated the schema before the second looks at it.
async fn two_replicas() -> Option<[Arc<TestApp>; 2]> {
    let (settings, _) = helpers::test_settings(Backend::Postgres)?;
    let database = [
        ("APP__DATABASE__URL", settings.database.url.as_str()),
        ("APP__DATABASE__SCHEMA", settings.database.schema.as_str()),
        ("APP__DATABASE__MAX_CONNECTIONS", "8"),
    ];
    let first = ServiceProcess::start(&database).await;
    let second = ServiceProcess::start(&database).await;
    Some([
        Arc::new(TestApp::of_process(first)),
        Arc::new(TestApp::of_process(second)),
    ])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[pg_gate::requires_postgres]
async fn replicas_on_one_postgresql_share_uniqueness() {
    let Some(apps) = two_replicas().await else {
        return;
    };
    same_code_creates_have_one_winner(&apps).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[pg_gate::requires_postgres]
async fn replicas_on_one_postgresql_share_if_match() {
    let Some(apps) = two_replicas().await else {
        return;
    };
    same_if_match_patches_have_one_winner(&apps).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[pg_gate::requires_postgres]
async fn a_write_through_one_replica_is_read_through_the_other_at_once() {
    let Some([one, other]) = two_replicas().await else {
        return;
    };

    let point = one.create(json!({"code": "shared"})).await;
    let id = point["id"].as_str().expect("id");
    let read = other.request("GET", &TestApp::item(id), None).await;
    assert_eq!(read.json(), point);

    let patched = other
        .request(
            "PATCH",
            &TestApp::item(id),
            Some(&json!({"url": "http://replica.two"})),
        )
        .await
        .json();
    assert_eq!(
        one.request("GET", &TestApp::item(id), None).await.json(),
        patched
    );
    let found = one.request("LOOKUP", POINTS, Some(&json!("shared"))).await;
    assert_eq!(found.json(), json!([id]));
}
