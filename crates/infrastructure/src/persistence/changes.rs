//! [`SeaOrmChangeLog`]: the change feed's port on the `point_changes` table,
//! which a trigger fills in the transaction of every write (migration
//! `m20261129_000001_create_point_changes` explains the order it keeps).

use std::sync::Arc;

use domain::change_feed::{
    Change, ChangeLog, ChangeOp, ChangePage, Cursor, FeedRevision, ReadChangesError, Snapshot,
};
use domain::integration_point::{IntegrationPoint, StoreError, Timestamp};
use sea_orm::{ConnectionTrait, DbBackend, FromQueryResult as _, QueryResult, Statement};

use super::connect::Database;
use super::entity;
use super::error::store_error;
use super::pool::ConnectionPool;

/// The oldest transaction still in flight, below which every change row is
/// final: nothing can still commit behind it. SQLite has one writer, so every
/// row it lets a reader see is final and there is no bound.
const POSTGRES_SAFE: &str = "tx < pg_snapshot_xmin(pg_current_snapshot())::text::bigint";

/// The SQL of each operation, rendered once for the backend.
#[derive(Debug)]
struct Statements {
    backend: DbBackend,
    /// The horizon, the time of the oldest change withheld, and up to `$3`
    /// changes after `($1, $2)`; one row with nulls for the change when
    /// there is none.
    read: String,
    /// The newest safe change's cursor and the horizon: one or two rows.
    head: String,
    /// The cursor and time of up to `$1` of the oldest safe changes.
    oldest: String,
    /// Moves the horizon forward to `($1, $2)`, never back.
    advance_horizon: String,
    /// Drops the changes up to `($1, $2)`.
    drop_through: String,
}

impl Statements {
    fn render(backend: DbBackend) -> Self {
        // The oldest committed change not safe yet is the first in feed
        // order: its writer got its transaction id before the other
        // withheld writers', so it was recorded first (a change whose order
        // was raised to an earlier write's waited for that write to commit).
        let (safe, withheld, p) = match backend {
            DbBackend::Postgres => (
                format!("AND {POSTGRES_SAFE}"),
                format!(
                    "(SELECT at FROM point_changes WHERE NOT ({POSTGRES_SAFE}) \
                     ORDER BY tx, position LIMIT 1)"
                ),
                ["$1", "$2", "$3"],
            ),
            _ => (String::new(), "NULL".to_owned(), ["?1", "?2", "?3"]),
        };
        let safe_where = safe.replacen("AND", "WHERE", 1);
        let [p1, p2, p3] = p;
        Self {
            backend,
            read: format!(
                "SELECT h.tx AS horizon_tx, h.position AS horizon_position, \
                     {withheld} AS withheld_at, c.* \
                 FROM point_changes_horizon h LEFT JOIN ( \
                     SELECT * FROM point_changes \
                     WHERE (tx, position) > ({p1}, {p2}) {safe} \
                     ORDER BY tx, position LIMIT {p3} \
                 ) c ON 1 = 1 \
                 ORDER BY c.tx, c.position"
            ),
            head: format!(
                "SELECT tx, position FROM ( \
                     SELECT tx, position FROM point_changes {safe_where} \
                     ORDER BY tx DESC, position DESC LIMIT 1 \
                 ) newest \
                 UNION ALL SELECT tx, position FROM point_changes_horizon"
            ),
            oldest: format!(
                "SELECT tx, position, at FROM point_changes {safe_where} \
                 ORDER BY tx, position LIMIT {p1}"
            ),
            advance_horizon: format!(
                "UPDATE point_changes_horizon SET tx = {p1}, position = {p2} \
                 WHERE (tx, position) < ({p1}, {p2})"
            ),
            drop_through: format!("DELETE FROM point_changes WHERE (tx, position) <= ({p1}, {p2})"),
        }
    }

    fn statement(&self, sql: &str, values: Vec<sea_orm::Value>) -> Statement {
        Statement::from_sql_and_values(self.backend, sql, values)
    }
}

