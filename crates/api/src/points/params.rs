//! Query parameters of the read operations: `filter`, `order`, `mask` and `flat`
//! (contract §3), as poem-openapi parameter types; and the `{id}` path segment.
//!
//! Each type parses what a client wrote into the domain's typed query, through
//! the domain's constructors, so the rules live in one place; here we only
//! decide how JSON maps onto them. A rejected value is a [`ParamError`] whose
//! message names the problem, which poem-openapi reports as a
//! `ParseParamError` carrying the parameter's name.

pub(crate) mod cursor;
mod filter;
mod order;

use std::borrow::Cow;
use std::fmt;
use std::sync::LazyLock;

use domain::integration_point::query::{
    MAX_FILTER_CLAUSES, MAX_FILTER_DEPTH, MAX_LIST_ITEMS, MAX_SORT_KEYS,
};
use domain::integration_point::{
    CountMode, Cursor, Field, Filter, Group, Mask, Operator, PointId, QueryError, Sort,
};
use poem_openapi::registry::{MetaSchema, MetaSchemaRef};
use poem_openapi::types::{ParseError, ParseFromParameter, ParseResult, Type};
use serde_json::Value;

use crate::http::error::ApiError;

/// Parses the `{id}` path segment; a malformed id is a 400, not a 404.
pub(crate) fn point_id(raw: &str) -> Result<PointId, ApiError> {
    PointId::parse(raw).map_err(|error| ApiError::invalid("id", format!("id: {error}")))
}

/// `filter`: a JSON object of clauses, ANDed; `None` when it has none (`{}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FilterParam(pub Option<Filter>);

/// `order`: the sort keys, always ending with the `id` tiebreak.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OrderParam(pub Sort);

/// `mask`: which fields the representation shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct MaskParam(pub Mask);

/// `flat`: whether group members become dotted top-level keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FlatParam(pub bool);

/// `count`: how the list's total is computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CountParam(pub CountMode);

/// `after`: where a keyset page starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AfterParam(pub Cursor);

impl CountParam {
    /// Parses the value of `count`: `exact`, `estimated` or `none`.
    ///
    /// # Errors
    /// [`QueryError::BadCountMode`] for anything else.
    pub(crate) fn parse(raw: &str) -> Result<Self, ParamError> {
        Ok(Self(CountMode::parse(raw)?))
    }
}

impl AfterParam {
    /// Parses the value of `after`: a cursor from a `Link` of a previous page.
    ///
    /// # Errors
    /// [`QueryError::MalformedCursor`] for text that is not such a cursor.
    pub(crate) fn parse(raw: &str) -> Result<Self, ParamError> {
        cursor::decode(raw).map(Self)
    }
}

impl FilterParam {
    /// Parses the (URL-decoded) value of `filter`; a blank value is no filter.
    ///
    /// # Errors
    /// The first problem found: invalid JSON, a JSON value of the wrong type, or
    /// a rule of the typed query, including its depth and clause limits.
    pub(crate) fn parse(raw: &str) -> Result<Self, ParamError> {
        filter::parse(raw).map(Self)
    }
}

impl OrderParam {
    /// Parses the value of `order`: a JSON array of sort keys or a bare field
    /// path; a blank value or `[]` is the default order.
    ///
    /// # Errors
    /// Invalid JSON, an item of the wrong shape, an unknown path, a direction
    /// other than `asc`/`desc`, or too many keys.
    pub(crate) fn parse(raw: &str) -> Result<Self, ParamError> {
        order::parse(raw).map(Self)
    }
}

impl MaskParam {
    /// Parses the value of `mask`: comma-separated paths and groups; a blank
    /// value shows every field.
    ///
    /// # Errors
    /// An unknown path, listing the valid ones.
    pub(crate) fn parse(raw: &str) -> Result<Self, ParamError> {
        Ok(Self(Mask::parse(raw)?))
    }
}

impl FlatParam {
    /// Parses the value of `flat`: `true`, `false`, `1` or `0`.
    ///
    /// # Errors
    /// [`ParamError::Flat`] for anything else.
    pub(crate) fn parse(raw: &str) -> Result<Self, ParamError> {
        match raw {
            "true" | "1" => Ok(Self(true)),
            "false" | "0" => Ok(Self(false)),
            _ => Err(ParamError::Flat),
        }
    }
}

