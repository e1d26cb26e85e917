//! Ports of the change feed: the use cases readers call, and the store and
//! wake-up source those use cases need.

use std::future::Future;
use std::sync::Arc;

use super::errors::{ReadChangesError, WatchError};
use super::model::{Change, ChangePage, ChangesRequest, Cursor, FeedPage, FeedRevision};
use crate::integration_point::{StoreError, Timestamp};

/// The change feed's use cases.
pub trait ChangeFeedService: Clone + Send + Sync + 'static {
    /// A watch: the changes after a cursor, then every later one as it
    /// commits.
    type Watch: ChangeWatch;

    /// Up to `request.limit()` changes after `request.since()`, in order,
    /// without those `since` says its list reflected; when there are none
    /// yet, waits up to `request.wait()` for one.
    ///
    /// # Errors
    /// [`ReadChangesError::Gone`] when `since` is older than the oldest
    /// retained change.
    fn changes(
        &self,
        request: ChangesRequest,
    ) -> impl Future<Output = Result<FeedPage, ReadChangesError>> + Send;

    /// Starts a watch after `since` (`None`: from the oldest retained
    /// change), without the changes `since` says its list reflected.
    ///
    /// # Errors
    /// [`ReadChangesError::Gone`] when `since` is older than the oldest
    /// retained change, checked before the watch starts.
    fn watch(
        &self,
        since: Option<FeedRevision>,
    ) -> impl Future<Output = Result<Self::Watch, ReadChangesError>> + Send;

    /// Whether this replica hears of other writers' changes as they commit,
    /// as of the feed's last look; while it does not, only the feed's safety
    /// poll finds them.
    fn listening(&self) -> bool;
}

/// A running watch.
pub trait ChangeWatch: Send + 'static {
    /// The next change, in feed order, waiting for one to commit if need be.
    /// Each change comes once; dropping the future between changes loses
    /// nothing.
    ///
    /// # Errors
    /// [`WatchError::Gone`] when the watch fell so far behind that retention
    /// dropped what it had still to deliver; [`WatchError::Stopped`] when the
    /// replica shuts down; [`WatchError::Store`] when the store failed in a
    /// way that waiting is not known to mend.
    fn next(&mut self) -> impl Future<Output = Result<Arc<Change>, WatchError>> + Send;
}

/// Where changes are recorded: by the store itself, in the transaction of
/// the write that made them (see
/// [`IntegrationPointRepository`](crate::integration_point::IntegrationPointRepository)).
pub trait ChangeLog: Clone + Send + Sync + 'static {
    /// Up to `limit` changes after `after` (`None`: after everything retention
    /// dropped), in feed order.
    ///
    /// # Errors
    /// MUST return only changes that no write still in flight can precede:
    /// once a change is returned, no change with a smaller cursor may ever
    /// appear. MUST return [`ReadChangesError::Gone`] when changes after
    /// `after` may have been dropped by retention, judged in the same
    /// snapshot as the changes read.
    fn read(
        &self,
        after: Option<Cursor>,
        limit: u64,
    ) -> impl Future<Output = Result<ChangePage, ReadChangesError>> + Send;

    /// The cursor of the newest change that [`ChangeLog::read`] may hand out
    /// now (or the retention horizon when there is none).
    ///
    /// # Errors
    /// Only store failures.
    fn head(&self) -> impl Future<Output = Result<Cursor, StoreError>> + Send;

    /// Drops up to `batch` of the oldest changes recorded before
    /// `older_than`, in feed order, and answers how many it dropped. Safe to
    /// run from several replicas at once.
    ///
    /// # Errors
    /// Only store failures. MUST move the retention horizon before dropping
    /// a change, so that no reader can miss one unnoticed.
    fn expire(
        &self,
        older_than: Timestamp,
        batch: u64,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;
}

/// Why a wait for new changes ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wakeup {
    /// A change may have been recorded.
    Changed,
    /// The listener (re)connected: changes made while it was away were not
    /// announced, so look.
    Listening,
    /// The listener lost its connection; until it is back only polling finds
    /// changes.
    Lost,
}

/// Tells one replica that changes may have been recorded: by a write of this
/// process, or of any other (through the database's notifications).
pub trait ChangeWakeups: Clone + Send + Sync + 'static {
    /// Waits for the next wake-up. Wake-ups that came while nobody waited
    /// are kept (coalesced into one), so none is missed between calls.
    fn next(&self) -> impl Future<Output = Wakeup> + Send;

    /// Whether changes are announced as they commit (the listener is
    /// connected, or the store has no other writer to hear from).
    fn listening(&self) -> bool;
}
