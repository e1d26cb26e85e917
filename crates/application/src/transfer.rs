//! The export and import use cases.

use std::collections::HashSet;

use domain::integration_point::{
    ExistingPoints, ImportOutcome, IntegrationPoint, PointArchive, PointId, PointTransferService,
    StoreError, UniqueField, WriteError,
};

/// How many points an export page holds: large enough that the round trips
/// do not dominate, small enough that memory stays flat whatever the table's
/// size.
pub const EXPORT_PAGE_SIZE: u64 = 1000;

/// The most points stored with one statement: 18 columns each keeps a
/// statement's bound values (9,000) well under PostgreSQL's limit (65,535)
/// and SQLite's (32,766), while a round trip per 500 rows costs little.
pub const IMPORT_BATCH_SIZE: usize = 500;

/// The canonical implementation of [`PointTransferService`].
///
/// An import batch is stored with one atomic statement when it can be; only
/// when that statement finds a point taken (a code or local token held by
/// another point, or a concurrent writer) is the batch stored point by point,
/// so that each point gets its own outcome and one bad point costs its
/// neighbours nothing.
#[derive(Debug, Clone)]
pub struct TransferService<A> {
    archive: A,
}

impl<A: PointArchive> TransferService<A> {
    /// Wires the use cases to the archive.
    pub fn new(archive: A) -> Self {
        Self { archive }
    }

    /// Stores the points one by one, each with its own outcome.
    async fn store_each(
        &self,
        points: &[IntegrationPoint],
        stored: &HashSet<PointId>,
        existing: ExistingPoints,
    ) -> Result<Vec<ImportOutcome>, StoreError> {
        let mut outcomes = Vec::with_capacity(points.len());
        // An earlier point of the batch may have stored the id since.
        let mut stored = stored.clone();
        for point in points {
            if existing == ExistingPoints::Skip && stored.contains(&point.id()) {
                outcomes.push(ImportOutcome::Skipped);
                continue;
            }
            let outcome = match self
                .archive
                .store_all(std::slice::from_ref(point), existing)
                .await
            {
                Ok(()) => stored_outcome(!stored.insert(point.id())),
                // Stored meanwhile (by an earlier line of the batch, or a
                // concurrent writer): in skip mode that is what skipping is for.
                Err(WriteError::Duplicate(UniqueField::Id)) if existing == ExistingPoints::Skip => {
                    ImportOutcome::Skipped
                }
                Err(WriteError::Duplicate(field)) => ImportOutcome::Rejected(field),
                Err(WriteError::Store(e)) => return Err(e),
            };
            outcomes.push(outcome);
        }
        Ok(outcomes)
    }
}

fn has_repeated_ids(points: &[IntegrationPoint]) -> bool {
    let mut seen = HashSet::with_capacity(points.len());
    !points.iter().all(|point| seen.insert(point.id()))
}

/// The outcome of storing a point whose id was stored before or not.
fn stored_outcome(was_stored: bool) -> ImportOutcome {
    if was_stored {
        ImportOutcome::Replaced
    } else {
        ImportOutcome::Created
    }
}

impl<A: PointArchive> PointTransferService for TransferService<A> {
    #[tracing::instrument(level = "debug", skip_all)]
    async fn export_page(
        &self,
        after: Option<PointId>,
    ) -> Result<Vec<IntegrationPoint>, StoreError> {
        self.archive.page_after(after, EXPORT_PAGE_SIZE).await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(points = points.len()))]
    async fn import_batch(
        &self,
        points: &[IntegrationPoint],
        existing: ExistingPoints,
    ) -> Result<Vec<ImportOutcome>, StoreError> {
        let mut outcomes = Vec::with_capacity(points.len());
        for chunk in points.chunks(IMPORT_BATCH_SIZE) {
            outcomes.extend(self.import_chunk(chunk, existing).await?);
        }
        Ok(outcomes)
    }
}

impl<A: PointArchive> TransferService<A> {
    async fn import_chunk(
        &self,
        points: &[IntegrationPoint],
        existing: ExistingPoints,
    ) -> Result<Vec<ImportOutcome>, StoreError> {
        let ids: Vec<PointId> = points.iter().map(IntegrationPoint::id).collect();
        let stored: HashSet<PointId> = self.archive.stored_ids(&ids).await?.into_iter().collect();
        let to_store: Vec<IntegrationPoint> = match existing {
            ExistingPoints::Skip => points
                .iter()
                .filter(|point| !stored.contains(&point.id()))
                .cloned()
                .collect(),
            ExistingPoints::Replace => points.to_vec(),
        };
        // A statement may not write one row twice (PostgreSQL refuses an
        // upsert that would), so a repeated id is decided point by point.
        let batched = if has_repeated_ids(&to_store) {
            Err(WriteError::Duplicate(UniqueField::Id))
        } else {
            self.archive.store_all(&to_store, existing).await
        };
        match batched {
            Ok(()) => {}
            Err(WriteError::Duplicate(_)) => {
                return self
                    .store_each(&to_store, &stored, existing)
                    .await
                    .map(|outcomes| merge_skipped(points, &stored, existing, outcomes));
            }
            Err(WriteError::Store(e)) => return Err(e),
        }
        Ok(points
            .iter()
            .map(|point| match existing {
                ExistingPoints::Skip if stored.contains(&point.id()) => ImportOutcome::Skipped,
                ExistingPoints::Skip | ExistingPoints::Replace => {
                    stored_outcome(stored.contains(&point.id()))
                }
            })
            .collect())
    }
}

/// The outcomes of the whole batch, in its order: the points skipped up front
/// (skip mode, already stored) interleaved with the outcomes of the rest.
fn merge_skipped(
    points: &[IntegrationPoint],
    stored: &HashSet<PointId>,
    existing: ExistingPoints,
    outcomes: Vec<ImportOutcome>,
) -> Vec<ImportOutcome> {
    let mut rest = outcomes.into_iter();
    points
        .iter()
        .filter_map(|point| match existing {
            ExistingPoints::Skip if stored.contains(&point.id()) => Some(ImportOutcome::Skipped),
            ExistingPoints::Skip | ExistingPoints::Replace => rest.next(),
        })
        .collect()
}
