//! Errors at the HTTP boundary (contract §4): one [`ApiError`] for every
//! failure, from every layer, and the one body shape all of them are sent in.
//!
//! An error is a status, a sentence, the field at fault when there is one, and
//! the headers the status calls for; its `error_code` is derived from the
//! status here and nowhere else. This room knows no resource and no access
//! control: the errors of the points and of the guard are built in their own
//! rooms (`points::errors`, `auth::guard`) and arrive here finished. What is
//! made here is what the HTTP edge itself refuses: bodies, parameters, routes,
//! methods, limits, time-outs, readiness. Errors of poem and poem-openapi
//! (routing, query parameters, content type) arrive as [`poem::Error`] and
//! are reshaped by [`ApiError::from_poem`], so a client never sees a
//! `text/plain` error.

use std::fmt::{Debug, Display};
use std::marker::PhantomData;
use std::time::Duration;

use domain::health::HealthError;
use poem::error::{MethodNotAllowedError, NotFoundError, ResponseError};
use poem::http::{HeaderName, HeaderValue, StatusCode, header};
use poem::{Body, Response};
use poem_openapi::error::{ContentTypeError, ParseParamError};
use poem_openapi::registry::{
    MetaMediaType, MetaResponse, MetaResponses, MetaSchema, MetaSchemaRef, Registry,
};
use poem_openapi::types::Type;
use poem_openapi::{ApiResponse, Object};

/// The media type of every JSON body this service sends.
pub(crate) const JSON_CONTENT_TYPE: &str = "application/json; charset=utf-8";

/// Why a request failed: what the client is answered, and nothing else.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub(crate) struct ApiError {
    status: StatusCode,
    message: String,
    /// The field path or parameter name, for `error_details`.
    field: Option<String>,
    headers: Vec<(HeaderName, HeaderValue)>,
}

impl ApiError {
    /// An error with `status` whose body says `message`.
    pub(crate) fn new(status: StatusCode, message: impl Display) -> Self {
        Self {
            status,
            message: message.to_string(),
            field: None,
            headers: Vec::new(),
        }
    }

    /// The same error, about the field or parameter `field`.
    pub(crate) fn about(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    /// The same error, sent with the header `name: value`.
    pub(crate) fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }

    /// A 400 about the request as a whole: input the client can fix.
    pub(crate) fn bad_request(message: impl Display) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// A 400 about one field or parameter.
    pub(crate) fn invalid(field: impl Into<String>, message: impl Display) -> Self {
        Self::bad_request(message).about(field)
    }

    /// A 400 about the query or path parameter `name`, for the `reason` its
    /// parser gave.
    pub(crate) fn param(name: &str, reason: impl Display) -> Self {
        Self::invalid(name, format!("{name}: {reason}"))
    }

    /// A 500 whose cause goes to the log and nowhere else.
    pub(crate) fn internal(cause: &(impl Debug + ?Sized)) -> Self {
        tracing::error!(error = ?cause, "request failed unexpectedly");
        Self::unexpected()
    }

