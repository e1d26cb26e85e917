//! The nesting limit of request bodies, checked before parsing.
//!
//! serde_json stops at 128 levels to protect the stack, but nothing this API
//! takes nests deeper than 2 (`opts` in a point), so a much lower bound costs
//! legitimate clients nothing and keeps hostile bodies from being parsed at
//! all: one pass over the bytes, with no allocation.

/// The deepest nesting of arrays and objects a request body may have.
pub(crate) const MAX_DEPTH: usize = 32;

/// Whether `json` nests arrays and objects deeper than `max` levels. Brackets
/// inside strings do not count; whether the JSON is valid is left to the
/// parser.
pub(super) fn exceeds(json: &[u8], max: usize) -> bool {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for &byte in json {
        if in_string {
            match (escaped, byte) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > max {
                    return true;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nested(levels: usize) -> String {
        format!("{}{}", "[".repeat(levels), "]".repeat(levels))
    }

    #[test]
    fn nesting_up_to_the_limit_is_accepted_and_one_more_level_is_not() {
        assert!(!exceeds(nested(MAX_DEPTH).as_bytes(), MAX_DEPTH));
        assert!(exceeds(nested(MAX_DEPTH + 1).as_bytes(), MAX_DEPTH));
    }

    #[test]
    fn objects_and_arrays_both_count() {
        assert!(exceeds(br#"{"a": [{"b": 1}]}"#, 2));
        assert!(!exceeds(br#"{"a": [1]} {"b": [2]}"#, 2));
    }

    #[test]
    fn brackets_inside_strings_do_not_count() {
        let json = format!(r#"{{"code": "{}", "x": "\"[[[["}}"#, "[".repeat(100));
        assert!(!exceeds(json.as_bytes(), 1));
    }

    #[test]
    fn an_escaped_backslash_ends_before_the_closing_quote() {
        assert!(exceeds(br#"{"a": "\\", "b": [[]]}"#, 2));
    }

    #[test]
    fn unbalanced_closers_do_not_hide_later_nesting() {
        assert!(exceeds(b"]]]]]][[[", 2));
    }
}
