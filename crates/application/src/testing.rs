//! In-memory implementations of the driven ports, for tests: one repository
//! (with its change log) that every test layer shares (the application's, the
//! api's), so that how a list is evaluated and what a lookup matches are the
//! domain's rules ([`ListQuery::run`], [`LookupKey::matches`]), stated once.
//!
//! Behind the `testing` feature: a dev-dependency, never part of the binary.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use domain::change_feed::{
    Change, ChangeLog, ChangeOp, ChangePage, ChangeWakeups, Cursor, ReadChangesError, Wakeup,
};
use domain::health::{HealthCheck, HealthError, PoolStatus};
use domain::integration_point::{
    Clock, ExistingPoints, IdGenerator, IntegrationPoint, IntegrationPointRepository, ListQuery,
    Listing, LookupKey, PointArchive, PointId, StoreError, Timestamp, TokenGenerator, TokenLocal,
    UniqueField, Version, WriteError, WriteOutcome,
};

/// A repository in a map, with the same uniqueness and compare-and-swap rules
/// as the real one, recording each write's change in its change log as the
/// port requires.
#[derive(Clone, Default)]
pub struct InMemoryRepository {
    points: Arc<Mutex<BTreeMap<PointId, IntegrationPoint>>>,
    changes: InMemoryChangeLog,
}

