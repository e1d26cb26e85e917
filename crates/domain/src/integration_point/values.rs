//! Value types. Each one is built through a constructor that enforces its rule,
//! so holding one is proof that the rule holds. Lengths count Unicode scalar
//! values, not bytes.

use std::fmt;

use chrono::{DateTime, Datelike as _, TimeZone, Timelike as _, Utc};
use uuid::Uuid;

use super::fields::{Field, FieldDefault};
use crate::text::{TextError, reject_nul};

/// A rejected value together with the field it was meant for, so that a client
/// is told exactly what to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {error}", field.path())]
pub struct FieldError {
    /// The field the value was meant for.
    pub field: Field,
    /// What is wrong with the value.
    pub error: TextError,
}

impl FieldError {
    /// Names the field a [`TextError`] belongs to.
    pub fn new(field: Field, error: TextError) -> Self {
        Self { field, error }
    }
}

/// The most characters a text field of the table may have: a compile-time
/// error for a field the table gives no bound.
const fn max_chars(field: Field) -> usize {
    match field.max_chars() {
        Some(max) => max,
        None => panic!("a text value's field needs a maximum length in the field table"),
    }
}

/// Whether two fields have the same limits, so that one value type serves both.
const fn same_limits(a: Field, b: Field) -> bool {
    a.min_chars() == b.min_chars()
        && matches!((a.max_chars(), b.max_chars()), (Some(x), Some(y)) if x == y)
}

/// The rules of the field table every text value obeys: no NUL, and a length
/// within `min..=max` characters.
fn check_common(value: &str, min: usize, max: usize) -> Result<(), TextError> {
    reject_nul(value)?;
    // Counting stops one past the limit: a huge value costs no more than a legal one.
    let count = value.chars().take(max + 1).count();
    if count > max {
        return Err(TextError::TooLong { max });
    }
    if count < min {
        return Err(if count == 0 {
            TextError::Empty
        } else {
            TextError::TooShort { min }
        });
    }
    Ok(())
}

/// The identifier of an integration point.
///
/// Any UUID version or variant is accepted, so that ids of the source platform
/// (such as `b4680fbe-016c-d86f-1d6b-50e54938780c`) import unchanged; only the
/// canonical hyphenated form is, so that one id has one spelling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PointId(Uuid);

impl PointId {
    /// Parses the 8-4-4-4-12 hex form, in either case.
    ///
    /// # Errors
    /// [`TextError::ContainsNul`] for a value holding U+0000, like every
    /// string; [`TextError::NotUuid`] for anything else, including the braced,
    /// URN and unhyphenated forms.
    pub fn parse(value: &str) -> Result<Self, TextError> {
        reject_nul(value)?;
        let bytes = value.as_bytes();
        let hyphens_in_place = bytes.len() == 36
            && bytes
                .iter()
                .enumerate()
                .all(|(i, b)| matches!(i, 8 | 13 | 18 | 23) == (*b == b'-'));
        if !hyphens_in_place {
            return Err(TextError::NotUuid);
        }
        Uuid::try_parse(value)
            .map(Self)
            .map_err(|_| TextError::NotUuid)
    }

    /// Wraps a UUID that is already known to be an id (generated, or read back
    /// from storage).
    pub fn from_uuid(uuid: Uuid) -> Self {
        Self(uuid)
    }

    /// The UUID.
    pub fn as_uuid(&self) -> Uuid {
        self.0
    }
}

impl fmt::Display for PointId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0.as_hyphenated(), f)
    }
}

/// The human-chosen, unique (case-sensitive) name of a point.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Code(String);

impl Code {
    /// The fewest characters a code may have.
    pub const MIN_CHARS: usize = Field::Code.min_chars();
    /// The most characters a code may have.
    pub const MAX_CHARS: usize = max_chars(Field::Code);

    /// Accepts [`Self::MIN_CHARS`] to [`Self::MAX_CHARS`] characters with no
    /// control characters and no leading or trailing whitespace.
    ///
    /// # Errors
    /// The first rule the value breaks.
    pub fn new(value: impl Into<String>) -> Result<Self, TextError> {
        let value = value.into();
        if value.is_empty() {
            return Err(TextError::Empty);
        }
        check_common(&value, Self::MIN_CHARS, Self::MAX_CHARS)?;
        if value.chars().any(char::is_control) {
            return Err(TextError::ContainsControl);
        }
        if value.starts_with(char::is_whitespace) || value.ends_with(char::is_whitespace) {
            return Err(TextError::SurroundingWhitespace);
        }
        Ok(Self(value))
    }

