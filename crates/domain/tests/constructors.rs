//! Property tests of the constructors that guard the domain: whatever a
//! client sends, a constructor never panics, and it either accepts the input
//! (which then obeys the rule and reads back unchanged) or rejects it with the
//! typed error of the rule it breaks.

use domain::integration_point::{
    Code, Comment, Field, FieldError, Literal, LiteralOperand, LookupKey, Mask, Operator, Page,
    PointId, PointType, ScriptCode, SearchText, SortDirection, TextError, Timestamp, Title,
    TokenLocal, TokenRemote, Url, Version,
};
use domain::integration_point::{Condition, QueryError};
use proptest::prelude::*;

/// Any text, with the characters the rules care about made likely: NUL,
/// controls, whitespace, hex digits, hyphens, URL punctuation, non-ASCII.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[\\x00-\\x20a-fA-F0-9:/.\\-_é\\u{3000}\\u{85}]{0,40}",
        "(http|https|ftp|HTTP)://[a-z0-9@:\\[\\]./?#-]{0,30}",
        with_nul(),
    ]
}

/// A value that would be valid but for one NUL somewhere in it: the NUL
/// must be what rejects it.
fn with_nul() -> impl Strategy<Value = String> {
    (
        prop_oneof![
            any::<String>(),
            "[0-9a-f]{32}",
            "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
            "https://[a-z]{1,10}\\.org/[a-z]{0,10}",
            "[a-z][a-z0-9_]{0,30}",
        ],
        any::<proptest::sample::Index>(),
    )
        .prop_map(|(valid, at)| {
            let boundaries: Vec<usize> = valid
                .char_indices()
                .map(|(i, _)| i)
                .chain([valid.len()])
                .collect();
            let at = boundaries[at.index(boundaries.len())];
            format!("{}\0{}", &valid[..at], &valid[at..])
        })
}

fn chars(value: &str) -> usize {
    value.chars().count()
}

