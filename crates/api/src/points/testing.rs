//! Help for the tests of this crate and of the service's end-to-end tests
//! (feature `testing`, a dev-dependency only): expected representations
//! built from the field table rather than written out in full.

use domain::integration_point::{Access, Field, FieldDefault};
use serde_json::{Map, Value, json};

/// `body` with the field table's default in every field a client sets and
/// left out, as a create fills them in: the expected representation of a
/// point created from `body`, beside what the server generates, without
/// restating the list of fields.
///
/// # Panics
/// When `body`, or a group in it, is not a JSON object: a test's own mistake.
pub fn with_defaults(mut body: Value) -> Value {
    for field in Field::ALL {
        let default = match field.default_value() {
            FieldDefault::Text(text) => json!(text),
            FieldDefault::Bool(value) => json!(value),
            FieldDefault::Required | FieldDefault::Generated => continue,
        };
        if field.access() != Access::Client {
            continue;
        }
        let object = match field.group() {
            None => &mut body,
            Some(group) => body
                .as_object_mut()
                .expect("a point is an object")
                .entry(group.name())
                .or_insert_with(|| Value::Object(Map::new())),
        };
        object
            .as_object_mut()
            .expect("a group is an object")
            .entry(field.key())
            .or_insert(default);
    }
    body
}
