//! The service the HTTP tests run: the real use cases (`application::Service`)
//! over the in-memory repository the application tests use too, behind a
//! repository wrapper that can be told to fail, and a record of what the
//! handlers passed to the driving port.

use std::sync::{Arc, Mutex, MutexGuard};

use application::Service;
use application::testing::{
    FixedClock, InMemoryChangeLog, InMemoryRepository, SequentialIds, SequentialTokens,
};
use domain::change_feed::Cursor;
use domain::integration_point::{
    CreatePointError, CreatePointRequest, DeletePointError, GetPointError, IfMatch,
    IntegrationPoint, IntegrationPointRepository, IntegrationPointService, ListPointsError,
    ListQuery, Listing, LookupError, LookupKey, PatchPointError, PatchPointRequest, PointId,
    RotateTokenError, StoreError, Version, WriteError, WriteOutcome,
};

/// How the repository fails, from the next call on, until a call consumes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// `StoreError::Unknown`, with a cause that must never reach the client.
    StoreUnknown,
    /// `StoreError::Unavailable`.
    StoreUnavailable,
    /// Every compare-and-swap loses to another writer, so a write gives up.
    Contended,
    /// The service panics.
    Panic,
}

/// The secret in the cause of [`Failure::StoreUnknown`].
pub const INTERNAL_DETAIL: &str = "relation integration_points: password=hunter2";

/// When the first point is created; each reading of the clock moves it a
/// second on.
const START_MILLIS: i64 = 1_567_000_001_000;

/// The in-memory repository, failing as it is told.
#[derive(Clone, Default)]
pub struct FailingRepository {
    inner: InMemoryRepository,
    failure: Arc<Mutex<Option<Failure>>>,
}

impl FailingRepository {
    /// The pending failure that a store call consumes: any but contention,
    /// which lasts.
    fn store_failure(&self) -> Result<(), StoreError> {
        let mut failure = lock(&self.failure);
        match *failure {
            Some(Failure::StoreUnknown) => {
                *failure = None;
                Err(StoreError::Unknown(INTERNAL_DETAIL.into()))
            }
            Some(Failure::StoreUnavailable) => {
                *failure = None;
                Err(StoreError::Unavailable("pool timed out".into()))
            }
            Some(Failure::Contended | Failure::Panic) | None => Ok(()),
        }
    }

    fn contended(&self) -> bool {
        *lock(&self.failure) == Some(Failure::Contended)
    }
}

impl IntegrationPointRepository for FailingRepository {
    async fn insert(&self, point: &IntegrationPoint) -> Result<(), WriteError> {
        self.store_failure()?;
        self.inner.insert(point).await
    }

    async fn find(&self, id: PointId) -> Result<Option<IntegrationPoint>, StoreError> {
        self.store_failure()?;
        self.inner.find(id).await
    }

    async fn list(&self, query: &ListQuery) -> Result<Listing, StoreError> {
        self.store_failure()?;
        self.inner.list(query).await
    }

    async fn update(
        &self,
        point: &IntegrationPoint,
        expected: Version,
    ) -> Result<WriteOutcome, WriteError> {
        self.store_failure()?;
        if self.contended() {
            return Ok(WriteOutcome::Stale);
        }
        self.inner.update(point, expected).await
    }

    async fn delete(
        &self,
        id: PointId,
        expected: Option<Version>,
    ) -> Result<WriteOutcome, StoreError> {
        self.store_failure()?;
        self.inner.delete(id, expected).await
    }

    async fn lookup(&self, key: &LookupKey) -> Result<Vec<PointId>, StoreError> {
        self.store_failure()?;
        self.inner.lookup(key).await
    }
}

/// What the handlers passed to the driving port last.
#[derive(Default)]
struct Record {
    if_match: Option<Option<IfMatch>>,
    query: Option<ListQuery>,
    lookup: Option<LookupKey>,
}

