//! [`SeaOrmIntegrationPointRepository`]: the integration points port on
//! SQLite or PostgreSQL.

use std::sync::Arc;

use domain::integration_point::{
    Count, IntegrationPoint, IntegrationPointRepository, ListQuery, Listing, LookupKey, PointId,
    SearchText, StoreError, Total, Version, WriteError, WriteOutcome,
};
use sea_orm::sea_query::{Condition, SelectStatement};
use sea_orm::{
    ActiveModelTrait as _, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait,
    FromQueryResult as _, Insert, Iterable as _, QueryFilter, QueryOrder, QuerySelect, QueryTrait,
    Select, Statement, UpdateMany, Value,
};
use uuid::Uuid;

use super::changes::{revision_of, revision_sql};
use super::connect::Database;
use super::entity::{self, Column, Entity};
use super::error::{store_error, write_error};
use super::pool::{ConnectionPool, Route};
use super::query;
use super::wakeups::ChangeSignal;

mod archive;

/// Keeps integration points in the `integration_points` table.
///
/// Uniqueness comes from the table's unique indexes and every conditional
/// write is a single statement, so any number of replicas can share the
/// database safely. Reads and writes run on the pool's routes for each (on a
/// SQLite file, writes queue for its one writer connection).
#[derive(Debug, Clone)]
pub struct SeaOrmIntegrationPointRepository {
    pool: ConnectionPool,
    statements: Arc<Statements>,
    /// Told of every write that recorded a change (the table's trigger
    /// records it), so that this replica's watchers hear of it at once.
    signal: ChangeSignal,
}

impl SeaOrmIntegrationPointRepository {
    /// A repository on a migrated database (see [`crate::connect`] and
    /// [`crate::migrate`]).
    pub fn new(db: &Database) -> Self {
        let pool = db.pool().clone();
        let statements = Arc::new(Statements::render(pool.backend()));
        Self {
            pool,
            statements,
            signal: db.change_signal(),
        }
    }

    /// Tells this replica's change feed about a write that took effect.
    fn announce(&self, outcome: WriteOutcome) -> WriteOutcome {
        match outcome {
            WriteOutcome::Applied => self.signal.announce(),
            WriteOutcome::Stale => {}
        }
        outcome
    }

    /// How many points match the query's filter, given the length of its
    /// page, as its [`Count`] asks.
    ///
    /// A separate `COUNT(*)` rather than `COUNT(*) OVER ()` in the page query:
    /// the window makes the database read and buffer every matching row before
    /// it returns the first, which defeats an index that could serve `ORDER BY
    /// … LIMIT` by reading the page alone, while a plain count can scan an index
    /// only. The two statements see different snapshots, so a write between
    /// them can make the total disagree with the page by that write.
    async fn total(&self, query: &ListQuery, page_len: usize) -> Result<Total, StoreError> {
        let page = query.page();
        let page_len = u64::try_from(page_len).unwrap_or(u64::MAX);
        // Without `after`, the page starts at `offset` of the whole result.
        let seen = query
            .after_cursor()
            .is_none()
            .then(|| page.offset().saturating_add(page_len));
        // A page that is not full ends the result, so it tells the total by
        // itself, unless it is empty after an offset (which may overshoot).
        // Small collections, the common case, thus take one query, not two.
        let tells_total = page_len < page.limit() && (page_len > 0 || page.offset() == 0);
        match (query.count(), seen) {
            (Count::Skip, _) => Ok(Total::Skipped),
            (Count::Exact | Count::Estimated { .. }, Some(seen)) if tells_total => {
                Ok(Total::Exact(seen))
            }
            (Count::Exact, _) => Ok(Total::Exact(
                self.count(query, &query::count(query.filter())).await?,
            )),
            (Count::Estimated { exact_up_to }, seen) => {
                let counted = self
                    .count(query, &query::count_up_to(query.filter(), exact_up_to))
                    .await?;
                if counted <= exact_up_to {
                    return Ok(Total::Exact(counted));
                }
                if self.pool.backend() == DbBackend::Postgres {
                    let estimate = self.estimate(query).await?;
                    let known = seen.unwrap_or(0).max(counted);
                    return Ok(Total::Estimated(estimate.max(known)));
                }
                // SQLite keeps no statistics to estimate from; a total is
                // exact there, as the contract allows.
                Ok(Total::Exact(
                    self.count(query, &query::count(query.filter())).await?,
                ))
            }
        }
    }