/// Why a query parameter was rejected; the message is the sentence a client reads.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ParamError {
    /// A rule of the typed query: unknown path or operator, wrong operand, a limit.
    #[error(transparent)]
    Query(#[from] QueryError),
    /// Text that is not JSON where JSON is required.
    #[error("{param} is not valid JSON: {detail}")]
    InvalidJson {
        /// The parameter.
        param: &'static str,
        /// What the JSON parser found wrong, with its position.
        detail: String,
    },
    /// A JSON value of the wrong type.
    #[error("{at} must be {expected}, not {found}")]
    WrongType {
        /// Where the value was.
        at: Place,
        /// What belongs there, in words.
        expected: &'static str,
        /// The JSON type found, in words.
        found: &'static str,
    },
    /// An empty object where a filter or an operator is needed.
    #[error("{at} must not be empty")]
    Empty {
        /// Where the object was.
        at: Place,
    },
    /// A `$` key other than `$and`, `$or` and `$not`.
    #[error("unknown logical operator `{name}`; valid logical operators: $and, $or, $not")]
    UnknownLogical {
        /// What the client wrote.
        name: String,
    },
    /// An object item of `order` with other than one key.
    #[error(
        "an object in order must have exactly one key, as in {{\"<path>\": \"asc\"|\"desc\"}}, \
         not {keys}"
    )]
    SortItemKeys {
        /// How many keys it had.
        keys: usize,
    },
    /// A `flat` value other than the four accepted.
    #[error("flat must be true, false, 1 or 0")]
    Flat,
}

/// Where in a parameter a rejected value was, for the error message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Place {
    /// The whole filter.
    Filter,
    /// The operand of a logical operator (`$and`, `$or`, `$not`).
    Logical(&'static str),
    /// One filter inside `$and` or `$or`.
    LogicalItem(&'static str),
    /// The members object of a group (`{"opts": {…}}`).
    Group(Group),
    /// The operator object of a field (`{"code": {…}}`).
    Operators(Field),
    /// The whole order.
    Order,
    /// One item of the order.
    OrderItem,
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Place::Filter => f.write_str("filter"),
            Place::Logical(op) => write!(f, "`{op}`"),
            Place::LogicalItem(op) => write!(f, "each filter in `{op}`"),
            Place::Group(group) => write!(f, "`{}`", group.name()),
            Place::Operators(field) => write!(f, "the operator object of `{}`", field.path()),
            Place::Order => f.write_str("order"),
            Place::OrderItem => f.write_str("each item of order"),
        }
    }
}

/// A JSON value's type, in words, for "must be …, not …" messages.
fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn invalid_json(param: &'static str, error: &serde_json::Error) -> ParamError {
    ParamError::InvalidJson {
        param,
        detail: crate::http::payload::json_error_detail(error),
    }
}

/// The example in the description of `filter`.
const FILTER_EXAMPLE: &str = r#"{"type": "telegram", "opts": {"title": {"like": "a%"}}}"#;
/// The example in the description of `order`.
const ORDER_EXAMPLE: &str = r#"["type", {"ext.ct": "desc"}]"#;
/// The example in the description of `mask`.
const MASK_EXAMPLE: &str = "id,code,opts.title";

// Swagger UI shows a parameter's schema description: the field and
// operator lists come from the domain's tables, so they cannot drift from what
// the parsers accept.
static FILTER_DESCRIPTION: LazyLock<String> = LazyLock::new(|| {
    format!(
        "A JSON object; its clauses are ANDed. `\"<path>\": <value>` is equality; \
         `\"<path>\": {{\"<op>\": <operand>, …}}` applies operators (ANDed). \
         `\"$and\"`/`\"$or\"` take a non-empty array of filters, `\"$not\"` a filter. \
         Members of `opts` and `ext` may nest: `{{\"opts\": {{\"issync\": true}}}}`. \
         Paths: {paths}. Operators: {operators} (`in`/`nin` take an array of at most \
         {MAX_LIST_ITEMS} items; `like`/`ilike` a SQL LIKE pattern on text; booleans take \
         only `eq`/`ne`; timestamps are RFC 3339 strings). At most {MAX_FILTER_DEPTH} levels \
         of nesting and {MAX_FILTER_CLAUSES} clauses. Example: \
         `{FILTER_EXAMPLE}`.",
        paths = Field::all_paths(),
        operators = Operator::ALL.map(Operator::name).join(", "),
    )
});

static ORDER_DESCRIPTION: LazyLock<String> = LazyLock::new(|| {
    format!(
        "A JSON array of field paths (ascending) or `{{\"<path>\": \"asc\"|\"desc\"}}` \
         objects, at most {MAX_SORT_KEYS}; a bare path (`code`) is accepted too. `[]` or \
         absent: `ext.ct`, then `id`. Results are always finally ordered by `id`. \
         Paths: {paths}. Example: `{ORDER_EXAMPLE}`.",
        paths = Field::all_paths(),
    )
});