    /// The code.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The kind of outside system a point talks to, such as `public` or `telegram`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PointType(String);

impl PointType {
    /// The pattern every type matches.
    pub const PATTERN: &'static str = match Field::Type.pattern() {
        Some(pattern) => pattern,
        None => panic!("`type` has a pattern in the field table"),
    };
    /// The most characters a type may have, as the pattern says.
    const MAX_CHARS: usize = max_chars(Field::Type);

    /// Accepts a lowercase ASCII letter followed by up to 31 lowercase letters,
    /// digits or underscores.
    ///
    /// # Errors
    /// [`TextError::Pattern`] (or [`TextError::ContainsNul`]) otherwise.
    pub fn new(value: impl Into<String>) -> Result<Self, TextError> {
        let value = value.into();
        reject_nul(&value)?;
        let bytes = value.as_bytes();
        let valid = matches!(bytes.first(), Some(b'a'..=b'z'))
            && bytes.len() <= Self::MAX_CHARS
            && bytes
                .iter()
                .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_'));
        if !valid {
            return Err(TextError::Pattern {
                pattern: Self::PATTERN,
            });
        }
        Ok(Self(value))
    }

    /// The type.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The field table's default type.
impl Default for PointType {
    fn default() -> Self {
        let FieldDefault::Text(default) = Field::Type.default_value() else {
            unreachable!("`type` has a text default in the field table")
        };
        Self(default.to_owned())
    }
}

/// The secret with which an outside system calls the platform: 128 bits as 32
/// lowercase hex digits.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct TokenLocal(String);

impl TokenLocal {
    /// The pattern every local token matches.
    pub const PATTERN: &'static str = match Field::TokenLocal.pattern() {
        Some(pattern) => pattern,
        None => panic!("`token_local` has a pattern in the field table"),
    };
    /// How many hex digits a local token has, as the pattern says.
    const DIGITS: usize = max_chars(Field::TokenLocal);

    /// Accepts exactly 32 lowercase hex digits.
    ///
    /// # Errors
    /// [`TextError::Pattern`] (or [`TextError::ContainsNul`]) otherwise.
    pub fn new(value: impl Into<String>) -> Result<Self, TextError> {
        let value = value.into();
        reject_nul(&value)?;
        let valid = value.len() == Self::DIGITS
            && value
                .bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        if !valid {
            return Err(TextError::Pattern {
                pattern: Self::PATTERN,
            });
        }
        Ok(Self(value))
    }

    /// Encodes 16 random bytes; the generator port decides where they come from.
    pub fn from_bytes(bytes: [u8; 16]) -> Self {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut out = String::with_capacity(Self::DIGITS);
        for b in bytes {
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0x0f)]));
        }
        Self(out)
    }

    /// The token.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

// A token is a credential: debug output must not carry it into logs.
impl fmt::Debug for TokenLocal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenLocal(<redacted>)")
    }
}

/// Text a client searches or compares by: a LOOKUP key, a filter operand or
/// a `like` pattern. Any string without U+0000, so that no store is ever
/// asked to compare one. The default is the empty string.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct SearchText(String);

impl SearchText {
    /// Accepts any text without NUL.
    ///
    /// # Errors
    /// [`TextError::ContainsNul`].
    pub fn new(value: impl Into<String>) -> Result<Self, TextError> {
        let value = value.into();
        reject_nul(&value)?;
        Ok(Self(value))
    }

