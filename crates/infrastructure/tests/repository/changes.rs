//! The change feed's table: what each write records, the order, retention,
//! the list's revision, and the wake-ups.

use std::time::Duration;

use domain::change_feed::{
    Change, ChangeLog, ChangeOp, ChangeWakeups, Cursor, FeedRevision, ReadChangesError, Wakeup,
};
use domain::integration_point::{
    ExistingPoints, IntegrationPointRepository, ListQuery, Page, PointArchive, Sort, Timestamp,
    Version, WriteOutcome,
};
use infrastructure::{SeaOrmChangeLog, connect};
use sea_orm::{ConnectionTrait, DbBackend, Statement};

use crate::support::{Backend, TestDb, point, settings, spec};

fn version(n: i64) -> Version {
    Version::new(n).expect("a version")
}

/// The changes after `after`, read in pages of `page`, once there are at
/// least `expected`.
///
/// PostgreSQL withholds a committed change while any older transaction of the
/// cluster is still open (tests of other databases included, for as long as
/// they stay open), so a change
/// may take a moment to appear; it never appears out of order.
async fn read_all(
    log: &SeaOrmChangeLog,
    after: Option<Cursor>,
    page: u64,
    expected: usize,
) -> Vec<Change> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let mut changes = Vec::new();
    let mut cursor = after;
    loop {
        let read = log.read(cursor, page).await.expect("read changes");
        let short = (read.changes.len() as u64) < page;
        changes.extend(read.changes);
        cursor = Some(read.next);
        if short && (changes.len() >= expected || tokio::time::Instant::now() > deadline) {
            return changes;
        }
        if short {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

on_both_backends!(each_write_records_one_change_with_the_point_it_left);
async fn each_write_records_one_change_with_the_point_it_left(db: TestDb) {
    // Arrange
    let log = SeaOrmChangeLog::new(&db.database);
    let created = point("A");
    let updated = spec("A2")
        .id(created.id())
        .token(created.token_local().clone())
        .version(2)
        .build();

    // Act
    db.repository.insert(&created).await.expect("insert");
    let applied = db
        .repository
        .update(&updated, version(1))
        .await
        .expect("update");
    let deleted = db
        .repository
        .delete(created.id(), None)
        .await
        .expect("delete");

    // Assert
    assert_eq!(
        (applied, deleted),
        (WriteOutcome::Applied, WriteOutcome::Applied)
    );
    let changes = read_all(&log, None, 100, 3).await;
    let seen: Vec<_> = changes
        .iter()
        .map(|c| (c.op(), c.id(), c.version().get()))
        .collect();
    assert_eq!(
        seen,
        [
            (ChangeOp::Create, created.id(), 1),
            (ChangeOp::Update, created.id(), 2),
            (ChangeOp::Delete, created.id(), 2),
        ]
    );
    assert_eq!(changes[0].point(), Some(&created));
    assert_eq!(changes[1].point(), Some(&updated));
    assert_eq!(changes[2].point(), None);
    assert!(
        changes.windows(2).all(|w| w[0].cursor() < w[1].cursor()),
        "cursors ascend"
    );
}

on_both_backends!(a_write_that_changes_nothing_records_nothing);
async fn a_write_that_changes_nothing_records_nothing(db: TestDb) {
    // Arrange
    let log = SeaOrmChangeLog::new(&db.database);
    let created = point("A");
    db.repository.insert(&created).await.expect("insert");
    let head = read_all(&log, None, 100, 1).await[0].cursor();
    let stale = spec("B")
        .id(created.id())
        .token(created.token_local().clone())
        .version(3)
        .build();

    // Act: a compare-and-swap at the wrong version, and deletes of nothing.
    let updated = db
        .repository
        .update(&stale, version(2))
        .await
        .expect("update");
    let deleted = db
        .repository
        .delete(point("C").id(), None)
        .await
        .expect("delete");
    let stale_delete = db
        .repository
        .delete(created.id(), Some(version(9)))
        .await
        .expect("delete");

    let marker = point("MARKER");
    db.repository.insert(&marker).await.expect("insert");

    // Assert: after the head, the marker alone.
    assert_eq!(
        (updated, deleted, stale_delete),
        (
            WriteOutcome::Stale,
            WriteOutcome::Stale,
            WriteOutcome::Stale
        )
    );
    let after = read_all(&log, Some(head), 100, 1).await;
    assert_eq!(
        after.iter().map(|c| c.id()).collect::<Vec<_>>(),
        [marker.id()]
    );
}

on_both_backends!(reading_in_pages_yields_every_change_once_in_order);
async fn reading_in_pages_yields_every_change_once_in_order(db: TestDb) {
    // Arrange
    let log = SeaOrmChangeLog::new(&db.database);
    let points: Vec<_> = (0..7).map(|i| point(&format!("P{i}"))).collect();
    for p in &points {
        db.repository.insert(p).await.expect("insert");
    }

    // Act
    let changes = read_all(&log, None, 3, 7).await;

    // Assert
    let ids: Vec<_> = changes.iter().map(|c| c.id()).collect();
    assert_eq!(ids, points.iter().map(|p| p.id()).collect::<Vec<_>>());
}

on_both_backends!(the_head_is_the_newest_change_and_reading_after_it_finds_nothing);
async fn the_head_is_the_newest_change_and_reading_after_it_finds_nothing(db: TestDb) {
    // Arrange
    let log = SeaOrmChangeLog::new(&db.database);
    assert_eq!(
        log.head().await.expect("head"),
        Cursor::ORIGIN,
        "an empty feed"
    );
    db.repository.insert(&point("A")).await.expect("insert");
    db.repository.insert(&point("B")).await.expect("insert");

    let all = read_all(&log, None, 10, 2).await;

    // Act
    let head = log.head().await.expect("head");
    let after = log.read(Some(head), 10).await.expect("read");

    // Assert
    assert!(
        all.iter().all(|c| c.cursor() <= head),
        "nothing beyond the head"
    );
    assert_eq!(all.last().map(|c| c.cursor()), Some(head));
    assert_eq!((after.changes.len(), after.next), (0, head));
}

on_both_backends!(retention_drops_old_changes_and_a_cursor_behind_them_is_gone);
async fn retention_drops_old_changes_and_a_cursor_behind_them_is_gone(db: TestDb) {
    // Arrange: three changes, then a cutoff after them all.
    let log = SeaOrmChangeLog::new(&db.database);
    for code in ["A", "B", "C"] {
        db.repository.insert(&point(code)).await.expect("insert");
    }
    let first = read_all(&log, None, 10, 3).await[0].cursor();
    let future = Timestamp::from_millis(i64::from(u32::MAX) * 1000).expect("a time");

    // Act: two small batches.
    let dropped = [
        log.expire(future, 2).await.expect("expire"),
        log.expire(future, 2).await.expect("expire"),
        log.expire(future, 2).await.expect("expire"),
    ];

    // Assert
    assert_eq!(dropped, [2, 1, 0]);
    assert!(matches!(
        log.read(Some(first), 10).await,
        Err(ReadChangesError::Gone { .. })
    ));
    let fresh = log.read(None, 10).await.expect("read from the horizon");
    assert_eq!(fresh.changes, []);
    let later = point("D");
    db.repository.insert(&later).await.expect("insert");
    let after = read_all(&log, Some(fresh.next), 10, 1).await;
    assert_eq!(
        after.iter().map(|c| c.id()).collect::<Vec<_>>(),
        [later.id()]
    );
}

on_both_backends!(retention_keeps_changes_younger_than_the_cutoff);
async fn retention_keeps_changes_younger_than_the_cutoff(db: TestDb) {
    let log = SeaOrmChangeLog::new(&db.database);
    db.repository.insert(&point("A")).await.expect("insert");
    let an_hour_ago = Timestamp::from_millis(
        Timestamp::from_datetime(chrono::Utc::now()).as_millis() - 3_600_000,
    )
    .expect("a time");

    let dropped = log.expire(an_hour_ago, 100).await.expect("expire");

    assert_eq!(dropped, 0);
    assert_eq!(read_all(&log, None, 10, 1).await.len(), 1);
    assert!(
        log.read(Some(Cursor::ORIGIN), 10).await.is_ok(),
        "nothing is gone"
    );
}

on_both_backends!(a_list_revision_leads_to_exactly_the_later_writes);
async fn a_list_revision_leads_to_exactly_the_later_writes(db: TestDb) {
    // Arrange
    let log = SeaOrmChangeLog::new(&db.database);
    let early = point("A");
    db.repository.insert(&early).await.expect("insert");
    read_all(&log, None, 10, 1).await;
    let query =
        ListQuery::new(None, Sort::default(), Page::new(0, 10, 10).expect("page")).expect("query");

    // Act
    let listing = db.repository.list(&query).await.expect("list");
    let late = point("B");
    db.repository.insert(&late).await.expect("insert");

    // Assert
    assert_eq!(listing.items, [early]);
    let revision = listing.revision.expect("a revision");
    let after = read_from(&log, &revision, 1).await;
    assert_eq!(
        after.iter().map(|c| c.id()).collect::<Vec<_>>(),
        [late.id()]
    );
}

on_both_backends!(a_write_through_the_repository_wakes_the_feed);
async fn a_write_through_the_repository_wakes_the_feed(db: TestDb) {
    // Arrange: no wake-up pending.
    let signal = db.database.change_signal();
    let _ = tokio::time::timeout(Duration::from_millis(50), signal.next()).await;

    // Act
    db.repository.insert(&point("A")).await.expect("insert");

    // Assert
    let woken = tokio::time::timeout(Duration::from_secs(5), signal.next()).await;
    assert_eq!(woken, Ok(Wakeup::Changed));
}

on_both_backends!(another_writers_change_wakes_a_listening_feed);
async fn another_writers_change_wakes_a_listening_feed(db: TestDb) {
    // Only PostgreSQL has other writers to hear: on SQLite there is no
    // listener, and the feed says it hears everything this process writes.
    let url = match db.backend {
        Backend::Sqlite => {
            assert!(
                db.database
                    .listen_for_changes("sqlite::memory:")
                    .expect("no listener")
                    .is_none()
            );
            return;
        }
        Backend::Postgres => crate::support::postgres_url().expect("a PostgreSQL URL"),
    };
    let signal = db.database.change_signal();
    // Opening the database raised a wake-up of its own: take it first.
    let _ = tokio::time::timeout(Duration::from_millis(50), signal.next()).await;
    let _listener = db.database.listen_for_changes(&url).expect("listen");
    let first = tokio::time::timeout(Duration::from_secs(10), signal.next()).await;
    assert_eq!(
        first,
        Ok(Wakeup::Listening),
        "the listener connects and asks for a look"
    );
    assert!(signal.listening());

    // Act: a write by SQL on sea-orm's own connection, not through the
    // repository, so only the database's notification can tell.
    db.database
        .connection()
        .execute_unprepared(
            "INSERT INTO integration_points SELECT gen_random_uuid(), 'SQL', 'public', \
             md5(random()::text), '', '', '', '', '', '', '', '', '', false, false, 1, 1, 1",
        )
        .await
        .expect("insert by SQL");

    // Assert
    let woken = tokio::time::timeout(Duration::from_secs(5), signal.next()).await;
    assert_eq!(woken, Ok(Wakeup::Changed));
}

/// The hole a plain sequence leaves: a transaction that began writing first
/// commits last. Its change must not be skipped, so nothing after it may be
/// handed out before it commits; then both come, the first writer's first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_withholds_changes_behind_a_write_still_in_flight() {
    crate::support::run(Backend::Postgres, |db: TestDb| async move {
        use sea_orm::TransactionTrait;
        // Arrange: a transaction writes and stays open.
        let log = SeaOrmChangeLog::new(&db.database);
        let open = db.database.connection().begin().await.expect("begin");
        open.execute_unprepared(
            "INSERT INTO integration_points SELECT gen_random_uuid(), 'SLOW', 'public', \
             md5(random()::text), '', '', '', '', '', '', '', '', '', false, false, 1, 1, 1",
        )
        .await
        .expect("insert in the open transaction");
        let quick = point("QUICK");
        db.repository
            .insert(&quick)
            .await
            .expect("insert and commit");

        // Act
        let while_open = log.read(None, 10).await.expect("read");
        open.commit().await.expect("commit");
        let after = read_all(&log, None, 10, 2).await;

        // Assert
        assert_eq!(
            while_open.changes,
            [],
            "the committed change waits for the older write"
        );
        let codes: Vec<_> = after
            .iter()
            .filter_map(|c| c.point().map(|p| p.attributes().code.as_str().to_owned()))
            .collect();
        assert_eq!(codes, ["SLOW", "QUICK"]);
    })
    .await;
}

on_both_backends!(an_import_batch_records_one_change_per_point_in_the_batch_order);
async fn an_import_batch_records_one_change_per_point_in_the_batch_order(db: TestDb) {
    // Arrange: one point stored before, then a batch that replaces it among
    // new ones, each batch written by one statement.
    let log = SeaOrmChangeLog::new(&db.database);
    let kept = point("KEPT");
    db.repository
        .store_all(std::slice::from_ref(&kept), ExistingPoints::Skip)
        .await
        .expect("store");
    let head = read_all(&log, None, 10, 1).await[0].cursor();
    let fresh: Vec<_> = (0..5).map(|i| point(&format!("NEW{i}"))).collect();
    let replaced = spec("KEPT2")
        .id(kept.id())
        .token(kept.token_local().clone())
        .version(2)
        .build();

    // Act
    db.repository
        .store_all(&fresh, ExistingPoints::Skip)
        .await
        .expect("store new points");
    db.repository
        .store_all(&[replaced.clone(), point("LAST")], ExistingPoints::Replace)
        .await
        .expect("store with replace");

    // Assert: the new points in the order of their statement's rows, each
    // once; then the replacement as an update, and the new one as a create.
    let changes = read_all(&log, Some(head), 3, 7).await;
    let creates: Vec<_> = changes[..5].iter().map(|c| (c.op(), c.id())).collect();
    let expected: Vec<_> = fresh.iter().map(|p| (ChangeOp::Create, p.id())).collect();
    assert_eq!(creates, expected);
    let mut last: Vec<_> = changes[5..]
        .iter()
        .map(|c| (c.op(), c.version().get()))
        .collect();
    last.sort_unstable_by_key(|(op, _)| op.as_str());
    assert_eq!(last, [(ChangeOp::Create, 1), (ChangeOp::Update, 2)]);
    let update = changes[5..].iter().find(|c| c.op() == ChangeOp::Update);
    assert_eq!(update.and_then(|c| c.point()), Some(&replaced));
    if db.backend == Backend::Postgres {
        let txs: Vec<_> = changes[..5].iter().map(|c| c.cursor().tx()).collect();
        assert!(
            txs.iter().all(|tx| *tx == txs[0]),
            "one transaction: {txs:?}"
        );
    }
}

/// The writing transaction's id, as the trigger records it.
async fn own_tx(connection: &impl ConnectionTrait) -> u64 {
    let row = connection
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT pg_current_xact_id()::text::bigint AS tx",
        ))
        .await
        .expect("read the transaction id")
        .expect("one row");
    u64::try_from(row.try_get::<i64>("", "tx").expect("tx")).expect("a positive id")
}

