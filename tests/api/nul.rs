//! U+0000 anywhere in a request value (contract §10) is a 400 naming the
//! field, the same on both backends, and changes nothing; so is a `\u`
//! escape of half a surrogate pair, which no Unicode string can hold.

use serde_json::{Value, json};

use crate::helpers::{POINTS, Reply, TestApp, urlencode};
use crate::on_both_backends;

const NUL_MESSAGE: &str = "must not contain the NUL character";

/// Asserts a 400 naming `field` whose message says the value holds NUL.
fn assert_nul(reply: &Reply, field: &str, what: &str) {
    assert_eq!(reply.status.as_u16(), 400, "{what}: {}", reply.text);
    let error = reply.assert_bad_field(field);
    assert!(
        error["error_message"]
            .as_str()
            .is_some_and(|m| m.contains(NUL_MESSAGE)),
        "{what}: {error}"
    );
}

/// Asserts a 400 that tells the client its JSON holds a lone surrogate.
fn assert_lone_surrogate(reply: &Reply, what: &str) {
    let error = reply.assert_error(400);
    assert!(
        error["error_message"]
            .as_str()
            .is_some_and(|m| m.contains("strings must hold Unicode characters")),
        "{what}: {error}"
    );
}

/// Every string field of a create body, with a NUL in its value.
fn creates_with_nul() -> Vec<(Value, &'static str)> {
    let nul = "a\u{0}";
    vec![
        (json!({"code": nul}), "code"),
        (json!({"code": "\u{0}"}), "code"),
        (
            json!({"code": "ok", "id": "b4680fbe-016c-d86f-1d6b-50e5493878\u{0}c"}),
            "id",
        ),
        (json!({"code": "ok", "type": nul}), "type"),
        (
            json!({"code": "ok", "token_local": "82ddc7c68623726346a78371173e2f8\u{0}"}),
            "token_local",
        ),
        (json!({"code": "ok", "token_remote": nul}), "token_remote"),
        (json!({"code": "ok", "token_remote2": nul}), "token_remote2"),
        (json!({"code": "ok", "url": "http://a/\u{0}"}), "url"),
        (
            json!({"code": "ok", "recv_svcscriptcode": nul}),
            "recv_svcscriptcode",
        ),
        (
            json!({"code": "ok", "recv_svcscriptcode_ws": nul}),
            "recv_svcscriptcode_ws",
        ),
        (
            json!({"code": "ok", "send_svcscriptcode": nul}),
            "send_svcscriptcode",
        ),
        (
            json!({"code": "ok", "send_svcscriptcode_ws": nul}),
            "send_svcscriptcode_ws",
        ),
        (json!({"code": "ok", "opts": {"title": nul}}), "opts.title"),
        (
            json!({"code": "ok", "opts": {"comment": nul}}),
            "opts.comment",
        ),
    ]
}

on_both_backends! {
    async fn lookup_keys_holding_nul_are_400s_naming_the_key(app) {
        // Arrange: a point whose code and token the keys start like, so that
        // a key that reached the database could match or fail there.
        let point = app.create(json!({"code": "a"})).await;
        let token = point["token_local"].as_str().expect("a token").to_owned();
        let cases = [
            (json!("a\u{0}b"), "key"),
            (json!("\u{0}"), "key"),
            (json!({"code": "a\u{0}"}), "code"),
            (json!({"token_local": format!("{}\u{0}", &token[..31])}), "token_local"),
            (json!({"token_local": format!("{token}\u{0}")}), "token_local"),
            (json!({"id": format!("{}\u{0}", point["id"].as_str().unwrap_or_default())}), "id"),
        ];

        for (body, field) in cases {
            // Act
            let lookup = app.request("LOOKUP", POINTS, Some(&body)).await;
            let alias = app.request("POST", &format!("{POINTS}/lookup"), Some(&body)).await;

            // Assert
            assert_nul(&lookup, field, &format!("LOOKUP {body}"));
            assert_nul(&alias, field, &format!("POST …/lookup {body}"));
        }
    }
}

