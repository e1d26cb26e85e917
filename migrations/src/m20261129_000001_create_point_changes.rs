//! The change feed's outbox: `point_changes`, filled by a trigger on
//! `integration_points`, and `point_changes_horizon`, how far retention has
//! dropped it.
//!
//! A trigger rather than a second statement in the repository: the change is
//! then written by the very statement that writes the point, in its
//! transaction, whoever issues it (a replica, `import`, an operator's SQL), so
//! a change exists if and only if its write committed. A statement whose
//! `WHERE` matches no row fires no row trigger, so a write that changed
//! nothing records nothing.
//!
//! Each change row holds the whole point as the write left it (for a delete:
//! as it was), so that a reader can serve any retained change without the
//! point's later history.
//!
//! The order of the feed is `(tx, position)`:
//! - On PostgreSQL `tx` is the writing transaction's id (`pg_current_xact_id()`),
//!   raised to the largest `tx` already recorded for the same point. Readers
//!   only hand out rows whose `tx` is below the oldest transaction still in
//!   flight (`pg_snapshot_xmin`), so no row can later commit behind a reader's
//!   position: `position`, allocated before commit, could not promise that on
//!   its own. Raising `tx` to the point's previous change keeps one point's
//!   changes in write order even when a transaction got its id before it
//!   queued behind another's lock on the same row (an unconditional delete
//!   waiting for an update, a create waiting for the delete of its id).
//! - On SQLite there is one writer at a time, so insertion order is commit
//!   order: `tx` is 0 and `position` alone orders (AUTOINCREMENT, so that a
//!   position is never reused after retention empties the table).

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

/// The point's columns of the row `row` (`NEW` or `OLD` in a trigger).
fn point_values(row: &str) -> String {
    POINT_COLUMNS
        .split(", ")
        .map(|column| format!("{row}.{column}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn postgres_up() -> Vec<String> {
    let text = r#"TEXT COLLATE "C" NOT NULL"#;
    let mut statements = vec![
        format!(
            "CREATE TABLE point_changes (
                position BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                tx BIGINT NOT NULL,
                op TEXT NOT NULL,
                at BIGINT NOT NULL,
                id UUID NOT NULL,
                code {text}, type {text}, token_local {text}, token_remote {text},
                token_remote2 {text}, url {text}, recv_svcscriptcode {text},
                recv_svcscriptcode_ws {text}, send_svcscriptcode {text},
                send_svcscriptcode_ws {text}, opts_title {text}, opts_comment {text},
                opts_allow_files_api BOOLEAN NOT NULL, opts_issync BOOLEAN NOT NULL,
                ct BIGINT NOT NULL, lwt BIGINT NOT NULL, version BIGINT NOT NULL
            )"
        ),
        "CREATE INDEX ix_point_changes_tx_position ON point_changes (tx, position)".to_owned(),
        "CREATE INDEX ix_point_changes_id_tx ON point_changes (id, tx)".to_owned(),
        "CREATE TABLE point_changes_horizon (
            singleton BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (singleton),
            tx BIGINT NOT NULL,
            position BIGINT NOT NULL
        )"
        .to_owned(),
        "INSERT INTO point_changes_horizon (singleton, tx, position) VALUES (TRUE, 0, 0)"
            .to_owned(),
    ];
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

fn sqlite_up() -> Vec<String> {
    let mut statements = vec![
        "CREATE TABLE point_changes (
            position INTEGER PRIMARY KEY AUTOINCREMENT,
            tx INTEGER NOT NULL,
            op TEXT NOT NULL,
            at INTEGER NOT NULL,
            id BLOB NOT NULL,
            code TEXT NOT NULL, type TEXT NOT NULL, token_local TEXT NOT NULL,
            token_remote TEXT NOT NULL, token_remote2 TEXT NOT NULL, url TEXT NOT NULL,
            recv_svcscriptcode TEXT NOT NULL, recv_svcscriptcode_ws TEXT NOT NULL,
            send_svcscriptcode TEXT NOT NULL, send_svcscriptcode_ws TEXT NOT NULL,
            opts_title TEXT NOT NULL, opts_comment TEXT NOT NULL,
            opts_allow_files_api INTEGER NOT NULL, opts_issync INTEGER NOT NULL,
            ct INTEGER NOT NULL, lwt INTEGER NOT NULL, version INTEGER NOT NULL
        )"
        .to_owned(),
        "CREATE INDEX ix_point_changes_tx_position ON point_changes (tx, position)".to_owned(),
        "CREATE TABLE point_changes_horizon (
            singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
            tx INTEGER NOT NULL,
            position INTEGER NOT NULL
        )"
        .to_owned(),
        "INSERT INTO point_changes_horizon (singleton, tx, position) VALUES (1, 0, 0)".to_owned(),
    ];
    for (event, row, op) in [
        ("INSERT", "NEW", "create"),
        ("UPDATE", "NEW", "update"),
        ("DELETE", "OLD", "delete"),
    ] {
        statements.push(format!(
            "CREATE TRIGGER record_point_{op} AFTER {event} ON integration_points
            FOR EACH ROW BEGIN
                INSERT INTO point_changes (tx, op, at, {POINT_COLUMNS})
                VALUES (0, '{op}', CAST(unixepoch('subsec') * 1000 AS INTEGER), {values});
            END",
            values = point_values(row)
        ));
    }
    statements
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let statements = match manager.get_database_backend() {
            DbBackend::Postgres => postgres_up(),
            DbBackend::Sqlite => sqlite_up(),
            other => {
                return Err(DbErr::BackendNotSupported {
                    db: other.as_str(),
                    ctx: "point_changes",
                });
            }
        };
        let connection = manager.get_connection();
        for statement in statements {
            connection.execute_unprepared(&statement).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let statements: &[&str] = match manager.get_database_backend() {
            DbBackend::Postgres => &[
                "DROP TRIGGER IF EXISTS record_point_change ON integration_points",
                "DROP FUNCTION IF EXISTS record_point_change()",
                "DROP TABLE IF EXISTS point_changes_horizon",
                "DROP TABLE IF EXISTS point_changes",
            ],
            _ => &[
                "DROP TRIGGER IF EXISTS record_point_create",
                "DROP TRIGGER IF EXISTS record_point_update",
                "DROP TRIGGER IF EXISTS record_point_delete",
                "DROP TABLE IF EXISTS point_changes_horizon",
                "DROP TABLE IF EXISTS point_changes",
            ],
        };
        let connection = manager.get_connection();
        for statement in statements {
            connection.execute_unprepared(statement).await?;
        }
        Ok(())
    }
}
