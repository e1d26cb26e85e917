//! SQLite under concurrent load: write-ahead logging lets reads run beside a
//! write, and the busy timeout makes writers queue instead of failing with
//! "database is locked".

use std::sync::Arc;

use serde_json::json;

use crate::helpers::{Backend, POINTS, TestApp, spawn_app, spawn_with, test_settings};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sqlite_database_runs_in_write_ahead_log_mode() {
    // Arrange
    let (settings, file) = test_settings(Backend::Sqlite).expect("SQLite");
    let file = file.expect("a SQLite file");
    let app = spawn_with(settings, Some(file.clone())).await;

    // Act
    app.create(json!({"code": "wal"})).await;

    // Assert: writes go to the log beside the database file.
    let wal = format!("{}-wal", file.display());
    assert!(std::path::Path::new(&wal).is_file(), "{wal} exists");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writes_and_reads_on_sqlite_all_succeed() {
    // Arrange: points to patch, one per patcher, so that no two patches race
    // for one row (that is a 409 by design, not a lock).
    let app = Arc::new(spawn_app(Backend::Sqlite).await.expect("SQLite"));
    let mut items = Vec::new();
    for i in 0..20 {
        let point = app.create(json!({"code": format!("p{i}")})).await;
        items.push(TestApp::item(point["id"].as_str().expect("id")));
    }

    // Act: creates, patches and reads, all at once.
    let mut tasks = Vec::new();
    for (i, item) in items.into_iter().enumerate() {
        for kind in ["create", "patch", "read"] {
            let app = Arc::clone(&app);
            let item = item.clone();
            tasks.push(tokio::spawn(async move {
                let reply = match kind {
                    "create" => {
                        let body = json!({"code": format!("c{i}")});
                        app.request("POST", POINTS, Some(&body)).await
                    }
                    "patch" => {
                        let body = json!({"opts": {"title": format!("t{i}")}});
                        app.request("PATCH", &item, Some(&body)).await
                    }
                    _ => app.request("GET", POINTS, None).await,
                };
                (format!("{kind} {i}"), reply.status.as_u16(), reply.text)
            }));
        }
    }

    // Assert
    for task in tasks {
        let (what, status, text) = task.await.expect("the request task finishes");
        assert_eq!(status, 200, "{what}: {text}");
    }
    let listed = app.request("GET", POINTS, None).await.json();
    assert_eq!(listed.as_array().map(Vec::len), Some(40));
}
