//! [`PointArchive`] on the repository's table: keyset pages for export, and
//! multi-row statements for import.

use domain::integration_point::{
    ExistingPoints, IntegrationPoint, PointArchive, PointId, StoreError, WriteError,
};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, Iterable as _, QueryFilter, QueryOrder, QuerySelect,
    QueryTrait,
};

use super::SeaOrmIntegrationPointRepository;
use crate::persistence::entity::{self, Column, Entity};
use crate::persistence::error::{store_error, write_error};

impl PointArchive for SeaOrmIntegrationPointRepository {
    #[tracing::instrument(level = "debug", skip_all, fields(limit))]
    async fn page_after(
        &self,
        after: Option<PointId>,
        limit: u64,
    ) -> Result<Vec<IntegrationPoint>, StoreError> {
        // `id > ?` on the primary key: each page starts where the last ended
        // by an index seek, so the last page costs what the first did.
        let mut select = Entity::find().order_by_asc(Column::Id).limit(limit);
        if let Some(after) = after {
            select = select.filter(Column::Id.gt(after.as_uuid()));
        }
        select
            .all(&self.pool.reads())
            .await
            .map_err(|e| store_error("export integration points", &e))?
            .into_iter()
            .map(IntegrationPoint::try_from)
            .collect()
    }

    #[tracing::instrument(level = "debug", skip_all, fields(ids = ids.len()))]
    async fn stored_ids(&self, ids: &[PointId]) -> Result<Vec<PointId>, StoreError> {
        const OPERATION: &str = "find stored integration point ids";
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let select = Entity::find()
            .select_only()
            .column(Column::Id)
            .filter(Column::Id.is_in(ids.iter().map(|id| id.as_uuid())))
            .build(self.pool.backend());
        super::ids(OPERATION, self.pool.writes().query_all_raw(select).await)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(points = points.len()))]
    async fn store_all(
        &self,
        points: &[IntegrationPoint],
        existing: ExistingPoints,
    ) -> Result<(), WriteError> {
        if points.is_empty() {
            return Ok(());
        }
        let mut insert = Entity::insert_many(points.iter().map(entity::ActiveModel::from));
        match existing {
            ExistingPoints::Skip => {}
            ExistingPoints::Replace => {
                insert = insert.on_conflict(
                    OnConflict::column(Column::Id)
                        .update_columns(
                            Column::iter().filter(|column| !matches!(column, Column::Id)),
                        )
                        .to_owned(),
                );
            }
        }
        // One statement: the database applies all of its rows or none.
        self.pool
            .writes()
            .execute_raw(insert.build(self.pool.backend()))
            .await
            .map(|_| self.signal.announce())
            .map_err(|e| write_error("import integration points", &e))
    }
}
