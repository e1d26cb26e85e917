//! A hand-written in-memory `ChangeFeedService`: stored changes, a retention
//! horizon, and a record of the requests the handlers made.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use domain::change_feed::{
    Change, ChangeFeedService, ChangeOp, ChangeWatch, ChangesRequest, Cursor, FeedPage,
    FeedRevision, ReadChangesError, WatchError,
};
use domain::integration_point::{IntegrationPoint, Timestamp};

#[derive(Default)]
struct State {
    changes: Vec<Change>,
    horizon: Cursor,
    last_request: Option<ChangesRequest>,
    last_watch: Option<Option<FeedRevision>>,
}

/// The feed; clones share it.
#[derive(Clone, Default)]
pub struct FakeFeed {
    state: Arc<Mutex<State>>,
}

impl FakeFeed {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Appends a change at position `position` (transaction part 7).
    pub fn record(&self, position: u64, op: ChangeOp, point: &IntegrationPoint) -> Cursor {
        let cursor = Cursor::new(7, position);
        let at = Timestamp::from_millis(1_567_000_000_000).expect("a time");
        self.state()
            .changes
            .push(Change::new(cursor, op, point.clone(), at));
        cursor
    }

    /// Everything up to `horizon` counts as dropped by retention.
    pub fn set_horizon(&self, horizon: Cursor) {
        self.state().horizon = horizon;
    }

    /// The last request `changes` received.
    pub fn last_request(&self) -> Option<ChangesRequest> {
        self.state().last_request.clone()
    }

    /// The `since` of the last watch.
    pub fn last_watch(&self) -> Option<Option<FeedRevision>> {
        self.state().last_watch.clone()
    }

    fn after(&self, since: Option<Cursor>) -> Result<(Vec<Change>, Cursor), ReadChangesError> {
        let state = self.state();
        let from = match since {
            Some(since) if since < state.horizon => {
                return Err(ReadChangesError::Gone {
                    horizon: state.horizon,
                });
            }
            Some(since) => since,
            None => state.horizon,
        };
        let changes = state
            .changes
            .iter()
            .filter(|c| c.cursor() > from)
            .cloned()
            .collect();
        Ok((changes, from))
    }
}

impl ChangeFeedService for FakeFeed {
    type Watch = FakeWatch;

    async fn changes(&self, request: ChangesRequest) -> Result<FeedPage, ReadChangesError> {
        self.state().last_request = Some(request.clone());
        let (mut changes, from) = self.after(request.since().map(FeedRevision::cursor))?;
        changes.truncate(usize::try_from(request.limit()).unwrap_or(usize::MAX));
        let next = changes.last().map_or(from, Change::cursor).into();
        Ok(FeedPage { changes, next })
    }

    async fn watch(&self, since: Option<FeedRevision>) -> Result<FakeWatch, ReadChangesError> {
        self.state().last_watch = Some(since.clone());
        let (changes, _) = self.after(since.as_ref().map(FeedRevision::cursor))?;
        Ok(FakeWatch {
            queue: changes.into_iter().map(Arc::new).collect(),
        })
    }
}

/// A watch over the changes stored when it began; it ends after them, as a
/// stopping replica's would, so that a test can read the whole stream.
pub struct FakeWatch {
    queue: VecDeque<Arc<Change>>,
}

impl ChangeWatch for FakeWatch {
    async fn next(&mut self) -> Result<Arc<Change>, WatchError> {
        self.queue.pop_front().ok_or(WatchError::Stopped)
    }
}
