//! The `order` parameter: a JSON array of sort keys, or a bare field path.

use domain::integration_point::{QueryError, Sort, SortDirection, SortKey, field_from_path};
use serde_json::Value;

use super::{ParamError, Place, invalid_json, json_type};

/// Parses an order; a blank value or `[]` is the default order.
pub(super) fn parse(raw: &str) -> Result<Sort, ParamError> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(Sort::default());
    }
    let items = match serde_json::from_str(raw) {
        Ok(Value::Array(items)) => items,
        Ok(Value::String(path)) => vec![Value::String(path)],
        Ok(other) => {
            return Err(ParamError::WrongType {
                at: Place::Order,
                expected: "a JSON array of sort keys or a field path",
                found: json_type(&other),
            });
        }
        // `order=code`: a bare path is not JSON, and no path starts the way a
        // JSON array, object or string does, so a broken one of those is
        // reported as broken JSON rather than as an unknown path.
        Err(_) if !raw.starts_with(['[', '{', '"']) => {
            return Ok(Sort::new(vec![ascending(raw)?])?);
        }
        Err(error) => return Err(invalid_json("order", &error)),
    };
    // Checked before the items are looked at, so a huge array costs nothing more.
    Sort::check_key_count(items.len())?;
    let keys = items
        .into_iter()
        .map(sort_key)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Sort::new(keys)?)
}

fn ascending(path: &str) -> Result<SortKey, QueryError> {
    Ok(SortKey {
        field: field_from_path(path)?,
        direction: SortDirection::Asc,
    })
}

/// One item: `"<path>"` (ascending) or `{"<path>": "asc"|"desc"}`.
fn sort_key(item: Value) -> Result<SortKey, ParamError> {
    match item {
        Value::String(path) => Ok(ascending(&path)?),
        Value::Object(object) => {
            let keys = object.len();
            let mut entries = object.into_iter();
            let (Some((path, direction)), None) = (entries.next(), entries.next()) else {
                return Err(ParamError::SortItemKeys { keys });
            };
            let field = field_from_path(&path)?;
            let direction = match direction {
                Value::String(direction) => SortDirection::parse(&direction, &path)?,
                _ => return Err(QueryError::BadDirection { path }.into()),
            };
            Ok(SortKey { field, direction })
        }
        other => Err(ParamError::WrongType {
            at: Place::OrderItem,
            expected: r#"a field path or an object {"<path>": "asc"|"desc"}"#,
            found: json_type(&other),
        }),
    }
}

#[cfg(test)]
mod tests {
    use domain::integration_point::Field;
    use domain::integration_point::query::MAX_SORT_KEYS;
    use proptest::prelude::*;

    use super::*;

    fn key(field: Field, direction: SortDirection) -> SortKey {
        SortKey { field, direction }
    }

    fn sort(keys: Vec<SortKey>) -> Sort {
        Sort::new(keys).expect("valid sort")
    }

    fn parsed(raw: &str) -> Sort {
        parse(raw).unwrap_or_else(|e| panic!("{raw} should parse, got {e}"))
    }

    fn error(raw: &str) -> ParamError {
        match parse(raw) {
            Err(error) => error,
            Ok(sort) => panic!("{raw} should be rejected, got {sort:?}"),
        }
    }

