//! Export and import: every point read out in a stable order, and points
//! written back as they were (id, tokens, creation and last write times), as
//! when moving from one database to another or restoring a backup.

use std::future::Future;

use super::errors::{StoreError, UniqueField, WriteError};
use super::model::IntegrationPoint;
use super::values::PointId;

/// What an import does with a point whose id is already stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExistingPoints {
    /// Keep the stored point; the imported one is skipped.
    #[default]
    Skip,
    /// Overwrite the stored point with the imported one.
    Replace,
}

/// What became of one imported point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportOutcome {
    /// It was new and is stored.
    Created,
    /// A point with its id was stored already and was kept.
    Skipped,
    /// A point with its id was stored already and was overwritten.
    Replaced,
    /// Another point holds its code or local token (or its id, which only a
    /// concurrent writer can cause); nothing was stored.
    Rejected(UniqueField),
}

/// The use cases of export and import, for the command line.
pub trait PointTransferService: Clone + Send + Sync + 'static {
    /// The next points in id order after `after` (from the first when
    /// `None`); an empty page ends the export. Pages are read by key, not by
    /// offset, so each costs the same however far the export has gone.
    ///
    /// # Errors
    /// Only store failures.
    fn export_page(
        &self,
        after: Option<PointId>,
    ) -> impl Future<Output = Result<Vec<IntegrationPoint>, StoreError>> + Send;

    /// Stores a batch of points as they are, deciding for each what
    /// happens; the outcomes are in the order of `points`.
    ///
    /// # Errors
    /// Only store failures, after which some of the batch may be stored.
    fn import_batch(
        &self,
        points: &[IntegrationPoint],
        existing: ExistingPoints,
    ) -> impl Future<Output = Result<Vec<ImportOutcome>, StoreError>> + Send;
}

/// Where export reads and import writes points in bulk.
pub trait PointArchive: Clone + Send + Sync + 'static {
    /// At most `limit` points with ids after `after` (all when `None`), in
    /// id order.
    ///
    /// # Errors
    /// Only store failures.
    fn page_after(
        &self,
        after: Option<PointId>,
        limit: u64,
    ) -> impl Future<Output = Result<Vec<IntegrationPoint>, StoreError>> + Send;

    /// Which of `ids` are stored.
    ///
    /// # Errors
    /// Only store failures.
    fn stored_ids(
        &self,
        ids: &[PointId],
    ) -> impl Future<Output = Result<Vec<PointId>, StoreError>> + Send;

    /// Stores every one of `points` as given (its version and times
    /// included), in one atomic step: all or none. With
    /// [`ExistingPoints::Replace`] a stored point with the same id is
    /// overwritten; with [`ExistingPoints::Skip`] it is a duplicate.
    ///
    /// # Errors
    /// MUST return [`WriteError::Duplicate`] naming a field when any point
    /// would break uniqueness (against the store or another point of the
    /// batch), having stored none of them.
    fn store_all(
        &self,
        points: &[IntegrationPoint],
        existing: ExistingPoints,
    ) -> impl Future<Output = Result<(), WriteError>> + Send;
}
