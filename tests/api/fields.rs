//! Every field of the field table through every layer, end to end: create,
//! get, filter with each operator its kind takes, order both ways, mask,
//! flat, patch and the change feed. A field that a layer misses (a DTO, the
//! mapper, a column, the trigger's column list, the renderer) fails here,
//! with its path in the message.

use domain::integration_point::{Access, Field, FieldKind, Operator};
use reqwest::StatusCode;
use serde_json::{Map, Value, json};

use crate::helpers::{POINTS, Reply, TestApp, urlencode};
use crate::on_both_backends;

/// Values a client may give a field: the first point's, the second's (above
/// the first in the field's order, and different from it for `ilike`), and
/// one to patch the first point to. `None` for what only the server sets.
///
/// One arm per field and no catch-all: a new field does not compile here
/// until it has values to walk with.
fn samples(field: Field) -> Option<[Value; 3]> {
    let text = |a: &str, b: &str, c: &str| Some([json!(a), json!(b), json!(c)]);
    match field {
        Field::Id => text(
            "0193a0b4-7c1e-7a3b-9c1d-000000000001",
            "0193a0b4-7c1e-7a3b-9c1d-000000000002",
            "0193a0b4-7c1e-7a3b-9c1d-000000000001",
        ),
        Field::Code => text("walk_a", "walk_b", "walk_c"),
        Field::Type => text("alpha", "beta", "gamma"),
        Field::TokenLocal => text(
            "0000000000000000000000000000000a",
            "0000000000000000000000000000000b",
            "0000000000000000000000000000000a",
        ),
        Field::TokenRemote => text("remote_a", "remote_b", "remote_c"),
        Field::TokenRemote2 => text("second_a", "second_b", "second_c"),
        Field::Url => text(
            "http://a.example/hook",
            "https://b.example/hook",
            "https://c.example/",
        ),
        Field::RecvSvcscriptcode => text("recv_a", "recv_b", "recv_c"),
        Field::RecvSvcscriptcodeWs => text("recv_ws_a", "recv_ws_b", "recv_ws_c"),
        Field::SendSvcscriptcode => text("send_a", "send_b", "send_c"),
        Field::SendSvcscriptcodeWs => text("send_ws_a", "send_ws_b", "send_ws_c"),
        Field::OptsTitle => text("Title a", "Title b", "Title c"),
        Field::OptsComment => text("comment a", "comment b", "comment c"),
        Field::OptsAllowFilesApi | Field::OptsIssync => {
            Some([json!(false), json!(true), json!(true)])
        }
        Field::ExtCt | Field::ExtLwt => None,
    }
}

/// The value of `field` in a nested representation.
fn nested(point: &Value, field: Field) -> &Value {
    match field.group() {
        None => &point[field.key()],
        Some(group) => &point[group.name()][field.key()],
    }
}

/// Sets `field` to `value` in a nested body.
fn put(body: &mut Map<String, Value>, field: Field, value: Value) {
    match field.group() {
        None => {
            body.insert(field.key().to_owned(), value);
        }
        Some(group) => {
            let members = body
                .entry(group.name())
                .or_insert_with(|| json!({}))
                .as_object_mut()
                .expect("a group is an object");
            members.insert(field.key().to_owned(), value);
        }
    }
}

/// A create body with the `which`-th sample of every field a client may set.
fn create_body(which: usize) -> Value {
    let mut body = Map::new();
    for field in Field::ALL {
        if let Some(values) = samples(field) {
            put(&mut body, field, values[which].clone());
        }
    }
    Value::Object(body)
}

async fn list(app: &TestApp, params: &[(&str, &str)]) -> Vec<Value> {
    let query: String = params
        .iter()
        .map(|(k, v)| format!("{k}={}", urlencode(v)))
        .collect::<Vec<_>>()
        .join("&");
    let reply = app.request("GET", &format!("{POINTS}?{query}"), None).await;
    assert_eq!(reply.status, StatusCode::OK, "{query}: {}", reply.text);
    reply.json().as_array().expect("an array").clone()
}

fn ids(points: &[Value]) -> Vec<&str> {
    points
        .iter()
        .map(|p| p["id"].as_str().expect("an id"))
        .collect()
}

/// A `like` pattern that matches exactly `text`.
fn escaped(text: &str) -> String {
    text.chars().fold(String::new(), |mut out, c| {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
        out
    })
}

/// The operand of `op` built from the two points' values, and which of the
/// two points it selects (`[first, second]`).
fn case(op: Operator, kind: FieldKind, a: &Value, b: &Value) -> (Value, [bool; 2]) {
    let text = |v: &Value| v.as_str().expect("a text value").to_owned();
    match op {
        Operator::Eq => (a.clone(), [true, false]),
        Operator::Ne => (a.clone(), [false, true]),
        Operator::Lt => (b.clone(), [true, false]),
        Operator::Lte => (a.clone(), [true, false]),
        Operator::Gt => (a.clone(), [false, true]),
        Operator::Gte => (b.clone(), [false, true]),
        Operator::In => (json!([b]), [false, true]),
        Operator::Nin => (json!([b]), [true, false]),
        Operator::Like => (json!(escaped(&text(a))), [true, false]),
        Operator::Ilike => {
            assert_eq!(kind, FieldKind::Text, "ilike applies to text only");
            (json!(escaped(&text(a)).to_uppercase()), [true, false])
        }
    }
}

