//! A hand-written in-memory `IntegrationPointService`: enough behaviour to
//! drive every HTTP path, a record of what the handlers passed in, and a
//! switch to make the next call fail.

use std::sync::{Arc, Mutex, MutexGuard};

use domain::change_feed::Cursor;
use domain::integration_point::{
    CreatePointError, CreatePointRequest, DeletePointError, GetPointError, IfMatch,
    IntegrationPoint, IntegrationPointService, ListPointsError, ListQuery, Listing, LookupError,
    LookupKey, PatchPointError, PatchPointRequest, PointId, RotateTokenError, StoreError,
    Timestamp, TokenLocal, UniqueField, Version,
};
use uuid::Uuid;

/// How the next call fails, whatever it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// `StoreError::Unknown`, with a cause that must never reach the client.
    StoreUnknown,
    /// `StoreError::Unavailable`.
    StoreUnavailable,
    /// Other writers kept winning (patch and rotate only; a store failure elsewhere).
    Contended,
    /// The service panics.
    Panic,
}

/// The change feed revision every list reports.
pub const LIST_REVISION: Cursor = Cursor::new(41, 3);

/// The secret in the cause of [`Failure::StoreUnknown`].
pub const INTERNAL_DETAIL: &str = "relation integration_points: password=hunter2";

#[derive(Default)]
struct State {
    points: Vec<IntegrationPoint>,
    failure: Option<Failure>,
    writes: u8,
    last_if_match: Option<Option<IfMatch>>,
    last_query: Option<ListQuery>,
    last_lookup: Option<LookupKey>,
}

/// The fake. Clones share their state.
#[derive(Clone, Default)]
pub struct FakeService {
    state: Arc<Mutex<State>>,
}

impl FakeService {
    /// Makes the next call fail.
    pub fn fail_next(&self, failure: Failure) {
        self.state().failure = Some(failure);
    }

    /// The `If-Match` precondition of the last conditional write.
    pub fn last_if_match(&self) -> Option<Option<IfMatch>> {
        self.state().last_if_match.clone()
    }

    /// The query of the last list.
    pub fn last_query(&self) -> Option<ListQuery> {
        self.state().last_query.clone()
    }

    /// The key of the last lookup.
    pub fn last_lookup(&self) -> Option<LookupKey> {
        self.state().last_lookup.clone()
    }

    /// The stored point with this id.
    pub fn stored(&self, id: PointId) -> Option<IntegrationPoint> {
        self.state().points.iter().find(|p| p.id() == id).cloned()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A test that panicked while holding the lock has failed anyway.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Takes the pending failure; a pending panic happens here.
    fn failure(&self) -> Option<Failure> {
        let failure = self.state().failure.take();
        if failure == Some(Failure::Panic) {
            panic!("the fake service was told to panic");
        }
        failure
    }
}

fn store_error(failure: Failure) -> StoreError {
    match failure {
        Failure::StoreUnavailable => StoreError::Unavailable("pool timed out".into()),
        _ => StoreError::Unknown(INTERNAL_DETAIL.into()),
    }
}

impl State {
    fn tick(&mut self) -> (Timestamp, u8) {
        self.writes += 1;
        let now = Timestamp::from_millis(1_567_000_000_000 + i64::from(self.writes) * 1000)
            .expect("in range");
        (now, self.writes)
    }

    fn index(&self, id: PointId) -> Option<usize> {
        self.points.iter().position(|p| p.id() == id)
    }

    fn precondition_met(&mut self, point: &IntegrationPoint, if_match: Option<IfMatch>) -> bool {
        let met = if_match
            .as_ref()
            .is_none_or(|m| m.is_met_by(point.revision()));
        self.last_if_match = Some(if_match);
        met
    }
}

impl IntegrationPointService for FakeService {
    async fn create(
        &self,
        request: CreatePointRequest,
    ) -> Result<IntegrationPoint, CreatePointError> {
        if let Some(failure) = self.failure() {
            return Err(store_error(failure).into());
        }
        let mut state = self.state();
        let (now, n) = state.tick();
        let id = request
            .id
            .unwrap_or_else(|| PointId::from_uuid(Uuid::from_u128(u128::from(n))));
        let token = request
            .token_local
            .unwrap_or_else(|| TokenLocal::from_bytes([n; 16]));
        for existing in &state.points {
            if existing.id() == id {
                return Err(CreatePointError::Conflict(UniqueField::Id));
            }
            if existing.attributes().code == request.attributes.code {
                return Err(CreatePointError::Conflict(UniqueField::Code));
            }
            if *existing.token_local() == token {
                return Err(CreatePointError::Conflict(UniqueField::TokenLocal));
            }
        }
        let point =
            IntegrationPoint::new(id, token, request.attributes, now, now, Version::INITIAL);
        state.points.push(point.clone());
        Ok(point)
    }