/// Two points by SQL, in one multi-row statement as an import batch writes
/// them: `first` replaced (its version raised) when stored, `second` new.
fn batch_sql(first: &domain::integration_point::IntegrationPoint, second_code: &str) -> String {
    format!(
        "INSERT INTO integration_points VALUES \
         ('{first}', 'BATCH', 'public', md5(random()::text), '', '', '', '', '', '', '', '', '', \
          false, false, 1, 1, 5), \
         (gen_random_uuid(), '{second_code}', 'public', md5(random()::text), '', '', '', '', '', '', \
          '', '', '', false, false, 1, 1, 1) \
         ON CONFLICT (id) DO UPDATE SET code = excluded.code, version = excluded.version",
        first = first.id().as_uuid(),
    )
}

/// A transaction that got its id first, then wrote in one statement a point
/// that a younger transaction had meanwhile created and committed: that
/// point's change is recorded after the younger write's (its `tx` raised to
/// it), the rest of the statement's at its own transaction id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[pg_gate::requires_postgres]
async fn a_batch_records_a_point_after_a_younger_transactions_change_of_it() {
    crate::support::run(Backend::Postgres, |db: TestDb| async move {
        use sea_orm::TransactionTrait;
        // Arrange: the older transaction takes its id; a younger one then
        // creates the point and commits.
        let log = SeaOrmChangeLog::new(&db.database);
        let older = db.database.connection().begin().await.expect("begin");
        let older_tx = own_tx(&older).await;
        let contested = point("CONTESTED");
        db.repository.insert(&contested).await.expect("insert");

        // Act: the older transaction's batch replaces that point, and
        // creates another.
        older
            .execute_unprepared(&batch_sql(&contested, "OTHER"))
            .await
            .expect("the batch");
        older.commit().await.expect("commit");

        // Assert: read once both committed (the younger change is withheld
        // while the older transaction is open).
        let changes = read_all(&log, None, 10, 3).await;
        let seen: Vec<_> = changes
            .iter()
            .map(|c| (c.op(), c.version().get(), c.cursor().tx()))
            .collect();
        let younger_tx = changes.get(1).map(|c| c.cursor().tx()).unwrap_or(0);
        assert!(older_tx < younger_tx, "{seen:?}, older {older_tx}");
        assert_eq!(
            seen,
            [
                (ChangeOp::Create, 1, older_tx),
                (ChangeOp::Create, 1, younger_tx),
                (ChangeOp::Update, 5, younger_tx),
            ]
        );
        assert_eq!(changes[1].id(), contested.id());
        assert_eq!(changes[2].id(), contested.id());
    })
    .await;
}