on_both_backends! {
    async fn create_bodies_holding_nul_are_400s_naming_the_field_and_store_nothing(app) {
        for (body, field) in creates_with_nul() {
            let reply = app.request("POST", POINTS, Some(&body)).await;

            assert_nul(&reply, field, &body.to_string());
        }
        let list = app.request("GET", POINTS, None).await;
        assert_eq!(list.json(), json!([]), "nothing was created");
    }
}

on_both_backends! {
    async fn patch_bodies_holding_nul_are_400s_naming_the_field_and_change_nothing(app) {
        // Arrange
        let point = app.create(json!({"code": "before"})).await;
        let item = TestApp::item(point["id"].as_str().expect("an id"));
        let mut cases: Vec<(Value, &str)> = creates_with_nul()
            .into_iter()
            .map(|(mut body, field)| {
                if field != "code"
                    && let Some(object) = body.as_object_mut()
                {
                    object.remove("code");
                }
                (body, field)
            })
            .collect();
        cases.push((json!({"ext": {"ct": "2019-08-28T13:34:16.427Z\u{0}"}}), "ext.ct"));
        cases.push((json!({"ext": {"lwt": "\u{0}"}}), "ext.lwt"));

        for (body, field) in cases {
            // Act
            let reply = app.request("PATCH", &item, Some(&body)).await;

            // Assert
            assert_nul(&reply, field, &body.to_string());
        }
        let after = app.request("GET", &item, None).await;
        assert_eq!(after.json(), point, "nothing changed");
    }
}

on_both_backends! {
    async fn filter_operands_holding_nul_are_400s_naming_the_filter(app) {
        app.create(json!({"code": "a"})).await;
        let id = "b4680fbe-016c-d86f-1d6b-50e54938780c";
        let filters = [
            json!({"code": "a\u{0}"}),
            json!({"opts": {"title": "\u{0}"}}),
            json!({"code": {"eq": "a\u{0}"}}),
            json!({"code": {"ne": "a\u{0}"}}),
            json!({"code": {"gt": "\u{0}"}}),
            json!({"code": {"in": ["a", "a\u{0}"]}}),
            json!({"token_local": {"nin": ["\u{0}"]}}),
            json!({"code": {"like": "a\u{0}%"}}),
            json!({"opts.comment": {"ilike": "%\u{0}"}}),
            json!({"id": format!("{id}\u{0}")}),
            json!({"id": {"in": [id, format!("{id}\u{0}")]}}),
            json!({"ext.ct": {"gte": "2019-08-28T13:34:16Z\u{0}"}}),
            json!({"$or": [{"code": "x"}, {"code": "a\u{0}"}]}),
            json!({"$and": [{"type": "public"}, {"url": {"like": "\u{0}"}}]}),
            json!({"$not": {"opts": {"title": "\u{0}"}}}),
            json!({"$not": {"$or": [{"$and": [{"code": {"in": ["\u{0}"]}}]}]}}),
        ];

        for filter in filters {
            // Act
            let reply = app
                .request("GET", &format!("{POINTS}?filter={}", urlencode(&filter.to_string())), None)
                .await;

            // Assert
            assert_nul(&reply, "filter", &filter.to_string());
        }
    }
}

on_both_backends! {
    async fn a_nul_in_the_path_is_a_400_naming_it(app) {
        // Arrange
        let point = app.create(json!({"code": "a"})).await;
        let id = point["id"].as_str().expect("an id");
        let with_nul = TestApp::item(&format!("{}%00", &id[..35]));
        let after_id = TestApp::item(&format!("{id}%00"));
        let cases = [
            ("GET", with_nul.clone(), "id"),
            ("GET", after_id.clone(), "id"),
            ("PATCH", with_nul.clone(), "id"),
            ("DELETE", after_id.clone(), "id"),
            ("POST", format!("{with_nul}/rotate_token"), "id"),
            ("GET", format!("{POINTS}%00"), "path"),
            ("POST", format!("{POINTS}/look%00up"), "path"),
            ("GET", "/health/live%00".to_owned(), "path"),
        ];

        for (method, path, field) in cases {
            // Act
            let body = (method == "PATCH").then(|| json!({}));
            let reply = app.request(method, &path, body.as_ref()).await;

            // Assert
            assert_nul(&reply, field, &format!("{method} {path}"));
        }
        let after = app.request("GET", &TestApp::item(id), None).await;
        assert_eq!(after.json(), point, "nothing changed");
    }
}

