//! The `filter` parameter: a JSON object walked into the domain's [`Filter`].
//!
//! Inside a filter object, a key is a field path, a group (`opts`, `ext`)
//! whose object holds member keys, or a logical operator (`$and`, `$or`,
//! `$not`); inside a field's object, the keys are operators. The walk enforces
//! the depth and clause limits as it goes, spending from the domain's
//! `FilterBudget` (which `ListQuery::new` spends from too), so that a hostile
//! filter is stopped at the limit instead of being built in full and measured
//! afterwards.

use domain::integration_point::query::FilterBudget;
use domain::integration_point::{
    Condition, Field, Filter, Group, Literal, LiteralOperand, Operator, QueryError, field_from_path,
};
use serde_json::{Map, Value};

use super::{ParamError, Place, invalid_json, json_type};

/// Parses a filter; a blank value or `{}` is no filter.
pub(super) fn parse(raw: &str) -> Result<Option<Filter>, ParamError> {
    if raw.trim().is_empty() {
        return Ok(None);
    }
    let value = serde_json::from_str(raw).map_err(|e| invalid_json("filter", &e))?;
    let Value::Object(object) = value else {
        return Err(ParamError::WrongType {
            at: Place::Filter,
            expected: "a JSON object",
            found: json_type(&value),
        });
    };
    Walker::default().object(object, 0)
}

/// The logical operators, by their `$` keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Logical {
    And,
    Or,
    Not,
}

impl Logical {
    fn from_key(key: &str) -> Result<Self, ParamError> {
        match key {
            "$and" => Ok(Logical::And),
            "$or" => Ok(Logical::Or),
            "$not" => Ok(Logical::Not),
            _ => Err(ParamError::UnknownLogical {
                name: key.to_owned(),
            }),
        }
    }

    const fn key(self) -> &'static str {
        match self {
            Logical::And => "$and",
            Logical::Or => "$or",
            Logical::Not => "$not",
        }
    }
}

/// The level of a logical node placed under `enclosing` others, if allowed.
fn level_under(enclosing: usize) -> Result<usize, QueryError> {
    FilterBudget::level_under(enclosing)
}

/// Walks one filter, spending its levels and comparisons from the domain's
/// budget as it goes.
#[derive(Default)]
struct Walker {
    budget: FilterBudget,
}

impl Walker {
    /// Walks a filter object whose root sits under `enclosing` logical nodes
    /// (`And`, `Or`, `Not`); `None` when the object has no clause.
    fn object(
        &mut self,
        object: Map<String, Value>,
        enclosing: usize,
    ) -> Result<Option<Filter>, ParamError> {
        let (logical, fields): (Vec<_>, Vec<_>) = object
            .into_iter()
            .partition(|(key, _)| key.starts_with('$'));
        let mut clauses = Vec::new();
        for (key, value) in fields {
            self.entry(&key, value, &mut clauses)?;
        }
        // Several clauses make an `And` node, one level deeper than the object;
        // the operators under it must be counted from there.
        let root = if clauses.len() + logical.len() > 1 {
            level_under(enclosing)?
        } else {
            enclosing
        };
        for (key, value) in logical {
            let filter = self.logical(Logical::from_key(&key)?, value, root)?;
            clauses.push(filter);
        }
        Ok(match clauses.len() {
            0 => None,
            1 => clauses.pop(),
            _ => Some(Filter::all(clauses)?),
        })
    }

    /// Walks the operand of `$and`, `$or` or `$not` placed under `enclosing` nodes.
    fn logical(
        &mut self,
        op: Logical,
        operand: Value,
        enclosing: usize,
    ) -> Result<Filter, ParamError> {
        let level = level_under(enclosing)?;
        if op == Logical::Not {
            let filter = self.nested(operand, Place::Logical(op.key()), level)?;
            return Ok(Filter::Not(Box::new(filter)));
        }
        let Value::Array(items) = operand else {
            return Err(ParamError::WrongType {
                at: Place::Logical(op.key()),
                expected: "a non-empty array of filters",
                found: json_type(&operand),
            });
        };
        let filters = items
            .into_iter()
            .map(|item| self.nested(item, Place::LogicalItem(op.key()), level))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(if op == Logical::And {
            Filter::all(filters)?
        } else {
            Filter::any(filters)?
        })
    }