    /// A 500 that reveals nothing, for a cause already logged (or, in the
    /// documentation's examples, for one that cannot happen).
    pub(crate) fn unexpected() -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal server error")
    }

    /// 404: no route has this path.
    pub(crate) fn route_not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not found")
    }

    /// 405: the path exists but not with this method; `allow`, when the path
    /// is known, lists the methods it has and goes out as `Allow`.
    pub(crate) fn method_not_allowed(allow: Option<String>) -> Self {
        let error = Self::new(StatusCode::METHOD_NOT_ALLOWED, "method not allowed");
        match allow.and_then(|allow| allow.parse().ok()) {
            Some(value) => error.with_header(header::ALLOW, value),
            None => error,
        }
    }

    /// 403: a CORS preflight from an allowed origin asks for a method or a
    /// header the API does not take; the reason is poem's.
    pub(crate) fn cors_refused(reason: impl Display) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            format!("CORS preflight refused: {reason}"),
        )
    }

    /// 408: the client did not send a complete request head in time; sent by
    /// the connection itself, which then closes.
    pub(crate) fn head_timeout(after: Duration) -> Self {
        Self::new(
            StatusCode::REQUEST_TIMEOUT,
            format!(
                "the request head was not received within {} ms",
                after.as_millis()
            ),
        )
    }

    /// 413: the request body exceeds the configured limit.
    pub(crate) fn payload_too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the request body is larger than {limit} bytes"),
        )
    }

    /// 414: the query string exceeds the configured limit.
    pub(crate) fn query_too_long(limit: usize) -> Self {
        Self::new(
            StatusCode::URI_TOO_LONG,
            format!("the query string is longer than {limit} bytes"),
        )
    }

    /// 415: the request body is not declared as JSON.
    pub(crate) fn unsupported_media_type() -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Content-Type must be application/json",
        )
    }

    /// 503: the request took longer than the configured timeout (a slow body
    /// or a slow database; the client cannot tell, and may retry either way).
    pub(crate) fn timed_out(after: Duration) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "the request was not completed within {} ms; retry later",
                after.as_millis()
            ),
        )
    }

    /// 503: the readiness check of a server that drains before shutting down.
    pub(crate) fn shutting_down() -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "not ready: shutting down")
    }

    /// The HTTP status.
    pub(crate) fn status(&self) -> StatusCode {
        self.status
    }

    /// The body, in the shape of contract §4.
    pub(crate) fn body(&self) -> ErrorBody {
        ErrorBody {
            error_code: 1000 + self.status.as_u16(),
            error_message: self.message.clone(),
            error_details: self.field.clone().map(|field| ErrorDetails { field }),
        }
    }

    /// Reshapes an error raised by poem or poem-openapi (or by this crate,
    /// which passes through). A 405 gets its `Allow` header from `allow`,
    /// which knows the methods of the request's path.
    pub(crate) fn from_poem(error: poem::Error, allow: impl FnOnce() -> Option<String>) -> Self {
        let error = match error.downcast::<Self>() {
            Ok(api_error) => return api_error,
            Err(error) => error,
        };
        if let Some(param) = error.downcast_ref::<ParseParamError>() {
            return Self::param(param.name, bare_reason(&param.reason));
        }
        if error.is::<ContentTypeError>() {
            return Self::unsupported_media_type();
        }
        if error.is::<NotFoundError>() {
            return Self::route_not_found();
        }
        if error.is::<MethodNotAllowedError>() {
            return Self::method_not_allowed(allow());
        }
        let status = error.status();
        if status.is_client_error() {
            // Raised outside this crate (poem or a middleware): its status,
            // with a neutral sentence.
            Self::new(status, status.canonical_reason().unwrap_or("client error"))
        } else {
            Self::internal(&error)
        }
    }
}

/// The reason inside poem-openapi's wrapping of a parameter's parse error:
/// `failed to parse "<type>": <reason>`, followed by `(occurred while parsing
/// "<type>")` for each wrapper type such as `Option`. The client wrote a
/// parameter, not a Rust type, so only the reason is theirs to read.
fn bare_reason(wrapped: &str) -> &str {
    let mut reason = wrapped;
    while let Some((inner, _)) = reason
        .strip_suffix("\")")
        .and_then(|rest| rest.rsplit_once(" (occurred while parsing \""))
    {
        reason = inner;
    }
    reason
        .strip_prefix("failed to parse \"")
        .and_then(|rest| rest.split_once("\": "))
        .map_or(reason, |(_, inner)| inner)
}

impl ResponseError for ApiError {
    fn status(&self) -> StatusCode {
        ApiError::status(self)
    }

    fn as_response(&self) -> Response {
        let body = match serde_json::to_vec(&self.body()) {
            Ok(bytes) => Body::from_vec(bytes),
            // A struct of strings and integers always serialises; should that
            // ever change, the status still tells the client what happened.
            Err(_) => Body::empty(),
        };
        let mut response = Response::builder()
            .status(self.status)
            .content_type(JSON_CONTENT_TYPE)
            .body(body);
        for (name, value) in &self.headers {
            response.headers_mut().insert(name.clone(), value.clone());
        }
        response
    }
}