    /// Where the statements of `query` run: planned with their values when
    /// the right plan depends on them (see [`query::plans_by_value`]), else
    /// prepared once per connection. Planning anew costs PostgreSQL about a
    /// fifth of a list's time, measured on one type by code; a generic plan
    /// of `ext.lwt > ?` in the default order can walk the whole table.
    fn reads(&self, query: &ListQuery) -> Route<'_> {
        let reads = self.pool.reads();
        if query::plans_by_value(query) {
            reads.planned_per_execution()
        } else {
            reads
        }
    }

    /// Runs a `SELECT COUNT(*) AS total` of `query`'s points.
    async fn count(
        &self,
        query: &ListQuery,
        statement: &SelectStatement,
    ) -> Result<u64, StoreError> {
        const OPERATION: &str = "count integration points";
        let row = self
            .reads(query)
            .query_one(statement)
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

    /// PostgreSQL's own estimate of how many points match the query's filter:
    /// the rows the planner expects of the filtered query (`EXPLAIN`, which
    /// plans but runs nothing, from the table's statistics).
    ///
    /// The text format rather than JSON: its result is `text`, and the top
    /// node's line ends with `(cost=… rows=N width=…)`.
    async fn estimate(&self, query: &ListQuery) -> Result<u64, StoreError> {
        const OPERATION: &str = "estimate the integration points";
        let mut statement = DbBackend::Postgres.build(&query::matching(query.filter()));
        statement.sql = format!("EXPLAIN {}", statement.sql);
        let row = self
            .pool
            .reads()
            .query_one_raw(statement)
            .await
            .map_err(|e| store_error(OPERATION, &e))?;
        let plan = match row {
            Some(row) => row
                .try_get_by_index::<String>(0)
                .map_err(|e| store_error(OPERATION, &e))?,
            None => String::new(),
        };
        Ok(plan_rows(&plan).unwrap_or(0))
    }
}

/// A list statement that returned no row, not even its revision's.
#[derive(Debug, thiserror::Error)]
#[error("the list returned no revision")]
struct NoRevision;

/// The `rows=N` of the first line of a text-format plan.
fn plan_rows(plan: &str) -> Option<u64> {
    let line = plan.lines().next()?;
    let at = line.find(" rows=")? + " rows=".len();
    let digits = line[at..].split(|c: char| !c.is_ascii_digit()).next()?;
    digits.parse().ok()
}

/// The statements of the hot paths, rendered once for the repository's
/// database: between executions only their values change.
///
/// Rendering a statement through the query builder (eighteen quoted columns,
/// and the allocations that takes) was about a tenth of a GET's CPU time
/// (see BENCHMARKS.md); every GET, PATCH, DELETE with `If-Match`, rotation
/// and creation runs one of these.
#[derive(Debug)]
struct Statements {
    backend: DbBackend,
    /// [`find_by_id`]: the id.
    find: String,
    /// [`insert`]: every column.
    insert: String,
    /// [`update`]: every column, then the id, the expected version and the
    /// creation time.
    update: String,
    /// [`lookup`] of a bare key that is not a UUID: the key twice.
    lookup_any: String,
    /// [`lookup`] of a bare key that is a UUID: the key twice, then the id.
    lookup_any_or_id: String,
    /// [`lookup`] of each single-field key: its value.
    lookup_id: String,
    lookup_code: String,
    lookup_token_local: String,
    /// [`SeaOrmIntegrationPointRepository::list`]: the change feed's revision
    /// as of the statement's snapshot, which every row of the page follows.
    revision: String,
}

