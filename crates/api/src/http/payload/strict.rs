//! A deserializer over a parsed JSON value that gives structs only objects.
//!
//! serde's derived structs also accept an array of their fields in order, so
//! `["ABCDE"]` would create a point and `"opts": ["t", "c", true, false]` would
//! set its options. The contract makes a value of the wrong JSON type a 400,
//! so here a struct is read from an object or not at all; everything else is
//! read as `serde_json::Value` reads it.

use serde::de::value::{MapDeserializer, SeqDeserializer};
use serde::de::{self, IntoDeserializer, Unexpected, Visitor};
use serde::forward_to_deserialize_any;
use serde_json::{Error, Value};

/// A JSON value to deserialise from, with structs read only from objects.
pub(super) struct Strict(pub(super) Value);

impl<'de> IntoDeserializer<'de, Error> for Strict {
    type Deserializer = Self;

    fn into_deserializer(self) -> Self {
        self
    }
}

impl<'de> de::Deserializer<'de> for Strict {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            Value::Object(map) => visit_object(map, visitor),
            Value::Array(items) => {
                let mut seq = SeqDeserializer::new(items.into_iter().map(Strict));
                let value = visitor.visit_seq(&mut seq)?;
                seq.end()?;
                Ok(value)
            }
            scalar => scalar.deserialize_any(visitor),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        match self.0 {
            Value::Object(map) => visit_object(map, visitor),
            other => Err(de::Error::invalid_type(unexpected(&other), &visitor)),
        }
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct newtype_struct seq tuple tuple_struct
        map enum identifier ignored_any
    }
}

fn visit_object<'de, V: Visitor<'de>>(
    map: serde_json::Map<String, Value>,
    visitor: V,
) -> Result<V::Value, Error> {
    let mut entries =
        MapDeserializer::new(map.into_iter().map(|(key, value)| (key, Strict(value))));
    let value = visitor.visit_map(&mut entries)?;
    entries.end()?;
    Ok(value)
}

fn unexpected(value: &Value) -> Unexpected<'_> {
    match value {
        Value::Null => Unexpected::Unit,
        Value::Bool(b) => Unexpected::Bool(*b),
        Value::Number(_) => Unexpected::Other("number"),
        Value::String(s) => Unexpected::Str(s),
        Value::Array(_) => Unexpected::Seq,
        Value::Object(_) => Unexpected::Map,
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, PartialEq, Deserialize)]
    struct Pair {
        a: String,
        b: Option<bool>,
    }

    fn pair(json: Value) -> Result<Pair, Error> {
        Pair::deserialize(Strict(json))
    }

    #[test]
    fn structs_are_read_from_objects() {
        let read = pair(serde_json::json!({"a": "x", "b": true}));
        assert_eq!(
            read.ok(),
            Some(Pair {
                a: "x".into(),
                b: Some(true)
            })
        );
    }

    #[test]
    fn structs_are_not_read_from_arrays() {
        let error = pair(serde_json::json!(["x", true])).expect_err("an array is not a struct");
        assert!(
            error.to_string().starts_with("invalid type: sequence"),
            "{error}"
        );
    }

    #[test]
    fn nested_structs_are_not_read_from_arrays_either() {
        #[derive(Debug, Deserialize)]
        struct Outer {
            #[serde(rename = "inner")]
            _inner: Pair,
        }
        let result = Outer::deserialize(Strict(serde_json::json!({"inner": ["x", null]})));
        assert!(result.is_err());
    }

    #[test]
    fn null_is_none_for_options_and_scalars_read_as_usual() {
        let read = pair(serde_json::json!({"a": "x", "b": null}));
        assert_eq!(
            read.ok(),
            Some(Pair {
                a: "x".into(),
                b: None
            })
        );
        assert!(pair(serde_json::json!({"a": 1})).is_err());
    }
}
