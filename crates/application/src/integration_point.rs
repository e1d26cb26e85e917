//! The integration point use cases.

use domain::integration_point::{
    Clock, CreatePointError, CreatePointRequest, DeletePointError, GetPointError, IdGenerator,
    IfMatch, IntegrationPoint, IntegrationPointRepository, IntegrationPointService,
    ListPointsError, ListQuery, Listing, LookupError, LookupKey, PatchPointError,
    PatchPointRequest, PointId, RotateTokenError, TokenGenerator, UniqueField, Version, WriteError,
    WriteOutcome,
};

/// How many times a write is retried when another writer changed the point
/// between our read and our compare-and-swap. Each lost round means someone
/// else's write landed, so this bounds the wait, not the progress of the system.
const MAX_WRITE_ATTEMPTS: usize = 32;

/// How many times a create is retried when a value the server generated (id or
/// local token) turns out to be taken. With 122 and 128 random bits that is
/// never expected; the bound only keeps a broken generator from looping.
const MAX_GENERATED_VALUE_ATTEMPTS: usize = 3;

/// The canonical implementation of [`IntegrationPointService`].
///
/// Writes are optimistic: read the point, apply the change with the domain's
/// rules, then store it only if the stored version is still the one read (one
/// atomic statement in the repository). On a lost race the change is applied
/// again to the fresh point, so concurrent patches of different fields both
/// land and `If-Match` is always judged against the version actually replaced.
#[derive(Debug, Clone)]
pub struct Service<R, C, I, T> {
    repository: R,
    clock: C,
    ids: I,
    tokens: T,
}

impl<R, C, I, T> Service<R, C, I, T>
where
    R: IntegrationPointRepository,
    C: Clock,
    I: IdGenerator,
    T: TokenGenerator,
{
    /// Wires the use cases to their driven ports.
    pub fn new(repository: R, clock: C, ids: I, tokens: T) -> Self {
        Self {
            repository,
            clock,
            ids,
            tokens,
        }
    }

    /// Reads a point and checks the precondition against it.
    async fn current(
        &self,
        id: PointId,
        if_match: Option<&IfMatch>,
    ) -> Result<IntegrationPoint, Precondition> {
        let point = self
            .repository
            .find(id)
            .await
            .map_err(Precondition::Store)?
            .ok_or(Precondition::NotFound)?;
        match if_match {
            Some(condition) if !condition.is_met_by(point.revision()) => Err(Precondition::Failed),
            _ => Ok(point),
        }
    }
}

/// Why a point could not be read for a write.
enum Precondition {
    NotFound,
    Failed,
    Store(domain::integration_point::StoreError),
}

impl From<Precondition> for PatchPointError {
    fn from(p: Precondition) -> Self {
        match p {
            Precondition::NotFound => Self::NotFound,
            Precondition::Failed => Self::PreconditionFailed,
            Precondition::Store(e) => Self::Store(e),
        }
    }
}

impl From<Precondition> for DeletePointError {
    fn from(p: Precondition) -> Self {
        match p {
            Precondition::NotFound => Self::NotFound,
            Precondition::Failed => Self::PreconditionFailed,
            Precondition::Store(e) => Self::Store(e),
        }
    }
}

impl From<Precondition> for RotateTokenError {
    fn from(p: Precondition) -> Self {
        match p {
            Precondition::NotFound => Self::NotFound,
            Precondition::Failed => Self::PreconditionFailed,
            Precondition::Store(e) => Self::Store(e),
        }
    }
}