/// A transaction that got its id first and then had to wait for a younger
/// one's lock on a point records its change of it after the younger's: the
/// row version the wait let through carries the younger change's `tx`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[pg_gate::requires_postgres]
async fn a_write_that_waited_for_a_younger_transactions_lock_records_after_it() {
    crate::support::run(Backend::Postgres, |db: TestDb| async move {
        use sea_orm::TransactionTrait;
        // Arrange: a point; the older transaction takes its id; a younger
        // one changes the point and holds its lock.
        let log = SeaOrmChangeLog::new(&db.database);
        let contested = point("LOCKED");
        db.repository.insert(&contested).await.expect("insert");
        let older = db.database.connection().begin().await.expect("begin");
        let older_tx = own_tx(&older).await;
        let younger = db.database.connection().begin().await.expect("begin");
        let id = contested.id().as_uuid();
        younger
            .execute_unprepared(&format!(
                "UPDATE integration_points SET url = 'https://younger.example', \
                 version = version + 1 WHERE id = '{id}'"
            ))
            .await
            .expect("the younger update");

        // Act: the older transaction updates the point, waiting for the
        // younger one, which then commits.
        let waiting = tokio::spawn(async move {
            older
                .execute_unprepared(&format!(
                    "UPDATE integration_points SET url = 'https://older.example', \
                     version = version + 1 WHERE id = '{id}'"
                ))
                .await
                .expect("the older update");
            older.commit().await.expect("commit");
        });
        tokio::time::sleep(Duration::from_millis(300)).await;
        younger.commit().await.expect("commit");
        waiting.await.expect("the older transaction finishes");

        // Assert
        let changes = read_all(&log, None, 10, 3).await;
        let seen: Vec<_> = changes
            .iter()
            .map(|c| (c.op(), c.version().get()))
            .collect();
        assert_eq!(
            seen,
            [
                (ChangeOp::Create, 1),
                (ChangeOp::Update, 2),
                (ChangeOp::Update, 3)
            ]
        );
        let urls: Vec<_> = changes
            .iter()
            .filter_map(|c| c.point().map(|p| p.attributes().url.as_str().to_owned()))
            .collect();
        assert_eq!(
            urls[1..],
            ["https://younger.example", "https://older.example"]
        );
        assert!(
            older_tx < changes[1].cursor().tx(),
            "the older writer's id came first"
        );
    })
    .await;
}

