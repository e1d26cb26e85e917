//! [`SeaOrmIntegrationPointRepository`]: the integration points port on
//! SQLite or PostgreSQL.

use std::sync::Arc;

use domain::integration_point::{
    IntegrationPoint, IntegrationPointRepository, ListQuery, Listing, LookupKey, PointId,
    StoreError, Version, WriteError, WriteOutcome,
};
use sea_orm::sea_query::Condition;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    QueryTrait, Select, Statement,
};
use uuid::Uuid;

use super::connect::Database;
use super::entity::{self, Column, Entity};
use super::error::{store_error, write_error};
use super::pool::ConnectionPool;
use super::query;

/// Keeps integration points in the `integration_points` table.
///
/// Uniqueness comes from the table's unique indexes and every conditional
/// write is a single statement, so any number of replicas can share the
/// database safely. Reads and writes run on the pool's routes for each (on a
/// SQLite file, writes queue for its one writer connection).
#[derive(Debug, Clone)]
pub struct SeaOrmIntegrationPointRepository {
    pool: ConnectionPool,
    /// The text of [`find_by_id`] for this database, rendered once.
    find_sql: Arc<str>,
}

impl SeaOrmIntegrationPointRepository {
    /// A repository on a migrated database (see [`crate::connect`] and
    /// [`crate::migrate`]).
    pub fn new(db: &Database) -> Self {
        let pool = db.pool().clone();
        let find_sql = find_by_id(Uuid::nil()).build(pool.backend()).sql.into();
        Self { pool, find_sql }
    }

    /// How many points match the query's filter, given the length of its page.
    ///
    /// A separate `COUNT(*)` rather than `COUNT(*) OVER ()` in the page query:
    /// the window makes the database read and buffer every matching row before
    /// it returns the first, which defeats an index that could serve `ORDER BY
    /// … LIMIT` by reading the page alone, while a plain count can scan an index
    /// only. The two statements see different snapshots, so a write between
    /// them can make the total disagree with the page by that write.
    async fn total(&self, query: &ListQuery, page_len: usize) -> Result<u64, StoreError> {
        const OPERATION: &str = "count integration points";
        let page = query.page();
        let page_len = u64::try_from(page_len).unwrap_or(u64::MAX);
        // A page that is not full ends the result, so it tells the total by
        // itself, unless it is empty after an offset (which may overshoot).
        // Small collections, the common case, thus take one query, not two.
        if page_len < page.limit() && (page_len > 0 || page.offset() == 0) {
            return Ok(page.offset().saturating_add(page_len));
        }
        let row = self
            .pool
            .reads()
            .query_one(&query::count(query.filter()))
            .await
            .map_err(|e| store_error(OPERATION, &e))?;
        let total = match row {
            Some(row) => row
                .try_get::<i64>("", query::TOTAL)
                .map_err(|e| store_error(OPERATION, &e))?,
            None => 0,
        };
        Ok(u64::try_from(total).unwrap_or(0))
    }
}

/// The point with this id: every column.
///
/// Every GET, PATCH, DELETE with `If-Match` and rotation runs it, and only the
/// id changes, so [`SeaOrmIntegrationPointRepository`] renders its text once:
/// rendering its eighteen quoted columns through the query builder, and the
/// allocations that takes, was about a tenth of a GET's CPU time (see
/// BENCHMARKS.md).
///
/// No `LIMIT 1` (which `one()` would add): the primary key matches one row at
/// most, and SQLite (3.51, as bundled) plans a `LIMIT ?` with the value bound
/// to it, so it compiles the statement again on every execution that binds
/// the `LIMIT` anew, which every execution of a cached statement does.
fn find_by_id(id: Uuid) -> Select<Entity> {
    Entity::find_by_id(id)
}

/// [`find_by_id`] from its rendered text: the values in the order of the
/// text's placeholders.
fn bind_find_by_id(backend: DbBackend, sql: &str, id: Uuid) -> Statement {
    Statement::from_sql_and_values(backend, sql, [id.into()])
}

/// A lookup key's kind, for traces: the key itself may be a token.
fn key_kind(key: &LookupKey) -> &'static str {
    match key {
        LookupKey::Any(_) => "any",
        LookupKey::Id(_) => "id",
        LookupKey::Code(_) => "code",
        LookupKey::TokenLocal(_) => "token_local",
    }
}

impl IntegrationPointRepository for SeaOrmIntegrationPointRepository {
    #[tracing::instrument(skip_all, fields(id = %point.id()))]
    async fn insert(&self, point: &IntegrationPoint) -> Result<(), WriteError> {
        Entity::insert(entity::ActiveModel::from(point))
            .exec_without_returning(&self.pool.writes())
            .await
            .map(drop)
            .map_err(|e| write_error("insert integration point", &e))
    }

