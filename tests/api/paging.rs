//! Keyset paging and bounded counts over HTTP (contract §3): `Link` headers
//! followed through 10,000 points in several orders while other points are
//! created, and the `X-Total-Count` of each `count` mode.

use std::collections::HashSet;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Backend, POINTS, Reply, TestApp, urlencode};
use crate::on_both_backends;

const SEEDED: usize = 10_000;
const TYPES: [&str; 4] = ["public", "telegram", "viber", "webhook"];

/// Creates `count` points from `make(i)`, many requests at a time.
async fn create_many(app: &TestApp, count: usize, make: fn(usize) -> Value) {
    const WORKERS: usize = 16;
    let tasks: Vec<_> = (0..WORKERS)
        .map(|worker| {
            let client = app.client.clone();
            let url = format!("{}{POINTS}", app.address);
            tokio::spawn(async move {
                for i in (worker..count).step_by(WORKERS) {
                    let response = client
                        .post(&url)
                        .json(&make(i))
                        .send()
                        .await
                        .expect("the request is sent");
                    assert_eq!(response.status(), StatusCode::OK, "create #{i}");
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("the creating task finishes");
    }
}

fn seeded(i: usize) -> Value {
    json!({
        "code": format!("p{i:05}"),
        "type": TYPES[i % TYPES.len()],
        "opts": {"issync": i.is_multiple_of(3), "title": format!("t{}", i % 7)},
    })
}

/// The target of a `Link: <…>; rel="next"` header.
fn next(reply: &Reply) -> Option<String> {
    let link = reply.header("link")?;
    let target = link
        .strip_prefix('<')
        .and_then(|rest| rest.strip_suffix(r#">; rel="next""#))
        .unwrap_or_else(|| panic!("not a next link: {link}"));
    Some(target.to_owned())
}

/// Follows the `Link`s from `first` to the end; the codes of every page in
/// order.
async fn follow(app: &TestApp, first: String) -> Vec<String> {
    let mut codes = Vec::new();
    let mut target = Some(first);
    while let Some(path) = target.take() {
        let reply = app.request("GET", &path, None).await;
        assert_eq!(reply.status, StatusCode::OK, "{path}: {}", reply.text);
        target = next(&reply);
        codes.extend(
            reply
                .json()
                .as_array()
                .expect("an array")
                .iter()
                .map(|p| p["code"].as_str().expect("a code").to_owned()),
        );
    }
    codes
}

on_both_backends! {
    async fn after_pages_cover_every_point_once_in_any_order_while_points_are_created(app) {
        // Arrange
        create_many(&app, SEEDED, seeded).await;
        let orders: [(&str, Option<&str>); 5] = [
            ("[]", None),
            (r#"[{"code": "desc"}]"#, None),
            (r#"[{"opts.issync": "desc"}, "opts.title", {"ext.ct": "desc"}]"#, None),
            (r#"["code"]"#, Some(r#"{"type": "telegram"}"#)),
            (r#"[{"code": "desc"}]"#, Some(r#"{"type": "viber", "opts.issync": false}"#)),
        ];

        for (round, (order, filter)) in orders.into_iter().enumerate() {
            let mut first = format!("{POINTS}?mask=code&limit=700&count=none&order={}", urlencode(order));
            if let Some(filter) = filter {
                first.push_str(&format!("&filter={}", urlencode(filter)));
            }
            // Act: page to the end while other points are created.
            let creating = {
                let client = app.client.clone();
                let url = format!("{}{POINTS}", app.address);
                tokio::spawn(async move {
                    for i in 0..150 {
                        let body = json!({
                            "code": format!("new-{round}-{i:03}"),
                            "type": TYPES[i % TYPES.len()],
                        });
                        let response = client.post(&url).json(&body).send().await.expect("sent");
                        assert_eq!(response.status(), StatusCode::OK);
                    }
                })
            };
            let seen = follow(&app, first).await;
            creating.await.expect("the creating task finishes");

            // Assert
            let distinct: HashSet<&String> = seen.iter().collect();
            assert_eq!(distinct.len(), seen.len(), "{order} {filter:?}: a point came twice");
            let expected: Vec<String> = (0..SEEDED)
                .filter(|i| match filter {
                    None => true,
                    Some(f) if f.contains("telegram") => i % TYPES.len() == 1,
                    Some(_) => i % TYPES.len() == 2 && !i.is_multiple_of(3),
                })
                .map(|i| format!("p{i:05}"))
                .collect();
            let missed: Vec<&String> =
                expected.iter().filter(|code| !distinct.contains(code)).collect();
            assert!(missed.is_empty(), "{order} {filter:?}: missed {} points", missed.len());
        }
    }
}

on_both_backends! {
    async fn each_count_mode_answers_its_headers(app) {
        // Arrange: more points than `list.exact_count_max` (1000).
        create_many(&app, 1_200, seeded).await;
        let total = |reply: &Reply| reply.header("x-total-count").map(str::to_owned);
        let estimated = |reply: &Reply| reply.header("x-total-count-estimated").map(str::to_owned);

        // Act
        let exact = app.request("GET", &format!("{POINTS}?limit=10&count=exact"), None).await;
        let none = app.request("GET", &format!("{POINTS}?limit=10&count=none"), None).await;
        let small = app
            .request("GET", &format!("{POINTS}?limit=10&filter={}", urlencode(r#"{"code": {"like": "p000%"}}"#)), None)
            .await;
        let large = app.request("GET", &format!("{POINTS}?limit=10"), None).await;

        // Assert
        assert_eq!((total(&exact), estimated(&exact)), (Some("1200".to_owned()), None));
        assert_eq!((total(&none), estimated(&none)), (None, None));
        assert_eq!((total(&small), estimated(&small)), (Some("100".to_owned()), None));
        match app.backend() {
            Backend::Postgres => {
                assert_eq!(estimated(&large).as_deref(), Some("true"));
                let estimate: u64 = total(&large).expect("a total").parse().expect("a number");
                assert!(estimate > 1000, "an estimate above the exact bound: {estimate}");
            }
            Backend::Sqlite => {
                assert_eq!((total(&large), estimated(&large)), (Some("1200".to_owned()), None));
            }
        }
        for reply in [&exact, &none, &small, &large] {
            assert!(next(reply).is_some(), "full pages link to the next");
        }
    }
}
