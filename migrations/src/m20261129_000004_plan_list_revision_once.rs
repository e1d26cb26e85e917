//! `point_revision()`: the change feed's revision as of the calling
//! statement's snapshot, on PostgreSQL, as a function whose plan each session
//! makes once.
//!
//! A list joins its page to the revision in one statement, so that the two
//! come from one snapshot (`m20261129_000003_add_change_writers`). Written
//! out in that statement, the revision's subqueries were planned again with
//! every list, and PostgreSQL took about twice as long to plan the list as to
//! plan its page alone (BENCHMARKS.md, "Lists: the revision planned once"):
//! every list was about 30 % slower. A plpgsql function's statements are
//! planned the first time a session runs them and their plans kept; having no
//! parameters, they keep one plan for good. The calling statement plans only a
//! call. Not `LANGUAGE sql`: PostgreSQL 15 either inlines such a function into
//! the caller, planning its body there, or plans the body on every call.
//!
//! Reading the caller's snapshot is what makes it one snapshot: the function
//! is `STABLE`, so its statements run in the snapshot of the statement that
//! called it (a `VOLATILE` one would take a fresh snapshot for each), and
//! `pg_current_snapshot()` is that same snapshot. It is parallel safe as the
//! expression it replaces was: a parallel worker runs in its leader's
//! snapshot.
//!
//! What it computes, and why so, is the service's (`revision_sql` in the
//! infrastructure crate, which SQLite runs inline): the newest change a reader
//! may be handed now (below the oldest transaction in flight) or the retention
//! horizon, and the snapshot itself (its `xmax` and the transactions in
//! flight, dot-separated) only when the snapshot saw a change at or above its
//! `xmin`. The first such change is asked for through the index rather than
//! with `EXISTS`, which PostgreSQL planned as a scan of the whole table.
//!
//! SQLite has no stored functions and plans a cached statement once anyway;
//! it gets nothing.

use sea_orm_migration::prelude::{DbErr, DeriveMigrationName};
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};
use sea_orm_migration::{MigrationTrait, SchemaManager, async_trait};

/// The migration.
#[derive(DeriveMigrationName)]
pub struct Migration;

const CREATE: &str = "\
CREATE FUNCTION point_revision(
    OUT revision_tx BIGINT,
    OUT revision_position BIGINT,
    OUT revision_horizon BIGINT,
    OUT revision_in_flight TEXT
) LANGUAGE plpgsql STABLE PARALLEL SAFE AS $fn$
BEGIN
    SELECT head.tx, head.position,
        CASE WHEN seen.after THEN s.xmax END,
        CASE WHEN seen.after THEN s.xip END
    INTO revision_tx, revision_position, revision_horizon, revision_in_flight
    FROM (
        SELECT pg_snapshot_xmin(snap)::text::bigint AS xmin,
            pg_snapshot_xmax(snap)::text::bigint AS xmax,
            (SELECT string_agg(x::text, '.') FROM pg_snapshot_xip(snap) x) AS xip
        FROM (SELECT pg_current_snapshot() AS snap) current
    ) s
    CROSS JOIN LATERAL (
        SELECT tx, position FROM (
            SELECT * FROM (
                SELECT tx, position FROM point_changes WHERE tx < s.xmin
                ORDER BY tx DESC, position DESC LIMIT 1
            ) newest
            UNION ALL SELECT tx, position FROM point_changes_horizon
        ) candidates ORDER BY tx DESC, position DESC LIMIT 1
    ) head
    CROSS JOIN LATERAL (
        SELECT (SELECT tx FROM point_changes WHERE tx >= s.xmin
                ORDER BY tx, position LIMIT 1) IS NOT NULL AS after
    ) seen;
END
$fn$";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DbBackend::Postgres {
            manager.get_connection().execute_unprepared(CREATE).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DbBackend::Postgres {
            manager
                .get_connection()
                .execute_unprepared("DROP FUNCTION IF EXISTS point_revision()")
                .await?;
        }
        Ok(())
    }
}