    #[test]
    fn bare_items_sort_ascending_and_objects_take_a_direction() {
        assert_eq!(
            parsed(r#"["type", {"ext.ct": "desc"}, {"code": "asc"}]"#),
            sort(vec![
                key(Field::Type, SortDirection::Asc),
                key(Field::ExtCt, SortDirection::Desc),
                key(Field::Code, SortDirection::Asc),
            ])
        );
    }

    #[test]
    fn a_bare_path_outside_json_is_one_ascending_key() {
        assert_eq!(
            parsed("code"),
            sort(vec![key(Field::Code, SortDirection::Asc)])
        );
        assert_eq!(
            parsed(" opts.title "),
            sort(vec![key(Field::OptsTitle, SortDirection::Asc)])
        );
    }

    #[test]
    fn a_json_string_is_one_ascending_key() {
        assert_eq!(
            parsed(r#""ext.lwt""#),
            sort(vec![key(Field::ExtLwt, SortDirection::Asc)])
        );
    }

    #[test]
    fn an_empty_array_or_blank_value_is_the_default_order() {
        for raw in ["[]", "", "  "] {
            assert_eq!(parse(raw), Ok(Sort::default()), "{raw:?}");
        }
    }

    #[test]
    fn eight_keys_are_accepted_and_nine_rejected() {
        let items = |n| format!("[{}]", vec![r#""code""#; n].join(","));
        assert!(parse(&items(8)).is_ok());
        assert_eq!(
            error(&items(9)),
            ParamError::Query(QueryError::TooManySortKeys { max: 8 })
        );
    }

    #[test]
    fn unknown_paths_are_named_with_the_valid_ones() {
        for (raw, path) in [
            ("tokenlocal", "tokenlocal"),
            (r#"["code", "tokenlocal"]"#, "tokenlocal"),
            (r#"[{"opts": "asc"}]"#, "opts"),
        ] {
            assert_eq!(
                error(raw),
                ParamError::Query(QueryError::UnknownField {
                    path: path.to_owned(),
                    valid: Field::all_paths(),
                }),
                "{raw}"
            );
        }
    }

    #[test]
    fn directions_other_than_asc_and_desc_are_rejected() {
        for raw in [
            r#"[{"code": "DESC"}]"#,
            r#"[{"code": "descending"}]"#,
            r#"[{"code": -1}]"#,
            r#"[{"code": null}]"#,
        ] {
            assert_eq!(
                error(raw),
                ParamError::Query(QueryError::BadDirection {
                    path: "code".to_owned()
                }),
                "{raw}"
            );
        }
    }

    #[test]
    fn objects_must_have_exactly_one_key() {
        assert_eq!(error("[{}]"), ParamError::SortItemKeys { keys: 0 });
        assert_eq!(
            error(r#"[{"code": "asc", "type": "desc"}]"#),
            ParamError::SortItemKeys { keys: 2 }
        );
    }

    #[test]
    fn items_that_are_neither_paths_nor_objects_are_rejected() {
        for (raw, found) in [
            ("[1]", "a number"),
            ("[[\"code\"]]", "an array"),
            ("[null]", "null"),
        ] {
            assert!(
                matches!(error(raw), ParamError::WrongType { at: Place::OrderItem, found: f, .. } if f == found),
                "{raw}"
            );
        }
    }

    #[test]
    fn an_order_must_be_an_array_or_a_path() {
        for (raw, found) in [
            (r#"{"code": "asc"}"#, "an object"),
            ("true", "a boolean"),
            ("7", "a number"),
        ] {
            let error = error(raw);
            assert!(
                matches!(error, ParamError::WrongType { at: Place::Order, found: f, .. } if f == found),
                "{raw}: {error:?}"
            );
        }
    }

    #[test]
    fn broken_json_is_reported_as_json() {
        for raw in [r#"["code""#, r#"{"code": "asc""#, r#""code"#] {
            assert!(
                matches!(error(raw), ParamError::InvalidJson { param: "order", .. }),
                "{raw}"
            );
        }
    }

    proptest! {
        #[test]
        fn arbitrary_text_never_panics(raw in any::<String>()) {
            let _ = parse(&raw);
        }

        #[test]
        fn json_like_text_never_panics(raw in r#"[\[\]{}":, a-z_.0-9]{0,60}"#) {
            let _ = parse(&raw);
        }

        #[test]
        fn any_list_of_known_keys_up_to_the_limit_parses(
            keys in proptest::collection::vec(
                (proptest::sample::select(Field::ALL.to_vec()), any::<bool>()),
                0..=MAX_SORT_KEYS,
            ),
        ) {
            let items: Vec<String> = keys
                .iter()
                .map(|(field, desc)| if *desc {
                    format!(r#"{{"{}": "desc"}}"#, field.path())
                } else {
                    format!(r#""{}""#, field.path())
                })
                .collect();
            let raw = format!("[{}]", items.join(","));
            let keys = keys
                .into_iter()
                .map(|(field, desc)| key(field, if desc { SortDirection::Desc } else { SortDirection::Asc }))
                .collect();
            prop_assert_eq!(parse(&raw), Ok(sort(keys)));
        }
    }
}
