//! What each operation answers: one `ApiResponse` enum per operation for its
//! successes, and one [`Operation`] per operation listing its error statuses
//! (sent as [`OperationError`](crate::http::error::OperationError)s).

use poem_openapi::ApiResponse;
use uuid::Uuid;

use domain::integration_point::{
    CreatePointError, GetPointError, LookupError, PatchPointError, RotateTokenError, UniqueField,
};

use super::dto::{
    CreateIntegrationPointBody, IntegrationPointBody, LookupBody, PatchIntegrationPointBody,
};
use super::errors::store_unavailable;
use super::params::point_id;
use crate::http::error::{ApiError, ErrorStatus, Operation};
use crate::http::payload::{DEFAULT_BODY_LIMIT, JsonBytes, parse};
use crate::points::params::FilterParam;

/// One point, serialised by `render`.
pub(crate) type PointJson = JsonBytes<IntegrationPointBody>;

/// A list of points, serialised by `render`.
pub(crate) type PointListJson = JsonBytes<Vec<IntegrationPointBody>>;

/// Ids, serialised straight to text rather than through a JSON value each.
pub(crate) type IdListJson = JsonBytes<Vec<Uuid>>;

/// Answer of `POST` on the collection.
#[derive(ApiResponse)]
pub(crate) enum CreatePointResponse {
    /// The created point (200, as in the source document).
    #[oai(status = 200)]
    Created(
        PointJson,
        /// Where the new point lives.
        #[oai(header = "Location")]
        String,
        /// The point's revision, for `If-Match`.
        #[oai(header = "ETag")]
        String,
    ),
}

/// Answer of `GET` on the collection.
#[derive(ApiResponse)]
pub(crate) enum ListPointsResponse {
    /// One page of the points the filter selects, in order.
    #[oai(status = 200)]
    Listed(
        PointListJson,
        /// How many points match the filter, ignoring `offset`, `limit` and
        /// `after`; absent with `count=none`.
        #[oai(header = "X-Total-Count")]
        Option<u64>,
        /// `true` when `X-Total-Count` is the database's estimate (`count=estimated`
        /// with more than `list.exact_count_max` matches); absent when it is exact.
        #[oai(header = "X-Total-Count-Estimated")]
        Option<bool>,
        /// `<…>; rel="next"`: the next page, on every full page (RFC 8288).
        #[oai(header = "Link")]
        Option<String>,
        /// The change feed's revision as of this list: watching `…/changes`
        /// after it yields every change the list does not reflect.
        #[oai(header = "X-Revision")]
        Option<String>,
    ),
}

/// Answer of `GET` on a point.
#[derive(ApiResponse)]
pub(crate) enum GetPointResponse {
    /// The point.
    #[oai(status = 200)]
    Found(
        PointJson,
        /// The point's revision, for `If-Match` and `If-None-Match`.
        #[oai(header = "ETag")]
        String,
    ),
    /// The point still has the revision `If-None-Match` names; no body.
    #[oai(status = 304)]
    NotModified(
        /// The point's revision.
        #[oai(header = "ETag")]
        String,
    ),
}

/// Answer of `PATCH` on a point.
#[derive(ApiResponse)]
pub(crate) enum PatchPointResponse {
    /// The point after the patch (unchanged, with the same `ETag`, when the
    /// patch changed nothing).
    #[oai(status = 200)]
    Patched(
        PointJson,
        /// The point's revision.
        #[oai(header = "ETag")]
        String,
    ),
}

/// Answer of `DELETE` on a point.
#[derive(ApiResponse)]
pub(crate) enum DeletePointResponse {
    /// The point is gone; no body.
    #[oai(status = 204)]
    Deleted,
}

/// Answer of LOOKUP.
#[derive(ApiResponse)]
pub(crate) enum LookupResponse {
    /// The distinct ids of the matching points.
    #[oai(status = 200)]
    Found(IdListJson),
}

/// Answer of `POST …/{id}/rotate_token`.
#[derive(ApiResponse)]
pub(crate) enum RotateTokenResponse {
    /// The point with its new `token_local`.
    #[oai(status = 200)]
    Rotated(
        PointJson,
        /// The point's new revision.
        #[oai(header = "ETag")]
        String,
    ),
}

