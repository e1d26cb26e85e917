//! The migrations themselves: reversible, and producing the schema the
//! repository relies on.

use domain::integration_point::{Field, FieldKind, IntegrationPointRepository};
use infrastructure::{migrate, migrate_down, pending_migrations};
use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectionTrait, DbBackend, Statement};

use crate::support::{Backend, TestDb, point, run};

/// The names of the indexes on `integration_points`, sorted.
async fn index_names(db: &TestDb) -> Vec<String> {
    let sql = match db.backend {
        Backend::Sqlite => {
            "SELECT name FROM sqlite_master WHERE type = 'index' \
             AND tbl_name = 'integration_points' AND sql IS NOT NULL ORDER BY name"
        }
        Backend::Postgres => {
            "SELECT indexname AS name FROM pg_indexes WHERE schemaname = current_schema() \
             AND tablename = 'integration_points' ORDER BY indexname"
        }
    };
    let backend = db.database.connection().get_database_backend();
    db.database
        .connection()
        .query_all_raw(Statement::from_string(backend, sql))
        .await
        .expect("list indexes")
        .iter()
        .map(|row| row.try_get::<String>("", "name").expect("index name"))
        .collect()
}

on_both_backends!(migrations_roll_back_completely_and_apply_again);
async fn migrations_roll_back_completely_and_apply_again(db: TestDb) {
    // Arrange
    assert_eq!(pending_migrations(&db.database).await.expect("status"), 0);

    // Act
    Migrator::down(db.database.connection(), None)
        .await
        .expect("down");
    let pending_after_down = pending_migrations(&db.database).await.expect("status");
    let insert_without_table = db.repository.insert(&point("A")).await;
    migrate(&db.database).await.expect("up again");

    // Assert
    assert_eq!(pending_after_down, Migrator::migrations().len());
    assert!(insert_without_table.is_err(), "the table is gone");
    assert_eq!(pending_migrations(&db.database).await.expect("status"), 0);
    db.repository
        .insert(&point("A"))
        .await
        .expect("insert after up");
}

on_both_backends!(the_schema_has_the_unique_and_query_indexes);
async fn the_schema_has_the_unique_and_query_indexes(db: TestDb) {
    let mut expected = vec![
        "ix_integration_points_ct_id",
        "ix_integration_points_lwt_id",
        "ix_integration_points_type_code_id",
        "ux_integration_points_code",
        "ux_integration_points_token_local",
    ];
    if db.backend == Backend::Postgres {
        expected.push("integration_points_pkey");
        expected.sort_unstable();
    }

    assert_eq!(index_names(&db).await, expected);
}

/// Two text columns of each row a PostgreSQL catalog query returns.
async fn catalog_pairs(
    db: &TestDb,
    sql: &str,
    [first, second]: [&str; 2],
) -> Vec<(String, String)> {
    db.database
        .connection()
        .query_all_raw(Statement::from_string(DbBackend::Postgres, sql))
        .await
        .expect("read the catalog")
        .iter()
        .map(|row| {
            (
                row.try_get("", first).expect(first),
                row.try_get("", second).expect(second),
            )
        })
        .collect()
}

/// Text columns of PostgreSQL must compare by code point, as SQLite's do,
/// whatever the database's default collation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[pg_gate::requires_postgres]
async fn every_postgres_text_column_uses_the_c_collation() {
    run(Backend::Postgres, |db: TestDb| async move {
        let sql = "SELECT column_name, collation_name FROM information_schema.columns \
                   WHERE table_schema = current_schema() AND table_name = 'integration_points' \
                   AND data_type = 'text' ORDER BY column_name";

        let collations = catalog_pairs(&db, sql, ["column_name", "collation_name"]).await;
        // One text column per text field of the table.
        let text_fields = Field::ALL
            .into_iter()
            .filter(|field| field.kind() == FieldKind::Text)
            .count();
        assert_eq!(collations.len(), text_fields, "{collations:?}");
        assert!(collations.iter().all(|(_, c)| c == "C"), "{collations:?}");
    })
    .await;
}

