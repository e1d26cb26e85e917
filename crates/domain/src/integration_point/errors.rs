//! Errors of the ports: one enum per operation, so each caller handles exactly
//! the outcomes its operation can have.

use std::error::Error as StdError;

use super::fields::Field;
use super::model::PatchRejected;

type BoxError = Box<dyn StdError + Send + Sync + 'static>;

// The sentences several operations' errors share, each written once; the api
// sends an error's own text, so these are what clients read.
const NOT_FOUND: &str = "integration point not found";
const PRECONDITION_FAILED: &str = "the integration point has changed (If-Match does not match)";
const CONTENDED: &str = "the integration point is being changed by others; retry";

/// A field whose values must be unique across points.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UniqueField {
    /// `id`
    Id,
    /// `code`
    Code,
    /// `token_local`
    TokenLocal,
}

impl UniqueField {
    /// The field, for messages and error details.
    pub fn field(self) -> Field {
        match self {
            UniqueField::Id => Field::Id,
            UniqueField::Code => Field::Code,
            UniqueField::TokenLocal => Field::TokenLocal,
        }
    }
}

/// Storage failed for a reason that is not the caller's fault. The source is
/// for the log only: it may hold details a client must not see.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store could not be reached in time; retrying later may succeed.
    #[error("the store is unavailable")]
    Unavailable(#[source] BoxError),
    /// Anything else.
    #[error("the store failed")]
    Unknown(#[source] BoxError),
}

/// A write that may break a uniqueness rule.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// Another point already has this value.
    #[error("{}: already in use", .0.field().path())]
    Duplicate(UniqueField),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why a point could not be created.
#[derive(Debug, thiserror::Error)]
pub enum CreatePointError {
    /// Another point already has this id, code or local token.
    #[error("{}", WriteError::Duplicate(*.0))]
    Conflict(UniqueField),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why a point could not be read.
#[derive(Debug, thiserror::Error)]
pub enum GetPointError {
    /// No point has this id.
    #[error("{NOT_FOUND}")]
    NotFound,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why points could not be listed.
#[derive(Debug, thiserror::Error)]
pub enum ListPointsError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why a point could not be patched.
#[derive(Debug, thiserror::Error)]
pub enum PatchPointError {
    /// No point has this id.
    #[error("{NOT_FOUND}")]
    NotFound,
    /// `If-Match` did not match the current revision.
    #[error("{PRECONDITION_FAILED}")]
    PreconditionFailed,
    /// The patch tried to change a read-only field.
    #[error(transparent)]
    Rejected(#[from] PatchRejected),
    /// The new code is another point's.
    #[error("{}", WriteError::Duplicate(*.0))]
    Conflict(UniqueField),
    /// Other writers kept winning the race for this point; the client may retry.
    #[error("{CONTENDED}")]
    Contended,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why a point could not be deleted.
#[derive(Debug, thiserror::Error)]
pub enum DeletePointError {
    /// No point has this id.
    #[error("{NOT_FOUND}")]
    NotFound,
    /// `If-Match` did not match the current revision.
    #[error("{PRECONDITION_FAILED}")]
    PreconditionFailed,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why a lookup found nothing.
#[derive(Debug, thiserror::Error)]
pub enum LookupError {
    /// No point matches the key.
    #[error("Lookup failed")]
    NoMatch,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why a local token could not be rotated.
#[derive(Debug, thiserror::Error)]
pub enum RotateTokenError {
    /// No point has this id.
    #[error("{NOT_FOUND}")]
    NotFound,
    /// `If-Match` did not match the current revision.
    #[error("{PRECONDITION_FAILED}")]
    PreconditionFailed,
    /// Other writers kept winning the race for this point; the client may retry.
    #[error("{CONTENDED}")]
    Contended,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}