const BAD_BODY: ErrorStatus = ErrorStatus::new(
    400,
    "The body or a parameter is invalid: malformed JSON, an unknown or `null` field, a value of \
     the wrong type or breaking its rule. `error_details.field` names the field.",
    || create_error(br#"{"code": ""}"#),
);
const BAD_ID_OR_VIEW: ErrorStatus = ErrorStatus::new(
    400,
    "The id is not a UUID, or `mask` or `flat` is invalid; `error_details.field` names which.",
    bad_id,
);
const NOT_FOUND: ErrorStatus = ErrorStatus::new(404, "No integration point has this id.", || {
    GetPointError::NotFound.into()
});
const PRECONDITION_FAILED: ErrorStatus = ErrorStatus::new(
    412,
    "`If-Match` names no current revision of the point; nothing was changed.",
    || PatchPointError::PreconditionFailed.into(),
);
const TOO_LARGE: ErrorStatus =
    ErrorStatus::new(413, "The body exceeds the configured limit.", || {
        ApiError::payload_too_large(DEFAULT_BODY_LIMIT)
    });
const NOT_JSON: ErrorStatus = ErrorStatus::new(
    415,
    "The body is not JSON: `Content-Type` must be `application/json`.",
    ApiError::unsupported_media_type,
);
/// 500, documented alike by every operation of the points and the feed.
pub(crate) const INTERNAL: ErrorStatus = ErrorStatus::new(
    500,
    "Unexpected failure; the service log has the details.",
    ApiError::unexpected,
);
/// 503, documented alike by every operation of the points and the feed.
pub(crate) const UNAVAILABLE: ErrorStatus = ErrorStatus::new(
    503,
    "The database is unavailable; retry later.",
    store_unavailable,
);

/// What the service answers a create with `body`.
fn create_error(body: &[u8]) -> ApiError {
    parse::<CreateIntegrationPointBody>(body)
        .and_then(|body| body.try_into_domain().map_err(ApiError::from))
        .err()
        .unwrap_or_else(ApiError::unexpected)
}

/// What the service answers a patch with `body`.
fn patch_error(body: &[u8]) -> ApiError {
    parse::<PatchIntegrationPointBody>(body)
        .and_then(|body| body.try_into_domain().map_err(ApiError::from))
        .err()
        .unwrap_or_else(ApiError::unexpected)
}

/// What the service answers a path id that is not a UUID.
fn bad_id() -> ApiError {
    point_id("ABCDE").err().unwrap_or_else(ApiError::unexpected)
}

/// `POST` on the collection.
pub(crate) enum Create {}

impl Operation for Create {
    const ERRORS: &'static [ErrorStatus] = &[
        BAD_BODY,
        ErrorStatus::new(
            409,
            "The `code`, `id` or `token_local` is already in use; `error_details.field` names it.",
            || CreatePointError::Conflict(UniqueField::Code).into(),
        ),
        TOO_LARGE,
        NOT_JSON,
        INTERNAL,
        UNAVAILABLE,
    ];
}

/// `GET` on the collection.
pub(crate) enum List {}

impl Operation for List {
    const ERRORS: &'static [ErrorStatus] = &[
        ErrorStatus::new(
            400,
            "A query parameter is invalid (unknown field or operator, wrong operand, `limit` \
             above the maximum, …); `error_details.field` names the parameter.",
            || {
                FilterParam::parse(r#"{"code": {"contains": "AB"}}"#)
                    .err()
                    .map_or_else(ApiError::unexpected, |error| {
                        ApiError::param("filter", error)
                    })
            },
        ),
        INTERNAL,
        UNAVAILABLE,
    ];
}

/// `GET` on a point.
pub(crate) enum Get {}

impl Operation for Get {
    const ERRORS: &'static [ErrorStatus] = &[BAD_ID_OR_VIEW, NOT_FOUND, INTERNAL, UNAVAILABLE];
}

/// `PATCH` on a point.
pub(crate) enum Patch {}

impl Operation for Patch {
    const ERRORS: &'static [ErrorStatus] = &[
        ErrorStatus::new(
            400,
            "The body or a parameter is invalid, or it changes `id`, `token_local` or `ext`; \
             `error_details.field` names the field.",
            || patch_error(br#"{"url": "ftp://trapper.com"}"#),
        ),
        NOT_FOUND,
        ErrorStatus::new(
            409,
            "The new `code` is already in use, or concurrent writers kept changing the point \
             (retry).",
            || CreatePointError::Conflict(UniqueField::Code).into(),
        ),
        PRECONDITION_FAILED,
        TOO_LARGE,
        NOT_JSON,
        INTERNAL,
        UNAVAILABLE,
    ];
}

/// `DELETE` on a point.
pub(crate) enum Delete {}

impl Operation for Delete {
    const ERRORS: &'static [ErrorStatus] = &[
        ErrorStatus::new(400, "The id is not a UUID.", bad_id),
        NOT_FOUND,
        PRECONDITION_FAILED,
        INTERNAL,
        UNAVAILABLE,
    ];
}

/// LOOKUP, and its alias `POST …/lookup`.
pub(crate) enum Lookup {}

impl Operation for Lookup {
    const ERRORS: &'static [ErrorStatus] = &[
        ErrorStatus::new(
            400,
            "The body is not a JSON string nor an object with exactly one of `id`, `code`, \
             `token_local` whose value is a string, or the key holds NUL (U+0000).",
            || {
                parse::<LookupBody>(br#"{"url": "http://trapper.com"}"#)
                    .err()
                    .unwrap_or_else(ApiError::unexpected)
            },
        ),
        ErrorStatus::new(
            404,
            "No point matches. The body is exactly \
             `{\"error_code\": 1404, \"error_message\": \"Lookup failed\"}`.",
            || LookupError::NoMatch.into(),
        ),
        TOO_LARGE,
        NOT_JSON,
        INTERNAL,
        UNAVAILABLE,
    ];
}

/// `POST …/{id}/rotate_token`.
pub(crate) enum RotateToken {}

impl Operation for RotateToken {
    const ERRORS: &'static [ErrorStatus] = &[
        BAD_ID_OR_VIEW,
        NOT_FOUND,
        ErrorStatus::new(
            409,
            "Concurrent writers kept changing the point; retry.",
            || RotateTokenError::Contended.into(),
        ),
        PRECONDITION_FAILED,
        INTERNAL,
        UNAVAILABLE,
    ];
}
