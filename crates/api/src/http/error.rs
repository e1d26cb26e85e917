//! Errors at the HTTP boundary (contract §4): one [`ApiError`] for every
//! failure, from every layer, and the one body shape all of them are sent in.
//!
//! Domain errors arrive through `From` impls, one status per variant. Errors of
//! poem and poem-openapi (routing, query parameters, content type) arrive as
//! [`poem::Error`] and are reshaped by [`ApiError::from_poem`], so a client never
//! sees a `text/plain` error.

use std::fmt::Debug;
use std::marker::PhantomData;
use std::time::Duration;

use domain::change_feed::ReadChangesError;
use domain::health::HealthError;
use domain::integration_point::{
    CreatePointError, DeletePointError, FieldError, GetPointError, ListPointsError, LookupError,
    PatchPointError, PatchRejected, RotateTokenError, StoreError, UniqueField, WriteError,
};
use poem::error::{MethodNotAllowedError, NotFoundError, ResponseError};
use poem::http::{HeaderValue, StatusCode, header};
use poem::{Body, Response};
use poem_openapi::error::{ContentTypeError, ParseParamError};
use poem_openapi::registry::{
    MetaMediaType, MetaResponse, MetaResponses, MetaSchema, MetaSchemaRef, Registry,
};
use poem_openapi::types::Type;
use poem_openapi::{ApiResponse, Object};

/// The media type of every JSON body this service sends.
pub(crate) const JSON_CONTENT_TYPE: &str = "application/json; charset=utf-8";

/// Why a request failed. Each variant has exactly one status.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ApiError {
    /// 400: input the client can fix; `field` names the offending field or
    /// parameter when there is one.
    #[error("{message}")]
    BadRequest {
        /// The sentence the client reads.
        message: String,
        /// The field path or parameter name, for `error_details`.
        field: Option<String>,
    },
    /// 401: the request carries no API key, or not as `Authorization: Bearer <key>`.
    #[error("an API key is required: send `Authorization: Bearer <key>`")]
    MissingKey,
    /// 401: the API key sent is not one the service knows.
    #[error("the API key is not valid")]
    UnknownKey,
    /// 403: the API key lacks the scope the operation needs.
    #[error("the API key lacks the `{0}` scope this operation needs")]
    Forbidden(&'static str),
    /// 403: a CORS preflight from an allowed origin asks for a method or a
    /// header the API does not take; the reason is poem's.
    #[error("CORS preflight refused: {0}")]
    CorsRefused(String),
    /// 404: no point has the requested id.
    #[error("{}", GetPointError::NotFound)]
    PointNotFound,
    /// 404: LOOKUP matched nothing. The body is fixed by the source document.
    #[error("{}", LookupError::NoMatch)]
    LookupFailed,
    /// 404: no route has this path.
    #[error("not found")]
    RouteNotFound,
    /// 405: the path exists but not with this method; `allow` lists the
    /// methods it has.
    #[error("method not allowed")]
    MethodNotAllowed {
        /// The value of the `Allow` header, when the path is known.
        allow: Option<String>,
    },
    /// 409: another point already has this value of a unique field.
    #[error("{}", WriteError::Duplicate(*.0))]
    Conflict(UniqueField),
    /// 409: concurrent writers kept winning the race for the point. It is a
    /// conflict with the resource's current state, not an outage (503), and
    /// the client may simply retry.
    #[error("{}", PatchPointError::Contended)]
    Contended,
    /// 408: the client did not send a complete request head in time; sent by
    /// the connection itself, which then closes.
    #[error("the request head was not received within {} ms", .after.as_millis())]
    HeadTimeout {
        /// The time allowed.
        after: Duration,
    },
    /// 410: the change feed no longer retains changes after the revision
    /// asked for; the client lists again.
    #[error("changes after this revision are no longer retained; list again")]
    Gone,
    /// 412: `If-Match` names no current revision of the point.
    #[error("{}", PatchPointError::PreconditionFailed)]
    PreconditionFailed,
    /// 413: the request body exceeds the configured limit.
    #[error("the request body is larger than {limit} bytes")]
    PayloadTooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
    /// 414: the query string exceeds the configured limit.
    #[error("the query string is longer than {limit} bytes")]
    QueryTooLong {
        /// The limit, in bytes.
        limit: usize,
    },
    /// 415: the request body is not declared as JSON.
    #[error("Content-Type must be application/json")]
    UnsupportedMediaType,
    /// 503: the database could not be reached.
    #[error("the database is unavailable; retry later")]
    Unavailable,
    /// 503: the request took longer than the configured timeout (a slow body
    /// or a slow database; the client cannot tell, and may retry either way).
    #[error("the request was not completed within {} ms; retry later", .after.as_millis())]
    TimedOut {
        /// The time allowed.
        after: Duration,
    },
    /// 503: the readiness check failed; the message says what is wrong.
    #[error("not ready: {0}")]
    NotReady(HealthError),
    /// 503: the readiness check of a server that drains before shutting down.
    #[error("not ready: shutting down")]
    ShuttingDown,
    /// 500: anything unexpected. The message reveals nothing; the cause is
    /// logged where the error is created.
    #[error("internal server error")]
    Internal,
    /// Another client error raised by a layer outside this crate (poem or a
    /// middleware), carried with its status and a neutral message.
    #[error("{}", .0.canonical_reason().unwrap_or("client error"))]
    OtherClientError(StatusCode),
}