    #[tracing::instrument(skip_all, fields(id = %id))]
    async fn find(&self, id: PointId) -> Result<Option<IntegrationPoint>, StoreError> {
        let statement = bind_find_by_id(self.pool.backend(), &self.find_sql, id.as_uuid());
        Entity::find()
            .from_raw_sql(statement)
            .one(&self.pool.reads())
            .await
            .map_err(|e| store_error("find integration point", &e))?
            .map(IntegrationPoint::try_from)
            .transpose()
    }

    #[tracing::instrument(
        skip_all,
        fields(offset = query.page().offset(), limit = query.page().limit())
    )]
    async fn list(&self, query: &ListQuery) -> Result<Listing, StoreError> {
        let rows = query::page(query)
            .all(&self.pool.reads())
            .await
            .map_err(|e| store_error("list integration points", &e))?;
        let total = self.total(query, rows.len()).await?;
        let items = rows
            .into_iter()
            .map(IntegrationPoint::try_from)
            .collect::<Result<_, _>>()?;
        Ok(Listing { items, total })
    }

    #[tracing::instrument(skip_all, fields(id = %point.id(), expected = expected.get()))]
    async fn update(
        &self,
        point: &IntegrationPoint,
        expected: Version,
    ) -> Result<WriteOutcome, WriteError> {
        // One statement, so the check and the write are one atomic step. The
        // creation time tells two lives of one id apart: a point deleted and
        // created again restarts at version 1.
        let result = Entity::update_many()
            .set(entity::ActiveModel::from(point))
            .filter(Column::Id.eq(point.id().as_uuid()))
            .filter(Column::Version.eq(expected.get()))
            .filter(Column::Ct.eq(point.created_at().as_millis()))
            .exec(&self.pool.writes())
            .await
            .map_err(|e| write_error("update integration point", &e))?;
        Ok(outcome(result.rows_affected))
    }

    #[tracing::instrument(skip_all, fields(id = %id, expected = expected.map(Version::get)))]
    async fn delete(
        &self,
        id: PointId,
        expected: Option<Version>,
    ) -> Result<WriteOutcome, StoreError> {
        let mut delete = Entity::delete_many().filter(Column::Id.eq(id.as_uuid()));
        if let Some(version) = expected {
            delete = delete.filter(Column::Version.eq(version.get()));
        }
        let result = delete
            .exec(&self.pool.writes())
            .await
            .map_err(|e| store_error("delete integration point", &e))?;
        Ok(outcome(result.rows_affected))
    }

    #[tracing::instrument(skip_all, fields(key = key_kind(key)))]
    async fn lookup(&self, key: &LookupKey) -> Result<Vec<PointId>, StoreError> {
        let condition = match key {
            LookupKey::Any(value) => {
                let by_id = PointId::parse(value)
                    .ok()
                    .map(|id| Column::Id.eq(id.as_uuid()));
                Condition::any()
                    .add(Column::Code.eq(value.as_str()))
                    .add(Column::TokenLocal.eq(value.as_str()))
                    .add_option(by_id)
            }
            LookupKey::Id(None) => return Ok(Vec::new()),
            LookupKey::Id(Some(id)) => Condition::all().add(Column::Id.eq(id.as_uuid())),
            LookupKey::Code(code) => Condition::all().add(Column::Code.eq(code.as_str())),
            LookupKey::TokenLocal(token) => {
                Condition::all().add(Column::TokenLocal.eq(token.as_str()))
            }
        };
        // Each row matches at most once however many of its columns match, and
        // ids are unique, so the ids come back distinct without DISTINCT.
        let ids: Vec<Uuid> = Entity::find()
            .select_only()
            .column(Column::Id)
            .filter(condition)
            .order_by_asc(Column::Id)
            .into_tuple()
            .all(&self.pool.reads())
            .await
            .map_err(|e| store_error("look up integration points", &e))?;
        Ok(ids.into_iter().map(PointId::from_uuid).collect())
    }
}

/// Whether a conditional write took effect; every write filters on the primary
/// key, so it affects one row or none.
fn outcome(rows_affected: u64) -> WriteOutcome {
    if rows_affected == 1 {
        WriteOutcome::Applied
    } else {
        WriteOutcome::Stale
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rendered_find_binds_to_the_statement_the_query_builder_makes() {
        let id = Uuid::from_u128(0x0193_a0b4_7c1e_7a3b_9c1d_5e6f_7a8b_9c0d);
        for backend in [DbBackend::Postgres, DbBackend::Sqlite] {
            // Arrange
            let rendered = find_by_id(Uuid::nil()).build(backend).sql;

            // Act
            let bound = bind_find_by_id(backend, &rendered, id);

            // Assert
            assert_eq!(bound, find_by_id(id).build(backend), "{backend:?}");
        }
    }
}
