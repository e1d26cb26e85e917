//! Every example of the source document, as it shows them.

use api::testing::with_defaults;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{POINTS, TestApp};
use crate::on_both_backends;

const ID: &str = "b4680fbe-016c-d86f-1d6b-50e54938780c";
const TOKEN: &str = "82ddc7c68623726346a78371173e2f8d";

fn example_body() -> Value {
    json!({
        "id": ID,
        "code": "ABCDE",
        "type": "public",
        "token_local": TOKEN,
        "token_remote": "",
        "token_remote2": "",
        "url": "http://trapper.com",
        "recv_svcscriptcode": "ws_hook",
        "recv_svcscriptcode_ws": "",
        "send_svcscriptcode": "send_to_web",
        "send_svcscriptcode_ws": "",
        "opts": {"title": "", "comment": "", "allow_files_api": false, "issync": false}
    })
}

/// The representation without the server's timestamps, for comparisons.
fn without_ext(mut point: Value) -> Value {
    point.as_object_mut().expect("an object").remove("ext");
    point
}

fn assert_timestamp(value: &Value) {
    let text = value.as_str().expect("a string timestamp");
    assert_eq!(text.len(), "2019-08-28T13:34:16.427Z".len(), "{text}");
    assert!(text.ends_with('Z') && text.as_bytes()[19] == b'.', "{text}");
}

on_both_backends! {
    async fn create_answers_200_with_the_resource_and_its_location(app) {
        let reply = app.request("POST", POINTS, Some(&example_body())).await;

        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        let body = reply.json();
        assert_eq!(without_ext(body.clone()), with_defaults(example_body()));
        assert_timestamp(&body["ext"]["ct"]);
        assert_eq!(body["ext"]["ct"], body["ext"]["lwt"]);
        assert_eq!(reply.header("location"), Some(format!("{POINTS}/{ID}").as_str()));
        assert!(reply.header("etag").is_some_and(|t| t.starts_with('"')));
        assert!(reply.text.starts_with(r#"{"id":"#), "the contract's key order: {}", reply.text);
    }
}

on_both_backends! {
    async fn create_with_only_a_code_fills_in_every_default(app) {
        let body = app.create(json!({"code": "902"})).await;

        assert_eq!(body["code"], "902");
        assert_eq!(body["type"], "public");
        assert_eq!(body["url"], "");
        assert_eq!(body["opts"], with_defaults(json!({}))["opts"]);
        let token = body["token_local"].as_str().expect("a token");
        assert!(token.len() == 32 && token.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
        let id = body["id"].as_str().expect("an id");
        assert_eq!(&id[14..15], "7", "a new id is a UUIDv7: {id}");
    }
}

on_both_backends! {
    async fn list_with_offset_0_and_limit_2_returns_two_points(app) {
        app.create(example_body()).await;
        app.create(json!({"code": "902", "type": "telegram", "url": "http://trapper.com"})).await;
        app.create(json!({"code": "903"})).await;

        let reply = app.request("GET", &format!("{POINTS}?offset=0&limit=2"), None).await;

        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        let list = reply.json();
        let codes: Vec<_> = list.as_array().expect("an array").iter().map(|p| p["code"].clone()).collect();
        assert_eq!(codes, [json!("ABCDE"), json!("902")], "creation order");
        assert_eq!(list[0]["opts"]["comment"], "", "every opts key is present");
        assert_eq!(reply.header("x-total-count"), Some("3"));
    }
}

on_both_backends! {
    async fn get_returns_the_point(app) {
        let created = app.create(example_body()).await;

        let reply = app.request("GET", &TestApp::item(ID), None).await;

        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(reply.json(), created);
        assert!(reply.header("etag").is_some());
    }
}

on_both_backends! {
    async fn patch_of_token_remote_returns_the_updated_point(app) {
        let created = app.create(example_body()).await;
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;

        let reply = app
            .request("PATCH", &TestApp::item(ID), Some(&json!({"token_remote": "00ea293c29f9dc30"})))
            .await;

        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        let body = reply.json();
        assert_eq!(body["token_remote"], "00ea293c29f9dc30");
        assert_eq!(body["token_local"], TOKEN, "token_local never changes by PATCH");
        assert_eq!(body["ext"]["ct"], created["ext"]["ct"]);
        assert!(body["ext"]["lwt"].as_str() > created["ext"]["lwt"].as_str(), "lwt moved");
        let again = app.request("GET", &TestApp::item(ID), None).await.json();
        assert_eq!(again, body, "the change is stored");
    }
}

on_both_backends! {
    async fn delete_answers_204_with_no_body_and_the_point_is_gone(app) {
        app.create(example_body()).await;

        let reply = app.request("DELETE", &TestApp::item(ID), None).await;

        assert_eq!(reply.status, StatusCode::NO_CONTENT);
        assert_eq!(reply.text, "");
        app.request("GET", &TestApp::item(ID), None).await.assert_error(404);
    }
}

on_both_backends! {
    async fn lookup_by_token_answers_the_id(app) {
        app.create(example_body()).await;

        let reply = app.request_raw("LOOKUP", POINTS, "application/json; charset=utf-8", format!("\"{TOKEN}\"")).await;

        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        assert_eq!(reply.json(), json!([ID]));
    }
}

on_both_backends! {
    async fn lookup_by_code_id_and_the_post_alias_answer_the_id(app) {
        app.create(example_body()).await;

        for body in [json!("ABCDE"), json!(ID), json!({"code": "ABCDE"}), json!({"token_local": TOKEN}), json!({"id": ID})] {
            let via_method = app.request("LOOKUP", POINTS, Some(&body)).await;
            let via_alias = app.request("POST", &format!("{POINTS}/lookup"), Some(&body)).await;
            assert_eq!(via_method.json(), json!([ID]), "LOOKUP {body}");
            assert_eq!(via_alias.json(), json!([ID]), "POST /lookup {body}");
        }
    }
}

on_both_backends! {
    async fn lookup_without_a_match_answers_the_exact_404_body(app) {
        app.create(example_body()).await;

        for body in [json!("nothing"), json!(""), json!({"id": "not-a-uuid"}), json!({"code": TOKEN})] {
            let reply = app.request("LOOKUP", POINTS, Some(&body)).await;
            assert_eq!(reply.status, StatusCode::NOT_FOUND, "{body}");
            assert_eq!(reply.json(), json!({"error_code": 1404, "error_message": "Lookup failed"}), "{body}");
        }
    }
}

on_both_backends! {
    async fn rotate_token_gives_a_fresh_token_and_only_it_is_found(app) {
        app.create(example_body()).await;

        let reply = app.request("POST", &format!("{}/rotate_token", TestApp::item(ID)), None).await;

        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        let new_token = reply.json()["token_local"].as_str().expect("a token").to_owned();
        assert_ne!(new_token, TOKEN);
        assert_eq!(app.request("LOOKUP", POINTS, Some(&json!(new_token))).await.json(), json!([ID]));
        app.request("LOOKUP", POINTS, Some(&json!(TOKEN))).await.assert_error(404);
    }
}
