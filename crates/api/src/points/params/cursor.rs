//! `after`: the keyset cursor, as the opaque text a client carries from one
//! page's `Link` to the next request.
//!
//! The text is base64url (no padding) of a small JSON document, `{"order":
//! [["code", "asc"], ["id", "asc"]], "after": ["ip-1", "…"]}`: the order the
//! cursor was made for and the last point's value of each key. The domain
//! decides what is valid ([`Cursor::parse`]); here only the wire form lives.
//! Opaque means clients must not build or edit it: one that was changed is a
//! 400 when it no longer decodes or fits its order, and otherwise names
//! another position, as a filter would.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use domain::integration_point::{Cursor, Literal, QueryError, SortDirection, Value};
use serde::{Deserialize, Serialize};

use super::ParamError;

/// The JSON inside a cursor.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Wire<Key> {
    order: Vec<(String, String)>,
    after: Vec<Key>,
}

/// The text of `cursor`.
pub(crate) fn encode(cursor: &Cursor) -> String {
    let wire = Wire {
        order: cursor
            .keys()
            .iter()
            .map(|key| {
                let direction = match key.direction {
                    SortDirection::Asc => "asc",
                    SortDirection::Desc => "desc",
                };
                (key.field.path().to_owned(), direction.to_owned())
            })
            .collect(),
        after: cursor.values().iter().map(json).collect(),
    };
    // Serialising strings, booleans and pairs of strings cannot fail.
    let bytes = serde_json::to_vec(&wire).unwrap_or_default();
    URL_SAFE_NO_PAD.encode(bytes)
}

fn json(value: &Value) -> serde_json::Value {
    match value {
        Value::Id(id) => id.to_string().into(),
        Value::Text(text) => text.as_str().into(),
        Value::Bool(b) => (*b).into(),
        Value::Timestamp(t) => t.to_string().into(),
    }
}

/// Reads the text of a cursor.
///
/// # Errors
/// [`QueryError::MalformedCursor`] when it is not base64url of the JSON above,
/// or the domain rejects what it holds.
pub(crate) fn decode(raw: &str) -> Result<Cursor, ParamError> {
    let malformed = |reason| ParamError::Query(QueryError::MalformedCursor { reason });
    let bytes = URL_SAFE_NO_PAD
        .decode(raw.trim_end_matches('='))
        .map_err(|_| malformed("not base64url"))?;
    let wire: Wire<serde_json::Value> =
        serde_json::from_slice(&bytes).map_err(|_| malformed("not a cursor of this service"))?;
    let order: Vec<(&str, &str)> = wire
        .order
        .iter()
        .map(|(path, direction)| (path.as_str(), direction.as_str()))
        .collect();
    let values = wire.after.into_iter().map(literal).collect();
    Ok(Cursor::parse(&order, values)?)
}

fn literal(value: serde_json::Value) -> Literal {
    match value {
        serde_json::Value::String(s) => Literal::String(s),
        serde_json::Value::Bool(b) => Literal::Bool(b),
        serde_json::Value::Null => Literal::Other("null"),
        serde_json::Value::Number(n) => Literal::Number(n.to_string()),
        serde_json::Value::Array(_) => Literal::Other("array"),
        serde_json::Value::Object(_) => Literal::Other("object"),
    }
}

#[cfg(test)]
mod tests {
    use domain::integration_point::{Field, Sort, SortKey};

    use super::*;

    fn cursor(order: &[(&str, &str)], values: Vec<Literal>) -> Cursor {
        Cursor::parse(order, values).expect("a valid cursor")
    }

    #[test]
    fn cursors_of_every_kind_of_value_round_trip() {
        let original = cursor(
            &[
                ("opts.issync", "desc"),
                ("ext.ct", "asc"),
                ("opts.title", "asc"),
                ("id", "desc"),
            ],
            vec![
                Literal::Bool(true),
                Literal::String("2019-08-28T13:34:16.427Z".into()),
                Literal::String("é 😀 \"quoted\"".into()),
                Literal::String("b4680fbe-016c-d86f-1d6b-50e54938780c".into()),
            ],
        );

        let text = encode(&original);

        assert!(
            text.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
            "URL-safe without escaping: {text}"
        );
        assert_eq!(decode(&text), Ok(original));
    }

    #[test]
    fn text_that_is_not_a_cursor_is_malformed() {
        let valid = encode(&cursor(
            &[("id", "asc")],
            vec![Literal::String(
                "b4680fbe-016c-d86f-1d6b-50e54938780c".into(),
            )],
        ));
        let json = |text: &str| URL_SAFE_NO_PAD.encode(text);
        let cases = [
            ("not base64", "%%%".to_owned()),
            ("not JSON", json("nope")),
            (
                "another shape",
                json(r#"{"order": [], "after": [], "x": 1}"#),
            ),
            (
                "a number for an id",
                json(r#"{"order": [["id", "asc"]], "after": [7]}"#),
            ),
            ("cut short", valid[..valid.len() - 4].to_owned()),
        ];
        for (what, text) in cases {
            assert!(
                matches!(
                    decode(&text),
                    Err(ParamError::Query(QueryError::MalformedCursor { .. }))
                ),
                "{what}: {text}"
            );
        }
    }

    #[test]
    fn a_cursor_names_its_order() {
        let sort = Sort::new(vec![SortKey {
            field: Field::Code,
            direction: SortDirection::Desc,
        }])
        .expect("valid");
        let order = sort.keys();
        let decoded = decode(&encode(&cursor(
            &[("code", "desc"), ("id", "asc")],
            vec![
                Literal::String("A".into()),
                Literal::String("b4680fbe-016c-d86f-1d6b-50e54938780c".into()),
            ],
        )))
        .expect("valid");

        assert_eq!(decoded.keys(), order);
    }
}
