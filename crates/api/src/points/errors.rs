//! How the outcomes of the points' use cases and of the change feed are
//! answered (contract §4): one status per outcome, the sentence the domain
//! error itself states, and the field at fault when there is one. The HTTP
//! room only sends what is built here.

use domain::change_feed::ReadChangesError;
use domain::integration_point::{
    CreatePointError, DeletePointError, FieldError, GetPointError, ListPointsError, LookupError,
    PatchPointError, PatchRejected, RotateTokenError, StoreError, UniqueField, WriteError,
};
use std::fmt::Display;

use poem::http::StatusCode;

use crate::http::error::ApiError;

/// 404: no point has the requested id.
fn not_found(error: &impl Display) -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, error)
}

/// 412: `If-Match` names no current revision of the point.
fn precondition_failed(error: &impl Display) -> ApiError {
    ApiError::new(StatusCode::PRECONDITION_FAILED, error)
}

/// 409: another point already has this value of a unique field.
fn conflict(field: UniqueField) -> ApiError {
    ApiError::new(StatusCode::CONFLICT, WriteError::Duplicate(field)).about(field.field().path())
}

/// 409: concurrent writers kept winning the race for the point. It is a
/// conflict with the resource's current state, not an outage (503), and the
/// client may simply retry.
fn contended(error: &impl Display) -> ApiError {
    ApiError::new(StatusCode::CONFLICT, error)
}

/// 503: the database could not be reached. Unlike the conversion of a
/// [`StoreError`], it logs nothing, so the documentation's example is built
/// from it.
pub(crate) fn store_unavailable() -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "the database is unavailable; retry later",
    )
}

impl From<FieldError> for ApiError {
    fn from(error: FieldError) -> Self {
        Self::invalid(error.field.path(), error)
    }
}

impl From<PatchRejected> for ApiError {
    fn from(error: PatchRejected) -> Self {
        Self::invalid(error.field.path(), error)
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Unavailable(_) => {
                tracing::warn!(error = ?error, "the store is unavailable");
                store_unavailable()
            }
            StoreError::Unknown(_) => Self::internal(&error),
        }
    }
}

impl From<ReadChangesError> for ApiError {
    fn from(error: ReadChangesError) -> Self {
        match error {
            // 410: the client lists again.
            ReadChangesError::Gone { .. } => Self::new(StatusCode::GONE, error),
            ReadChangesError::Store(error) => error.into(),
        }
    }
}

impl From<CreatePointError> for ApiError {
    fn from(error: CreatePointError) -> Self {
        match error {
            CreatePointError::Conflict(field) => conflict(field),
            CreatePointError::Store(error) => error.into(),
        }
    }
}

impl From<GetPointError> for ApiError {
    fn from(error: GetPointError) -> Self {
        match error {
            GetPointError::NotFound => not_found(&error),
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
            PatchPointError::NotFound => not_found(&error),
            PatchPointError::PreconditionFailed => precondition_failed(&error),
            PatchPointError::Rejected(rejected) => rejected.into(),
            PatchPointError::Conflict(field) => conflict(field),
            PatchPointError::Contended => contended(&error),
            PatchPointError::Store(error) => error.into(),
        }
    }
}

impl From<DeletePointError> for ApiError {
    fn from(error: DeletePointError) -> Self {
        match error {
            DeletePointError::NotFound => not_found(&error),
            DeletePointError::PreconditionFailed => precondition_failed(&error),
            DeletePointError::Store(error) => error.into(),
        }
    }
}

impl From<LookupError> for ApiError {
    fn from(error: LookupError) -> Self {
        match error {
            // 404, with exactly the source document's body.
            LookupError::NoMatch => Self::new(StatusCode::NOT_FOUND, error),
            LookupError::Store(error) => error.into(),
        }
    }
}

impl From<RotateTokenError> for ApiError {
    fn from(error: RotateTokenError) -> Self {
        match error {
            RotateTokenError::NotFound => not_found(&error),
            RotateTokenError::PreconditionFailed => precondition_failed(&error),
            RotateTokenError::Contended => contended(&error),
            RotateTokenError::Store(error) => error.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use domain::change_feed::Cursor;

    use super::*;
    use crate::http::error::ErrorDetails;

    #[test]
    fn each_outcome_has_its_status_and_the_domains_sentence() {
        let cases: [(ApiError, u16, &str); 8] = [
            (
                GetPointError::NotFound.into(),
                1404,
                "integration point not found",
            ),
            (LookupError::NoMatch.into(), 1404, "Lookup failed"),
            (
                CreatePointError::Conflict(UniqueField::Code).into(),
                1409,
                "code: already in use",
            ),
            (
                PatchPointError::Contended.into(),
                1409,
                "the integration point is being changed by others; retry",
            ),
            (
                PatchPointError::PreconditionFailed.into(),
                1412,
                "the integration point has changed (If-Match does not match)",
            ),
            (
                ReadChangesError::Gone {
                    horizon: Cursor::ORIGIN,
                }
                .into(),
                1410,
                "changes after this revision are no longer retained; list again",
            ),
            (
                StoreError::Unavailable("pool timed out".into()).into(),
                1503,
                "the database is unavailable; retry later",
            ),
            (
                store_unavailable(),
                1503,
                "the database is unavailable; retry later",
            ),
        ];
        for (error, code, message) in cases {
            let body = error.body();
            assert_eq!(
                (body.error_code, body.error_message.as_str()),
                (code, message)
            );
        }
    }

    #[test]
    fn every_operation_answers_a_missing_point_alike() {
        let expected = ApiError::from(GetPointError::NotFound).body();
        for error in [
            ApiError::from(PatchPointError::NotFound),
            ApiError::from(DeletePointError::NotFound),
            ApiError::from(RotateTokenError::NotFound),
        ] {
            assert_eq!(error.body(), expected);
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
}