    async fn get(&self, id: PointId) -> Result<IntegrationPoint, GetPointError> {
        if let Some(failure) = self.failure() {
            return Err(store_error(failure).into());
        }
        self.stored(id).ok_or(GetPointError::NotFound)
    }

    async fn list(&self, query: ListQuery) -> Result<Listing, ListPointsError> {
        if let Some(failure) = self.failure() {
            return Err(store_error(failure).into());
        }
        let mut state = self.state();
        let listing = query.run(&state.points);
        state.last_query = Some(query);
        Ok(Listing {
            revision: Some(LIST_REVISION),
            ..listing
        })
    }

    async fn patch(
        &self,
        id: PointId,
        patch: PatchPointRequest,
        if_match: Option<IfMatch>,
    ) -> Result<IntegrationPoint, PatchPointError> {
        match self.failure() {
            Some(Failure::Contended) => return Err(PatchPointError::Contended),
            Some(failure) => return Err(store_error(failure).into()),
            None => {}
        }
        let mut state = self.state();
        let index = state.index(id).ok_or(PatchPointError::NotFound)?;
        let current = state.points[index].clone();
        if !state.precondition_met(&current, if_match) {
            return Err(PatchPointError::PreconditionFailed);
        }
        let (now, _) = state.tick();
        let Some(updated) = current.patched(&patch, now)? else {
            return Ok(current);
        };
        let code_taken = state
            .points
            .iter()
            .any(|p| p.id() != id && p.attributes().code == updated.attributes().code);
        if code_taken {
            return Err(PatchPointError::Conflict(UniqueField::Code));
        }
        state.points[index] = updated.clone();
        Ok(updated)
    }

    async fn delete(&self, id: PointId, if_match: Option<IfMatch>) -> Result<(), DeletePointError> {
        if let Some(failure) = self.failure() {
            return Err(store_error(failure).into());
        }
        let mut state = self.state();
        let index = state.index(id).ok_or(DeletePointError::NotFound)?;
        let current = state.points[index].clone();
        if !state.precondition_met(&current, if_match) {
            return Err(DeletePointError::PreconditionFailed);
        }
        state.points.remove(index);
        Ok(())
    }

    async fn lookup(&self, key: LookupKey) -> Result<Vec<PointId>, LookupError> {
        if let Some(failure) = self.failure() {
            return Err(store_error(failure).into());
        }
        let mut state = self.state();
        let ids: Vec<_> = state
            .points
            .iter()
            .filter(|p| match &key {
                LookupKey::Any(k) => {
                    p.id().to_string() == k.as_str()
                        || p.attributes().code.as_str() == k.as_str()
                        || p.token_local().as_str() == k.as_str()
                }
                LookupKey::Id(id) => Some(p.id()) == *id,
                LookupKey::Code(code) => p.attributes().code.as_str() == code.as_str(),
                LookupKey::TokenLocal(token) => p.token_local().as_str() == token.as_str(),
            })
            .map(IntegrationPoint::id)
            .collect();
        state.last_lookup = Some(key);
        if ids.is_empty() {
            return Err(LookupError::NoMatch);
        }
        Ok(ids)
    }

    async fn rotate_token(
        &self,
        id: PointId,
        if_match: Option<IfMatch>,
    ) -> Result<IntegrationPoint, RotateTokenError> {
        match self.failure() {
            Some(Failure::Contended) => return Err(RotateTokenError::Contended),
            Some(failure) => return Err(store_error(failure).into()),
            None => {}
        }
        let mut state = self.state();
        let index = state.index(id).ok_or(RotateTokenError::NotFound)?;
        let current = state.points[index].clone();
        if !state.precondition_met(&current, if_match) {
            return Err(RotateTokenError::PreconditionFailed);
        }
        let (now, n) = state.tick();
        let rotated = current.with_token_local(TokenLocal::from_bytes([0xf0 | n; 16]), now);
        state.points[index] = rotated.clone();
        Ok(rotated)
    }
}
