//! PATCH semantics and conditional writes.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{POINTS, TestApp};
use crate::on_both_backends;

on_both_backends! {
    async fn opts_merge_key_by_key(app) {
        let point = app.create(json!({"code": "A", "opts": {"title": "t", "comment": "c", "issync": true}})).await;
        let path = TestApp::item(point["id"].as_str().expect("id"));

        let body = app.request("PATCH", &path, Some(&json!({"opts": {"title": "x"}}))).await.json();

        let mut expected = point["opts"].clone();
        expected["title"] = json!("x");
        assert_eq!(body["opts"], expected);
        assert_eq!((&point["opts"]["comment"], &point["opts"]["issync"]), (&json!("c"), &json!(true)));
    }
}

on_both_backends! {
    async fn a_patch_of_what_was_read_is_a_no_op(app) {
        let point = app.create(json!({"code": "A"})).await;
        let path = TestApp::item(point["id"].as_str().expect("id"));
        let etag = app.request("GET", &path, None).await.header("etag").map(str::to_owned);

        for body in [json!({}), point.clone(), json!({"ext": {"ct": point["ext"]["ct"]}})] {
            let reply = app.request("PATCH", &path, Some(&body)).await;
            assert_eq!(reply.status, StatusCode::OK, "{body}: {}", reply.text);
            assert_eq!(reply.json(), point, "nothing moved for {body}");
            assert_eq!(reply.header("etag").map(str::to_owned), etag, "the ETag stays for {body}");
        }
    }
}

on_both_backends! {
    async fn read_only_fields_may_only_be_sent_with_their_current_values(app) {
        let point = app.create(json!({"code": "A"})).await;
        let path = TestApp::item(point["id"].as_str().expect("id"));

        let cases = [
            (json!({"id": "a188288e-016c-d86f-cd99-50e54938780c"}), "id"),
            (json!({"token_local": "00000000000000000000000000000000"}), "token_local"),
            (json!({"ext": {"ct": "2001-01-01T00:00:00.000Z"}}), "ext.ct"),
            (json!({"ext": {"lwt": "2001-01-01T00:00:00.000Z"}}), "ext.lwt"),
            (json!({"code": "B", "token_local": "00000000000000000000000000000000"}), "token_local"),
        ];
        for (body, field) in cases {
            app.request("PATCH", &path, Some(&body)).await.assert_bad_field(field);
        }
        assert_eq!(app.request("GET", &path, None).await.json(), point, "nothing changed");
    }
}

on_both_backends! {
    async fn invalid_patches_are_400s_naming_the_field(app) {
        let point = app.create(json!({"code": "A"})).await;
        let path = TestApp::item(point["id"].as_str().expect("id"));

        let cases = [
            (json!({"code": ""}), "code"),
            (json!({"code": null}), "code"),
            (json!({"type": "Bad"}), "type"),
            (json!({"url": "nope"}), "url"),
            (json!({"opts": {"title": null}}), "opts.title"),
            (json!({"bogus": 1}), "bogus"),
        ];
        for (body, field) in cases {
            app.request("PATCH", &path, Some(&body)).await.assert_bad_field(field);
        }
        assert_eq!(app.request("GET", &path, None).await.json(), point, "nothing changed");
    }
}

on_both_backends! {
    async fn patching_the_code_to_a_taken_one_is_a_409(app) {
        app.create(json!({"code": "A"})).await;
        let b = app.create(json!({"code": "B"})).await;

        let reply = app
            .request("PATCH", &TestApp::item(b["id"].as_str().expect("id")), Some(&json!({"code": "A"})))
            .await;

        let error = reply.assert_error(409);
        assert_eq!(error["error_details"]["field"], "code");
    }
}

on_both_backends! {
    async fn if_match_guards_patch_delete_and_rotate(app) {
        let point = app.create(json!({"code": "A"})).await;
        let path = TestApp::item(point["id"].as_str().expect("id"));
        let first = app.request("GET", &path, None).await.header("etag").expect("etag").to_owned();
        let second = app
            .request_with("PATCH", &path, Some(&json!({"opts": {"title": "1"}})), &[("if-match", &first)])
            .await;
        assert_eq!(second.status, StatusCode::OK, "{}", second.text);
        let current = second.header("etag").expect("etag").to_owned();
        assert_ne!(current, first, "a write moves the ETag");

        for (method, suffix) in [("PATCH", ""), ("DELETE", ""), ("POST", "/rotate_token")] {
            let body = (method == "PATCH").then(|| json!({"opts": {"title": "stale"}}));
            let reply = app
                .request_with(method, &format!("{path}{suffix}"), body.as_ref(), &[("if-match", &first)])
                .await;
            reply.assert_error(412);
        }
        let unchanged = app.request("GET", &path, None).await;
        assert_eq!(unchanged.json()["opts"]["title"], "1");
        assert_eq!(unchanged.header("etag"), Some(current.as_str()));

        let star = app.request_with("DELETE", &path, None, &[("if-match", "*")]).await;
        assert_eq!(star.status, StatusCode::NO_CONTENT);
    }
}

on_both_backends! {
    async fn if_none_match_answers_304_while_the_point_is_unchanged(app) {
        let point = app.create(json!({"code": "A"})).await;
        let path = TestApp::item(point["id"].as_str().expect("id"));
        let etag = app.request("GET", &path, None).await.header("etag").expect("etag").to_owned();

        let cached = app.request_with("GET", &path, None, &[("if-none-match", &etag)]).await;
        assert_eq!(cached.status, StatusCode::NOT_MODIFIED);
        assert_eq!(cached.text, "");

        app.request("PATCH", &path, Some(&json!({"url": "http://x.org"}))).await;
        let fresh = app.request_with("GET", &path, None, &[("if-none-match", &etag)]).await;
        assert_eq!(fresh.status, StatusCode::OK);
    }
}

on_both_backends! {
    async fn a_point_can_be_imported_with_its_id_and_token(app) {
        let body = json!({"code": "imported", "id": "A188288E-016C-D86F-CD99-50E54938780C", "token_local": "82ddc7c68623726346a78371173e2f8d"});

        let point = app.create(body).await;

        assert_eq!(point["id"], "a188288e-016c-d86f-cd99-50e54938780c", "ids are returned lowercase");
        assert_eq!(point["token_local"], "82ddc7c68623726346a78371173e2f8d");
        let found = app.request("LOOKUP", POINTS, Some(&json!("82ddc7c68623726346a78371173e2f8d"))).await;
        assert_eq!(found.json(), json!(["a188288e-016c-d86f-cd99-50e54938780c"]));
    }
}