/// A point created under the id of one that a younger transaction deleted
/// is recorded after that delete, though its writer's id is the older; and
/// the next change of the new point after that.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[pg_gate::requires_postgres]
async fn a_point_created_again_under_a_deleted_id_records_after_the_delete() {
    crate::support::run(Backend::Postgres, |db: TestDb| async move {
        use sea_orm::TransactionTrait;
        // Arrange: the older transaction takes its id; a younger one
        // creates and deletes a point.
        let log = SeaOrmChangeLog::new(&db.database);
        let head = log.head().await.expect("head");
        let older = db.database.connection().begin().await.expect("begin");
        let older_tx = own_tx(&older).await;
        let first = point("FIRST-LIFE");
        db.repository.insert(&first).await.expect("insert");
        db.repository
            .delete(first.id(), None)
            .await
            .expect("delete");

        // Act: the older transaction creates a point under that id; then
        // the new point is changed.
        older
            .execute_unprepared(&batch_sql(&first, "SECOND-LIFE"))
            .await
            .expect("the batch");
        older.commit().await.expect("commit");
        let id = first.id().as_uuid();
        db.database
            .connection()
            .execute_unprepared(&format!(
                "UPDATE integration_points SET version = version + 1 WHERE id = '{id}'"
            ))
            .await
            .expect("update");

        // Assert
        let changes = read_all(&log, Some(head), 10, 5).await;
        let of_first: Vec<_> = changes
            .iter()
            .filter(|c| c.id() == first.id())
            .map(|c| (c.op(), c.version().get()))
            .collect();
        assert_eq!(
            of_first,
            [
                (ChangeOp::Create, 1),
                (ChangeOp::Delete, 1),
                (ChangeOp::Create, 5),
                (ChangeOp::Update, 6),
            ]
        );
        let created = changes
            .iter()
            .find(|c| c.id() == first.id() && c.version().get() == 5);
        assert!(
            created.is_some_and(|c| c.cursor().tx() > older_tx),
            "the second create's tx is raised to the delete's: {changes:?}"
        );
        assert_eq!(changes.len(), 5, "{changes:?}");
    })
    .await;
}