/// The body of every error response: `error_code` is 1000 + the HTTP status.
#[derive(Debug, Clone, PartialEq, Eq, Object, serde::Serialize)]
#[oai(rename = "Error")]
pub(crate) struct ErrorBody {
    /// 1000 + the HTTP status.
    pub(crate) error_code: u16,
    /// What went wrong, for a human: `<field>: <problem>` when one field is at fault.
    pub(crate) error_message: String,
    /// Machine-readable details, present when one field or parameter is at fault.
    #[oai(skip_serializing_if_is_none)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) error_details: Option<ErrorDetails>,
}

/// Which field an error is about.
#[derive(Debug, Clone, PartialEq, Eq, Object, serde::Serialize)]
pub(crate) struct ErrorDetails {
    /// The field's dotted path (`opts.title`) or the query parameter's name.
    pub(crate) field: String,
}

/// 503: the readiness check failed; the message says what is wrong.
impl From<HealthError> for ApiError {
    fn from(error: HealthError) -> Self {
        tracing::warn!(error = ?error, "not ready");
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: {error}"),
        )
    }
}

/// An error status an operation documents, with the sentence Swagger UI shows
/// and an example of the error: a real one, built as the service builds it,
/// so the document cannot show a body the service never sends.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ErrorStatus {
    status: u16,
    description: &'static str,
    example: fn() -> ApiError,
}

impl ErrorStatus {
    /// Documents `status` with `description` and the error `example` makes.
    pub(crate) const fn new(
        status: u16,
        description: &'static str,
        example: fn() -> ApiError,
    ) -> Self {
        Self {
            status,
            description,
            example,
        }
    }

    /// The status.
    pub(crate) const fn status(&self) -> u16 {
        self.status
    }

    /// The example error.
    pub(crate) fn example(&self) -> ApiError {
        (self.example)()
    }

    /// The documentation of the status: its description, and the error
    /// shape with the example as its body.
    pub(crate) fn meta(&self) -> MetaResponse {
        MetaResponse {
            description: self.description,
            status: Some(self.status),
            status_range: None,
            content: vec![MetaMediaType {
                content_type: JSON_CONTENT_TYPE,
                schema: error_schema(&self.example()),
            }],
            headers: vec![],
        }
    }
}

/// The error shape with `example` as its example body. OpenAPI 3.0 allows no
/// sibling beside a `$ref`, hence the `allOf` of one.
fn error_schema(example: &ApiError) -> MetaSchemaRef {
    MetaSchemaRef::Inline(Box::new(MetaSchema {
        all_of: vec![ErrorBody::schema_ref()],
        example: serde_json::to_value(example.body()).ok(),
        ..MetaSchema::ANY
    }))
}

/// An operation, as far as its error documentation goes.
pub(crate) trait Operation {
    /// The error statuses the operation can answer with.
    const ERRORS: &'static [ErrorStatus];
}

/// An [`ApiError`] returned by operation `O`.
///
/// At run time it is just the error; in the OpenAPI document it lists the
/// statuses `O` declares, each with the [`ErrorBody`] schema, so every
/// operation documents exactly its own failures.
pub(crate) struct OperationError<O> {
    error: ApiError,
    operation: PhantomData<fn() -> O>,
}

impl<O, E: Into<ApiError>> From<E> for OperationError<O> {
    fn from(error: E) -> Self {
        Self {
            error: error.into(),
            operation: PhantomData,
        }
    }
}

impl<O> From<OperationError<O>> for poem::Error {
    fn from(error: OperationError<O>) -> Self {
        error.error.into()
    }
}

impl<O: Operation> ApiResponse for OperationError<O> {
    fn meta() -> MetaResponses {
        MetaResponses {
            responses: O::ERRORS.iter().map(ErrorStatus::meta).collect(),
        }
    }

