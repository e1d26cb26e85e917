//! The rules of every text a client sends, whatever it names: why a text
//! value is rejected, and the NUL rule that holds for every string.

/// Why a text value was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    /// The value is required to have at least one character.
    #[error("must not be empty")]
    Empty,
    /// The value has fewer characters than its field needs.
    #[error("must be at least {min} characters")]
    TooShort {
        /// The fewest characters allowed.
        min: usize,
    },
    /// The value has more characters than its field allows.
    #[error("must be at most {max} characters")]
    TooLong {
        /// The largest number of characters allowed.
        max: usize,
    },
    /// Every string field rejects U+0000.
    #[error("must not contain the NUL character")]
    ContainsNul,
    /// A control character (Unicode category Cc) where none is allowed.
    #[error("must not contain control characters")]
    ContainsControl,
    /// Leading or trailing whitespace where it would be invisible and confusing.
    #[error("must not start or end with whitespace")]
    SurroundingWhitespace,
    /// The value does not match the field's pattern.
    #[error("must match {pattern}")]
    Pattern {
        /// The pattern, as the contract writes it.
        pattern: &'static str,
    },
    /// A URL that is neither empty nor an absolute `http`/`https` URL.
    #[error("must be empty or an absolute http or https URL")]
    NotHttpUrl,
    /// An id that is not 8-4-4-4-12 hex digits.
    #[error("must be a UUID written as 8-4-4-4-12 hex digits")]
    NotUuid,
    /// A timestamp that is not RFC 3339 or is out of range.
    #[error("must be an RFC 3339 timestamp")]
    NotTimestamp,
}

/// The rule every string a client sends obeys, wherever it goes (a field, a
/// LOOKUP key, a filter operand, a path segment, a query parameter): no
/// U+0000. PostgreSQL cannot store or even compare a text holding it, so
/// letting one through would make the answer depend on the backend.
///
/// # Errors
/// [`TextError::ContainsNul`] when `value` holds U+0000.
pub fn reject_nul(value: &str) -> Result<(), TextError> {
    if value.contains('\0') {
        Err(TextError::ContainsNul)
    } else {
        Ok(())
    }
}