    /// Walks a filter that a logical operator holds: it must be a non-empty object.
    fn nested(&mut self, value: Value, at: Place, enclosing: usize) -> Result<Filter, ParamError> {
        let Value::Object(object) = value else {
            return Err(ParamError::WrongType {
                at,
                expected: "a JSON object",
                found: json_type(&value),
            });
        };
        self.object(object, enclosing)?
            .ok_or(ParamError::Empty { at })
    }

    /// Walks a `"<path>": …` or `"<group>": {…}` entry into its comparisons.
    fn entry(&mut self, key: &str, value: Value, out: &mut Vec<Filter>) -> Result<(), ParamError> {
        let Some(group) = Group::from_name(key) else {
            return self.comparisons(field_from_path(key)?, value, out);
        };
        let Value::Object(members) = value else {
            return Err(ParamError::WrongType {
                at: Place::Group(group),
                expected: "an object of its members",
                found: json_type(&value),
            });
        };
        if members.is_empty() {
            return Err(ParamError::Empty {
                at: Place::Group(group),
            });
        }
        for (member, value) in members {
            // The dotted path is what the client meant, and what an error names.
            let field = field_from_path(&format!("{}.{member}", group.name()))?;
            self.comparisons(field, value, out)?;
        }
        Ok(())
    }

    /// Turns a field's value into comparisons: an object holds operators, any
    /// other value is compared for equality.
    fn comparisons(
        &mut self,
        field: Field,
        value: Value,
        out: &mut Vec<Filter>,
    ) -> Result<(), ParamError> {
        let Value::Object(operators) = value else {
            return self.push(Condition::new(field, Operator::Eq, operand(value))?, out);
        };
        if operators.is_empty() {
            return Err(ParamError::Empty {
                at: Place::Operators(field),
            });
        }
        for (name, value) in operators {
            let op = Operator::from_name(&name)?;
            self.push(Condition::new(field, op, operand(value))?, out)?;
        }
        Ok(())
    }

    fn push(&mut self, condition: Condition, out: &mut Vec<Filter>) -> Result<(), ParamError> {
        self.budget.spend_clause()?;
        out.push(Filter::Condition(condition));
        Ok(())
    }
}

/// An operand as written: arrays are lists (for `in`/`nin`), the rest scalars.
fn operand(value: Value) -> LiteralOperand {
    match value {
        Value::Array(items) => LiteralOperand::List(items.into_iter().map(literal).collect()),
        scalar => LiteralOperand::Scalar(literal(scalar)),
    }
}

/// A scalar as written; the domain decides whether its type fits the field.
fn literal(value: Value) -> Literal {
    match value {
        Value::String(s) => Literal::String(s),
        Value::Bool(b) => Literal::Bool(b),
        Value::Null => Literal::Other("null"),
        Value::Number(n) => Literal::Number(n.to_string()),
        Value::Array(_) => Literal::Other("array"),
        Value::Object(_) => Literal::Other("object"),
    }
}

#[cfg(test)]
mod tests {
    use domain::integration_point::{ListQuery, Page, Sort, TextError};
    use proptest::prelude::*;

    use super::*;

    fn text(s: &str) -> Literal {
        Literal::String(s.to_owned())
    }

    fn cond(field: Field, op: Operator, operand: LiteralOperand) -> Filter {
        Filter::Condition(Condition::new(field, op, operand).expect("valid condition"))
    }

    fn eq(field: Field, literal: Literal) -> Filter {
        cond(field, Operator::Eq, LiteralOperand::Scalar(literal))
    }