    fn register(registry: &mut Registry) {
        ErrorBody::register(registry);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_are_1000_plus_the_status() {
        let cases = [
            (ApiError::bad_request("x"), 1400),
            (ApiError::invalid("limit", "limit: too large"), 1400),
            (ApiError::cors_refused("request-method not allowed"), 1403),
            (ApiError::route_not_found(), 1404),
            (ApiError::method_not_allowed(None), 1405),
            (ApiError::head_timeout(Duration::from_secs(1)), 1408),
            (ApiError::payload_too_large(1), 1413),
            (ApiError::query_too_long(1), 1414),
            (ApiError::unsupported_media_type(), 1415),
            (ApiError::unexpected(), 1500),
            (ApiError::timed_out(Duration::from_secs(1)), 1503),
            (ApiError::from(HealthError::MigrationsPending(1)), 1503),
            (ApiError::shutting_down(), 1503),
            (ApiError::new(StatusCode::GONE, "gone"), 1410),
        ];
        for (error, code) in cases {
            assert_eq!(error.body().error_code, code, "{error:?}");
            assert_eq!(
                error.as_response().status().as_u16() + 1000,
                code,
                "{error:?}"
            );
        }
    }

    #[test]
    fn an_error_about_a_field_names_it_in_the_details() {
        // Act
        let body = ApiError::invalid("opts.title", "opts.title: too long").body();

        // Assert
        assert_eq!(body.error_message, "opts.title: too long");
        assert_eq!(
            body.error_details,
            Some(ErrorDetails {
                field: "opts.title".into()
            })
        );
    }

    #[test]
    fn a_405_lists_the_paths_methods_in_allow() {
        // Act
        let response = ApiError::method_not_allowed(Some("GET, HEAD".into())).as_response();

        // Assert
        assert_eq!(
            response
                .headers()
                .get(header::ALLOW)
                .map(HeaderValue::as_bytes),
            Some(&b"GET, HEAD"[..])
        );
        assert_eq!(
            response
                .headers()
                .get(header::CONTENT_TYPE)
                .map(HeaderValue::as_bytes),
            Some(JSON_CONTENT_TYPE.as_bytes())
        );
    }

    #[test]
    fn an_unexpected_failure_reveals_nothing() {
        // Act
        let error = ApiError::internal("relation \"points\" does not exist");

        // Assert
        assert_eq!(error.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(error.body().error_message, "internal server error");
    }

    #[test]
    fn a_failed_readiness_check_is_a_503_that_says_why() {
        let body = ApiError::from(HealthError::MigrationsPending(2)).body();

        assert_eq!(body.error_code, 1503);
        assert_eq!(
            body.error_message,
            "not ready: 2 database migration(s) pending"
        );
    }

    #[test]
    fn query_parameter_errors_name_the_parameter() {
        // Arrange
        let error = poem::Error::from(ParseParamError {
            name: "offset",
            reason: r#"failed to parse "integer(uint64)": invalid digit found in string (occurred while parsing "optional_integer(uint64)")"#.into(),
        });

        // Act
        let body = ApiError::from_poem(error, || None).body();

        // Assert
        assert_eq!(body.error_message, "offset: invalid digit found in string");
        assert_eq!(
            body.error_details,
            Some(ErrorDetails {
                field: "offset".into()
            })
        );
    }

    #[test]
    fn unknown_server_errors_from_other_layers_become_opaque_500s() {
        let error = poem::Error::from_string("connection pool exploded", StatusCode::BAD_GATEWAY);
        let body = ApiError::from_poem(error, || None).body();
        assert_eq!(body.error_code, 1500);
        assert_eq!(body.error_message, "internal server error");
    }

    #[test]
    fn other_client_errors_keep_their_status() {
        let error = poem::Error::from_status(StatusCode::UNAUTHORIZED);
        let body = ApiError::from_poem(error, || None).body();
        assert_eq!(body.error_code, 1401);
        assert_eq!(body.error_message, "Unauthorized");
    }
}