/// The triggers on `integration_points`, sorted.
async fn trigger_names(db: &TestDb) -> Vec<String> {
    let sql = "SELECT DISTINCT trigger_name::text AS name FROM information_schema.triggers \
               WHERE event_object_schema = current_schema() \
               AND event_object_table = 'integration_points' ORDER BY 1";
    db.database
        .connection()
        .query_all_raw(Statement::from_string(DbBackend::Postgres, sql))
        .await
        .expect("list triggers")
        .iter()
        .map(|row| row.try_get::<String>("", "name").expect("trigger name"))
        .collect()
}

/// How many changes `point_changes` holds.
async fn change_count(db: &TestDb) -> i64 {
    db.database
        .connection()
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT count(*) AS n FROM point_changes",
        ))
        .await
        .expect("count changes")
        .expect("one row")
        .try_get("", "n")
        .expect("a count")
}

/// How many migrations reverting the statement triggers takes: that one and
/// every later one.
fn since_statement_triggers() -> u32 {
    let migrations = Migrator::migrations();
    let at = migrations
        .iter()
        .position(|m| m.name() == "m20261129_000002_record_point_changes_per_statement")
        .expect("the statement triggers' migration");
    u32::try_from(migrations.len() - at).expect("a few migrations")
}

/// PostgreSQL records changes by statement; reverting that migration puts
/// the row trigger back, which records as before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[pg_gate::requires_postgres]
async fn reverting_the_statement_triggers_restores_the_row_trigger() {
    run(Backend::Postgres, |db: TestDb| async move {
        // Arrange
        let by_statement = trigger_names(&db).await;

        // Act: back to before it, whatever was added after it.
        migrate_down(&db.database, since_statement_triggers())
            .await
            .expect("revert to the row trigger");
        let by_row = trigger_names(&db).await;
        // Written in that schema's own columns: today's repository writes
        // the columns of every later migration too.
        db.database
            .connection()
            .execute_raw(Statement::from_string(
                DbBackend::Postgres,
                "INSERT INTO integration_points (id, code, type, token_local, token_remote, \
                 token_remote2, url, recv_svcscriptcode, recv_svcscriptcode_ws, \
                 send_svcscriptcode, send_svcscriptcode_ws, opts_title, opts_comment, \
                 opts_allow_files_api, opts_issync, ct, lwt, version) VALUES \
                 ('0193a0b4-7c1e-7a3b-9c1d-5e6f7a8b9c0d', 'A', 'public', \
                 '82ddc7c68623726346a78371173e2f8d', '', '', '', '', '', '', '', '', '', \
                 false, false, 1567000000000, 1567000000000, 1)",
            ))
            .await
            .expect("insert");
        let recorded_by_row = change_count(&db).await;
        migrate(&db.database).await.expect("up again");
        db.repository.insert(&point("B")).await.expect("insert");

        // Assert
        assert_eq!(
            by_statement,
            [
                "record_point_creates",
                "record_point_deletes",
                "record_point_updates"
            ]
        );
        assert_eq!(by_row, ["record_point_change"]);
        assert_eq!(recorded_by_row, 1);
        assert_eq!(change_count(&db).await, 2);
        assert_eq!(trigger_names(&db).await, by_statement);
    })
    .await;
}

/// A list's revision on PostgreSQL comes from `point_revision()`. It must run
/// in the snapshot of the list's statement, which a `STABLE` function does (a
/// `VOLATILE` one takes a snapshot of its own), and keep its plans for the
/// session, which a plpgsql function does (PostgreSQL 15 inlines a
/// `LANGUAGE sql` one into every list or plans its body on every call).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[pg_gate::requires_postgres]
async fn the_list_revision_runs_in_the_lists_snapshot_with_plans_kept_per_session() {
    run(Backend::Postgres, |db: TestDb| async move {
        let sql = "SELECT p.provolatile::text AS volatility, l.lanname::text AS language \
                   FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang \
                   WHERE p.proname = 'point_revision' \
                   AND p.pronamespace = current_schema()::regnamespace";

        let functions = catalog_pairs(&db, sql, ["volatility", "language"]).await;
        assert_eq!(functions, [("s".to_owned(), "plpgsql".to_owned())]);
    })
    .await;
}