/// Whether a notification of a change in `schema` arrives within `wait`
/// (tests of other schemas notify the same channel).
async fn notified(
    listener: &mut sea_orm::sqlx::postgres::PgListener,
    schema: &str,
    wait: Duration,
) -> bool {
    let deadline = tokio::time::Instant::now() + wait;
    while let Ok(received) = tokio::time::timeout_at(deadline, listener.recv()).await {
        if received.expect("the listener's connection").payload() == schema {
            return true;
        }
    }
    false
}

/// The schema a test's database works in.
async fn schema_of(db: &TestDb) -> String {
    db.database
        .connection()
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT current_schema()::text AS schema",
        ))
        .await
        .expect("read the schema")
        .expect("one row")
        .try_get("", "schema")
        .expect("a schema")
}

/// The service's connections say they notify after commit themselves, and
/// the trigger then leaves it to them; any other writer's statement is
/// notified by the trigger.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[pg_gate::requires_postgres]
async fn the_trigger_notifies_unless_the_writer_notifies_after_commit() {
    crate::support::run(Backend::Postgres, |db: TestDb| async move {
        use sea_orm::TransactionTrait;
        // Arrange: a listener of the feed's channel.
        let url = crate::support::postgres_url().expect("a PostgreSQL URL");
        let schema = schema_of(&db).await;
        let mut listener = sea_orm::sqlx::postgres::PgListener::connect(&url)
            .await
            .expect("a listener");
        listener.listen("point_changes").await.expect("listen");
        let insert = |code: &str| {
            format!(
                "INSERT INTO integration_points SELECT gen_random_uuid(), '{code}', 'public', \
                 md5(random()::text), '', '', '', '', '', '', '', '', '', false, false, 1, 1, 1"
            )
        };

        // Act: a writer that notifies after commit, then one that does not.
        let quiet = db.database.connection().begin().await.expect("begin");
        quiet
            .execute_unprepared("SET LOCAL point_changes.notify = after_commit")
            .await
            .expect("set");
        quiet
            .execute_unprepared(&insert("QUIET"))
            .await
            .expect("insert");
        quiet.commit().await.expect("commit");
        let after_quiet = notified(&mut listener, &schema, Duration::from_millis(500)).await;
        db.database
            .connection()
            .execute_unprepared(&insert("LOUD"))
            .await
            .expect("insert by SQL");
        let after_loud = notified(&mut listener, &schema, Duration::from_secs(5)).await;

        // Assert
        assert!(
            !after_quiet,
            "the trigger left the notification to the writer"
        );
        assert!(after_loud, "the trigger notified another writer's change");
    })
    .await;
}

