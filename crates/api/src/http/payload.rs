//! Request and response bodies as poem-openapi payloads.
//!
//! [`JsonBody`] parses request bodies itself instead of through poem-openapi's
//! `Json`, whose errors lose the name of the field at fault: here every error
//! names its field, `null` is refused like any other wrong type, and the size
//! limit is enforced while reading. [`JsonBytes`] sends a body serialised ahead
//! of time (the representation is written by hand in `render`) while the
//! OpenAPI document still shows the schema of a DTO.
//!
//! A body is parsed in two steps: bytes to a JSON value (malformed JSON, or
//! JSON nested deeper than [`depth::MAX_DEPTH`], stops there), then the value
//! to the DTO through [`strict::Strict`], tracking the path of the field being
//! read.

mod depth;
mod strict;

use std::marker::PhantomData;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use poem::{IntoResponse, Request, RequestBody, Response};
use poem_openapi::payload::{ParsePayload, Payload};
use poem_openapi::registry::{MetaMediaType, MetaRequest, MetaSchemaRef, Registry};
use poem_openapi::types::Type;
use poem_openapi::{ApiExtractor, ApiExtractorType, ExtractParamOptions};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};

use self::strict::Strict;
use crate::http::error::{ApiError, JSON_CONTENT_TYPE};

/// The default body limit: 64 KiB.
pub(crate) const DEFAULT_BODY_LIMIT: usize = 64 * 1024;

/// The most bytes a request body may have; put in the request data by `app`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BodyLimit(pub usize);

/// A JSON request body parsed into `T`, documented with the schema of `S`.
///
/// `S` differs from `T` only where the type that parses is not the type that
/// documents best (the LOOKUP key is one JSON value of two shapes).
pub(crate) struct JsonBody<T, S = T> {
    value: T,
    schema: PhantomData<fn() -> S>,
}

impl<T, S> JsonBody<T, S> {
    /// The parsed body.
    pub(crate) fn into_inner(self) -> T {
        self.value
    }
}

impl<T: Send, S: Type> Payload for JsonBody<T, S> {
    const CONTENT_TYPE: &'static str = "application/json";

    fn check_content_type(content_type: &str) -> bool {
        is_json(content_type)
    }

    fn schema_ref() -> MetaSchemaRef {
        S::schema_ref()
    }

    fn register(registry: &mut Registry) {
        S::register(registry);
    }
}

impl<T: DeserializeOwned + Send, S: Type> ParsePayload for JsonBody<T, S> {
    const IS_REQUIRED: bool = true;

    async fn from_request(request: &Request, body: &mut RequestBody) -> poem::Result<Self> {
        // `app` always sets the limit; the default keeps the payload safe when
        // the API is mounted some other way.
        let limit = request
            .data::<BodyLimit>()
            .copied()
            .unwrap_or(BodyLimit(DEFAULT_BODY_LIMIT))
            .0;
        let bytes = read_limited(body.take()?, limit).await?;
        Ok(Self {
            value: parse(&bytes)?,
            schema: PhantomData,
        })
    }
}

impl<'a, T: DeserializeOwned + Send, S: Type> ApiExtractor<'a> for JsonBody<T, S> {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::RequestObject];

    type ParamType = ();
    type ParamRawType = ();

    fn register(registry: &mut Registry) {
        <Self as Payload>::register(registry);
    }

    fn request_meta() -> Option<MetaRequest> {
        Some(MetaRequest {
            description: None,
            content: vec![MetaMediaType {
                content_type: <Self as Payload>::CONTENT_TYPE,
                schema: <Self as Payload>::schema_ref(),
            }],
            required: true,
        })
    }

    async fn from_request(
        request: &'a Request,
        body: &mut RequestBody,
        _param_opts: ExtractParamOptions<Self::ParamType>,
    ) -> poem::Result<Self> {
        // Checked before reading: a body that is not JSON is not worth reading.
        match request.content_type() {
            Some(content_type) if is_json(content_type) => {
                <Self as ParsePayload>::from_request(request, body).await
            }
            _ => Err(ApiError::unsupported_media_type().into()),
        }
    }
}

