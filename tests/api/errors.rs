//! Bad input gets a 400 (or 404/405/409/413/415) in the contract's shape, and
//! changes nothing.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{POINTS, TestApp};
use crate::on_both_backends;

/// Create bodies that break one rule each, with the field the error must name.
fn invalid_creates() -> Vec<(Value, &'static str)> {
    vec![
        (json!({}), "code"),
        (json!({"code": ""}), "code"),
        (json!({"code": " padded"}), "code"),
        (json!({"code": "a\nb"}), "code"),
        (json!({"code": "x".repeat(129)}), "code"),
        (json!({"code": null}), "code"),
        (json!({"code": 5}), "code"),
        (json!({"code": "ok", "type": "Telegram"}), "type"),
        (json!({"code": "ok", "type": ""}), "type"),
        (
            json!({"code": "ok", "token_local": "82DDC7C68623726346A78371173E2F8D"}),
            "token_local",
        ),
        (json!({"code": "ok", "token_local": "short"}), "token_local"),
        (json!({"code": "ok", "id": "not-a-uuid"}), "id"),
        (json!({"code": "ok", "url": "trapper.com"}), "url"),
        (json!({"code": "ok", "url": "ftp://trapper.com"}), "url"),
        (
            json!({"code": "ok", "url": format!("http://a/{}", "x".repeat(2048))}),
            "url",
        ),
        (
            json!({"code": "ok", "token_remote": "x".repeat(4097)}),
            "token_remote",
        ),
        (
            json!({"code": "ok", "token_remote2": null}),
            "token_remote2",
        ),
        (
            json!({"code": "ok", "recv_svcscriptcode": "x".repeat(256)}),
            "recv_svcscriptcode",
        ),
        (
            json!({"code": "ok", "send_svcscriptcode_ws": "a\u{0}b"}),
            "send_svcscriptcode_ws",
        ),
        (
            json!({"code": "ok", "opts": {"title": "x".repeat(256)}}),
            "opts.title",
        ),
        (
            json!({"code": "ok", "opts": {"comment": "x".repeat(4097)}}),
            "opts.comment",
        ),
        (
            json!({"code": "ok", "opts": {"issync": "yes"}}),
            "opts.issync",
        ),
        (
            json!({"code": "ok", "opts": {"allow_files_api": null}}),
            "opts.allow_files_api",
        ),
        (json!({"code": "ok", "opts": null}), "opts"),
        (
            json!({"code": "ok", "opts": {"titel": "typo"}}),
            "opts.titel",
        ),
        (
            json!({"code": "ok", "tokenlocal": "82ddc7c68623726346a78371173e2f8d"}),
            "tokenlocal",
        ),
        (
            json!({"code": "ok", "ext": {"ct": "2019-08-28T13:34:16.427Z"}}),
            "ext",
        ),
    ]
}

on_both_backends! {
    async fn invalid_creates_are_400s_naming_the_field_and_store_nothing(app) {
        for (body, field) in invalid_creates() {
            let reply = app.request("POST", POINTS, Some(&body)).await;
            let error = reply.assert_bad_field(field);
            assert!(
                error["error_message"].as_str().is_some_and(|m| m.contains(field)),
                "the message names {field}: {error}"
            );
        }
        let list = app.request("GET", POINTS, None).await;
        assert_eq!(list.json(), json!([]), "nothing was created");
    }
}

on_both_backends! {
    async fn malformed_json_is_a_400(app) {
        for raw in ["{", "", "[1,2]", "\"code\"", "{\"code\": \"a\",}", "nul"] {
            let reply = app.request_raw("POST", POINTS, "application/json", raw).await;
            reply.assert_error(400);
        }
        let invalid_utf8 = app
            .request_raw("POST", POINTS, "application/json", vec![b'{', b'"', 0xff, b'"', b':', b'1', b'}'])
            .await;
        invalid_utf8.assert_error(400);
    }
}

on_both_backends! {
    async fn a_body_that_is_not_json_is_a_415(app) {
        let reply = app.request_raw("POST", POINTS, "text/plain", "{\"code\": \"a\"}").await;
        reply.assert_error(415);
        let lookup = app.request_raw("LOOKUP", POINTS, "text/plain", "\"a\"").await;
        lookup.assert_error(415);
    }
}