    /// Wraps the text of a stored value, which passed its own constructor and
    /// so holds no NUL.
    pub(crate) fn stored(value: &str) -> Self {
        Self(value.to_owned())
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An id, written out, searched for as text (a bare LOOKUP key may be one).
impl From<PointId> for SearchText {
    fn from(id: PointId) -> Self {
        Self(id.to_string())
    }
}

/// Declares a string value whose only rules are the length limits of its
/// fields in the field table and no NUL. Every field listed must have the
/// same limits (checked at compile time), since one type holds them all.
macro_rules! bounded_text {
    ($(#[$doc:meta])* $name:ident, [$first:expr $(, $more:expr)*], debug = $debug:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, Default)]
        pub struct $name(String);

        const _: () = assert!(
            $first.min_chars() == 0 $(&& same_limits($first, $more))*,
            concat!("the fields of ", stringify!($name), " must share their limits, from 0")
        );

        impl $name {
            /// The most characters the value may have.
            pub const MAX_CHARS: usize = max_chars($first);

            /// Accepts any text without NUL of at most [`Self::MAX_CHARS`] characters.
            ///
            /// # Errors
            /// [`TextError::ContainsNul`] or [`TextError::TooLong`].
            pub fn new(value: impl Into<String>) -> Result<Self, TextError> {
                let value = value.into();
                check_common(&value, 0, Self::MAX_CHARS)?;
                Ok(Self(value))
            }

            /// The value.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        bounded_text!(@debug $name, $debug);
    };
    (@debug $name:ident, plain) => {
        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_tuple(stringify!($name)).field(&self.0).finish()
            }
        }
    };
    (@debug $name:ident, redacted) => {
        // A credential: debug output must not carry it into logs.
        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($name), "(<redacted>)"))
            }
        }
    };
}

bounded_text!(
    /// A secret with which the platform calls the outside system.
    TokenRemote,
    [Field::TokenRemote, Field::TokenRemote2],
    debug = redacted
);
bounded_text!(
    /// The code of a service script that receives or sends messages.
    ScriptCode,
    [
        Field::RecvSvcscriptcode,
        Field::RecvSvcscriptcodeWs,
        Field::SendSvcscriptcode,
        Field::SendSvcscriptcodeWs
    ],
    debug = plain
);
bounded_text!(
    /// A short human title.
    Title,
    [Field::OptsTitle],
    debug = plain
);
bounded_text!(
    /// A free-form note.
    Comment,
    [Field::OptsComment],
    debug = plain
);

/// The most characters each field's value type accepts, or `None` for a
/// field that is not text. The match names every field, so a new one must
/// say which type checks it (a field may share a type, as `opts.note` could
/// share [`Title`]); the assertion below then holds that type to the field's
/// own entry in the table.
const fn enforced_max_chars(field: Field) -> Option<usize> {
    match field {
        Field::Id | Field::OptsAllowFilesApi | Field::OptsIssync | Field::ExtCt | Field::ExtLwt => {
            None
        }
        Field::Code => Some(Code::MAX_CHARS),
        Field::Type => Some(PointType::MAX_CHARS),
        Field::TokenLocal => Some(TokenLocal::DIGITS),
        Field::TokenRemote | Field::TokenRemote2 => Some(TokenRemote::MAX_CHARS),
        Field::RecvSvcscriptcode
        | Field::RecvSvcscriptcodeWs
        | Field::SendSvcscriptcode
        | Field::SendSvcscriptcodeWs => Some(ScriptCode::MAX_CHARS),
        Field::Url => Some(Url::MAX_CHARS),
        Field::OptsTitle => Some(Title::MAX_CHARS),
        Field::OptsComment => Some(Comment::MAX_CHARS),
    }
}

const _: () = {
    let mut i = 0;
    while i < Field::ALL.len() {
        let field = Field::ALL[i];
        let agrees = match (enforced_max_chars(field), field.max_chars()) {
            (Some(enforced), Some(stated)) => enforced == stated,
            (None, None) => true,
            (Some(_), None) | (None, Some(_)) => false,
        };
        assert!(
            agrees,
            "a field's value type must accept exactly the length its entry in the field table states"
        );
        i += 1;
    }
};

/// Where the outside system is reached: empty, or an absolute `http`/`https` URL.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Url(String);

impl Url {
    /// The most characters a URL may have.
    pub const MAX_CHARS: usize = max_chars(Field::Url);

    /// Accepts the empty string or an absolute `http`/`https` URL with a host.
    ///
    /// # Errors
    /// [`TextError::ContainsNul`], [`TextError::TooLong`] or [`TextError::NotHttpUrl`].
    pub fn new(value: impl Into<String>) -> Result<Self, TextError> {
        let value = value.into();
        check_common(&value, 0, Self::MAX_CHARS)?;
        if value.is_empty() || is_absolute_http_url(&value) {
            Ok(Self(value))
        } else {
            Err(TextError::NotHttpUrl)
        }
    }

