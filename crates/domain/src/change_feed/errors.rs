//! Errors of the change feed's ports.

use crate::integration_point::StoreError;

use super::model::Cursor;

/// A cursor that no feed handed out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not a revision this feed handed out")]
pub struct CursorError;

/// A reader's request breaks a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ChangesRequestError {
    /// `limit` was 0.
    #[error("limit: must be at least 1")]
    LimitZero,
    /// `limit` was above the configured maximum.
    #[error("limit: must be at most {max}")]
    LimitTooLarge {
        /// The maximum.
        max: u64,
    },
    /// `wait` was above the longest allowed.
    #[error("wait: must be at most {max_seconds} seconds")]
    WaitTooLong {
        /// The longest wait, in seconds.
        max_seconds: u64,
    },
}

/// Why changes could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadChangesError {
    /// Changes after the cursor have been dropped by retention: the reader
    /// must list again and watch from the list's revision.
    #[error("changes after this revision are no longer retained; list again")]
    Gone {
        /// Every change up to this cursor may have been dropped.
        horizon: Cursor,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why a watch ended.
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    /// Changes the watch had not delivered yet were dropped by retention
    /// while it fell behind.
    #[error("changes after this revision are no longer retained; list again")]
    Gone {
        /// Every change up to this cursor may have been dropped.
        horizon: Cursor,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The replica is shutting down.
    #[error("the change feed stopped")]
    Stopped,
}

impl From<ReadChangesError> for WatchError {
    fn from(error: ReadChangesError) -> Self {
        match error {
            ReadChangesError::Gone { horizon } => Self::Gone { horizon },
            ReadChangesError::Store(e) => Self::Store(e),
        }
    }
}