static MASK_DESCRIPTION: LazyLock<String> = LazyLock::new(|| {
    format!(
        "Comma-separated field paths or groups to return, keeping the nesting; absent or \
         empty: every field. Valid: {paths}, {groups}. Example: `{MASK_EXAMPLE}`.",
        paths = Field::all_paths(),
        groups = Group::ALL.map(Group::name).join(", "),
    )
});

// No schema here has an `example`: Swagger UI would fill every operation's
// parameter with it (a `mask` on create, a `filter` that matches nothing), so
// examples are given in words, and the list's runnable ones by the document
// module.
fn filter_schema() -> MetaSchema {
    MetaSchema {
        description: Some(FILTER_DESCRIPTION.as_str()),
        ..MetaSchema::new("string")
    }
}

fn order_schema() -> MetaSchema {
    MetaSchema {
        description: Some(ORDER_DESCRIPTION.as_str()),
        ..MetaSchema::new("string")
    }
}

fn mask_schema() -> MetaSchema {
    MetaSchema {
        description: Some(MASK_DESCRIPTION.as_str()),
        ..MetaSchema::new("string")
    }
}

fn flat_schema() -> MetaSchema {
    MetaSchema {
        description: Some(
            "`true` (or `1`) turns group members into dotted top-level keys \
             (`\"opts.title\"`); `false` (or `0`, the default) keeps them nested.",
        ),
        enum_items: ["true", "false", "1", "0"].map(Value::from).to_vec(),
        ..MetaSchema::new("string")
    }
}

fn count_schema() -> MetaSchema {
    MetaSchema {
        description: Some(
            "How `X-Total-Count` is computed. `exact`: a true count, whatever it costs (it \
             reads every matching row). `estimated` (the default): exact while at most \
             `list.exact_count_max` points match (1000 unless configured otherwise; the \
             service counts no further), above that PostgreSQL's planner estimate, marked \
             by `X-Total-Count-Estimated: true` (on SQLite always exact). `none`: no \
             `X-Total-Count`, the cheapest.",
        ),
        enum_items: CountMode::ALL.map(|mode| Value::from(mode.name())).to_vec(),
        ..MetaSchema::new("string")
    }
}

fn after_schema() -> MetaSchema {
    MetaSchema {
        description: Some(
            "Keyset paging: the opaque cursor from the `Link: <…>; rel=\"next\"` header of \
             the previous page (every full page has one). The page starts right after the \
             previous page's last point, at the same cost at any depth (unlike a deep \
             `offset`), and no point is skipped or repeated when others are inserted \
             meanwhile. Only with the `order` the cursor was made for, and without a \
             non-zero `offset`.",
        ),
        ..MetaSchema::new("string")
    }
}

/// Implements poem-openapi's parameter traits for a type with an inherent
/// `parse(&str) -> Result<Self, ParamError>`.
macro_rules! query_parameter {
    ($ty:ident, $name:literal, $schema:path) => {
        impl Type for $ty {
            const IS_REQUIRED: bool = true;

            type RawValueType = Self;

            type RawElementValueType = Self;

            fn name() -> Cow<'static, str> {
                Cow::Borrowed($name)
            }

            fn schema_ref() -> MetaSchemaRef {
                MetaSchemaRef::Inline(Box::new($schema()))
            }

            fn as_raw_value(&self) -> Option<&Self::RawValueType> {
                Some(self)
            }

            fn raw_element_iter<'a>(
                &'a self,
            ) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
                Box::new(std::iter::once(self))
            }
        }

        impl ParseFromParameter for $ty {
            fn parse_from_parameter(value: &str) -> ParseResult<Self> {
                Self::parse(value).map_err(ParseError::custom)
            }
        }
    };
}

query_parameter!(FilterParam, "filter", filter_schema);
query_parameter!(OrderParam, "order", order_schema);
query_parameter!(MaskParam, "mask", mask_schema);
query_parameter!(FlatParam, "flat", flat_schema);
query_parameter!(CountParam, "count", count_schema);
query_parameter!(AfterParam, "after", after_schema);

#[cfg(test)]
mod tests {
    use domain::integration_point::{Condition, Literal, LiteralOperand};
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn masks_keep_the_domains_parsing() {
        // Arrange
        let raw = "id, opts";

        // Act
        let MaskParam(mask) = MaskParam::parse(raw).expect("valid mask");

        // Assert
        assert_eq!(mask, Mask::parse(raw).expect("valid mask"));
        assert!(mask.contains(Field::OptsIssync) && !mask.contains(Field::Code));
    }

    #[test]
    fn an_empty_mask_shows_every_field() {
        assert_eq!(MaskParam::parse(""), Ok(MaskParam(Mask::all())));
    }