    /// The URL.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn is_absolute_http_url(value: &str) -> bool {
    if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return false;
    }
    let Some((scheme, rest)) = value.split_once("://") else {
        return false;
    };
    if !(scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https")) {
        return false;
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, hp)| hp);
    let (host, port) = if let Some(bracketed) = host_port.strip_prefix('[') {
        match bracketed.split_once(']') {
            Some((ipv6, after)) => (ipv6, after.strip_prefix(':')),
            None => return false,
        }
    } else {
        match host_port.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (host_port, None),
        }
    };
    let port_ok =
        port.is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()));
    !host.is_empty() && port_ok
}

/// An instant with millisecond precision, the resolution the contract exposes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(DateTime<Utc>);

impl Timestamp {
    /// The instant `millis` milliseconds after the Unix epoch.
    ///
    /// # Errors
    /// [`TextError::NotTimestamp`] when it is outside the representable range.
    pub fn from_millis(millis: i64) -> Result<Self, TextError> {
        Utc.timestamp_millis_opt(millis)
            .single()
            .map(Self)
            .ok_or(TextError::NotTimestamp)
    }

    /// Truncates an instant to whole milliseconds.
    pub fn from_datetime(instant: DateTime<Utc>) -> Self {
        let millis = instant.timestamp_millis();
        // In range by construction: the instant came from a valid DateTime.
        Self(Utc.timestamp_millis_opt(millis).single().unwrap_or(instant))
    }

    /// Parses an RFC 3339 timestamp with any offset, truncated to milliseconds.
    ///
    /// # Errors
    /// [`TextError::ContainsNul`] for a value holding U+0000, like every
    /// string; [`TextError::NotTimestamp`] for anything else.
    pub fn parse_rfc3339(value: &str) -> Result<Self, TextError> {
        reject_nul(value)?;
        DateTime::parse_from_rfc3339(value)
            .map(|t| Self::from_datetime(t.with_timezone(&Utc)))
            .map_err(|_| TextError::NotTimestamp)
    }

    /// Milliseconds since the Unix epoch.
    pub fn as_millis(&self) -> i64 {
        self.0.timestamp_millis()
    }
}

impl fmt::Display for Timestamp {
    /// `2019-08-28T13:34:16.420Z`: UTC, always three fraction digits.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Every representation prints two. Digits go into a buffer, which
        // reaches the formatter in one piece: a JSON serializer escapes each
        // piece it is given, and a strftime pattern is interpreted anew on
        // every call.
        let (date, time) = (self.0.date_naive(), self.0.time());
        let Ok(year @ 0..=9999) = u32::try_from(date.year()) else {
            // Beyond four digits chrono signs the year; keep its form.
            return write!(f, "{}", self.0.format("%Y-%m-%dT%H:%M:%S%.3fZ"));
        };
        let mut text = *b"0000-00-00T00:00:00.000Z";
        put_digits(&mut text[0..4], year);
        put_digits(&mut text[5..7], date.month());
        put_digits(&mut text[8..10], date.day());
        put_digits(&mut text[11..13], time.hour());
        put_digits(&mut text[14..16], time.minute());
        put_digits(&mut text[17..19], time.second());
        put_digits(&mut text[20..23], self.0.timestamp_subsec_millis());
        f.write_str(std::str::from_utf8(&text).map_err(|_| fmt::Error)?)
    }
}

/// Writes the last `digits.len()` decimal digits of `value`, zero-padded.
fn put_digits(digits: &mut [u8], mut value: u32) {
    for digit in digits.iter_mut().rev() {
        *digit = b'0' + u8::try_from(value % 10).unwrap_or(0);
        value /= 10;
    }
}

/// How many times a point has been written; moves on every change and only then.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version(i64);

impl Version {
    /// The version of a newly created point.
    pub const INITIAL: Self = Self(1);

    /// Wraps a stored version.
    ///
    /// # Errors
    /// Returns the value back when it is not positive.
    pub fn new(value: i64) -> Result<Self, i64> {
        if value >= 1 {
            Ok(Self(value))
        } else {
            Err(value)
        }
    }

    /// The version after this one.
    #[must_use]
    pub fn next(self) -> Self {
        Self(self.0.saturating_add(1))
    }

    /// The number.
    pub fn get(self) -> i64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_of_the_source_platform_are_accepted_whatever_their_version() {
        let id = PointId::parse("b4680fbe-016c-d86f-1d6b-50e54938780c").expect("valid id");
        assert_eq!(id.to_string(), "b4680fbe-016c-d86f-1d6b-50e54938780c");
    }

