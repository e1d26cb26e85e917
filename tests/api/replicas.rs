//! Replicas started at the same moment on a fresh database, as a rollout or
//! `docker compose up --scale service=3` starts them: one migrates, the
//! others wait for it, and all of them serve.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::helpers::{self, Backend, TestApp};
use crate::process::{PROCESS_BOUND, ScratchDir, ServiceProcess};

const ROUNDS: usize = 10;

/// Waits until `app` answers `/health/ready` with 200.
async fn until_ready(app: &TestApp, which: usize) {
    let started = Instant::now();
    loop {
        let ready = app.request("GET", "/health/ready", None).await;
        if ready.status.as_u16() == 200 {
            return;
        }
        assert!(
            started.elapsed() < PROCESS_BOUND,
            "replica {which} not ready after {PROCESS_BOUND:?}: {} {}",
            ready.status,
            ready.text
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Starts three processes at once with `env` (each is spawned on the first
/// poll of its future, so within one poll of the others), waits until each
/// is ready, and checks that a point written through each is read through
/// the next.
async fn start_together_and_serve(round: usize, env: &[(&str, &str)]) {
    let (a, b, c) = tokio::join!(
        ServiceProcess::start(env),
        ServiceProcess::start(env),
        ServiceProcess::start(env)
    );
    let apps = [a, b, c].map(TestApp::of_process);
    for (which, app) in apps.iter().enumerate() {
        until_ready(app, which).await;
    }
    for (which, app) in apps.iter().enumerate() {
        let point = app
            .create(json!({"code": format!("round-{round}-replica-{which}")}))
            .await;
        let id = point["id"].as_str().expect("an id");
        let next = &apps[(which + 1) % apps.len()];
        let read = next.request("GET", &TestApp::item(id), None).await;
        assert_eq!(read.json(), point, "round {round}: replica {which}'s write");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[pg_gate::requires_postgres]
async fn replicas_started_together_on_a_fresh_postgresql_schema_all_serve() {
    for round in 0..ROUNDS {
        let Some((settings, _)) = helpers::test_settings(Backend::Postgres) else {
            return;
        };
        let env = [
            ("APP__DATABASE__URL", settings.database.url.as_str()),
            ("APP__DATABASE__SCHEMA", settings.database.schema.as_str()),
            ("APP__DATABASE__MAX_CONNECTIONS", "2"),
        ];
        start_together_and_serve(round, &env).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_started_together_on_a_fresh_sqlite_file_all_serve() {
    for round in 0..ROUNDS {
        let scratch = ScratchDir::new();
        let url = scratch.sqlite_url();
        let env = [
            ("APP__DATABASE__URL", url.as_str()),
            ("APP__DATABASE__MAX_CONNECTIONS", "2"),
        ];
        start_together_and_serve(round, &env).await;
    }
}