    fn parsed(raw: &str) -> Filter {
        match parse(raw) {
            Ok(Some(filter)) => filter,
            other => panic!("{raw} should parse to a filter, got {other:?}"),
        }
    }

    fn error(raw: &str) -> ParamError {
        match parse(raw) {
            Err(error) => error,
            Ok(filter) => panic!("{raw} should be rejected, got {filter:?}"),
        }
    }

    /// `{"$not": … {"code": "x"} …}` with `levels` logical operators.
    fn nots(levels: usize) -> String {
        format!(
            "{}{{\"code\": \"x\"}}{}",
            "{\"$not\": ".repeat(levels),
            "}".repeat(levels)
        )
    }

    fn or_of_codes(n: usize) -> String {
        let items = vec![r#"{"code": "x"}"#; n].join(",");
        format!(r#"{{"$or": [{items}]}}"#)
    }

    #[test]
    fn a_scalar_value_is_equality() {
        assert_eq!(
            parsed(r#"{"type": "telegram"}"#),
            eq(Field::Type, text("telegram"))
        );
    }

    #[test]
    fn the_clauses_of_an_object_are_anded() {
        assert_eq!(
            parsed(r#"{"opts.issync": true, "type": "telegram"}"#),
            Filter::And(vec![
                eq(Field::OptsIssync, Literal::Bool(true)),
                eq(Field::Type, text("telegram")),
            ])
        );
    }

    #[test]
    fn group_members_may_nest() {
        assert_eq!(
            parsed(r#"{"opts": {"issync": true}}"#),
            parsed(r#"{"opts.issync": true}"#)
        );
        assert_eq!(
            parsed(r#"{"ext": {"ct": "2019-08-28T13:34:16.427Z"}}"#),
            eq(Field::ExtCt, text("2019-08-28T13:34:16.427Z"))
        );
    }

    #[test]
    fn nested_members_take_operators_too() {
        let expected = cond(
            Field::OptsTitle,
            Operator::Like,
            LiteralOperand::Scalar(text("a%")),
        );
        assert_eq!(parsed(r#"{"opts": {"title": {"like": "a%"}}}"#), expected);
        assert_eq!(parsed(r#"{"opts.title": {"like": "a%"}}"#), expected);
    }

    #[test]
    fn several_members_of_a_group_are_anded() {
        assert_eq!(
            parsed(r#"{"opts": {"allow_files_api": false, "title": "t"}}"#),
            Filter::And(vec![
                eq(Field::OptsAllowFilesApi, Literal::Bool(false)),
                eq(Field::OptsTitle, text("t")),
            ])
        );
    }

    #[test]
    fn every_operator_is_accepted_where_it_applies() {
        let id = "b4680fbe-016c-d86f-1d6b-50e54938780c";
        let ts = "2019-08-28T13:34:16.427Z";
        let scalar = |s: &str| LiteralOperand::Scalar(text(s));
        let cases = [
            (Field::Code, Operator::Eq, r#""A""#.to_owned(), scalar("A")),
            (Field::Code, Operator::Ne, r#""A""#.to_owned(), scalar("A")),
            (Field::Id, Operator::Lt, format!(r#""{id}""#), scalar(id)),
            (Field::Id, Operator::Lte, format!(r#""{id}""#), scalar(id)),
            (Field::ExtCt, Operator::Gt, format!(r#""{ts}""#), scalar(ts)),
            (
                Field::ExtLwt,
                Operator::Gte,
                format!(r#""{ts}""#),
                scalar(ts),
            ),
            (
                Field::Type,
                Operator::In,
                r#"["public", "telegram"]"#.to_owned(),
                LiteralOperand::List(vec![text("public"), text("telegram")]),
            ),
            (
                Field::Id,
                Operator::Nin,
                format!(r#"["{id}"]"#),
                LiteralOperand::List(vec![text(id)]),
            ),
            (
                Field::Url,
                Operator::Like,
                r#""https://%""#.to_owned(),
                scalar("https://%"),
            ),
            (
                Field::Code,
                Operator::Ilike,
                r#""ab_""#.to_owned(),
                scalar("ab_"),
            ),
            (
                Field::OptsIssync,
                Operator::Ne,
                "false".to_owned(),
                LiteralOperand::Scalar(Literal::Bool(false)),
            ),
        ];
        for op in Operator::ALL {
            assert!(
                cases.iter().any(|case| case.1 == op),
                "{} is covered",
                op.name()
            );
        }
        for (field, op, operand_json, operand) in cases {
            let raw = format!(
                r#"{{"{}": {{"{}": {operand_json}}}}}"#,
                field.path(),
                op.name()
            );
            assert_eq!(parsed(&raw), cond(field, op, operand), "{raw}");
        }
    }

    #[test]
    fn the_operators_of_one_field_are_anded() {
        assert_eq!(
            parsed(r#"{"code": {"gte": "A", "lt": "B"}}"#),
            Filter::And(vec![
                cond(
                    Field::Code,
                    Operator::Gte,
                    LiteralOperand::Scalar(text("A"))
                ),
                cond(Field::Code, Operator::Lt, LiteralOperand::Scalar(text("B"))),
            ])
        );
    }

    #[test]
    fn or_and_and_take_arrays_of_filters() {
        let a = eq(Field::Code, text("A"));
        let b = eq(Field::Code, text("B"));
        assert_eq!(
            parsed(r#"{"$or": [{"code": "A"}, {"code": "B"}]}"#),
            Filter::Or(vec![a.clone(), b.clone()])
        );
        assert_eq!(
            parsed(r#"{"$and": [{"code": "A"}, {"code": "B"}]}"#),
            Filter::And(vec![a, b])
        );
    }

    #[test]
    fn not_takes_a_filter() {
        assert_eq!(
            parsed(r#"{"$not": {"type": "public"}}"#),
            Filter::Not(Box::new(eq(Field::Type, text("public"))))
        );
    }

    #[test]
    fn logical_operators_combine_with_clauses_and_each_other() {
        let raw = r#"{"type": "telegram", "$or": [{"opts": {"issync": true}}, {"$not": {"code": {"like": "x%"}}}]}"#;
        assert_eq!(
            parsed(raw),
            Filter::And(vec![
                eq(Field::Type, text("telegram")),
                Filter::Or(vec![
                    eq(Field::OptsIssync, Literal::Bool(true)),
                    Filter::Not(Box::new(cond(
                        Field::Code,
                        Operator::Like,
                        LiteralOperand::Scalar(text("x%"))
                    ))),
                ]),
            ])
        );
    }

    #[test]
    fn an_empty_or_blank_filter_is_no_filter() {
        for raw in ["{}", "", "  ", " { } "] {
            assert_eq!(parse(raw), Ok(None), "{raw:?}");
        }
    }

    #[test]
    fn unknown_paths_are_named_with_the_valid_ones() {
        for (raw, path) in [
            (r#"{"tokenlocal": "x"}"#, "tokenlocal"),
            (r#"{"opts": {"titel": "x"}}"#, "opts.titel"),
            (r#"{"opts.title.x": "x"}"#, "opts.title.x"),
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
    fn unknown_operators_are_named() {
        assert_eq!(
            error(r#"{"code": {"regex": "^A"}}"#),
            ParamError::Query(QueryError::UnknownOperator {
                name: "regex".to_owned()
            })
        );
    }

    #[test]
    fn unknown_logical_operators_are_named() {
        let error = error(r#"{"$nor": [{"code": "A"}]}"#);
        assert_eq!(
            error,
            ParamError::UnknownLogical {
                name: "$nor".to_owned()
            }
        );
        assert!(error.to_string().contains("$and, $or, $not"), "{error}");
    }

    #[test]
    fn operators_that_do_not_apply_to_the_type_are_rejected() {
        let cases = [
            (
                r#"{"opts.issync": {"lt": true}}"#,
                Field::OptsIssync,
                Operator::Lt,
            ),
            (
                r#"{"opts": {"allow_files_api": {"in": [true]}}}"#,
                Field::OptsAllowFilesApi,
                Operator::In,
            ),
            (
                r#"{"ext.ct": {"like": "2019%"}}"#,
                Field::ExtCt,
                Operator::Like,
            ),
            (r#"{"id": {"ilike": "b%"}}"#, Field::Id, Operator::Ilike),
        ];
        for (raw, field, op) in cases {
            assert_eq!(
                error(raw),
                ParamError::Query(QueryError::OperatorNotApplicable { field, op }),
                "{raw}"
            );
        }
    }

    #[test]
    fn operands_of_the_wrong_type_are_rejected() {
        for raw in [
            r#"{"code": 1}"#,
            r#"{"code": null}"#,
            r#"{"code": true}"#,
            r#"{"code": ["A"]}"#,
            r#"{"opts.issync": "true"}"#,
            r#"{"code": {"eq": {"a": 1}}}"#,
            r#"{"code": {"in": "A"}}"#,
            r#"{"code": {"in": [1]}}"#,
            r#"{"code": {"nin": [["A"]]}}"#,
            r#"{"code": {"like": 1}}"#,
            r#"{"ext.ct": {"gt": 1567000000}}"#,
        ] {
            assert!(
                matches!(
                    error(raw),
                    ParamError::Query(QueryError::WrongOperand { .. })
                ),
                "{raw}"
            );
        }
    }

    #[test]
    fn values_that_break_the_fields_rule_are_rejected() {
        for raw in [
            r#"{"id": "not-a-uuid"}"#,
            r#"{"ext.ct": {"lt": "yesterday"}}"#,
            r#"{"code": "a\u0000"}"#,
        ] {
            assert!(
                matches!(
                    error(raw),
                    ParamError::Query(QueryError::InvalidValue { .. })
                ),
                "{raw}"
            );
        }
    }

    #[test]
    fn in_takes_at_most_1000_items() {
        let list = |n| format!(r#"{{"code": {{"in": [{}]}}}}"#, vec![r#""x""#; n].join(","));
        assert!(parse(&list(1000)).is_ok());
        assert_eq!(
            error(&list(1001)),
            ParamError::Query(QueryError::TooManyItems {
                op: Operator::In,
                max: 1000
            })
        );
    }

    #[test]
    fn or_and_and_need_a_non_empty_array() {
        assert_eq!(
            error(r#"{"$or": []}"#),
            ParamError::Query(QueryError::EmptyGroup { op: "$or" })
        );
        assert_eq!(
            error(r#"{"$and": []}"#),
            ParamError::Query(QueryError::EmptyGroup { op: "$and" })
        );
        assert!(matches!(
            error(r#"{"$or": {"code": "A"}}"#),
            ParamError::WrongType {
                at: Place::Logical("$or"),
                found: "an object",
                ..
            }
        ));
    }

    #[test]
    fn logical_operators_need_non_empty_filter_objects() {
        assert_eq!(
            error(r#"{"$or": [{"code": "A"}, {}]}"#),
            ParamError::Empty {
                at: Place::LogicalItem("$or")
            }
        );
        assert_eq!(
            error(r#"{"$not": {}}"#),
            ParamError::Empty {
                at: Place::Logical("$not")
            }
        );
        assert!(matches!(
            error(r#"{"$and": ["code"]}"#),
            ParamError::WrongType {
                at: Place::LogicalItem("$and"),
                found: "a string",
                ..
            }
        ));
        assert!(matches!(
            error(r#"{"$not": [{"code": "A"}]}"#),
            ParamError::WrongType {
                at: Place::Logical("$not"),
                found: "an array",
                ..
            }
        ));
    }

    #[test]
    fn groups_need_a_non_empty_object_of_members() {
        assert_eq!(
            error(r#"{"opts": {}}"#),
            ParamError::Empty {
                at: Place::Group(Group::Opts)
            }
        );
        let error = error(r#"{"ext": "2019"}"#);
        assert!(
            matches!(
                error,
                ParamError::WrongType {
                    at: Place::Group(Group::Ext),
                    ..
                }
            ),
            "{error:?}"
        );
        assert_eq!(
            error.to_string(),
            "`ext` must be an object of its members, not a string"
        );
    }

    #[test]
    fn operator_objects_must_not_be_empty() {
        let error = error(r#"{"code": {}}"#);
        assert_eq!(
            error,
            ParamError::Empty {
                at: Place::Operators(Field::Code)
            }
        );
        assert_eq!(
            error.to_string(),
            "the operator object of `code` must not be empty"
        );
    }

    #[test]
    fn nesting_8_deep_is_accepted_and_9_rejected() {
        assert!(parse(&nots(8)).is_ok());
        assert_eq!(
            error(&nots(9)),
            ParamError::Query(QueryError::TooDeep { max: 8 })
        );
    }

    #[test]
    fn an_object_of_several_clauses_counts_as_a_level() {
        // Seven `$not`s around an object of two clauses: the object's `And` is
        // the eighth level, the `$not` inside it the ninth.
        let inner = r#"{"code": "x", "$not": {"type": "public"}}"#;
        let raw = format!("{}{inner}{}", "{\"$not\": ".repeat(7), "}".repeat(7));
        assert_eq!(
            error(&raw),
            ParamError::Query(QueryError::TooDeep { max: 8 })
        );
    }

    #[test]
    fn deep_nesting_is_stopped_at_the_limit_not_at_the_json_parsers() {
        // 60 levels are well within serde_json's recursion limit of 128: it is
        // the walk that stops them.
        assert_eq!(
            error(&nots(60)),
            ParamError::Query(QueryError::TooDeep { max: 8 })
        );
    }

    #[test]
    fn a_hundred_clauses_are_accepted_and_101_rejected() {
        assert!(parse(&or_of_codes(100)).is_ok());
        assert_eq!(
            error(&or_of_codes(101)),
            ParamError::Query(QueryError::TooManyClauses { max: 100 })
        );
    }

    #[test]
    fn clauses_are_counted_across_levels() {
        let half = vec![r#"{"code": "x"}"#; 51].join(",");
        let raw = format!(r#"{{"$and": [{{"$or": [{half}]}}, {{"$or": [{half}]}}]}}"#);
        assert_eq!(
            error(&raw),
            ParamError::Query(QueryError::TooManyClauses { max: 100 })
        );
    }

    #[test]
    fn a_filter_must_be_a_json_object() {
        for (raw, found) in [
            ("[]", "an array"),
            (r#""code""#, "a string"),
            ("1", "a number"),
            ("null", "null"),
            ("true", "a boolean"),
        ] {
            let error = error(raw);
            assert_eq!(
                error,
                ParamError::WrongType {
                    at: Place::Filter,
                    expected: "a JSON object",
                    found
                },
                "{raw}"
            );
            assert_eq!(
                error.to_string(),
                format!("filter must be a JSON object, not {found}")
            );
        }
    }

    #[test]
    fn invalid_json_is_rejected_with_the_parsers_position() {
        for raw in ["{", "code=A", r#"{"code": 'A'}"#, r#"{"code": "A",}"#] {
            let error = error(raw);
            assert!(
                matches!(
                    &error,
                    ParamError::InvalidJson {
                        param: "filter",
                        ..
                    }
                ),
                "{raw}: {error:?}"
            );
            assert!(error.to_string().contains("column"), "{error}");
        }
    }

    /// JSON built from the filter grammar's own words, mostly invalid, so that
    /// the walk meets every kind of misplaced value.
    fn filter_json() -> impl Strategy<Value = Value> {
        let words = [
            "code",
            "type",
            "id",
            "opts",
            "ext",
            "title",
            "issync",
            "opts.title",
            "ext.ct",
            "eq",
            "ne",
            "lt",
            "in",
            "nin",
            "like",
            "$and",
            "$or",
            "$not",
            "$nor",
            "bogus",
        ];
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i32>().prop_map(Value::from),
            proptest::sample::select(words.to_vec()).prop_map(Value::from),
            Just(Value::from("b4680fbe-016c-d86f-1d6b-50e54938780c")),
            Just(Value::from("2019-08-28T13:34:16.427Z")),
            Just(Value::from("a\u{0}b")),
        ];
        leaf.prop_recursive(12, 200, 6, move |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                proptest::collection::btree_map(
                    proptest::sample::select(words.to_vec()),
                    inner,
                    0..4
                )
                .prop_map(|map| Value::Object(
                    map.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
                )),
            ]
        })
    }

    /// A filter object of a well-formed shape: equality on `code` and/or
    /// `type`, and any of the three logical operators.
    #[derive(Debug, Clone)]
    struct Shape {
        code: bool,
        kind: bool,
        and: Option<Vec<Shape>>,
        not: Option<Box<Shape>>,
        or: Option<Vec<Shape>>,
    }

    impl Shape {
        fn json(&self) -> Value {
            let mut object = Map::new();
            if self.code {
                object.insert("code".to_owned(), Value::from("c"));
            }
            if self.kind {
                object.insert("type".to_owned(), Value::from("t"));
            }
            if let Some(items) = &self.and {
                object.insert("$and".to_owned(), items.iter().map(Shape::json).collect());
            }
            if let Some(inner) = &self.not {
                object.insert("$not".to_owned(), inner.json());
            }
            if let Some(items) = &self.or {
                object.insert("$or".to_owned(), items.iter().map(Shape::json).collect());
            }
            Value::Object(object)
        }

        /// The filter the shape means, built without any limit, with clauses
        /// in the walk's order: comparisons first, then operators by key.
        fn filter(&self) -> Filter {
            let mut clauses = Vec::new();
            if self.code {
                clauses.push(eq(Field::Code, text("c")));
            }
            if self.kind {
                clauses.push(eq(Field::Type, text("t")));
            }
            if let Some(items) = &self.and {
                clauses.push(Filter::And(items.iter().map(Shape::filter).collect()));
            }
            if let Some(inner) = &self.not {
                clauses.push(Filter::Not(Box::new(inner.filter())));
            }
            if let Some(items) = &self.or {
                clauses.push(Filter::Or(items.iter().map(Shape::filter).collect()));
            }
            match clauses.len() {
                1 => clauses.remove(0),
                _ => Filter::And(clauses),
            }
        }
    }

    /// Every string in `json`, object keys aside.
    fn string_leaves<'a>(json: &'a mut Value, out: &mut Vec<&'a mut Value>) {
        match json {
            Value::String(_) => out.push(json),
            Value::Array(items) => items.iter_mut().for_each(|item| string_leaves(item, out)),
            Value::Object(map) => map.values_mut().for_each(|value| string_leaves(value, out)),
            Value::Null | Value::Bool(_) | Value::Number(_) => {}
        }
    }

    fn shape() -> impl Strategy<Value = Shape> {
        let leaf = (any::<bool>(), any::<bool>()).prop_map(|(code, kind)| Shape {
            code: code || !kind,
            kind,
            and: None,
            not: None,
            or: None,
        });
        leaf.prop_recursive(12, 160, 4, |inner| {
            let items = proptest::collection::vec(inner.clone(), 1..4);
            (
                any::<bool>(),
                any::<bool>(),
                proptest::option::of(items.clone()),
                proptest::option::of(inner.prop_map(Box::new)),
                proptest::option::of(items),
            )
                .prop_map(|(code, kind, and, not, or)| {
                    let empty = !code && !kind && and.is_none() && not.is_none() && or.is_none();
                    Shape {
                        code: code || empty,
                        kind,
                        and,
                        not,
                        or,
                    }
                })
        })
    }

    proptest! {
        #[test]
        fn the_walk_accepts_exactly_what_the_domains_limits_accept(shape in shape()) {
            // Arrange
            let raw = shape.json().to_string();
            let page = Page::new(0, 1, 1).expect("valid page");
            let judged = ListQuery::new(Some(shape.filter()), Sort::default(), page);

            // Act
            let walked = parse(&raw);

            // Assert
            match (walked, judged) {
                (Ok(walked), Ok(query)) => prop_assert_eq!(walked.as_ref(), query.filter(), "{}", raw),
                (Err(ParamError::Query(QueryError::TooDeep { .. } | QueryError::TooManyClauses { .. })), Err(_)) => {}
                (walked, judged) => prop_assert!(false, "{}: walked {:?}, domain {:?}", raw, walked, judged),
            }
        }

        #[test]
        fn a_nul_in_any_operand_anywhere_in_a_filter_is_rejected_for_it(
            shape in shape(),
            at in any::<proptest::sample::Index>(),
            wrap in 0usize..5,
        ) {
            // Arrange: one string operand of a filter the domain accepts
            // gets a NUL, bare or inside an operator.
            let page = Page::new(0, 1, 1).expect("valid page");
            prop_assume!(ListQuery::new(Some(shape.filter()), Sort::default(), page).is_ok());
            let mut json = shape.json();
            let mut leaves = Vec::new();
            string_leaves(&mut json, &mut leaves);
            let leaf = leaves.swap_remove(at.index(leaves.len()));
            let poisoned = Value::from(format!("{}\u{0}", leaf.as_str().unwrap_or_default()));
            *leaf = match wrap {
                0 => poisoned,
                1 => serde_json::json!({"ne": poisoned}),
                2 => serde_json::json!({"in": ["x", poisoned]}),
                3 => serde_json::json!({"nin": [poisoned]}),
                _ => serde_json::json!({"like": poisoned}),
            };
            let raw = json.to_string();

            // Act
            let walked = parse(&raw);

            // Assert
            prop_assert!(
                matches!(
                    walked,
                    Err(ParamError::Query(QueryError::InvalidValue { error: TextError::ContainsNul, .. }))
                ),
                "{}: {:?}", raw, walked
            );
        }

        #[test]
        fn a_lone_surrogate_escape_in_a_filter_is_invalid_json_saying_so(
            shape in shape(),
            surrogate in 0xd800u32..0xe000,
            after in prop_oneof![Just(""), Just("x"), Just("\\u0041"), Just("\\ud800")],
        ) {
            // Arrange: a high surrogate followed by a low one would be one
            // character; every other follower leaves it alone.
            let raw = shape
                .json()
                .to_string()
                .replacen("\"c\"", &format!("\"\\u{surrogate:04x}{after}\""), 1);
            prop_assume!(raw.contains("\\u"));

            // Act
            let walked = parse(&raw);

            // Assert
            let Err(ParamError::InvalidJson { param: "filter", detail }) = &walked else {
                return Err(TestCaseError::fail(format!("{raw}: {walked:?}")));
            };
            prop_assert!(detail.starts_with("strings must hold Unicode characters"), "{}: {}", raw, detail);
        }

        #[test]
        fn arbitrary_text_never_panics(raw in any::<String>()) {
            let _ = parse(&raw);
        }

        #[test]
        fn json_like_text_never_panics(raw in r#"[\[\]{}":, a-z_.$0-9]{0,80}"#) {
            let _ = parse(&raw);
        }

        #[test]
        fn json_made_of_the_grammars_words_never_panics(value in filter_json()) {
            let _ = parse(&value.to_string());
        }
    }
}