    #[test]
    fn ids_are_returned_lowercase() {
        let id = PointId::parse("B4680FBE-016C-D86F-1D6B-50E54938780C").expect("valid id");
        assert_eq!(id.to_string(), "b4680fbe-016c-d86f-1d6b-50e54938780c");
    }

    #[test]
    fn ids_in_other_spellings_are_rejected() {
        for input in [
            "",
            "b4680fbe016cd86f1d6b50e54938780c",
            "{b4680fbe-016c-d86f-1d6b-50e54938780c}",
            "urn:uuid:b4680fbe-016c-d86f-1d6b-50e54938780c",
            "b4680fbe-016c-d86f-1d6b-50e54938780g",
            "b4680fb-e016c-d86f-1d6b-50e54938780c",
            "+4680fbe-016c-d86f-1d6b-50e54938780c",
        ] {
            assert_eq!(PointId::parse(input), Err(TextError::NotUuid), "{input:?}");
        }
    }

    #[test]
    fn codes_must_not_be_empty() {
        assert_eq!(Code::new(""), Err(TextError::Empty));
    }

    #[test]
    fn codes_of_128_characters_are_accepted_and_129_rejected() {
        assert!(
            Code::new("é".repeat(128)).is_ok(),
            "length counts characters, not bytes"
        );
        assert_eq!(
            Code::new("a".repeat(129)),
            Err(TextError::TooLong { max: 128 })
        );
    }

    #[test]
    fn codes_reject_control_characters() {
        for input in ["a\nb", "a\u{7f}b", "a\u{85}b", "\tab"] {
            assert_eq!(
                Code::new(input),
                Err(TextError::ContainsControl),
                "{input:?}"
            );
        }
    }

    #[test]
    fn codes_reject_surrounding_whitespace_but_keep_inner_spaces() {
        assert_eq!(Code::new(" a"), Err(TextError::SurroundingWhitespace));
        assert_eq!(
            Code::new("a\u{3000}"),
            Err(TextError::SurroundingWhitespace)
        );
        assert_eq!(
            Code::new("a b").map(|c| c.as_str().to_owned()),
            Ok("a b".to_owned())
        );
    }

    #[test]
    fn codes_are_case_sensitive_values() {
        assert_ne!(Code::new("ABC"), Code::new("abc"));
    }

    #[test]
    fn every_string_value_rejects_nul() {
        assert_eq!(Code::new("a\0"), Err(TextError::ContainsNul));
        assert_eq!(PointType::new("a\0"), Err(TextError::ContainsNul));
        assert_eq!(
            TokenLocal::new("\0").map(|_| ()),
            Err(TextError::ContainsNul)
        );
        assert_eq!(
            TokenRemote::new("\0").map(|_| ()),
            Err(TextError::ContainsNul)
        );
        assert_eq!(Url::new("http://a/\0"), Err(TextError::ContainsNul));
        assert_eq!(ScriptCode::new("\0"), Err(TextError::ContainsNul));
        assert_eq!(Title::new("\0"), Err(TextError::ContainsNul));
        assert_eq!(Comment::new("\0"), Err(TextError::ContainsNul));
        assert_eq!(SearchText::new("a\0"), Err(TextError::ContainsNul));
    }

    #[test]
    fn an_id_holding_nul_is_rejected_for_the_nul() {
        assert_eq!(
            PointId::parse("b4680fbe-016c-d86f-1d6b-50e5493878\0c"),
            Err(TextError::ContainsNul)
        );
        assert_eq!(PointId::parse("\0"), Err(TextError::ContainsNul));
    }

    #[test]
    fn a_timestamp_holding_nul_is_rejected_for_the_nul() {
        assert_eq!(
            Timestamp::parse_rfc3339("2019-08-28T13:34:16Z\0"),
            Err(TextError::ContainsNul)
        );
    }