impl InMemoryRepository {
    fn with_points<R>(&self, f: impl FnOnce(&mut BTreeMap<PointId, IntegrationPoint>) -> R) -> R {
        f(&mut self.points.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// The log its writes record their changes in.
    pub fn changes(&self) -> InMemoryChangeLog {
        self.changes.clone()
    }

    /// The stored point, for assertions.
    pub fn get(&self, id: PointId) -> Option<IntegrationPoint> {
        self.with_points(|points| points.get(&id).cloned())
    }
}

fn clash(
    points: &BTreeMap<PointId, IntegrationPoint>,
    point: &IntegrationPoint,
) -> Option<UniqueField> {
    points
        .values()
        .filter(|p| p.id() != point.id())
        .find_map(|p| {
            if p.attributes().code == point.attributes().code {
                Some(UniqueField::Code)
            } else if p.token_local() == point.token_local() {
                Some(UniqueField::TokenLocal)
            } else {
                None
            }
        })
}

impl IntegrationPointRepository for InMemoryRepository {
    async fn insert(&self, point: &IntegrationPoint) -> Result<(), WriteError> {
        self.with_points(|points| {
            if points.contains_key(&point.id()) {
                return Err(WriteError::Duplicate(UniqueField::Id));
            }
            if let Some(field) = clash(points, point) {
                return Err(WriteError::Duplicate(field));
            }
            points.insert(point.id(), point.clone());
            self.changes.record(ChangeOp::Create, point.clone());
            Ok(())
        })
    }

    async fn find(&self, id: PointId) -> Result<Option<IntegrationPoint>, StoreError> {
        Ok(self.get(id))
    }

    async fn list(&self, query: &ListQuery) -> Result<Listing, StoreError> {
        self.with_points(|points| {
            Ok(Listing {
                revision: Some(self.changes.newest().into()),
                ..query.run(points.values())
            })
        })
    }

    async fn update(
        &self,
        point: &IntegrationPoint,
        expected: Version,
    ) -> Result<WriteOutcome, WriteError> {
        self.with_points(|points| {
            let current = points.get(&point.id());
            if current
                .is_none_or(|c| c.version() != expected || c.created_at() != point.created_at())
            {
                return Ok(WriteOutcome::Stale);
            }
            if let Some(field) = clash(points, point) {
                return Err(WriteError::Duplicate(field));
            }
            points.insert(point.id(), point.clone());
            self.changes.record(ChangeOp::Update, point.clone());
            Ok(WriteOutcome::Applied)
        })
    }

    async fn delete(
        &self,
        id: PointId,
        expected: Option<Version>,
    ) -> Result<WriteOutcome, StoreError> {
        self.with_points(|points| match points.get(&id) {
            Some(p) if expected.is_none_or(|v| v == p.version()) => {
                if let Some(gone) = points.remove(&id) {
                    self.changes.record(ChangeOp::Delete, gone);
                }
                Ok(WriteOutcome::Applied)
            }
            _ => Ok(WriteOutcome::Stale),
        })
    }

    async fn lookup(&self, key: &LookupKey) -> Result<Vec<PointId>, StoreError> {
        self.with_points(|points| {
            Ok(points
                .values()
                .filter(|p| key.matches(p))
                .map(IntegrationPoint::id)
                .collect())
        })
    }
}

impl PointArchive for InMemoryRepository {
    async fn page_after(
        &self,
        after: Option<PointId>,
        limit: u64,
    ) -> Result<Vec<IntegrationPoint>, StoreError> {
        self.with_points(|points| {
            Ok(points
                .values()
                .filter(|p| after.is_none_or(|after| p.id() > after))
                .take(usize::try_from(limit).unwrap_or(usize::MAX))
                .cloned()
                .collect())
        })
    }

    async fn stored_ids(&self, ids: &[PointId]) -> Result<Vec<PointId>, StoreError> {
        self.with_points(|points| {
            Ok(ids
                .iter()
                .copied()
                .filter(|id| points.contains_key(id))
                .collect())
        })
    }

    async fn store_all(
        &self,
        batch: &[IntegrationPoint],
        existing: ExistingPoints,
    ) -> Result<(), WriteError> {
        self.with_points(|points| {
            // All or none: the batch is applied to a copy, kept only if every
            // point fits.
            let mut after = points.clone();
            for point in batch {
                if existing == ExistingPoints::Skip && after.contains_key(&point.id()) {
                    return Err(WriteError::Duplicate(UniqueField::Id));
                }
                if let Some(field) = clash(&after, point) {
                    return Err(WriteError::Duplicate(field));
                }
                after.insert(point.id(), point.clone());
            }
            *points = after;
            Ok(())
        })
    }
}

/// A clock that says what the test tells it.
#[derive(Clone)]
pub struct FixedClock {
    millis: Arc<AtomicI64>,
    step: i64,
}

impl FixedClock {
    /// A clock stopped at `millis` after the epoch.
    pub fn at(millis: i64) -> Self {
        Self::stepping(millis, 0)
    }

    /// A clock at `millis` after the epoch that moves `step` milliseconds on
    /// after each reading, so that successive writes get distinct times.
    pub fn stepping(millis: i64, step: i64) -> Self {
        Self {
            millis: Arc::new(AtomicI64::new(millis)),
            step,
        }
    }

    /// Moves the clock.
    pub fn set(&self, millis: i64) {
        self.millis.store(millis, Ordering::SeqCst);
    }
}

impl Clock for FixedClock {
    fn now(&self) -> Timestamp {
        let millis = self.millis.fetch_add(self.step, Ordering::SeqCst);
        Timestamp::from_millis(millis).expect("test clocks stay in range")
    }
}

/// Ids 1, 2, 3, … as UUIDs.
#[derive(Clone, Default)]
pub struct SequentialIds(Arc<AtomicU64>);

impl SequentialIds {
    /// The id the next call would hand out, without taking it.
    pub fn peek(&self) -> PointId {
        PointId::from_uuid(uuid::Uuid::from_u128(u128::from(
            self.0.load(Ordering::SeqCst) + 1,
        )))
    }
}

impl IdGenerator for SequentialIds {
    fn new_id(&self) -> PointId {
        let n = self.0.fetch_add(1, Ordering::SeqCst) + 1;
        PointId::from_uuid(uuid::Uuid::from_u128(u128::from(n)))
    }
}

/// Tokens 1, 2, 3, … in hex, with a way to force a repeat.
#[derive(Clone, Default)]
pub struct SequentialTokens {
    next: Arc<AtomicU64>,
    repeat: Arc<Mutex<Option<TokenLocal>>>,
}

impl SequentialTokens {
    /// Makes the next token a copy of `token`, to provoke a collision.
    pub fn repeat_next(&self, token: TokenLocal) {
        *self.repeat.lock().unwrap_or_else(PoisonError::into_inner) = Some(token);
    }
}

impl TokenGenerator for SequentialTokens {
    fn new_token(&self) -> TokenLocal {
        if let Some(token) = self
            .repeat
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        {
            return token;
        }
        let n = self.next.fetch_add(1, Ordering::SeqCst) + 1;
        TokenLocal::from_bytes(u128::from(n).to_be_bytes())
    }
}

/// A change log in a vector: positions count up from 1, retention moves a
/// horizon; every record wakes the feed through its [`FakeWakeups`].
#[derive(Clone, Default)]
pub struct InMemoryChangeLog {
    state: Arc<Mutex<LogState>>,
    wakeups: FakeWakeups,
    clock_millis: Arc<AtomicI64>,
}

#[derive(Default)]
struct LogState {
    changes: Vec<Change>,
    horizon: Cursor,
    next_position: u64,
    /// The store's transaction recorded as the writer of new changes.
    writer: u64,
    /// What reads report of committed changes they cannot hand out yet.
    withheld_since: Option<Timestamp>,
}

impl InMemoryChangeLog {
    fn with_state<R>(&self, f: impl FnOnce(&mut LogState) -> R) -> R {
        f(&mut self.state.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Appends the change `op` made, leaving `point`, and wakes the feed.
    pub fn record(&self, op: ChangeOp, point: IntegrationPoint) {
        let at = Timestamp::from_millis(self.clock_millis.load(Ordering::SeqCst)).expect("a time");
        self.with_state(|state| {
            state.next_position += 1;
            let cursor = Cursor::new(0, state.next_position);
            let change = Change::new(cursor, op, point, at).written_by(state.writer);
            state.changes.push(change);
        });
        self.wakeups.raise(Wakeup::Changed);
    }

    /// Makes reads report committed changes withheld since `millis` (or
    /// none), as a store does while an older write is in flight.
    pub fn set_withheld_since(&self, millis: Option<i64>) {
        let at = millis.map(|ms| Timestamp::from_millis(ms).expect("a time"));
        self.with_state(|state| state.withheld_since = at);
    }

    /// Records the changes from now on as written by the store's
    /// transaction `writer` (what a list's snapshot is asked about).
    pub fn set_writer(&self, writer: u64) {
        self.with_state(|state| state.writer = writer);
    }

    /// Records the time of the changes recorded from now on.
    pub fn set_time(&self, millis: i64) {
        self.clock_millis.store(millis, Ordering::SeqCst);
    }

    /// The cursor of the newest change, or the horizon.
    pub fn newest(&self) -> Cursor {
        self.with_state(|state| state.changes.last().map_or(state.horizon, Change::cursor))
    }

    /// Every retained change.
    pub fn all(&self) -> Vec<Change> {
        self.with_state(|state| state.changes.clone())
    }

    /// The wake-ups its records raise.
    pub fn wakeups(&self) -> FakeWakeups {
        self.wakeups.clone()
    }
}

impl ChangeLog for InMemoryChangeLog {
    async fn read(
        &self,
        after: Option<Cursor>,
        limit: u64,
    ) -> Result<ChangePage, ReadChangesError> {
        self.with_state(|state| {
            let from = match after {
                Some(after) if after < state.horizon => {
                    return Err(ReadChangesError::Gone {
                        horizon: state.horizon,
                    });
                }
                Some(after) => after,
                None => state.horizon,
            };
            let changes: Vec<Change> = state
                .changes
                .iter()
                .filter(|c| c.cursor() > from)
                .take(usize::try_from(limit).unwrap_or(usize::MAX))
                .cloned()
                .collect();
            let next = changes.last().map_or(from, Change::cursor);
            Ok(ChangePage {
                changes,
                next,
                withheld_since: state.withheld_since,
            })
        })
    }

    async fn head(&self) -> Result<Cursor, StoreError> {
        Ok(self.newest())
    }

    async fn expire(&self, older_than: Timestamp, batch: u64) -> Result<u64, StoreError> {
        self.with_state(|state| {
            let doomed = state
                .changes
                .iter()
                .take(usize::try_from(batch).unwrap_or(usize::MAX))
                .take_while(|c| c.at() < older_than)
                .count();
            if let Some(last) = doomed.checked_sub(1).map(|i| state.changes[i].cursor()) {
                state.horizon = last;
            }
            state.changes.drain(..doomed);
            Ok(doomed as u64)
        })
    }
}

/// Wake-ups raised by hand (or by [`InMemoryChangeLog::record`]).
#[derive(Clone)]
pub struct FakeWakeups {
    notify: Arc<tokio::sync::Notify>,
    pending: Arc<Mutex<Option<Wakeup>>>,
    listening: Arc<AtomicBool>,
    /// When false, records raise nothing: only the safety poll finds them.
    enabled: Arc<AtomicBool>,
}

impl Default for FakeWakeups {
    fn default() -> Self {
        Self {
            notify: Arc::default(),
            pending: Arc::default(),
            listening: Arc::new(AtomicBool::new(true)),
            enabled: Arc::new(AtomicBool::new(true)),
        }
    }
}

impl FakeWakeups {
    /// Raises a wake-up.
    pub fn raise(&self, wakeup: Wakeup) {
        if !self.enabled.load(Ordering::SeqCst) {
            return;
        }
        *self.pending.lock().unwrap_or_else(PoisonError::into_inner) = Some(wakeup);
        self.notify.notify_one();
    }

    /// Stops raising wake-ups, as a lost listener would.
    pub fn silence(&self) {
        self.enabled.store(false, Ordering::SeqCst);
        self.listening.store(false, Ordering::SeqCst);
    }

    /// Raises wake-ups again, as a listener that reconnected would.
    pub fn resume(&self) {
        self.enabled.store(true, Ordering::SeqCst);
        self.listening.store(true, Ordering::SeqCst);
        self.raise(Wakeup::Listening);
    }
}

impl ChangeWakeups for FakeWakeups {
    async fn next(&self) -> Wakeup {
        loop {
            let pending = self
                .pending
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take();
            if let Some(wakeup) = pending {
                return wakeup;
            }
            self.notify.notified().await;
        }
    }

    fn listening(&self) -> bool {
        self.listening.load(Ordering::SeqCst)
    }
}

/// What the next checks of a [`FixedHealth`] answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The database answers and is migrated.
    Ready,
    /// The database answers, but migrations are pending.
    Pending(usize),
    /// The database does not answer; the cause must never reach a client.
    Unreachable,
}

/// The cause behind [`Verdict::Unreachable`], which only the log may see.
pub const UNREACHABLE_DETAIL: &str = "connect 10.1.2.3:5432: password=hunter2 rejected";

/// A health check whose verdict and pool figures the test sets; clones share
/// them. Ready, with an idle pool of one, until told otherwise.
#[derive(Clone)]
pub struct FixedHealth {
    state: Arc<Mutex<(Verdict, PoolStatus)>>,
}

impl Default for FixedHealth {
    fn default() -> Self {
        Self {
            state: Arc::new(Mutex::new((Verdict::Ready, PoolStatus::new(0, 0, 1)))),
        }
    }
}

impl FixedHealth {
    /// Makes every later check answer `verdict`.
    pub fn set(&self, verdict: Verdict) {
        self.state.lock().unwrap_or_else(PoisonError::into_inner).0 = verdict;
    }

    /// Makes the pool report `status`.
    pub fn set_pool(&self, status: PoolStatus) {
        self.state.lock().unwrap_or_else(PoisonError::into_inner).1 = status;
    }

    fn state(&self) -> (Verdict, PoolStatus) {
        *self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl HealthCheck for FixedHealth {
    async fn check(&self) -> Result<(), HealthError> {
        match self.state().0 {
            Verdict::Ready => Ok(()),
            Verdict::Pending(count) => Err(HealthError::MigrationsPending(count)),
            Verdict::Unreachable => Err(HealthError::Unreachable(UNREACHABLE_DETAIL.into())),
        }
    }

    fn pool(&self) -> PoolStatus {
        self.state().1
    }
}
