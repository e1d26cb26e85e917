//! PostgreSQL records the change feed once per statement instead of once per
//! row, and lets the service send the wake-up after its commit.
//!
//! The row trigger of `m20261129_000001_create_point_changes` ran a plpgsql
//! function, a `max(tx)` probe, a one-row `INSERT` and a `pg_notify` for every
//! row: an import batch of 500 points made 500 of each. Here one trigger per
//! event (PostgreSQL allows transition tables only on single-event triggers)
//! sees every row the statement wrote in its transition table and records them
//! all with one `INSERT … SELECT`, in the order the statement wrote them (the
//! `SELECT` scans the transition table in that order, and `position` is
//! allocated in the order rows are inserted). What each change holds and how
//! it is ordered is unchanged: the writing transaction's id raised to the
//! largest `tx` already recorded for the same point, probed per row as before
//! with a fresh snapshot (the function is volatile), so that a transaction
//! that waited for another's lock on the point still records after it. A
//! statement writes a row at most once, so no point appears twice in one
//! transition table. A statement that wrote no row fires the trigger with an
//! empty table: it records nothing and wakes nobody.
//!
//! The wake-up: a `NOTIFY` in the writing transaction makes its commit take a
//! lock that every notifying transaction of the cluster queues for, held
//! through the commit's WAL flush, so concurrent writers stop sharing flushes
//! and commit one at a time (BENCHMARKS.md, "Change feed": writes fell to about
//! an eighth). The trigger still notifies once per statement for any writer,
//! so an operator's SQL or another tool wakes every replica, unless the
//! session has set `point_changes.notify` to `after_commit`: the service's
//! own connections do, and send the notification themselves once the write has
//! committed, in a transaction that writes nothing and so waits for no flush.

use sea_orm_migration::prelude::{DbErr, DeriveMigrationName};
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};
use sea_orm_migration::{MigrationTrait, SchemaManager, async_trait};

/// The migration.
#[derive(DeriveMigrationName)]
pub struct Migration;

/// The point's columns, in the order both tables list them.
const POINT_COLUMNS: &str = "id, code, type, token_local, token_remote, token_remote2, url, \
     recv_svcscriptcode, recv_svcscriptcode_ws, send_svcscriptcode, send_svcscriptcode_ws, \
     opts_title, opts_comment, opts_allow_files_api, opts_issync, ct, lwt, version";

/// The point's columns of the row or table `row`.
fn point_values(row: &str) -> String {
    POINT_COLUMNS
        .split(", ")
        .map(|column| format!("{row}.{column}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The statement triggers: name, event, the transition table it reads, and
/// the change's `op`.
const TRIGGERS: [(&str, &str, &str, &str); 3] = [
    ("record_point_creates", "INSERT", "NEW", "create"),
    ("record_point_updates", "UPDATE", "NEW", "update"),
    ("record_point_deletes", "DELETE", "OLD", "delete"),
];

fn postgres_up() -> Vec<String> {
    let mut statements = vec![
        "DROP TRIGGER record_point_change ON integration_points".to_owned(),
        "DROP FUNCTION record_point_change()".to_owned(),
    ];
    statements.push(format!(
        "CREATE FUNCTION record_point_changes() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE
            own_tx BIGINT := pg_current_xact_id()::text::bigint;
            now_ms BIGINT := (extract(epoch FROM clock_timestamp()) * 1000)::bigint;
            change_op TEXT := TG_ARGV[0];
        BEGIN
            INSERT INTO point_changes (tx, op, at, {POINT_COLUMNS})
            SELECT greatest(own_tx, coalesce(
                       (SELECT max(prior.tx) FROM point_changes prior WHERE prior.id = changed.id),
                       0)),
                   change_op, now_ms, {values}
            FROM changed;
            -- Delivered after commit, not at all on rollback; the payload
            -- names the schema, so that schemas sharing a database wake
            -- only their own listeners.
            IF FOUND AND current_setting('point_changes.notify', true)
                    IS DISTINCT FROM 'after_commit' THEN
                PERFORM pg_notify('point_changes', current_schema());
            END IF;
            RETURN NULL;
        END
        $$",
        values = point_values("changed"),
    ));
    for (name, event, table, op) in TRIGGERS {
        statements.push(format!(
            "CREATE TRIGGER {name} AFTER {event} ON integration_points
                REFERENCING {table} TABLE AS changed
                FOR EACH STATEMENT EXECUTE FUNCTION record_point_changes('{op}')"
        ));
    }
    statements
}

/// The row trigger of `m20261129_000001_create_point_changes`, as it was.
fn postgres_down() -> Vec<String> {
    let mut statements: Vec<String> = TRIGGERS
        .iter()
        .map(|(name, ..)| format!("DROP TRIGGER {name} ON integration_points"))
        .collect();
    statements.push("DROP FUNCTION record_point_changes()".to_owned());
    let body = |row: &str, op: &str| {
        format!(
            "own := pg_current_xact_id()::text::bigint;
            SELECT max(tx) INTO prior FROM point_changes WHERE id = {row}.id;
            INSERT INTO point_changes (tx, op, at, {POINT_COLUMNS})
            VALUES (greatest(own, coalesce(prior, 0)), '{op}',
                    (extract(epoch FROM clock_timestamp()) * 1000)::bigint, {values});",
            values = point_values(row)
        )
    };
    statements.push(format!(
        "CREATE FUNCTION record_point_change() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE
            own BIGINT;
            prior BIGINT;
        BEGIN
            IF TG_OP = 'INSERT' THEN
                {insert}
            ELSIF TG_OP = 'UPDATE' THEN
                {update}
            ELSE
                {delete}
            END IF;
            -- Delivered after commit, not at all on rollback; the payload
            -- names the schema, so that schemas sharing a database wake
            -- only their own listeners.
            PERFORM pg_notify('point_changes', current_schema());
            RETURN NULL;
        END
        $$",
        insert = body("NEW", "create"),
        update = body("NEW", "update"),
        delete = body("OLD", "delete"),
    ));
    statements.push(
        "CREATE TRIGGER record_point_change
            AFTER INSERT OR UPDATE OR DELETE ON integration_points
            FOR EACH ROW EXECUTE FUNCTION record_point_change()"
            .to_owned(),
    );
    statements
}

async fn run(manager: &SchemaManager<'_>, statements: Vec<String>) -> Result<(), DbErr> {
    let connection = manager.get_connection();
    for statement in statements {
        connection.execute_unprepared(&statement).await?;
    }
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        match manager.get_database_backend() {
            DbBackend::Postgres => run(manager, postgres_up()).await,
            // SQLite has row triggers only, and one writer at a time: its
            // triggers stay as they are, and wake-ups never went through
            // the database.
            DbBackend::Sqlite => Ok(()),
            other => Err(DbErr::BackendNotSupported {
                db: other.as_str(),
                ctx: "point_changes",
            }),
        }
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        match manager.get_database_backend() {
            DbBackend::Postgres => run(manager, postgres_down()).await,
            DbBackend::Sqlite => Ok(()),
            other => Err(DbErr::BackendNotSupported {
                db: other.as_str(),
                ctx: "point_changes",
            }),
        }
    }
}