proptest! {
    #[test]
    fn point_ids_are_accepted_only_in_the_hyphenated_form(input in prop_oneof![
        text(),
        "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}",
    ]) {
        match PointId::parse(&input) {
            Ok(id) => prop_assert_eq!(id.to_string(), input.to_ascii_lowercase()),
            Err(error) if input.contains('\0') => prop_assert_eq!(error, TextError::ContainsNul),
            Err(error) => prop_assert_eq!(error, TextError::NotUuid),
        }
    }

    #[test]
    fn codes_are_accepted_exactly_when_they_follow_the_rules(input in text()) {
        let valid = !input.is_empty()
            && chars(&input) <= Code::MAX_CHARS
            && !input.chars().any(char::is_control)
            && input.trim() == input;
        match Code::new(input.clone()) {
            Ok(code) => {
                prop_assert!(valid, "{input:?} accepted");
                prop_assert_eq!(code.as_str(), input.as_str());
            }
            Err(error) => {
                prop_assert!(!valid, "{input:?} rejected: {error}");
                if input.contains('\0') {
                    prop_assert_eq!(error, TextError::ContainsNul);
                }
            }
        }
    }

    #[test]
    fn every_string_a_client_sends_is_rejected_for_a_nul_and_for_nothing_else(input in with_nul()) {
        let nul = Err(TextError::ContainsNul);
        prop_assert_eq!(PointId::parse(&input).map(|_| ()), nul.clone(), "id");
        prop_assert_eq!(Code::new(input.clone()).map(|_| ()), nul.clone(), "code");
        prop_assert_eq!(PointType::new(input.clone()).map(|_| ()), nul.clone(), "type");
        prop_assert_eq!(TokenLocal::new(input.clone()).map(|_| ()), nul.clone(), "token_local");
        prop_assert_eq!(Timestamp::parse_rfc3339(&input).map(|_| ()), nul.clone(), "timestamp");
        prop_assert_eq!(SearchText::new(input.clone()).map(|_| ()), nul.clone(), "search text");
        prop_assert_eq!(LookupKey::any(input.clone()).map(|_| ()), nul.clone(), "lookup key");
        for field in [Field::Id, Field::Code, Field::TokenLocal] {
            prop_assert_eq!(
                LookupKey::for_field(field, input.clone()).map(|_| ()),
                Err(FieldError::new(field, TextError::ContainsNul)),
                "lookup by {:?}", field
            );
        }
        for field in Field::ALL {
            for op in Operator::ALL.into_iter().filter(|op| op.applies_to(field.kind())) {
                let literal = Literal::String(input.clone());
                let operand = match op {
                    Operator::In | Operator::Nin => LiteralOperand::List(vec![literal]),
                    _ => LiteralOperand::Scalar(literal),
                };
                prop_assert_eq!(
                    Condition::new(field, op, operand).map(|_| ()),
                    Err(QueryError::InvalidValue { field, error: TextError::ContainsNul }),
                    "{:?} {:?}", field, op
                );
            }
        }
    }

    #[test]
    fn search_texts_and_lookup_keys_keep_any_text_without_nul(input in any::<String>()) {
        match SearchText::new(input.clone()) {
            Ok(text) => prop_assert_eq!(text.as_str(), input.as_str()),
            Err(error) => {
                prop_assert!(input.contains('\0'));
                prop_assert_eq!(error, TextError::ContainsNul);
            }
        }
        prop_assert_eq!(LookupKey::any(input.clone()).is_ok(), !input.contains('\0'));
    }

    #[test]
    fn types_are_accepted_exactly_when_they_match_the_pattern(input in prop_oneof![text(), "[a-z_0-9]{0,34}"]) {
        let bytes = input.as_bytes();
        let valid = matches!(bytes.first(), Some(b'a'..=b'z'))
            && bytes.len() <= 32
            && bytes.iter().all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_'));
        match PointType::new(input.clone()) {
            Ok(kind) => prop_assert_eq!(kind.as_str(), input.as_str()),
            Err(error) => {
                prop_assert!(!valid, "{input:?} rejected");
                prop_assert!(matches!(error, TextError::Pattern { .. } | TextError::ContainsNul), "{error:?}");
            }
        }
        prop_assert_eq!(PointType::new(input).is_ok(), valid);
    }

    #[test]
    fn local_tokens_are_exactly_32_lowercase_hex_digits(input in prop_oneof![text(), "[0-9a-fA-F]{30,34}"]) {
        let valid = input.len() == 32 && input.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        match TokenLocal::new(input.clone()) {
            Ok(token) => prop_assert_eq!(token.as_str(), input.as_str()),
            Err(error) => {
                prop_assert!(!valid);
                prop_assert!(matches!(error, TextError::Pattern { .. } | TextError::ContainsNul), "{error:?}");
            }
        }
        prop_assert_eq!(TokenLocal::new(input).is_ok(), valid);
    }

    #[test]
    fn bounded_texts_take_anything_short_enough_without_nul(input in text(), extra in 0usize..5000) {
        let long = format!("{input}{}", "x".repeat(extra));
        let cases = [
            (TokenRemote::new(long.clone()).map(|v| v.as_str().to_owned()), TokenRemote::MAX_CHARS),
            (ScriptCode::new(long.clone()).map(|v| v.as_str().to_owned()), ScriptCode::MAX_CHARS),
            (Title::new(long.clone()).map(|v| v.as_str().to_owned()), Title::MAX_CHARS),
            (Comment::new(long.clone()).map(|v| v.as_str().to_owned()), Comment::MAX_CHARS),
        ];
        for (result, max) in cases {
            match result {
                Ok(value) => prop_assert_eq!(&value, &long),
                Err(TextError::ContainsNul) => prop_assert!(long.contains('\0')),
                Err(TextError::TooLong { max: reported }) => {
                    prop_assert_eq!(reported, max);
                    prop_assert!(chars(&long) > max);
                }
                Err(other) => prop_assert!(false, "unexpected {other:?}"),
            }
        }
    }

    #[test]
    fn urls_are_empty_or_absolute_http_urls(input in text()) {
        match Url::new(input.clone()) {
            Ok(url) => {
                prop_assert_eq!(url.as_str(), input.as_str());
                let lower = input.to_ascii_lowercase();
                prop_assert!(input.is_empty() || lower.starts_with("http://") || lower.starts_with("https://"));
                prop_assert!(!input.chars().any(|c| c.is_whitespace() || c.is_control()));
            }
            Err(error) => prop_assert!(matches!(
                error,
                TextError::NotHttpUrl | TextError::ContainsNul | TextError::TooLong { .. }
            ), "{error:?}"),
        }
    }

    #[test]
    fn accepted_timestamps_print_in_a_form_that_parses_back(input in prop_oneof![
        text(),
        "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{1,9})?(Z|[+-][0-9]{2}:[0-9]{2})",
    ]) {
        match Timestamp::parse_rfc3339(&input) {
            Ok(instant) => prop_assert_eq!(Timestamp::parse_rfc3339(&instant.to_string()), Ok(instant)),
            Err(error) if input.contains('\0') => prop_assert_eq!(error, TextError::ContainsNul),
            Err(error) => prop_assert_eq!(error, TextError::NotTimestamp),
        }
    }

    #[test]
    fn timestamps_from_any_millisecond_count_are_in_range_or_rejected(millis in any::<i64>()) {
        match Timestamp::from_millis(millis) {
            Ok(instant) => prop_assert_eq!(instant.as_millis(), millis),
            Err(error) => prop_assert_eq!(error, TextError::NotTimestamp),
        }
    }

    #[test]
    fn timestamps_print_as_chrono_prints_them_with_milliseconds(millis in prop_oneof![
        any::<i64>(),
        // 0000-01-01 to 9999-12-31, where the digits are written by hand.
        -62_167_219_200_000_i64..253_402_300_800_000,
    ]) {
        if let Ok(instant) = Timestamp::from_millis(millis) {
            let chrono = chrono::DateTime::from_timestamp_millis(millis).expect("in range");
            prop_assert_eq!(
                instant.to_string(),
                chrono.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
            );
        }
    }

    #[test]
    fn versions_are_positive(value in any::<i64>()) {
        match Version::new(value) {
            Ok(version) => prop_assert!(version.get() >= 1 && version.next() >= version),
            Err(rejected) => prop_assert_eq!(rejected, value),
        }
    }

    #[test]
    fn masks_accept_only_known_paths_and_groups(input in prop_oneof![
        text(),
        "((id|code|opts|ext|opts\\.title|ext\\.ct|nope| ),?){0,6}",
    ]) {
        match Mask::parse(&input) {
            Ok(mask) => {
                let names_known_fields = input
                    .split(',')
                    .map(str::trim)
                    .filter(|part| !part.is_empty())
                    .all(|part| Field::from_path(part).is_some() || matches!(part, "opts" | "ext"));
                prop_assert!(names_known_fields, "{input:?} accepted as {mask:?}");
            }
            Err(error) => prop_assert!(matches!(error, QueryError::UnknownField { .. }), "{error:?}"),
        }
    }

    #[test]
    fn sort_directions_are_asc_or_desc(input in text()) {
        match SortDirection::parse(&input, "code") {
            Ok(_) => prop_assert!(input == "asc" || input == "desc"),
            Err(error) => prop_assert!(matches!(error, QueryError::BadDirection { .. }), "{error:?}"),
        }
    }

    #[test]
    fn pages_are_bounded_by_the_maximum_limit(offset in any::<u64>(), limit in any::<u64>(), max in any::<u64>()) {
        match Page::new(offset, limit, max) {
            Ok(page) => prop_assert!(page.limit() <= max && page.offset() <= Page::MAX_OFFSET),
            Err(error) => prop_assert!(matches!(
                error,
                QueryError::LimitTooLarge { .. } | QueryError::OffsetTooLarge { .. }
            ), "{error:?}"),
        }
    }

    #[test]
    fn conditions_of_any_field_operator_and_operand_are_typed_or_rejected(
        field in proptest::sample::select(Field::ALL.to_vec()),
        op in proptest::sample::select(Operator::ALL.to_vec()),
        operand in literal_operand(),
    ) {
        match Condition::new(field, op, operand) {
            Ok(condition) => {
                prop_assert_eq!(condition.field(), field);
                prop_assert!(op.applies_to(field.kind()));
            }
            Err(error) => prop_assert!(matches!(
                error,
                QueryError::OperatorNotApplicable { .. }
                    | QueryError::WrongOperand { .. }
                    | QueryError::InvalidValue { .. }
                    | QueryError::TooManyItems { .. }
            ), "{error:?}"),
        }
    }
}

fn literal() -> impl Strategy<Value = Literal> {
    prop_oneof![
        text().prop_map(Literal::String),
        any::<bool>().prop_map(Literal::Bool),
        any::<i64>().prop_map(|n| Literal::Number(n.to_string())),
        proptest::sample::select(vec!["null", "object", "array"]).prop_map(Literal::Other),
    ]
}

fn literal_operand() -> impl Strategy<Value = LiteralOperand> {
    prop_oneof![
        literal().prop_map(LiteralOperand::Scalar),
        proptest::collection::vec(literal(), 0..5).prop_map(LiteralOperand::List),
    ]
}
