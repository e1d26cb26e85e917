//! In-memory implementations of the driven ports.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use domain::integration_point::{
    Clock, ExistingPoints, IdGenerator, IntegrationPoint, IntegrationPointRepository, ListQuery,
    Listing, LookupKey, PointArchive, PointId, StoreError, Timestamp, TokenGenerator, TokenLocal,
    UniqueField, Version, WriteError, WriteOutcome,
};

/// A repository in a map, with the same uniqueness and compare-and-swap rules
/// as the real one.
#[derive(Clone, Default)]
pub struct InMemoryRepository {
    points: Arc<Mutex<BTreeMap<PointId, IntegrationPoint>>>,
}

impl InMemoryRepository {
    fn with_points<R>(&self, f: impl FnOnce(&mut BTreeMap<PointId, IntegrationPoint>) -> R) -> R {
        f(&mut self.points.lock().unwrap_or_else(PoisonError::into_inner))
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
            Ok(())
        })
    }

    async fn find(&self, id: PointId) -> Result<Option<IntegrationPoint>, StoreError> {
        Ok(self.get(id))
    }

    async fn list(&self, query: &ListQuery) -> Result<Listing, StoreError> {
        self.with_points(|points| Ok(query.run(points.values())))
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
                points.remove(&id);
                Ok(WriteOutcome::Applied)
            }
            _ => Ok(WriteOutcome::Stale),
        })
    }

    async fn lookup(&self, key: &LookupKey) -> Result<Vec<PointId>, StoreError> {
        self.with_points(|points| {
            Ok(points
                .values()
                .filter(|p| match key {
                    LookupKey::Any(s) => {
                        p.attributes().code.as_str() == s.as_str()
                            || p.token_local().as_str() == s.as_str()
                            || p.id().to_string() == s.as_str()
                    }
                    LookupKey::Id(id) => Some(p.id()) == *id,
                    LookupKey::Code(s) => p.attributes().code.as_str() == s.as_str(),
                    LookupKey::TokenLocal(s) => p.token_local().as_str() == s.as_str(),
                })
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
pub struct FixedClock(Arc<AtomicI64>);

impl FixedClock {
    /// A clock stopped at `millis` after the epoch.
    pub fn at(millis: i64) -> Self {
        Self(Arc::new(AtomicI64::new(millis)))
    }

    /// Moves the clock.
    pub fn set(&self, millis: i64) {
        self.0.store(millis, Ordering::SeqCst);
    }
}

impl Clock for FixedClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_millis(self.0.load(Ordering::SeqCst)).expect("test clocks stay in range")
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