/// One row: the change feed's revision as of the statement's own snapshot,
/// in the columns [`revision_of`] reads; a list's statement joins its page
/// to it, so that the page and its revision come from one snapshot.
///
/// The cursor is the newest change a reader may be handed now (below the
/// oldest transaction in flight, as [`ChangeLog::read`] hands them out), or
/// the retention horizon. On PostgreSQL the snapshot may also have seen
/// changes after that cursor: ones committed by transactions younger than
/// one still in flight. Then the revision carries the snapshot (its `xmax`
/// and the transactions in flight), so that a reader skips exactly those;
/// when it saw none, the bare cursor says it all.
///
/// PostgreSQL computes it in `point_revision()` (migration
/// `m20261129_000004_plan_list_revision_once`, which holds its SQL): a
/// `STABLE` function runs in its caller's snapshot, and its plan is made once
/// per session, where written out here it was planned again with every list
/// and doubled the list's planning time. SQLite, with one writer, has no
/// snapshot to carry and no change a reader must wait for.
pub(super) fn revision_sql(backend: DbBackend) -> String {
    match backend {
        DbBackend::Postgres => "SELECT revision_tx, revision_position, revision_horizon, \
             revision_in_flight FROM point_revision()"
            .to_owned(),
        _ => "SELECT head.tx AS revision_tx, head.position AS revision_position, \
                 NULL AS revision_horizon, NULL AS revision_in_flight \
             FROM ( \
                 SELECT tx, position FROM ( \
                     SELECT * FROM ( \
                         SELECT tx, position FROM point_changes \
                         ORDER BY tx DESC, position DESC LIMIT 1 \
                     ) newest \
                     UNION ALL SELECT tx, position FROM point_changes_horizon \
                 ) candidates ORDER BY tx DESC, position DESC LIMIT 1 \
             ) head"
            .to_owned(),
    }
}

/// The revision of a row that [`revision_sql`] began.
pub(super) fn revision_of(
    row: &QueryResult,
    operation: &'static str,
) -> Result<FeedRevision, StoreError> {
    let cursor = cursor_at(row, "revision_tx", "revision_position", operation)?;
    let horizon: Option<i64> = row
        .try_get("", "revision_horizon")
        .map_err(|e| store_error(operation, &e))?;
    let in_flight: Option<String> = row
        .try_get("", "revision_in_flight")
        .map_err(|e| store_error(operation, &e))?;
    let Some(horizon) = horizon else {
        return Ok(cursor.into());
    };
    let in_flight = in_flight
        .iter()
        .flat_map(|list| list.split('.'))
        .map(|tx| tx.parse::<u64>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| invalid_change(cursor, "snapshot"))?;
    let snapshot = Snapshot::new(u64::try_from(horizon).unwrap_or(0), in_flight)
        .map_err(|_| invalid_change(cursor, "snapshot"))?;
    Ok(FeedRevision::new(cursor, Some(Arc::new(snapshot))))
}

/// Reads the change feed from `point_changes`.
#[derive(Debug, Clone)]
pub struct SeaOrmChangeLog {
    pool: ConnectionPool,
    statements: Arc<Statements>,
}

impl SeaOrmChangeLog {
    /// The feed of a migrated database.
    pub fn new(db: &Database) -> Self {
        let pool = db.pool().clone();
        let statements = Arc::new(Statements::render(pool.backend()));
        Self { pool, statements }
    }
}

/// A cursor as stored: two non-negative `BIGINT`s.
fn stored(cursor: Cursor) -> [sea_orm::Value; 2] {
    let part = |n: u64| i64::try_from(n).unwrap_or(i64::MAX).into();
    [part(cursor.tx()), part(cursor.position())]
}

fn cursor_at(
    row: &QueryResult,
    tx: &str,
    position: &str,
    operation: &'static str,
) -> Result<Cursor, StoreError> {
    let part = |column: &str| {
        row.try_get::<i64>("", column)
            .map_err(|e| store_error(operation, &e))
            .map(|n| u64::try_from(n).unwrap_or(0))
    };
    Ok(Cursor::new(part(tx)?, part(position)?))
}

/// The change of a row of `point_changes`.
fn change(row: &QueryResult, operation: &'static str) -> Result<Change, StoreError> {
    let cursor = cursor_at(row, "tx", "position", operation)?;
    let op: String = row
        .try_get("", "op")
        .map_err(|e| store_error(operation, &e))?;
    let at: i64 = row
        .try_get("", "at")
        .map_err(|e| store_error(operation, &e))?;
    let writer: Option<i64> = row
        .try_get("", "writer")
        .map_err(|e| store_error(operation, &e))?;
    let point =
        entity::Model::from_query_result(row, "").map_err(|e| store_error(operation, &e))?;
    let op = match op.as_str() {
        "create" => ChangeOp::Create,
        "update" => ChangeOp::Update,
        "delete" => ChangeOp::Delete,
        _ => return Err(invalid_change(cursor, "op")),
    };
    let at = Timestamp::from_millis(at).map_err(|_| invalid_change(cursor, "at"))?;
    let change = Change::new(cursor, op, IntegrationPoint::try_from(point)?, at);
    // Recorded before writers were (see the migration that added them):
    // the cursor's transaction stands in.
    Ok(match writer {
        Some(writer) => change.written_by(u64::try_from(writer).unwrap_or(0)),
        None => change,
    })
}

