//! Ports: the driving port that the HTTP adapter calls, and the driven ports
//! that the use cases call.
//!
//! Every trait is `Clone + Send + Sync + 'static` because one implementation is
//! shared by all request-handling tasks, and every method returns a `Send`
//! future so that those tasks can move between threads. Static dispatch keeps
//! the hot path free of boxing.

use std::future::Future;

use super::errors::{
    CreatePointError, DeletePointError, GetPointError, ListPointsError, LookupError,
    PatchPointError, RotateTokenError, StoreError, WriteError,
};
use super::model::{CreatePointRequest, IfMatch, IntegrationPoint, LookupKey, PatchPointRequest};
use super::query::{ListQuery, Listing};
use super::values::{PointId, Timestamp, TokenLocal, Version};

/// The use cases of integration points: what the outside world may ask.
pub trait IntegrationPointService: Clone + Send + Sync + 'static {
    /// Creates a point, generating what the request leaves out.
    ///
    /// # Errors
    /// [`CreatePointError::Conflict`] when the id, code or local token is taken.
    fn create(
        &self,
        request: CreatePointRequest,
    ) -> impl Future<Output = Result<IntegrationPoint, CreatePointError>> + Send;

    /// Reads one point.
    ///
    /// # Errors
    /// [`GetPointError::NotFound`] when no point has the id.
    fn get(
        &self,
        id: PointId,
    ) -> impl Future<Output = Result<IntegrationPoint, GetPointError>> + Send;

    /// Lists the points a query selects, with the number that match it.
    ///
    /// # Errors
    /// Only store failures: the query is valid by construction.
    fn list(
        &self,
        query: ListQuery,
    ) -> impl Future<Output = Result<Listing, ListPointsError>> + Send;

    /// Merges a patch into a point. Concurrent patches of different fields
    /// never undo each other.
    ///
    /// # Errors
    /// [`PatchPointError::NotFound`], [`PatchPointError::PreconditionFailed`]
    /// when `if_match` is not met, [`PatchPointError::Rejected`] for a changed
    /// read-only field, [`PatchPointError::Conflict`] for a taken code.
    fn patch(
        &self,
        id: PointId,
        patch: PatchPointRequest,
        if_match: Option<IfMatch>,
    ) -> impl Future<Output = Result<IntegrationPoint, PatchPointError>> + Send;

    /// Deletes a point.
    ///
    /// # Errors
    /// [`DeletePointError::NotFound`], or [`DeletePointError::PreconditionFailed`]
    /// when `if_match` is not met.
    fn delete(
        &self,
        id: PointId,
        if_match: Option<IfMatch>,
    ) -> impl Future<Output = Result<(), DeletePointError>> + Send;

    /// Finds the ids of the points a key names.
    ///
    /// # Errors
    /// [`LookupError::NoMatch`] when there are none.
    fn lookup(
        &self,
        key: LookupKey,
    ) -> impl Future<Output = Result<Vec<PointId>, LookupError>> + Send;

    /// Gives a point a fresh local token; the old one stops matching at once.
    ///
    /// # Errors
    /// [`RotateTokenError::NotFound`], or [`RotateTokenError::PreconditionFailed`]
    /// when `if_match` is not met.
    fn rotate_token(
        &self,
        id: PointId,
        if_match: Option<IfMatch>,
    ) -> impl Future<Output = Result<IntegrationPoint, RotateTokenError>> + Send;

    /// What a read cache in front of the use cases has done so far; `None`
    /// when reads are not cached.
    fn cache_stats(&self) -> Option<CacheStats> {
        None
    }
}

/// The counts of a read cache (contract §9), for the metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Reads answered from memory.
    pub hits: u64,
    /// Reads that went to the store while the cache was current.
    pub misses: u64,
    /// Entries dropped because a point changed (one per change applied, or
    /// one per clearing).
    pub invalidations: u64,
    /// Reads that went to the store because the cache could not confirm it
    /// was current.
    pub bypasses: u64,
    /// Answers held now (points and lookups).
    pub entries: u64,
}

/// Whether a compare-and-swap write took effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteOutcome {
    /// The row was at the expected version and has been written.
    Applied,
    /// The row is gone or at another version; nothing was written.
    Stale,
}

/// Where points are kept. Implementations enforce uniqueness themselves (so two
/// replicas cannot both win) and make every conditional write one atomic step.
///
/// Every write that changes a point MUST record its
/// [`Change`](crate::change_feed::Change) for the
/// [`ChangeLog`](crate::change_feed::ChangeLog) atomically with it: the change
/// exists if and only if the write committed. A write that changes nothing
/// (`Stale`) records none.
pub trait IntegrationPointRepository: Clone + Send + Sync + 'static {
    /// Stores a new point.
    ///
    /// # Errors
    /// MUST return [`WriteError::Duplicate`] naming the field when the id, code
    /// or local token is already stored, atomically with the insert (no
    /// check-then-insert race).
    fn insert(
        &self,
        point: &IntegrationPoint,
    ) -> impl Future<Output = Result<(), WriteError>> + Send;

    /// Reads one point.
    ///
    /// # Errors
    /// Only store failures; a missing point is `Ok(None)`.
    fn find(
        &self,
        id: PointId,
    ) -> impl Future<Output = Result<Option<IntegrationPoint>, StoreError>> + Send;

    /// Runs a list query in the store: filter, order, page and total count are
    /// all evaluated there, never in memory. The listing's revision MUST come
    /// from the page's own snapshot.
    ///
    /// # Errors
    /// Only store failures.
    fn list(&self, query: &ListQuery) -> impl Future<Output = Result<Listing, StoreError>> + Send;

    /// Replaces the stored point whose id is `point.id()` with `point`, only if
    /// the stored one is still at `expected` (and created at the same instant),
    /// as one atomic statement.
    ///
    /// # Errors
    /// MUST return [`WriteError::Duplicate`] when the new code or local token
    /// belongs to another point.
    fn update(
        &self,
        point: &IntegrationPoint,
        expected: Version,
    ) -> impl Future<Output = Result<WriteOutcome, WriteError>> + Send;

    /// Deletes a point; with `expected`, only if it is still at that version, in
    /// one atomic statement. `Stale` when nothing was deleted.
    ///
    /// # Errors
    /// Only store failures.
    fn delete(
        &self,
        id: PointId,
        expected: Option<Version>,
    ) -> impl Future<Output = Result<WriteOutcome, StoreError>> + Send;

    /// The ids of the points a key names, in id order, without duplicates.
    ///
    /// # Errors
    /// Only store failures; no match is an empty list.
    fn lookup(
        &self,
        key: &LookupKey,
    ) -> impl Future<Output = Result<Vec<PointId>, StoreError>> + Send;
}

/// Tells the time, so that tests can fix it.
pub trait Clock: Clone + Send + Sync + 'static {
    /// Now, to the millisecond.
    fn now(&self) -> Timestamp;
}

/// Makes ids for new points.
pub trait IdGenerator: Clone + Send + Sync + 'static {
    /// A new id, never handed out before (UUIDv7 in production: time-ordered, so
    /// inserts land at the end of the primary key index).
    fn new_id(&self) -> PointId;
}

/// Makes local tokens.
pub trait TokenGenerator: Clone + Send + Sync + 'static {
    /// A new token with 128 bits from a cryptographically secure generator.
    fn new_token(&self) -> TokenLocal;
}