/// The body's bytes, at most `limit` of them.
///
/// Collected frame by frame: poem's `into_bytes_limit` reads through a
/// zeroed 4 KiB buffer and copies out of it, which was 6 % of a cached
/// LOOKUP's instructions (BENCHMARKS.md, "Reads from memory"). A body that
/// arrives in one frame, as small ones do, is handed on without a copy.
async fn read_limited(body: poem::Body, limit: usize) -> Result<Bytes, ApiError> {
    let body: BoxBody<Bytes, std::io::Error> = body.into();
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.is::<LengthLimitError>() => Err(ApiError::payload_too_large(limit)),
        Err(error) => Err(ApiError::bad_request(format!(
            "the request body could not be read: {error}"
        ))),
    }
}

/// `application/json` or any `application/*+json`, with any parameters.
fn is_json(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || essence
            .strip_prefix("application/")
            .is_some_and(|subtype| subtype.ends_with("+json"))
}

/// Parses a body, naming the field at fault in every error.
pub(crate) fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if depth::exceeds(bytes, depth::MAX_DEPTH) {
        return Err(ApiError::bad_request(format!(
            "the request body nests deeper than {} levels",
            depth::MAX_DEPTH
        )));
    }
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|error| {
        ApiError::bad_request(format!(
            "the request body is not valid JSON: {}",
            json_error_detail(&error)
        ))
    })?;
    parse_value(value)
}

/// Reads a JSON value into `T` as a body is read, naming the field at fault
/// in every error.
pub(crate) fn parse_value<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(Strict(value)).map_err(body_error)
}

/// What is wrong with text that did not parse as JSON, with its position.
///
/// JSON lets a `\\u` escape name half of a UTF-16 surrogate pair, which no
/// string of Unicode characters can hold; serde_json's words for that
/// ("unexpected end of hex escape") do not tell a client what to fix.
pub(crate) fn json_error_detail(error: &serde_json::Error) -> String {
    let detail = error.to_string();
    if detail.contains("surrogate") || detail.contains("hex escape") {
        format!(
            "strings must hold Unicode characters, and a \\u escape of U+D800 to U+DFFF \
             (a UTF-16 surrogate) must be a high one followed by a low one ({detail})"
        )
    } else if detail.starts_with("invalid unicode code point") {
        format!("the text must be UTF-8 ({detail})")
    } else {
        detail
    }
}

fn body_error(error: serde_path_to_error::Error<serde_json::Error>) -> ApiError {
    let path = error.path().to_string();
    let at_root = error.path().iter().len() == 0;
    let message = error.into_inner().to_string();
    // serde reports a missing field at the object that lacks it, and names the
    // field only in its message.
    if let Some(name) = missing_field(&message) {
        let field = if at_root {
            name.to_owned()
        } else {
            format!("{path}.{name}")
        };
        return ApiError::invalid(&field, format!("{field}: is required"));
    }
    if at_root {
        ApiError::bad_request(format!("invalid request body: {message}"))
    } else {
        ApiError::invalid(&path, format!("{path}: {message}"))
    }
}

/// The field named by serde's "missing field `<name>`" message.
fn missing_field(message: &str) -> Option<&str> {
    message
        .strip_prefix("missing field `")?
        .split_once('`')
        .map(|(name, _)| name)
}

/// Deserialises a field that may be absent but not `null`.
///
/// serde reads `null` as `None` for an `Option` field; the contract makes
/// `null` a 400 naming the field, which this gives, as for any wrong type.
/// Use with `#[serde(default, deserialize_with = "present")]`.
pub(crate) fn present<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(deserializer).map(Some)
}

/// A JSON response body serialised ahead of time, documented with the schema
/// of `S`.
pub(crate) struct JsonBytes<S> {
    bytes: Vec<u8>,
    schema: PhantomData<fn() -> S>,
}