/// A write through one replica's repository wakes the feed of another
/// replica of the same database, though its connections leave the
/// notification to the process.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[pg_gate::requires_postgres]
async fn a_write_through_one_replica_wakes_another_replicas_feed() {
    crate::support::run(Backend::Postgres, |db: TestDb| async move {
        // Arrange: a second replica of the same schema, listening.
        let url = crate::support::postgres_url().expect("a PostgreSQL URL");
        let schema = schema_of(&db).await;
        let other = connect(&settings(url.clone(), Some(schema)))
            .await
            .expect("connect the other replica");
        let signal = other.change_signal();
        let _listener = other.listen_for_changes(&url).expect("listen");
        let mut first = tokio::time::timeout(Duration::from_secs(10), signal.next()).await;
        while first == Ok(Wakeup::Changed) {
            first = tokio::time::timeout(Duration::from_secs(10), signal.next()).await;
        }
        assert_eq!(first, Ok(Wakeup::Listening));

        // Act
        db.repository.insert(&point("A")).await.expect("insert");
        let woken = tokio::time::timeout(Duration::from_secs(5), signal.next()).await;

        // Assert
        assert_eq!(woken, Ok(Wakeup::Changed));
        other.close().await;
    })
    .await;
}

/// How many notifications of a change in `schema` arrive within `wait`.
async fn notifications(
    listener: &mut sea_orm::sqlx::postgres::PgListener,
    schema: &str,
    wait: Duration,
) -> usize {
    let deadline = tokio::time::Instant::now() + wait;
    let mut count = 0;
    while let Ok(received) = tokio::time::timeout_at(deadline, listener.recv()).await {
        if received.expect("the listener's connection").payload() == schema {
            count += 1;
        }
    }
    count
}