impl Statements {
    fn render(backend: DbBackend) -> Self {
        Self {
            backend,
            find: find_by_id(Uuid::nil()).build(backend).sql,
            insert: insert(blank_row()).build(backend).sql,
            update: update(blank_row(), Uuid::nil(), 0, 0).build(backend).sql,
            lookup_any: render_lookup(LookupKey::Any(SearchText::default()), backend),
            lookup_any_or_id: render_lookup(
                LookupKey::Any(PointId::from_uuid(Uuid::nil()).into()),
                backend,
            ),
            lookup_id: render_lookup(
                LookupKey::Id(Some(PointId::from_uuid(Uuid::nil()))),
                backend,
            ),
            lookup_code: render_lookup(LookupKey::Code(SearchText::default()), backend),
            lookup_token_local: render_lookup(
                LookupKey::TokenLocal(SearchText::default()),
                backend,
            ),
            revision: revision_sql(backend),
        }
    }

    /// The page of `query`, each row after the change feed's revision, in
    /// one statement: one snapshot, so the revision names exactly what the
    /// page reflects, and one round trip. Its one row when the page is
    /// empty has the revision and NULL for the point.
    ///
    /// The join has no condition, so PostgreSQL and SQLite can only run it
    /// as a nested loop over the revision's single row, which keeps the
    /// page's own order; the page's `LIMIT` keeps it a subquery of its own,
    /// planned as before.
    fn page(&self, query: &ListQuery) -> Statement {
        let page = query::page(query, self.backend).build(self.backend);
        Statement {
            sql: format!(
                "SELECT r.*, p.* FROM ({}) r LEFT JOIN ({}) p ON TRUE",
                self.revision, page.sql
            ),
            ..page
        }
    }

    fn find(&self, id: Uuid) -> Statement {
        Statement::from_sql_and_values(self.backend, &self.find, [id.into()])
    }

    fn insert(&self, point: &IntegrationPoint) -> Statement {
        Statement::from_sql_and_values(self.backend, &self.insert, row_values(point))
    }

    fn update(&self, point: &IntegrationPoint, expected: Version) -> Statement {
        let mut values = row_values(point);
        values.extend([
            point.id().as_uuid().into(),
            expected.get().into(),
            point.created_at().as_millis().into(),
        ]);
        Statement::from_sql_and_values(self.backend, &self.update, values)
    }

    /// `None` for a key that names no point whatever the table holds.
    fn lookup(&self, key: &LookupKey) -> Option<Statement> {
        let (sql, values): (&str, Vec<Value>) = match key {
            LookupKey::Any(value) => {
                let value = value.as_str();
                match PointId::parse(value) {
                    Ok(id) => (
                        &self.lookup_any_or_id,
                        vec![value.into(), value.into(), id.as_uuid().into()],
                    ),
                    Err(_) => (&self.lookup_any, vec![value.into(), value.into()]),
                }
            }
            LookupKey::Id(None) => return None,
            LookupKey::Id(Some(id)) => (&self.lookup_id, vec![id.as_uuid().into()]),
            LookupKey::Code(code) => (&self.lookup_code, vec![code.as_str().into()]),
            LookupKey::TokenLocal(token) => (&self.lookup_token_local, vec![token.as_str().into()]),
        };
        Some(Statement::from_sql_and_values(self.backend, sql, values))
    }
}

/// The SQL of [`lookup`] for keys of `key`'s kind.
fn render_lookup(key: LookupKey, backend: DbBackend) -> String {
    lookup(&key).map_or_else(String::new, |select| select.build(backend).sql)
}

/// The point with this id: every column.
///
/// No `LIMIT 1` (which `one()` would add): the primary key matches one row at
/// most, and SQLite (3.51, as bundled) plans a `LIMIT ?` with the value bound
/// to it, so it compiles the statement again on every execution that binds
/// the `LIMIT` anew, which every execution of a cached statement does.
fn find_by_id(id: Uuid) -> Select<Entity> {
    Entity::find_by_id(id)
}

/// The ids of the points `key` names, in id order; `None` when it names none
/// whatever the table holds.
///
/// Each row matches at most once however many of its columns match, and ids
/// are unique, so the ids come back distinct without `DISTINCT`.
fn lookup(key: &LookupKey) -> Option<Select<Entity>> {
    let condition = match key {
        LookupKey::Any(value) => {
            let by_id = PointId::parse(value.as_str())
                .ok()
                .map(|id| Column::Id.eq(id.as_uuid()));
            Condition::any()
                .add(Column::Code.eq(value.as_str()))
                .add(Column::TokenLocal.eq(value.as_str()))
                .add_option(by_id)
        }
        LookupKey::Id(None) => return None,
        LookupKey::Id(Some(id)) => Condition::all().add(Column::Id.eq(id.as_uuid())),
        LookupKey::Code(code) => Condition::all().add(Column::Code.eq(code.as_str())),
        LookupKey::TokenLocal(token) => Condition::all().add(Column::TokenLocal.eq(token.as_str())),
    };
    Some(
        Entity::find()
            .select_only()
            .column(Column::Id)
            .filter(condition)
            .order_by_asc(Column::Id),
    )
}

