//! Errors of the change feed's ports. (The errors of its values' constructors
//! are with the values, in `model`.)

use crate::integration_point::StoreError;

use super::model::Cursor;

/// What a reader whose revision retention has passed is told, whether it
/// reads a page or watches; the api sends it as the 410's message.
const GONE: &str = "changes after this revision are no longer retained; list again";

/// Why changes could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadChangesError {
    /// Changes after the cursor have been dropped by retention: the reader
    /// must list again and watch from the list's revision.
    #[error("{GONE}")]
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
    #[error("{GONE}")]
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