on_both_backends! {
    async fn every_field_of_the_table_goes_through_every_layer(app) {
        // Arrange: the feed's position before anything is written, and two
        // points that differ in every field.
        let revision = app
            .request("GET", POINTS, None)
            .await
            .header("x-revision")
            .expect("X-Revision")
            .to_owned();
        let first = app.create(create_body(0)).await;
        // Distinct creation times, so that `ext.*` order the two as well.
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        let second = app.create(create_body(1)).await;
        let points = [&first, &second];
        let all_ids = [first["id"].as_str().expect("an id"), second["id"].as_str().expect("an id")];
        let mut read = Vec::new();
        for id in all_ids {
            let reply = app.request("GET", &TestApp::item(id), None).await;
            assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
            read.push(reply.json());
        }

        for field in Field::ALL {
            let path = field.path();

            // Create and get: what was sent is what is stored and read back.
            for (which, point) in points.into_iter().enumerate() {
                let stored = nested(&read[which], field);
                assert_eq!(stored, nested(point, field), "{path}: get returns what create did");
                match samples(field) {
                    Some(values) => assert_eq!(stored, &values[which], "{path}: as sent"),
                    None => assert!(stored.is_string(), "{path}: {point}"),
                }
            }
            let (a, b) = (nested(&first, field).clone(), nested(&second, field).clone());

            // Filter: every operator the field's kind takes, nested and dotted.
            for op in Operator::ALL.into_iter().filter(|op| op.applies_to(field.kind())) {
                let (operand, selects) = case(op, field.kind(), &a, &b);
                let expected: Vec<&str> = all_ids
                    .into_iter()
                    .zip(selects)
                    .filter_map(|(id, selected)| selected.then_some(id))
                    .collect();
                let dotted = json!({ path: { op.name(): operand.clone() } }).to_string();
                let mut body = Map::new();
                put(&mut body, field, json!({ op.name(): operand }));
                let nested_filter = Value::Object(body).to_string();
                for filter in [dotted, nested_filter] {
                    let found = list(&app, &[("filter", &filter), ("order", "id")]).await;
                    assert_eq!(ids(&found), expected, "{path} {}: filter {filter}", op.name());
                }
            }

            // Order: the second point's values are above the first's.
            for (direction, expected) in [("asc", all_ids), ("desc", [all_ids[1], all_ids[0]])] {
                let order = json!([{ path: direction }]).to_string();
                let found = list(&app, &[("order", &order)]).await;
                assert_eq!(ids(&found), expected, "{path}: order {order}");
            }

            // Mask: the field alone, where the full representation has it.
            let masked = list(&app, &[("mask", path), ("order", "id")]).await;
            let mut alone = Map::new();
            put(&mut alone, field, a.clone());
            assert_eq!(masked[0], Value::Object(alone), "{path}: mask");

            // Flat: the field under its dotted path, with the same value.
            let flat = list(&app, &[("flat", "true"), ("order", "id")]).await;
            assert_eq!(flat[0][path], a, "{path}: flat");
            assert_eq!(
                flat[0].as_object().map(Map::len),
                Some(Field::ALL.len()),
                "{path}: flat has one key per field"
            );
        }

        // Patch: every field a client sets takes its new value; the others
        // may be sent back unchanged.
        let first_path = TestApp::item(all_ids[0]);
        let mut patch = Map::new();
        for field in Field::ALL {
            let value = match (field.access(), samples(field)) {
                (Access::Client, Some(values)) => values[2].clone(),
                (Access::Client, None) => panic!("{}: a client field needs samples", field.path()),
                (Access::CreateOnly | Access::ServerOnly, _) => nested(&first, field).clone(),
            };
            put(&mut patch, field, value);
        }
        let patched: Reply = app.request("PATCH", &first_path, Some(&Value::Object(patch.clone()))).await;
        assert_eq!(patched.status, StatusCode::OK, "{}", patched.text);
        let patched = patched.json();
        for field in Field::ALL.into_iter().filter(|f| f.access() == Access::Client) {
            let expected = samples(field).map(|values| values[2].clone());
            assert_eq!(Some(nested(&patched, field)), expected.as_ref(), "{}: patch", field.path());
        }

        // The change feed: each change carries the whole point as written.
        // Read as a client does, page after page: a change is handed out
        // only once no older transaction can still commit, and a test
        // sharing the database may hold one open for a while.
        let expected = [&first, &second, &patched];
        let mut changes = Vec::new();
        let mut since = revision;
        let started = std::time::Instant::now();
        while changes.len() < expected.len() && started.elapsed() < std::time::Duration::from_secs(30) {
            let page = app
                .request("GET", &format!("{POINTS}/changes?since={since}&wait=5"), None)
                .await;
            assert_eq!(page.status, StatusCode::OK, "{}", page.text);
            let page = page.json();
            changes.extend(page["changes"].as_array().expect("changes").iter().cloned());
            since = page["next"].as_str().expect("next").to_owned();
        }
        let written: Vec<&Value> = changes.iter().map(|c| &c["point"]).collect();
        assert_eq!(written.len(), expected.len(), "one change per write: {changes:?}");
        for field in Field::ALL {
            for (change, (written, expected)) in written.iter().zip(expected).enumerate() {
                assert_eq!(
                    nested(written, field),
                    nested(expected, field),
                    "{}: in change {change} of the feed",
                    field.path()
                );
            }
        }
    }
}