type RealService = Service<FailingRepository, FixedClock, SequentialIds, SequentialTokens>;

/// The service under test. Clones share their state.
#[derive(Clone)]
pub struct TestService {
    service: RealService,
    repository: FailingRepository,
    record: Arc<Mutex<Record>>,
}

impl Default for TestService {
    fn default() -> Self {
        let repository = FailingRepository::default();
        Self {
            service: Service::new(
                repository.clone(),
                FixedClock::stepping(START_MILLIS, 1000),
                SequentialIds::default(),
                SequentialTokens::default(),
            ),
            repository,
            record: Arc::default(),
        }
    }
}

/// A test that panicked while holding a lock has failed anyway.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl TestService {
    /// Makes the repository fail (or the service panic) from the next call.
    pub fn fail_next(&self, failure: Failure) {
        *lock(&self.repository.failure) = Some(failure);
    }

    /// The `If-Match` precondition of the last conditional write.
    pub fn last_if_match(&self) -> Option<Option<IfMatch>> {
        lock(&self.record).if_match.clone()
    }

    /// The query of the last list.
    pub fn last_query(&self) -> Option<ListQuery> {
        lock(&self.record).query.clone()
    }

    /// The key of the last lookup.
    pub fn last_lookup(&self) -> Option<LookupKey> {
        lock(&self.record).lookup.clone()
    }

    /// The stored point with this id.
    pub fn stored(&self, id: PointId) -> Option<IntegrationPoint> {
        self.repository.inner.get(id)
    }

    /// The change log its writes are recorded in.
    pub fn changes(&self) -> InMemoryChangeLog {
        self.repository.inner.changes()
    }

    /// The change feed revision of what is stored now.
    pub fn revision(&self) -> Cursor {
        self.repository.inner.changes().newest()
    }

    /// Panics when told to.
    fn panic_if_told(&self) {
        let mut failure = lock(&self.repository.failure);
        if *failure == Some(Failure::Panic) {
            *failure = None;
            drop(failure);
            panic!("the service was told to panic");
        }
    }

    fn note(&self, record: impl FnOnce(&mut Record)) {
        record(&mut lock(&self.record));
    }
}

impl IntegrationPointService for TestService {
    async fn create(
        &self,
        request: CreatePointRequest,
    ) -> Result<IntegrationPoint, CreatePointError> {
        self.panic_if_told();
        self.service.create(request).await
    }

    async fn get(&self, id: PointId) -> Result<IntegrationPoint, GetPointError> {
        self.panic_if_told();
        self.service.get(id).await
    }

    async fn list(&self, query: ListQuery) -> Result<Listing, ListPointsError> {
        self.panic_if_told();
        self.note(|record| record.query = Some(query.clone()));
        self.service.list(query).await
    }

    async fn patch(
        &self,
        id: PointId,
        patch: PatchPointRequest,
        if_match: Option<IfMatch>,
    ) -> Result<IntegrationPoint, PatchPointError> {
        self.panic_if_told();
        self.note(|record| record.if_match = Some(if_match.clone()));
        self.service.patch(id, patch, if_match).await
    }

    async fn delete(&self, id: PointId, if_match: Option<IfMatch>) -> Result<(), DeletePointError> {
        self.panic_if_told();
        self.note(|record| record.if_match = Some(if_match.clone()));
        self.service.delete(id, if_match).await
    }

    async fn lookup(&self, key: LookupKey) -> Result<Vec<PointId>, LookupError> {
        self.panic_if_told();
        self.note(|record| record.lookup = Some(key.clone()));
        self.service.lookup(key).await
    }

    async fn rotate_token(
        &self,
        id: PointId,
        if_match: Option<IfMatch>,
    ) -> Result<IntegrationPoint, RotateTokenError> {
        self.panic_if_told();
        self.note(|record| record.if_match = Some(if_match.clone()));
        self.service.rotate_token(id, if_match).await
    }
}