    #[test]
    fn unknown_mask_paths_are_named_with_the_valid_ones() {
        // Act
        let error = MaskParam::parse("id,tokenlocal").expect_err("unknown path");

        // Assert
        let message = error.to_string();
        assert!(message.contains("`tokenlocal`"), "{message}");
        assert!(
            message.contains("token_local") && message.contains("opts"),
            "{message}"
        );
    }

    #[test]
    fn flat_takes_true_false_1_and_0() {
        for (raw, expected) in [("true", true), ("1", true), ("false", false), ("0", false)] {
            assert_eq!(FlatParam::parse(raw), Ok(FlatParam(expected)), "{raw}");
        }
    }

    #[test]
    fn flat_rejects_anything_else() {
        for raw in ["", "yes", "TRUE", "True", "2", " true", "on"] {
            assert_eq!(FlatParam::parse(raw), Err(ParamError::Flat), "{raw:?}");
        }
    }

    #[test]
    fn poem_openapi_reports_the_problem_sentence() {
        // Act
        let error =
            FilterParam::parse_from_parameter(r#"{"tokenlocal": "x"}"#).expect_err("unknown field");

        // Assert
        let message = error.into_message();
        assert!(
            message.ends_with(&format!(
                "unknown field `tokenlocal`; valid fields: {}",
                Field::all_paths()
            )),
            "{message}"
        );
    }

    #[test]
    fn parameters_parse_through_poem_openapi() {
        let condition = Condition::new(
            Field::Code,
            Operator::Eq,
            LiteralOperand::Scalar(Literal::String("A".to_owned())),
        )
        .expect("valid");
        assert_eq!(
            FilterParam::parse_from_parameter(r#"{"code": "A"}"#).ok(),
            Some(FilterParam(Some(Filter::Condition(condition))))
        );
        assert_eq!(
            OrderParam::parse_from_parameter("[]").ok(),
            Some(OrderParam(Sort::default()))
        );
        assert_eq!(
            MaskParam::parse_from_parameter("").ok(),
            Some(MaskParam(Mask::all()))
        );
        assert_eq!(
            FlatParam::parse_from_parameter("1").ok(),
            Some(FlatParam(true))
        );
    }

    #[test]
    fn filter_and_order_schemas_list_every_field_and_operator() {
        for schema in [filter_schema(), order_schema(), mask_schema()] {
            assert_eq!(schema.ty, "string");
            let description = schema.description.unwrap_or_default();
            for field in Field::ALL {
                assert!(description.contains(field.path()), "{}", field.path());
            }
        }
        let description = filter_schema().description.unwrap_or_default();
        for op in Operator::ALL {
            assert!(description.contains(op.name()), "{}", op.name());
        }
    }

    #[test]
    fn every_flat_value_the_schema_offers_parses() {
        for item in flat_schema().enum_items {
            let raw = item.as_str().expect("string enum item");
            assert!(FlatParam::parse(raw).is_ok(), "{raw}");
        }
    }

    #[test]
    fn the_examples_in_the_descriptions_parse() {
        for (description, example) in [
            (filter_schema().description, FILTER_EXAMPLE),
            (order_schema().description, ORDER_EXAMPLE),
            (mask_schema().description, MASK_EXAMPLE),
        ] {
            let description = description.unwrap_or_default();
            assert!(
                description.ends_with(&format!("Example: `{example}`.")),
                "{description}"
            );
        }
        assert!(FilterParam::parse(FILTER_EXAMPLE).is_ok());
        assert!(OrderParam::parse(ORDER_EXAMPLE).is_ok());
        assert!(MaskParam::parse(MASK_EXAMPLE).is_ok());
    }

    #[test]
    fn no_parameter_schema_has_an_example_swagger_ui_would_fill_in() {
        for schema in [
            filter_schema(),
            order_schema(),
            mask_schema(),
            flat_schema(),
        ] {
            assert_eq!(schema.example, None, "{:?}", schema.description);
        }
    }

    proptest! {
        #[test]
        fn flat_accepts_exactly_its_four_spellings(raw in any::<String>()) {
            let accepted = matches!(raw.as_str(), "true" | "false" | "1" | "0");
            prop_assert_eq!(FlatParam::parse(&raw).is_ok(), accepted);
        }

        #[test]
        fn mask_parsing_never_panics(raw in any::<String>()) {
            let _ = MaskParam::parse(&raw);
        }

        #[test]
        fn masks_of_known_paths_and_groups_always_parse(
            items in proptest::collection::vec(
                proptest::sample::select(
                    Field::ALL.map(Field::path).into_iter()
                        .chain(Group::ALL.map(Group::name))
                        .collect::<Vec<_>>(),
                ),
                0..20,
            ),
        ) {
            prop_assert!(MaskParam::parse(&items.join(",")).is_ok());
        }
    }
}