on_both_backends! {
    async fn a_nul_in_any_query_parameter_is_a_400_naming_it(app) {
        // Arrange
        let point = app.create(json!({"code": "a"})).await;
        let item = TestApp::item(point["id"].as_str().expect("an id"));
        let cases = [
            ("GET", format!("{POINTS}?mask=id%00"), "mask"),
            ("GET", format!("{POINTS}?order=code%00"), "order"),
            ("GET", format!("{POINTS}?order=%5B%7B%22code%22%3A%22asc%00%22%7D%5D"), "order"),
            ("GET", format!("{POINTS}?flat=true%00"), "flat"),
            ("GET", format!("{POINTS}?limit=1%00"), "limit"),
            ("GET", format!("{POINTS}?offset=%000"), "offset"),
            ("GET", format!("{POINTS}?filter=%7B%22code%22%3A%22a%00%22%7D"), "filter"),
            ("GET", format!("{POINTS}?unknown=%00"), "unknown"),
            ("GET", format!("{item}?mask=code&flat=%00"), "flat"),
            ("PATCH", format!("{item}?mask=%00"), "mask"),
            ("POST", format!("{item}/rotate_token?mask=id%00"), "mask"),
        ];

        for (method, path, field) in cases {
            // Act
            let body = (method == "PATCH").then(|| json!({"code": "changed"}));
            let reply = app.request(method, &path, body.as_ref()).await;

            // Assert
            assert_nul(&reply, field, &format!("{method} {path}"));
        }
        let after = app.request("GET", &item, None).await;
        assert_eq!(after.json(), point, "nothing changed");
    }
}

on_both_backends! {
    async fn lone_surrogate_escapes_are_400s_saying_so(app) {
        // Arrange
        let point = app.create(json!({"code": "a"})).await;
        let item = TestApp::item(point["id"].as_str().expect("an id"));
        let bodies = [
            ("POST", POINTS.to_owned(), r#"{"code": "\ud800"}"#),
            ("POST", POINTS.to_owned(), r#"{"code": "ok", "opts": {"title": "x\udfff"}}"#),
            ("PATCH", item.clone(), r#"{"url": "http://a/\udc00\ud800"}"#),
            ("LOOKUP", POINTS.to_owned(), r#""\ud800""#),
            ("POST", format!("{POINTS}/lookup"), r#"{"code": "\ud83dx"}"#),
        ];

        for (method, path, raw) in bodies {
            // Act
            let reply = app.request_raw(method, &path, "application/json", raw).await;

            // Assert
            assert_lone_surrogate(&reply, &format!("{method} {path} {raw}"));
        }
        let filter = app
            .request("GET", &format!("{POINTS}?filter={}", urlencode(r#"{"code": "\ud800"}"#)), None)
            .await;
        assert_lone_surrogate(&filter, "filter");
        assert_eq!(filter.json()["error_details"]["field"], json!("filter"));
        let paired = app
            .request_raw("POST", POINTS, "application/json", r#"{"code": "\ud83d\ude00"}"#)
            .await;
        assert_eq!(paired.status.as_u16(), 200, "a pair is one character: {}", paired.text);
        let after = app.request("GET", &item, None).await;
        assert_eq!(after.json(), point, "nothing changed");
    }
}

on_both_backends! {
    async fn invalid_utf8_in_the_path_is_a_400(app) {
        for path in [TestApp::item("%ff"), TestApp::item("%ed%a0%80")] {
            app.request("GET", &path, None).await.assert_error(400);
        }
    }
}