on_both_backends! {
    async fn a_body_over_the_limit_is_a_413(app) {
        let huge = json!({"code": "big", "opts": {"comment": "x".repeat(70 * 1024)}});
        let reply = app.request("POST", POINTS, Some(&huge)).await;
        reply.assert_error(413);
    }
}

on_both_backends! {
    async fn taken_code_id_or_token_are_409s_naming_the_field(app) {
        let first = app.create(json!({"code": "ABCDE"})).await;

        let cases = [
            (json!({"code": "ABCDE"}), "code"),
            (json!({"code": "other1", "id": first["id"]}), "id"),
            (json!({"code": "other2", "token_local": first["token_local"]}), "token_local"),
        ];
        for (body, field) in cases {
            let reply = app.request("POST", POINTS, Some(&body)).await;
            let error = reply.assert_error(409);
            assert_eq!(error["error_details"]["field"], json!(field), "{error}");
        }
        let lower = app.request("POST", POINTS, Some(&json!({"code": "abcde"}))).await;
        assert_eq!(lower.status, StatusCode::OK, "codes are case-sensitive");
    }
}

on_both_backends! {
    async fn unknown_and_malformed_ids_are_404_and_400(app) {
        let unknown = TestApp::item("b4680fbe-016c-d86f-1d6b-50e54938780c");
        app.request("GET", &unknown, None).await.assert_error(404);
        app.request("PATCH", &unknown, Some(&json!({}))).await.assert_error(404);
        app.request("DELETE", &unknown, None).await.assert_error(404);
        app.request("POST", &format!("{unknown}/rotate_token"), None).await.assert_error(404);

        let malformed = TestApp::item("not-a-uuid");
        app.request("GET", &malformed, None).await.assert_bad_field("id");
        app.request("DELETE", &malformed, None).await.assert_bad_field("id");
    }
}

on_both_backends! {
    async fn unknown_routes_are_404s_in_the_contract_shape(app) {
        app.request("GET", "/nope", None).await.assert_error(404);
        app.request("GET", &format!("{POINTS}/"), None).await.assert_error(404);
        app.request("GET", "/rest/v1/service/integration_pointz", None).await.assert_error(404);
    }
}

on_both_backends! {
    async fn other_methods_are_405s_with_an_allow_header(app) {
        let item = TestApp::item("b4680fbe-016c-d86f-1d6b-50e54938780c");
        let cases = [
            ("PUT", POINTS.to_owned(), ["GET", "POST", "LOOKUP"].as_slice()),
            ("FOO", POINTS.to_owned(), ["GET", "POST", "LOOKUP"].as_slice()),
            ("LOOKUP", item.clone(), ["GET", "PATCH", "DELETE"].as_slice()),
            ("POST", item.clone(), ["GET", "PATCH", "DELETE"].as_slice()),
            ("GET", format!("{item}/rotate_token"), ["POST"].as_slice()),
            ("GET", format!("{POINTS}/lookup"), ["POST"].as_slice()),
        ];
        for (method, path, allowed) in cases {
            let reply = app.request(method, &path, None).await;
            reply.assert_error(405);
            let allow = reply.header("allow").unwrap_or_default().to_owned();
            for m in allowed {
                assert!(allow.split(',').any(|a| a.trim() == *m), "{method} {path}: Allow {allow:?} lacks {m}");
            }
        }
    }
}

on_both_backends! {
    async fn lookup_bodies_of_the_wrong_shape_are_400s(app) {
        for raw in ["5", "[\"a\"]", "null", "{}", "{\"code\": \"a\", \"id\": \"b\"}", "{\"url\": \"a\"}", "{\"code\": 5}", "", "\"unterminated"] {
            let reply = app.request_raw("LOOKUP", POINTS, "application/json", raw).await;
            reply.assert_error(400);
            let alias = app.request_raw("POST", &format!("{POINTS}/lookup"), "application/json", raw).await;
            alias.assert_error(400);
        }
    }
}