/// A stored change that breaks the table's rules.
#[derive(Debug, thiserror::Error)]
#[error("change {cursor} has an invalid {column}")]
struct InvalidChange {
    cursor: Cursor,
    column: &'static str,
}

fn invalid_change(cursor: Cursor, column: &'static str) -> StoreError {
    StoreError::Unknown(Box::new(InvalidChange { cursor, column }))
}

impl ChangeLog for SeaOrmChangeLog {
    #[tracing::instrument(level = "debug", skip_all, fields(after = ?after, limit))]
    async fn read(
        &self,
        after: Option<Cursor>,
        limit: u64,
    ) -> Result<ChangePage, ReadChangesError> {
        const OPERATION: &str = "read changes";
        let from = after.unwrap_or(Cursor::ORIGIN);
        let [tx, position] = stored(from);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = self
            .pool
            .reads()
            .query_all_raw(
                self.statements
                    .statement(&self.statements.read, vec![tx, position, limit.into()]),
            )
            .await
            .map_err(|e| store_error(OPERATION, &e))?;
        let Some(first) = rows.first() else {
            return Err(invalid_change(Cursor::ORIGIN, "horizon").into());
        };
        let horizon = cursor_at(first, "horizon_tx", "horizon_position", OPERATION)?;
        let from = match after {
            Some(after) if after < horizon => return Err(ReadChangesError::Gone { horizon }),
            Some(after) => after,
            None => horizon,
        };
        let mut changes = Vec::with_capacity(rows.len());
        for row in &rows {
            let present: Option<i64> = row
                .try_get("", "position")
                .map_err(|e| store_error(OPERATION, &e))?;
            if present.is_some() {
                changes.push(change(row, OPERATION)?);
            }
        }
        let withheld: Option<i64> = first
            .try_get("", "withheld_at")
            .map_err(|e| store_error(OPERATION, &e))?;
        let withheld_since = withheld
            .map(Timestamp::from_millis)
            .transpose()
            .map_err(|_| invalid_change(from, "at"))?;
        let next = changes.last().map_or(from, Change::cursor);
        Ok(ChangePage {
            changes,
            next,
            withheld_since,
        })
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn head(&self) -> Result<Cursor, StoreError> {
        const OPERATION: &str = "read the change feed's head";
        let rows = self
            .pool
            .reads()
            .query_all_raw(self.statements.statement(&self.statements.head, Vec::new()))
            .await
            .map_err(|e| store_error(OPERATION, &e))?;
        let mut head = Cursor::ORIGIN;
        for row in &rows {
            head = head.max(cursor_at(row, "tx", "position", OPERATION)?);
        }
        Ok(head)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(batch))]
    async fn expire(&self, older_than: Timestamp, batch: u64) -> Result<u64, StoreError> {
        const OPERATION: &str = "expire changes";
        let limit = i64::try_from(batch).unwrap_or(i64::MAX);
        let rows = self
            .pool
            .reads()
            .query_all_raw(
                self.statements
                    .statement(&self.statements.oldest, vec![limit.into()]),
            )
            .await
            .map_err(|e| store_error(OPERATION, &e))?;
        // The longest run of old changes from the start of the feed: the
        // horizon must stay a prefix of the feed, so a young change stops it.
        let cutoff = older_than.as_millis();
        let mut through = None;
        let mut count = 0;
        for row in &rows {
            let at: i64 = row
                .try_get("", "at")
                .map_err(|e| store_error(OPERATION, &e))?;
            if at >= cutoff {
                break;
            }
            through = Some(cursor_at(row, "tx", "position", OPERATION)?);
            count += 1;
        }
        let Some(through) = through else {
            return Ok(0);
        };
        // The horizon moves first: a reader that sees a change gone also sees
        // the horizon past it, and answers Gone instead of skipping it.
        let writes = self.pool.writes();
        writes
            .execute_raw(
                self.statements
                    .statement(&self.statements.advance_horizon, stored(through).to_vec()),
            )
            .await
            .map_err(|e| store_error(OPERATION, &e))?;
        writes
            .execute_raw(
                self.statements
                    .statement(&self.statements.drop_through, stored(through).to_vec()),
            )
            .await
            .map_err(|e| store_error(OPERATION, &e))?;
        Ok(count)
    }
}