/// A listening replica hears its own notification, and two replicas hear
/// each other's: a notification heard must wake the feed and go no further,
/// or one write starts an endless exchange of notifications.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[pg_gate::requires_postgres]
async fn one_write_sends_one_notification_however_many_replicas_listen() {
    crate::support::run(Backend::Postgres, |db: TestDb| async move {
        // Arrange: two listening replicas of one schema, and a bystander
        // that counts the notifications.
        let url = crate::support::postgres_url().expect("a PostgreSQL URL");
        let schema = schema_of(&db).await;
        let other = connect(&settings(url.clone(), Some(schema.clone())))
            .await
            .expect("connect the other replica");
        let _listeners = [
            db.database.listen_for_changes(&url).expect("listen"),
            other.listen_for_changes(&url).expect("listen"),
        ];
        for signal in [db.database.change_signal(), other.change_signal()] {
            let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
            while !signal.listening() && tokio::time::Instant::now() < deadline {
                let _ = tokio::time::timeout_at(deadline, signal.next()).await;
            }
            assert!(signal.listening(), "each replica listens");
        }
        let mut counter = sea_orm::sqlx::postgres::PgListener::connect(&url)
            .await
            .expect("a listener");
        counter.listen("point_changes").await.expect("listen");

        // Act
        db.repository.insert(&point("A")).await.expect("insert");
        let heard = notifications(&mut counter, &schema, Duration::from_secs(2)).await;

        // Assert
        assert_eq!(heard, 1, "notifications of one write");
        other.close().await;
    })
    .await;
}