impl ApiError {
    /// A 400 about the request as a whole.
    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self::BadRequest {
            message: message.into(),
            field: None,
        }
    }

    /// A 400 about one field or parameter.
    pub(crate) fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::BadRequest {
            message: message.into(),
            field: Some(field.into()),
        }
    }

    /// A 400 about the query or path parameter `name`, for the `reason` its
    /// parser gave.
    pub(crate) fn param(name: &str, reason: impl std::fmt::Display) -> Self {
        Self::invalid(name, format!("{name}: {reason}"))
    }

    /// A 500 whose cause goes to the log and nowhere else.
    pub(crate) fn internal(cause: &(impl Debug + ?Sized)) -> Self {
        tracing::error!(error = ?cause, "request failed unexpectedly");
        Self::Internal
    }

    /// The HTTP status.
    pub(crate) fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::MissingKey | Self::UnknownKey => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) | Self::CorsRefused(_) => StatusCode::FORBIDDEN,
            Self::HeadTimeout { .. } => StatusCode::REQUEST_TIMEOUT,
            Self::QueryTooLong { .. } => StatusCode::URI_TOO_LONG,
            Self::PointNotFound | Self::LookupFailed | Self::RouteNotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict(_) | Self::Contended => StatusCode::CONFLICT,
            Self::Gone => StatusCode::GONE,
            Self::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Unavailable | Self::NotReady(_) | Self::ShuttingDown | Self::TimedOut { .. } => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            Self::OtherClientError(status) => *status,
        }
    }

    /// The body, in the shape of contract §4.
    pub(crate) fn body(&self) -> ErrorBody {
        let field = match self {
            Self::BadRequest { field, .. } => field.clone(),
            Self::Conflict(field) => Some(field.field().path().to_owned()),
            _ => None,
        };
        ErrorBody {
            error_code: 1000 + self.status().as_u16(),
            error_message: self.to_string(),
            error_details: field.map(|field| ErrorDetails { field }),
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
            return Self::UnsupportedMediaType;
        }
        if error.is::<NotFoundError>() {
            return Self::RouteNotFound;
        }
        if error.is::<MethodNotAllowedError>() {
            return Self::MethodNotAllowed { allow: allow() };
        }
        let status = error.status();
        if status.is_client_error() {
            Self::OtherClientError(status)
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
            .status(self.status())
            .content_type(JSON_CONTENT_TYPE)
            .body(body);
        if let Self::MethodNotAllowed { allow: Some(allow) } = self
            && let Ok(value) = allow.parse()
        {
            response.headers_mut().insert(header::ALLOW, value);
        }
        // RFC 6750: the challenge, and whether the key sent was the problem.
        let challenge = match self {
            Self::MissingKey => Some(r#"Bearer realm="integration-points""#),
            Self::UnknownKey => Some(r#"Bearer realm="integration-points", error="invalid_token""#),
            _ => None,
        };
        if let Some(challenge) = challenge {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
            );
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

impl From<FieldError> for ApiError {
    fn from(error: FieldError) -> Self {
        Self::invalid(error.field.path(), error.to_string())
    }
}

impl From<PatchRejected> for ApiError {
    fn from(error: PatchRejected) -> Self {
        Self::invalid(error.field.path(), error.to_string())
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Unavailable(_) => {
                tracing::warn!(error = ?error, "the store is unavailable");
                Self::Unavailable
            }
            StoreError::Unknown(_) => Self::internal(&error),
        }
    }
}

impl From<HealthError> for ApiError {
    fn from(error: HealthError) -> Self {
        tracing::warn!(error = ?error, "not ready");
        Self::NotReady(error)
    }
}

impl From<ReadChangesError> for ApiError {
    fn from(error: ReadChangesError) -> Self {
        match error {
            ReadChangesError::Gone { .. } => Self::Gone,
            ReadChangesError::Store(e) => e.into(),
        }
    }
}

impl From<CreatePointError> for ApiError {
    fn from(error: CreatePointError) -> Self {
        match error {
            CreatePointError::Conflict(field) => Self::Conflict(field),
            CreatePointError::Store(error) => error.into(),
        }
    }
}

impl From<GetPointError> for ApiError {
    fn from(error: GetPointError) -> Self {
        match error {
            GetPointError::NotFound => Self::PointNotFound,
            GetPointError::Store(error) => error.into(),
        }
    }
}

impl From<ListPointsError> for ApiError {
    fn from(error: ListPointsError) -> Self {
        match error {
            ListPointsError::Store(error) => error.into(),
        }
    }
}

impl From<PatchPointError> for ApiError {
    fn from(error: PatchPointError) -> Self {
        match error {
            PatchPointError::NotFound => Self::PointNotFound,
            PatchPointError::PreconditionFailed => Self::PreconditionFailed,
            PatchPointError::Rejected(rejected) => rejected.into(),
            PatchPointError::Conflict(field) => Self::Conflict(field),
            PatchPointError::Contended => Self::Contended,
            PatchPointError::Store(error) => error.into(),
        }
    }
}

impl From<DeletePointError> for ApiError {
    fn from(error: DeletePointError) -> Self {
        match error {
            DeletePointError::NotFound => Self::PointNotFound,
            DeletePointError::PreconditionFailed => Self::PreconditionFailed,
            DeletePointError::Store(error) => error.into(),
        }
    }
}

impl From<LookupError> for ApiError {
    fn from(error: LookupError) -> Self {
        match error {
            LookupError::NoMatch => Self::LookupFailed,
            LookupError::Store(error) => error.into(),
        }
    }
}

impl From<RotateTokenError> for ApiError {
    fn from(error: RotateTokenError) -> Self {
        match error {
            RotateTokenError::NotFound => Self::PointNotFound,
            RotateTokenError::PreconditionFailed => Self::PreconditionFailed,
            RotateTokenError::Contended => Self::Contended,
            RotateTokenError::Store(error) => error.into(),
        }
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
    use domain::integration_point::UniqueField;

    use super::*;

    #[test]
    fn error_codes_are_1000_plus_the_status() {
        let cases = [
            (ApiError::bad_request("x"), 1400),
            (ApiError::MissingKey, 1401),
            (ApiError::UnknownKey, 1401),
            (ApiError::Forbidden("write"), 1403),
            (
                ApiError::CorsRefused("request-method not allowed".into()),
                1403,
            ),
            (
                ApiError::HeadTimeout {
                    after: Duration::from_secs(1),
                },
                1408,
            ),
            (ApiError::QueryTooLong { limit: 1 }, 1414),
            (
                ApiError::TimedOut {
                    after: Duration::from_secs(1),
                },
                1503,
            ),
            (ApiError::PointNotFound, 1404),
            (ApiError::MethodNotAllowed { allow: None }, 1405),
            (ApiError::Conflict(UniqueField::Code), 1409),
            (ApiError::PreconditionFailed, 1412),
            (ApiError::PayloadTooLarge { limit: 1 }, 1413),
            (ApiError::UnsupportedMediaType, 1415),
            (ApiError::Internal, 1500),
            (ApiError::Unavailable, 1503),
            (ApiError::NotReady(HealthError::MigrationsPending(1)), 1503),
            (ApiError::ShuttingDown, 1503),
        ];
        for (error, code) in cases {
            assert_eq!(error.body().error_code, code, "{error:?}");
        }
    }

    #[test]
    fn a_conflict_names_the_field_already_in_use() {
        // Act
        let body = ApiError::from(CreatePointError::Conflict(UniqueField::Code)).body();

        // Assert
        assert_eq!(body.error_message, "code: already in use");
        assert_eq!(
            body.error_details,
            Some(ErrorDetails {
                field: "code".into()
            })
        );
    }

    #[test]
    fn an_unknown_store_failure_is_an_opaque_500() {
        // Arrange
        let cause = StoreError::Unknown("relation \"points\" does not exist".into());

        // Act
        let error = ApiError::from(GetPointError::Store(cause));

        // Assert
        assert_eq!(error.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(error.body().error_message, "internal server error");
    }

    #[test]
    fn an_unreachable_store_is_a_503() {
        let error = ApiError::from(ListPointsError::Store(StoreError::Unavailable(
            "pool timed out".into(),
        )));
        assert_eq!(error.status(), StatusCode::SERVICE_UNAVAILABLE);
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
    fn contention_is_a_retryable_conflict() {
        assert_eq!(
            ApiError::from(PatchPointError::Contended).status(),
            StatusCode::CONFLICT
        );
        assert_eq!(
            ApiError::from(RotateTokenError::Contended).status(),
            StatusCode::CONFLICT
        );
    }

    #[test]
    fn a_failed_lookup_has_exactly_the_source_documents_body() {
        // Act
        let json = serde_json::to_value(ApiError::from(LookupError::NoMatch).body());

        // Assert
        assert_eq!(
            json.ok(),
            Some(serde_json::json!({"error_code": 1404, "error_message": "Lookup failed"}))
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
