//! The query language over HTTP: filter, order, mask, flat, offset/limit and
//! the total count.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{POINTS, Reply, TestApp, urlencode};
use crate::on_both_backends;

async fn seed(app: &TestApp) {
    let points = [
        json!({"code": "alpha", "type": "telegram", "opts": {"title": "Sales", "issync": true}}),
        json!({"code": "Beta", "type": "public", "opts": {"title": "support"}}),
        json!({"code": "gamma", "type": "telegram", "url": "https://example.org", "opts": {"allow_files_api": true}}),
        json!({"code": "delta_1", "type": "webhook"}),
        json!({"code": "delta%2", "type": "public", "opts": {"issync": true}}),
    ];
    for body in points {
        app.create(body).await;
        // Distinct creation times keep the default order deterministic.
        tokio::time::sleep(std::time::Duration::from_millis(3)).await;
    }
}

async fn list(app: &TestApp, params: &[(&str, &str)]) -> Reply {
    let query: String = params
        .iter()
        .map(|(k, v)| format!("{k}={}", urlencode(v)))
        .collect::<Vec<_>>()
        .join("&");
    app.request("GET", &format!("{POINTS}?{query}"), None).await
}

fn codes(reply: &Reply) -> Vec<String> {
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    reply
        .json()
        .as_array()
        .expect("an array")
        .iter()
        .map(|p| p["code"].as_str().expect("a code").to_owned())
        .collect()
}