/// The changes a reader from `revision` gets, once `expected` changes
/// (skipped ones included) follow its cursor.
async fn read_from(log: &SeaOrmChangeLog, revision: &FeedRevision, expected: usize) -> Vec<Change> {
    read_all(log, Some(revision.cursor()), 10, expected)
        .await
        .into_iter()
        .filter(|change| !revision.skips(change))
        .collect()
}

/// While an older write is in flight, the feed cannot hand out the younger
/// writes that committed after it, yet a list sees them. The list's revision
/// must lead to the older write once it commits, and to none of the younger
/// ones the page already reflects.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[::pg_gate::requires_postgres]
async fn postgres_a_list_revision_skips_the_writes_its_page_saw_beyond_one_in_flight() {
    crate::support::run(Backend::Postgres, |db: TestDb| async move {
        use sea_orm::TransactionTrait;
        // Arrange: a point the feed has handed out, then a write that stays
        // open, and two younger writes that commit.
        let log = SeaOrmChangeLog::new(&db.database);
        let early = point("EARLY");
        db.repository.insert(&early).await.expect("insert");
        read_all(&log, None, 10, 1).await;
        let open = db.database.connection().begin().await.expect("begin");
        open.execute_unprepared(
            "INSERT INTO integration_points SELECT gen_random_uuid(), 'SLOW', 'public', \
             md5(random()::text), '', '', '', '', '', '', '', '', '', false, false, 1, 1, 1",
        )
        .await
        .expect("insert in the open transaction");
        let quick = point("QUICK");
        db.repository.insert(&quick).await.expect("insert");
        let renamed = spec("EARLY2")
            .id(early.id())
            .token(early.token_local().clone())
            .version(2)
            .build();
        db.repository
            .update(&renamed, version(1))
            .await
            .expect("update");
        let query = ListQuery::new(None, Sort::default(), Page::new(0, 10, 10).expect("page"))
            .expect("query");

        // Act
        let listing = db.repository.list(&query).await.expect("list");
        open.commit().await.expect("commit");
        let late = point("LATE");
        db.repository.insert(&late).await.expect("insert");

        // Assert
        let mut listed: Vec<_> = listing
            .items
            .iter()
            .map(|p| p.attributes().code.as_str().to_owned())
            .collect();
        listed.sort();
        assert_eq!(
            listed,
            ["EARLY2", "QUICK"],
            "the page saw the younger writes"
        );
        let revision = listing.revision.expect("a revision");
        assert!(revision.snapshot().is_some(), "{revision}");
        let codes: Vec<_> = read_from(&log, &revision, 4)
            .await
            .iter()
            .map(|c| c.point().map(|p| p.attributes().code.as_str().to_owned()))
            .collect();
        assert_eq!(
            codes,
            [Some("SLOW".to_owned()), Some("LATE".to_owned())],
            "from {revision}"
        );
    })
    .await;
}