/// A new row with every column.
fn insert(row: entity::ActiveModel) -> Insert<entity::ActiveModel> {
    Entity::insert(row)
}

/// Every column of the row with this id, if it is still at `version` and was
/// created at `ct`.
///
/// One statement, so the check and the write are one atomic step. The
/// creation time tells two lives of one id apart: a point deleted and created
/// again restarts at version 1.
fn update(row: entity::ActiveModel, id: Uuid, version: i64, ct: i64) -> UpdateMany<Entity> {
    Entity::update_many()
        .set(row)
        .filter(Column::Id.eq(id))
        .filter(Column::Version.eq(version))
        .filter(Column::Ct.eq(ct))
}

/// A row with every column set, to render statements from.
fn blank_row() -> entity::ActiveModel {
    entity::ActiveModel::from(entity::Model {
        id: Uuid::nil(),
        code: String::new(),
        r#type: String::new(),
        token_local: String::new(),
        token_remote: String::new(),
        token_remote2: String::new(),
        url: String::new(),
        recv_svcscriptcode: String::new(),
        recv_svcscriptcode_ws: String::new(),
        send_svcscriptcode: String::new(),
        send_svcscriptcode_ws: String::new(),
        opts_title: String::new(),
        opts_comment: String::new(),
        opts_allow_files_api: false,
        opts_issync: false,
        ct: 0,
        lwt: 0,
        version: 0,
    })
    .reset_all()
}

/// The point's columns, in the table's column order.
fn row_values(point: &IntegrationPoint) -> Vec<Value> {
    let mut row = entity::ActiveModel::from(point);
    Column::iter()
        .filter_map(|column| row.take(column).into_value())
        .collect()
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
    #[tracing::instrument(level = "debug", skip_all, fields(id = %point.id()))]
    async fn insert(&self, point: &IntegrationPoint) -> Result<(), WriteError> {
        self.pool
            .writes()
            .execute_raw(self.statements.insert(point))
            .await
            .map(|_| self.signal.announce())
            .map_err(|e| write_error("insert integration point", &e))
    }

    #[tracing::instrument(level = "debug", skip_all, fields(id = %id))]
    async fn find(&self, id: PointId) -> Result<Option<IntegrationPoint>, StoreError> {
        entity::Model::find_by_statement(self.statements.find(id.as_uuid()))
            .one(&self.pool.reads())
            .await
            .map_err(|e| store_error("find integration point", &e))?
            .map(IntegrationPoint::try_from)
            .transpose()
    }

    #[tracing::instrument(
        level = "debug",
        skip_all,
        fields(
            offset = query.page().offset(),
            limit = query.page().limit(),
            after = query.after_cursor().is_some()
        )
    )]
    async fn list(&self, query: &ListQuery) -> Result<Listing, StoreError> {
        const OPERATION: &str = "list integration points";
        let rows = self
            .reads(query)
            .query_all_raw(self.statements.page(query))
            .await
            .map_err(|e| store_error(OPERATION, &e))?;
        let Some(first) = rows.first() else {
            return Err(StoreError::Unknown(Box::new(NoRevision)));
        };
        let revision = revision_of(first, OPERATION)?;
        let mut items = Vec::with_capacity(rows.len());
        for row in &rows {
            // An empty page is the revision's row alone, its point all NULL.
            let id: Option<Uuid> = row
                .try_get("", "id")
                .map_err(|e| store_error(OPERATION, &e))?;
            if id.is_some() {
                let model = entity::Model::from_query_result(row, "")
                    .map_err(|e| store_error(OPERATION, &e))?;
                items.push(IntegrationPoint::try_from(model)?);
            }
        }
        let total = self.total(query, items.len()).await?;
        Ok(Listing {
            items,
            total,
            revision: Some(revision),
        })
    }

    #[tracing::instrument(
        level = "debug",
        skip_all,
        fields(id = %point.id(), expected = expected.get())
    )]
    async fn update(
        &self,
        point: &IntegrationPoint,
        expected: Version,
    ) -> Result<WriteOutcome, WriteError> {
        let result = self
            .pool
            .writes()
            .execute_raw(self.statements.update(point, expected))
            .await
            .map_err(|e| write_error("update integration point", &e))?;
        Ok(self.announce(outcome(result.rows_affected())))
    }

    #[tracing::instrument(
        level = "debug",
        skip_all,
        fields(id = %id, expected = expected.map(Version::get))
    )]
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
        Ok(self.announce(outcome(result.rows_affected)))
    }

    #[tracing::instrument(level = "debug", skip_all, fields(key = key_kind(key)))]
    async fn lookup(&self, key: &LookupKey) -> Result<Vec<PointId>, StoreError> {
        const OPERATION: &str = "look up integration points";
        let Some(statement) = self.statements.lookup(key) else {
            return Ok(Vec::new());
        };
        ids(OPERATION, self.pool.reads().query_all_raw(statement).await)
    }
}