on_both_backends! {
    async fn filters_select_in_the_database(app) {
        seed(&app).await;
        let cases: [(&str, &[&str]); 12] = [
            (r#"{"type": "telegram"}"#, &["alpha", "gamma"]),
            (r#"{"opts.issync": true}"#, &["alpha", "delta%2"]),
            (r#"{"opts": {"issync": true}}"#, &["alpha", "delta%2"]),
            (r#"{"type": {"in": ["webhook", "public"]}}"#, &["Beta", "delta_1", "delta%2"]),
            (r#"{"type": {"nin": ["public"]}, "opts.allow_files_api": false}"#, &["alpha", "delta_1"]),
            (r#"{"code": {"like": "delta%"}}"#, &["delta_1", "delta%2"]),
            (r#"{"code": {"like": "delta\\%%"}}"#, &["delta%2"]),
            (r#"{"code": {"like": "b%"}}"#, &[]),
            (r#"{"code": {"ilike": "b%"}}"#, &["Beta"]),
            (r#"{"$or": [{"type": "webhook"}, {"opts": {"title": {"like": "S%"}}}]}"#, &["alpha", "delta_1"]),
            (r#"{"$not": {"type": "public"}}"#, &["alpha", "gamma", "delta_1"]),
            (r#"{"code": {"gte": "b", "lt": "e"}}"#, &["delta_1", "delta%2"]),
        ];
        for (filter, expected) in cases {
            let reply = list(&app, &[("filter", filter)]).await;
            assert_eq!(codes(&reply), expected, "filter {filter}");
            assert_eq!(reply.header("x-total-count"), Some(expected.len().to_string().as_str()), "filter {filter}");
        }
    }
}

on_both_backends! {
    async fn timestamps_filter_as_instants(app) {
        seed(&app).await;
        let all = list(&app, &[]).await.json();
        let third_ct = all[2]["ext"]["ct"].as_str().expect("ct").to_owned();

        let before = list(&app, &[("filter", &format!(r#"{{"ext.ct": {{"lt": "{third_ct}"}}}}"#))]).await;
        let from = list(&app, &[("filter", &format!(r#"{{"ext": {{"ct": {{"gte": "{third_ct}"}}}}}}"#))]).await;

        assert_eq!(codes(&before), ["alpha", "Beta"]);
        assert_eq!(codes(&from), ["gamma", "delta_1", "delta%2"]);
    }
}

on_both_backends! {
    async fn order_sorts_by_fields_and_breaks_ties_by_id(app) {
        seed(&app).await;

        let by_code_desc = list(&app, &[("order", r#"[{"code": "desc"}]"#)]).await;
        let bare = list(&app, &[("order", "code")]).await;
        let by_type_then_code = list(&app, &[("order", r#"["type", {"code": "asc"}]"#)]).await;

        assert_eq!(codes(&by_code_desc), ["gamma", "delta_1", "delta%2", "alpha", "Beta"]);
        assert_eq!(codes(&bare), ["Beta", "alpha", "delta%2", "delta_1", "gamma"], "code points, not locale");
        assert_eq!(codes(&by_type_then_code), ["Beta", "delta%2", "alpha", "gamma", "delta_1"]);
    }
}

on_both_backends! {
    async fn pages_are_stable_and_the_total_ignores_paging(app) {
        for i in 0..7 {
            app.create(json!({"code": format!("p{i}"), "type": "same"})).await;
        }
        let mut seen = Vec::new();
        for offset in [0, 3, 6] {
            let reply = list(&app, &[("order", r#"["type"]"#), ("offset", &offset.to_string()), ("limit", "3")]).await;
            assert_eq!(reply.header("x-total-count"), Some("7"));
            seen.extend(codes(&reply));
        }
        let mut unique = seen.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(seen.len(), 7, "{seen:?}");
        assert_eq!(unique.len(), 7, "no point twice: {seen:?}");
        let empty = list(&app, &[("offset", "100")]).await;
        assert_eq!(codes(&empty), Vec::<String>::new());
        assert_eq!(empty.header("x-total-count"), Some("7"));
        let zero = list(&app, &[("limit", "0")]).await;
        assert_eq!(codes(&zero), Vec::<String>::new());
    }
}

on_both_backends! {
    async fn mask_keeps_nesting_and_flat_flattens(app) {
        let point = app.create(json!({"code": "m", "opts": {"title": "T"}})).await;
        let path = TestApp::item(point["id"].as_str().expect("id"));

        let masked = app.request("GET", &format!("{path}?mask=id,code,opts.title"), None).await.json();
        let flat = app.request("GET", &format!("{path}?mask=code,opts,ext.ct&flat=true"), None).await.json();
        let groups = app.request("GET", &format!("{POINTS}?mask=ext&flat=1"), None).await.json();

        assert_eq!(masked, json!({"id": point["id"], "code": "m", "opts": {"title": "T"}}));
        let mut expected = json!({"code": "m", "ext.ct": point["ext"]["ct"]});
        for (key, value) in point["opts"].as_object().expect("opts") {
            expected[format!("opts.{key}")] = value.clone();
        }
        assert_eq!(point["opts"]["title"], "T");
        assert_eq!(flat, expected);
        assert_eq!(groups, json!([{"ext.ct": point["ext"]["ct"], "ext.lwt": point["ext"]["lwt"]}]));
    }
}

on_both_backends! {
    async fn writes_answer_with_the_masked_representation(app) {
        let created = app.request("POST", &format!("{POINTS}?mask=id,code"), Some(&json!({"code": "w"}))).await.json();
        let id = created["id"].as_str().expect("id").to_owned();
        let patched = app
            .request("PATCH", &format!("{}?mask=url&flat=true", TestApp::item(&id)), Some(&json!({"url": "http://a.b"})))
            .await
            .json();

        assert_eq!(created, json!({"id": id, "code": "w"}));
        assert_eq!(patched, json!({"url": "http://a.b"}));
    }
}

on_both_backends! {
    async fn bad_parameters_are_400s_naming_the_parameter(app) {
        let nested_9 = (0..9).fold(r#"{"code": "x"}"#.to_owned(), |f, _| format!(r#"{{"$not": {f}}}"#));
        let clauses_101 = format!(
            r#"{{"$and": [{}]}}"#,
            vec![r#"{"code": "x"}"#; 101].join(",")
        );
        let in_1001 = format!(r#"{{"code": {{"in": [{}]}}}}"#, vec![r#""x""#; 1001].join(","));
        let cases: Vec<(&str, String)> = vec![
            ("filter", "not json".into()),
            ("filter", "[1]".into()),
            ("filter", r#"{"nope": 1}"#.into()),
            ("filter", r#"{"code": {"regex": "a"}}"#.into()),
            ("filter", r#"{"opts.issync": {"lt": true}}"#.into()),
            ("filter", r#"{"code": 5}"#.into()),
            ("filter", r#"{"id": "not-a-uuid"}"#.into()),
            ("filter", r#"{"ext.ct": {"gt": "yesterday"}}"#.into()),
            ("filter", r#"{"$or": []}"#.into()),
            ("filter", nested_9),
            ("filter", clauses_101),
            ("filter", in_1001),
            ("order", r#"["nope"]"#.into()),
            ("order", r#"[{"code": "up"}]"#.into()),
            ("order", format!("[{}]", [r#""code""#; 9].join(","))),
            ("mask", "id,tokenlocal".into()),
            ("flat", "yes".into()),
            ("limit", "-1".into()),
            ("limit", "abc".into()),
            ("limit", "1001".into()),
            ("offset", "-5".into()),
        ];
        for (param, value) in cases {
            let reply = list(&app, &[(param, &value)]).await;
            let body = reply.assert_error(400);
            assert_eq!(body["error_details"]["field"], json!(param), "{param}={value}: {body}");
        }
    }
}