    #[test]
    fn types_follow_the_pattern() {
        for ok in ["public", "telegram", "a", "web_hook2", &"a".repeat(32)] {
            assert!(PointType::new(ok).is_ok(), "{ok:?}");
        }
        for bad in [
            "",
            "Public",
            "1abc",
            "_a",
            "a-b",
            "a b",
            &"a".repeat(33),
            "é",
        ] {
            assert!(
                matches!(PointType::new(bad), Err(TextError::Pattern { .. })),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn the_default_type_is_public() {
        assert_eq!(PointType::default().as_str(), "public");
    }

    #[test]
    fn local_tokens_are_exactly_32_lowercase_hex_digits() {
        assert!(TokenLocal::new("82ddc7c68623726346a78371173e2f8d").is_ok());
        for bad in [
            "82DDC7C68623726346A78371173E2F8D",
            "82ddc7c68623726346a78371173e2f8",
            "82ddc7c68623726346a78371173e2f8d0",
            "82ddc7c68623726346a78371173e2f8g",
            "",
        ] {
            assert!(
                matches!(TokenLocal::new(bad), Err(TextError::Pattern { .. })),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn local_tokens_encode_bytes_as_lowercase_hex() {
        let token = TokenLocal::from_bytes([0xab; 16]);
        assert_eq!(token.as_str(), "ab".repeat(16));
        assert!(TokenLocal::new(token.as_str()).is_ok());
    }

    #[test]
    fn tokens_never_show_in_debug_output() {
        let local = TokenLocal::from_bytes([0x11; 16]);
        let remote = TokenRemote::new("s3cr3t").expect("valid");
        assert!(!format!("{local:?}").contains("1111"));
        assert!(!format!("{remote:?}").contains("s3cr3t"));
    }

    #[test]
    fn bounded_texts_enforce_their_lengths() {
        assert!(TokenRemote::new("x".repeat(4096)).is_ok());
        assert_eq!(
            TokenRemote::new("x".repeat(4097)).map(|_| ()),
            Err(TextError::TooLong { max: 4096 })
        );
        assert!(ScriptCode::new("x".repeat(255)).is_ok());
        assert_eq!(
            ScriptCode::new("x".repeat(256)),
            Err(TextError::TooLong { max: 255 })
        );
        assert_eq!(
            Title::new("x".repeat(256)),
            Err(TextError::TooLong { max: 255 })
        );
        assert_eq!(
            Comment::new("x".repeat(4097)),
            Err(TextError::TooLong { max: 4096 })
        );
        assert!(Comment::new("").is_ok());
    }

    #[test]
    fn urls_are_empty_or_absolute_http() {
        for ok in [
            "",
            "http://trapper.com",
            "https://example.org:8443/hook?x=1#f",
            "HTTP://EXAMPLE.COM",
            "http://user:pw@host/",
            "http://[::1]:8080/",
        ] {
            assert!(Url::new(ok).is_ok(), "{ok:?}");
        }
        for bad in [
            "trapper.com",
            "/relative",
            "ftp://example.org",
            "http://",
            "http:///path",
            "http://host:port/",
            "http://exa mple.org",
            "javascript:alert(1)",
            "http://[::1/",
        ] {
            assert_eq!(Url::new(bad), Err(TextError::NotHttpUrl), "{bad:?}");
        }
        assert_eq!(
            Url::new(format!("http://a/{}", "x".repeat(2048))),
            Err(TextError::TooLong { max: 2048 })
        );
    }

    #[test]
    fn timestamps_print_utc_with_three_fraction_digits() {
        let t = Timestamp::parse_rfc3339("2019-08-28T16:34:16.42+03:00").expect("valid");
        assert_eq!(t.to_string(), "2019-08-28T13:34:16.420Z");
        let whole = Timestamp::from_millis(1_567_000_000_000).expect("in range");
        assert_eq!(whole.to_string(), "2019-08-28T13:46:40.000Z");
    }

    #[test]
    fn timestamps_are_truncated_to_milliseconds() {
        let t = Timestamp::parse_rfc3339("2019-08-28T13:34:16.123999Z").expect("valid");
        assert_eq!(t.as_millis() % 1000, 123);
    }

    #[test]
    fn malformed_timestamps_are_rejected() {
        for bad in ["", "2019-08-28", "yesterday", "2019-13-01T00:00:00Z"] {
            assert_eq!(
                Timestamp::parse_rfc3339(bad),
                Err(TextError::NotTimestamp),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn versions_start_at_one_and_only_grow() {
        assert_eq!(Version::INITIAL.get(), 1);
        assert_eq!(Version::INITIAL.next().get(), 2);
        assert_eq!(Version::new(0), Err(0));
    }
}