/// The point ids a statement selecting only `id` returned.
fn ids(
    operation: &'static str,
    rows: Result<Vec<sea_orm::QueryResult>, sea_orm::DbErr>,
) -> Result<Vec<PointId>, StoreError> {
    rows.map_err(|e| store_error(operation, &e))?
        .iter()
        .map(|row| {
            row.try_get_by_index::<Uuid>(0)
                .map(PointId::from_uuid)
                .map_err(|e| store_error(operation, &e))
        })
        .collect()
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
    use domain::integration_point::Field;

    use super::*;
    use crate::persistence::mapper::sample_row;

    #[test]
    fn rendered_statements_bind_to_what_the_query_builder_makes() {
        let point = IntegrationPoint::try_from(sample_row()).expect("a valid row");
        let expected = Version::new(2).expect("a version");
        for backend in [DbBackend::Postgres, DbBackend::Sqlite] {
            // Arrange
            let statements = Statements::render(backend);
            let row = || entity::ActiveModel::from(&point);
            let (id, ct) = (point.id().as_uuid(), point.created_at().as_millis());

            // Act & Assert
            assert_eq!(
                statements.find(id),
                find_by_id(id).build(backend),
                "{backend:?}"
            );
            assert_eq!(
                statements.insert(&point),
                insert(row()).build(backend),
                "{backend:?}"
            );
            assert_eq!(
                statements.update(&point, expected),
                update(row(), id, expected.get(), ct).build(backend),
                "{backend:?}"
            );
        }
    }

    #[test]
    fn rendered_lookups_bind_to_what_the_query_builder_makes() {
        let id = PointId::from_uuid(Uuid::from_u128(7));
        let keys = [
            LookupKey::any("bot-7").expect("no NUL"),
            LookupKey::Any(id.into()),
            LookupKey::Id(Some(id)),
            LookupKey::Id(None),
            LookupKey::for_field(Field::Code, "bot-7").expect("a key field"),
            LookupKey::for_field(Field::TokenLocal, "0123456789abcdef").expect("a key field"),
        ];
        for backend in [DbBackend::Postgres, DbBackend::Sqlite] {
            // Arrange
            let statements = Statements::render(backend);
            for key in &keys {
                // Act
                let rendered = statements.lookup(key);

                // Assert
                let built = lookup(key).map(|select| select.build(backend));
                assert_eq!(rendered, built, "{backend:?} {key:?}");
            }
        }
    }

    #[test]
    fn the_estimate_is_the_rows_of_the_plans_top_node() {
        let plan = "Index Only Scan using ix on integration_points  (cost=0.42..3060.36 rows=99865 width=4)\n  Index Cond: (type = 'telegram'::text)";

        assert_eq!(plan_rows(plan), Some(99865));
        assert_eq!(
            plan_rows("Result  (cost=0.00..0.01 rows=1 width=4)"),
            Some(1)
        );
        assert_eq!(plan_rows(""), None);
        assert_eq!(plan_rows("no numbers here"), None);
    }
}