impl<R, C, I, T> IntegrationPointService for Service<R, C, I, T>
where
    R: IntegrationPointRepository,
    C: Clock,
    I: IdGenerator,
    T: TokenGenerator,
{
    #[tracing::instrument(level = "debug", skip_all)]
    async fn create(
        &self,
        request: CreatePointRequest,
    ) -> Result<IntegrationPoint, CreatePointError> {
        let mut attempts = 0;
        loop {
            attempts += 1;
            let now = self.clock.now();
            let point = IntegrationPoint::new(
                request.id.unwrap_or_else(|| self.ids.new_id()),
                request
                    .token_local
                    .clone()
                    .unwrap_or_else(|| self.tokens.new_token()),
                request.attributes.clone(),
                now,
                now,
                Version::INITIAL,
            );
            match self.repository.insert(&point).await {
                Ok(()) => return Ok(point),
                Err(WriteError::Duplicate(field)) => {
                    let generated = match field {
                        UniqueField::Id => request.id.is_none(),
                        UniqueField::TokenLocal => request.token_local.is_none(),
                        UniqueField::Code => false,
                    };
                    if !generated || attempts >= MAX_GENERATED_VALUE_ATTEMPTS {
                        return Err(CreatePointError::Conflict(field));
                    }
                    tracing::warn!(
                        field = field.field().path(),
                        "generated value collided; retrying"
                    );
                }
                Err(WriteError::Store(e)) => return Err(e.into()),
            }
        }
    }

    #[tracing::instrument(level = "debug", skip_all, fields(%id))]
    async fn get(&self, id: PointId) -> Result<IntegrationPoint, GetPointError> {
        self.repository
            .find(id)
            .await?
            .ok_or(GetPointError::NotFound)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn list(&self, query: ListQuery) -> Result<Listing, ListPointsError> {
        Ok(self.repository.list(&query).await?)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(%id))]
    async fn patch(
        &self,
        id: PointId,
        patch: PatchPointRequest,
        if_match: Option<IfMatch>,
    ) -> Result<IntegrationPoint, PatchPointError> {
        for _ in 0..MAX_WRITE_ATTEMPTS {
            let current = self.current(id, if_match.as_ref()).await?;
            let Some(updated) = current.patched(&patch, self.clock.now())? else {
                return Ok(current);
            };
            match self.repository.update(&updated, current.version()).await {
                Ok(WriteOutcome::Applied) => return Ok(updated),
                Ok(WriteOutcome::Stale) => continue,
                Err(WriteError::Duplicate(field)) => return Err(PatchPointError::Conflict(field)),
                Err(WriteError::Store(e)) => return Err(e.into()),
            }
        }
        Err(PatchPointError::Contended)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(%id))]
    async fn delete(&self, id: PointId, if_match: Option<IfMatch>) -> Result<(), DeletePointError> {
        let Some(IfMatch::OneOf(_)) = &if_match else {
            // Unconditional (or `*`): one statement decides, nothing to compare.
            return match self.repository.delete(id, None).await? {
                WriteOutcome::Applied => Ok(()),
                WriteOutcome::Stale => Err(DeletePointError::NotFound),
            };
        };
        loop {
            let current = self.current(id, if_match.as_ref()).await?;
            match self.repository.delete(id, Some(current.version())).await? {
                WriteOutcome::Applied => return Ok(()),
                // Changed or gone since we read it: the next read tells which,
                // and judges the precondition against the newer version.
                WriteOutcome::Stale => continue,
            }
        }
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn lookup(&self, key: LookupKey) -> Result<Vec<PointId>, LookupError> {
        let ids = self.repository.lookup(&key).await?;
        if ids.is_empty() {
            return Err(LookupError::NoMatch);
        }
        Ok(ids)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(%id))]
    async fn rotate_token(
        &self,
        id: PointId,
        if_match: Option<IfMatch>,
    ) -> Result<IntegrationPoint, RotateTokenError> {
        for _ in 0..MAX_WRITE_ATTEMPTS {
            let current = self.current(id, if_match.as_ref()).await?;
            let rotated = current.with_token_local(self.tokens.new_token(), self.clock.now());
            match self.repository.update(&rotated, current.version()).await {
                Ok(WriteOutcome::Applied) => return Ok(rotated),
                // A lost race, or (never expected) a token that is taken: retry
                // with a fresh read and a fresh token.
                Ok(WriteOutcome::Stale) | Err(WriteError::Duplicate(_)) => continue,
                Err(WriteError::Store(e)) => return Err(e.into()),
            }
        }
        Err(RotateTokenError::Contended)
    }
}