impl<S> JsonBytes<S> {
    /// Serialises `value`, which must have the shape `S` documents.
    ///
    /// # Errors
    /// a 500 ([`ApiError::internal`]) when `value` fails to serialise, which is a bug.
    pub(crate) fn new(value: &impl Serialize) -> Result<Self, ApiError> {
        let bytes = serde_json::to_vec(value).map_err(|error| ApiError::internal(&error))?;
        Ok(Self {
            bytes,
            schema: PhantomData,
        })
    }
}

impl<S: Type> Payload for JsonBytes<S> {
    const CONTENT_TYPE: &'static str = JSON_CONTENT_TYPE;

    fn schema_ref() -> MetaSchemaRef {
        S::schema_ref()
    }

    fn register(registry: &mut Registry) {
        S::register(registry);
    }
}

impl<S: Send> IntoResponse for JsonBytes<S> {
    fn into_response(self) -> Response {
        Response::builder()
            .content_type(JSON_CONTENT_TYPE)
            .body(self.bytes)
    }
}

#[cfg(test)]
mod tests {
    use poem::http::StatusCode;

    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Outer {
        code: String,
        #[serde(default, deserialize_with = "present")]
        title: Option<String>,
        #[serde(default, deserialize_with = "present")]
        inner: Option<Inner>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Inner {
        #[serde(default, deserialize_with = "present")]
        flag: Option<bool>,
    }

    fn rejection(json: &str) -> (Option<String>, String) {
        let error = parse::<Outer>(json.as_bytes()).expect_err("rejected");
        assert_eq!(error.status(), StatusCode::BAD_REQUEST, "{json}");
        let body = error.body();
        (body.error_details.map(|d| d.field), body.error_message)
    }

    #[test]
    fn absent_optional_fields_are_none_and_present_ones_are_read() {
        // Act
        let outer: Outer = parse(br#"{"code": "A", "inner": {"flag": true}}"#).expect("valid");

        // Assert
        assert_eq!(outer.code, "A");
        assert_eq!(outer.title, None);
        assert_eq!(outer.inner.and_then(|inner| inner.flag), Some(true));
    }

    #[test]
    fn null_is_rejected_naming_the_field() {
        let (field, message) = rejection(r#"{"code": "A", "title": null}"#);
        assert_eq!(field.as_deref(), Some("title"));
        assert!(
            message.starts_with("title: invalid type: null"),
            "{message}"
        );
    }

    #[test]
    fn nested_errors_name_the_dotted_path() {
        let (field, message) = rejection(r#"{"code": "A", "inner": {"flag": "yes"}}"#);
        assert_eq!(field.as_deref(), Some("inner.flag"));
        assert!(
            message.starts_with("inner.flag: invalid type: string"),
            "{message}"
        );
    }

    #[test]
    fn unknown_fields_are_named_with_their_path() {
        let (field, message) = rejection(r#"{"code": "A", "inner": {"flg": true}}"#);
        assert_eq!(field.as_deref(), Some("inner.flg"));
        assert!(message.contains("unknown field"), "{message}");
    }

    #[test]
    fn a_missing_required_field_is_named() {
        let (field, message) = rejection(r#"{"title": "x"}"#);
        assert_eq!(field.as_deref(), Some("code"));
        assert_eq!(message, "code: is required");
    }

    #[test]
    fn malformed_json_is_rejected_without_a_field() {
        for json in [
            "",
            "{",
            r#"{"code": "A"} trailing"#,
            "{\"code\": \"\u{0}\"}",
        ] {
            let (field, message) = rejection(json);
            assert_eq!(field, None, "{json:?}");
            assert!(
                message.starts_with("the request body is not valid JSON"),
                "{message}"
            );
        }
    }

    #[test]
    fn lone_surrogate_escapes_are_rejected_saying_what_to_fix() {
        for json in [
            r#"{"code": "\ud800"}"#,
            r#"{"code": "\ud800x"}"#,
            r#"{"code": "\udc00"}"#,
            r#"{"code": "a\udfff"}"#,
            r#"{"code": "\ud800\u0041"}"#,
            r#"{"code": "\ud800\ud800"}"#,
        ] {
            let (field, message) = rejection(json);
            assert_eq!(field, None, "{json}");
            assert!(
                message.starts_with(
                    "the request body is not valid JSON: strings must hold Unicode characters"
                ),
                "{json}: {message}"
            );
        }
    }

    proptest::proptest! {
        #[test]
        fn a_lone_surrogate_escape_anywhere_in_a_body_is_a_400_saying_so(
            before in "[a-z ]{0,8}",
            surrogate in 0xd800u32..0xe000,
            after in proptest::prop_oneof![
                proptest::strategy::Just(String::new()),
                "[a-z\"]{1,3}",
                proptest::strategy::Just("\\u0041".to_owned()),
                proptest::strategy::Just("\\ud800".to_owned()),
            ],
            in_title in proptest::arbitrary::any::<bool>(),
        ) {
            let text = format!("{before}\\u{surrogate:04x}{after}");
            let json = if in_title {
                format!(r#"{{"code": "A", "title": "{text}"}}"#)
            } else {
                format!(r#"{{"code": "{text}"}}"#)
            };
            let error = parse::<Outer>(json.as_bytes()).expect_err("rejected");
            proptest::prop_assert_eq!(error.status(), StatusCode::BAD_REQUEST);
            proptest::prop_assert!(
                error.to_string().starts_with(
                    "the request body is not valid JSON: strings must hold Unicode characters"
                ),
                "{}: {}", json, error
            );
        }
    }

    #[test]
    fn a_surrogate_pair_escape_is_one_character() {
        let outer: Outer = parse(br#"{"code": "\ud83d\ude00"}"#).expect("valid");
        assert_eq!(outer.code, "\u{1f600}");
    }

    #[test]
    fn bodies_nested_deeper_than_the_limit_are_rejected_before_parsing() {
        let deep = format!(
            r#"{{"code": "A", "inner": {}{}}}"#,
            "[".repeat(depth::MAX_DEPTH),
            "]".repeat(depth::MAX_DEPTH)
        );
        let (field, message) = rejection(&deep);
        assert_eq!(field, None);
        assert_eq!(message, "the request body nests deeper than 32 levels");
    }

    #[test]
    fn invalid_utf8_is_malformed_json() {
        let error = parse::<Outer>(b"{\"code\": \"\xff\"}").expect_err("rejected");
        assert!(
            error
                .to_string()
                .starts_with("the request body is not valid JSON: the text must be UTF-8"),
            "{error}"
        );
    }

    #[test]
    fn a_body_that_is_not_an_object_is_rejected_as_a_whole() {
        let (field, message) = rejection("[1]");
        assert_eq!(field, None);
        assert!(
            message.starts_with("invalid request body: invalid type: sequence"),
            "{message}"
        );
    }

    #[test]
    fn an_array_in_place_of_a_nested_object_is_a_wrong_type() {
        let (field, message) = rejection(r#"{"code": "A", "inner": [true]}"#);
        assert_eq!(field.as_deref(), Some("inner"));
        assert!(
            message.starts_with("inner: invalid type: sequence"),
            "{message}"
        );
    }

    #[test]
    fn serdes_missing_field_message_is_read_back() {
        assert_eq!(missing_field("missing field `code`"), Some("code"));
        assert_eq!(missing_field("unknown field `code`"), None);
    }

    #[test]
    fn json_content_types_are_recognised() {
        for ok in [
            "application/json",
            "Application/JSON; charset=utf-8",
            "application/merge-patch+json",
        ] {
            assert!(is_json(ok), "{ok}");
        }
        for bad in [
            "text/plain",
            "application/x-www-form-urlencoded",
            "application/jsonx",
            "",
        ] {
            assert!(!is_json(bad), "{bad}");
        }
    }
}
