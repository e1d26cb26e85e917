//! The change feed's use cases over in-memory ports: the service's writes
//! record changes, the long poll, watches (catch-up, live, lagging), the
//! hub's safety poll, and retention.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use application::{ChangeHub, FeedService, HubEvent, HubSettings, Retention};
use domain::change_feed::{
    ChangeFeedService, ChangeLog, ChangeOp, ChangePage, ChangeWatch, ChangesRequest, Cursor,
    FeedRevision, ReadChangesError, Snapshot, WatchError,
};
use domain::integration_point::{
    Comment, IntegrationPointService, ListQuery, Page, PatchPointRequest, PointId, Sort,
    StoreError, Timestamp,
};

use crate::{create, service};
use application::testing::{FixedClock, InMemoryChangeLog};

const PATIENCE: Duration = Duration::from_secs(5);

fn settings() -> HubSettings {
    HubSettings {
        poll_interval: Duration::from_millis(50),
        batch: 3,
        capacity: 4,
    }
}

async fn feed(
    log: &InMemoryChangeLog,
    settings: HubSettings,
) -> (FeedService<InMemoryChangeLog>, ChangeHub) {
    let hub = ChangeHub::start(log.clone(), log.wakeups(), FixedClock::at(1_000), settings);
    tokio::time::timeout(PATIENCE, hub.ready())
        .await
        .expect("the hub reads the head");
    (
        FeedService::new(log.clone(), hub.clone(), settings.batch),
        hub,
    )
}

fn request(since: Option<Cursor>, wait: Duration) -> ChangesRequest {
    ChangesRequest::new(since.map(Into::into), None, 1000, wait).expect("a valid request")
}

/// Waits until the hub has read up to the log's newest change.
async fn settled(hub: &ChangeHub, log: &InMemoryChangeLog) {
    tokio::time::timeout(PATIENCE, async {
        while hub.progress().cursor < log.newest() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("the hub catches up");
}

/// The ids of the next `count` changes of `watch`.
async fn next_ids(watch: &mut impl ChangeWatch, count: usize) -> Vec<PointId> {
    let mut seen = Vec::new();
    while seen.len() < count {
        let change = tokio::time::timeout(PATIENCE, watch.next())
            .await
            .expect("a change in time")
            .expect("a change");
        seen.push(change.id());
    }
    seen
}

#[tokio::test]
async fn every_write_of_the_service_records_one_change_and_a_no_op_patch_none() {
    // Arrange
    let (service, repository, _) = service();
    let point = create(&service, "A").await;
    let title = PatchPointRequest {
        comment: Some(Comment::new("C").expect("a comment")),
        ..PatchPointRequest::EMPTY
    };

    // Act
    service
        .patch(point.id(), title.clone(), None)
        .await
        .expect("patch");
    service
        .patch(point.id(), title, None)
        .await
        .expect("the same patch: no change");
    service
        .rotate_token(point.id(), None)
        .await
        .expect("rotate");
    service.delete(point.id(), None).await.expect("delete");

    // Assert
    let seen: Vec<_> = repository
        .changes()
        .all()
        .iter()
        .map(|c| (c.op(), c.version().get()))
        .collect();
    assert_eq!(
        seen,
        [
            (ChangeOp::Create, 1),
            (ChangeOp::Update, 2),
            (ChangeOp::Update, 3),
            (ChangeOp::Delete, 3),
        ]
    );
}

#[tokio::test]
async fn a_list_carries_the_revision_of_the_changes_it_reflects() {
    let (service, repository, _) = service();
    create(&service, "A").await;

    let listing = service
        .list(
            ListQuery::new(None, Sort::default(), Page::new(0, 10, 10).expect("page"))
                .expect("query"),
        )
        .await
        .expect("list");

    assert_eq!(listing.revision, Some(repository.changes().newest().into()));
}

#[tokio::test]
async fn a_long_poll_answers_at_once_when_changes_are_there() {
    let (service, repository, _) = service();
    create(&service, "A").await;
    let (feed, _hub) = feed(&repository.changes(), settings()).await;

    let page = tokio::time::timeout(
        Duration::from_secs(1),
        feed.changes(request(None, Duration::from_secs(30))),
    )
    .await
    .expect("no waiting")
    .expect("read");

    assert_eq!(page.changes.len(), 1);
    assert_eq!(page.next.cursor(), page.changes[0].cursor());
}

#[tokio::test]
async fn a_long_poll_waits_for_the_next_change_and_returns_it() {
    // Arrange
    let (service, repository, _) = service();
    let log = repository.changes();
    let (feed, hub) = feed(&log, settings()).await;
    settled(&hub, &log).await;
    let head = log.newest();

    // Act
    let poll = tokio::spawn(async move { feed.changes(request(Some(head), PATIENCE)).await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let point = create(&service, "LATE").await;
    let page = poll.await.expect("the poll").expect("read");

    // Assert
    let ids: Vec<_> = page.changes.iter().map(|c| c.id()).collect();
    assert_eq!(ids, [point.id()]);
}

#[tokio::test]
async fn a_long_poll_with_nothing_new_answers_empty_after_its_wait() {
    let (_, repository, _) = service();
    let (feed, _hub) = feed(&repository.changes(), settings()).await;
    let started = tokio::time::Instant::now();

    let page = feed
        .changes(request(None, Duration::from_millis(300)))
        .await
        .expect("read");

    assert_eq!(page.changes, []);
    assert!(started.elapsed() >= Duration::from_millis(300), "it waited");
}

#[tokio::test]
async fn a_watch_delivers_the_backlog_then_live_changes_each_once_in_order() {
    // Arrange: a backlog longer than one read.
    let (service, repository, _) = service();
    let log = repository.changes();
    let mut expected = Vec::new();
    for i in 0..7 {
        expected.push(create(&service, &format!("OLD{i}")).await.id());
    }
    let (feed, _hub) = feed(&log, settings()).await;

    // Act
    let mut watch = feed.watch(None).await.expect("watch");
    for i in 0..5 {
        expected.push(create(&service, &format!("NEW{i}")).await.id());
    }
    let seen = next_ids(&mut watch, expected.len()).await;

    // Assert
    assert_eq!(seen, expected);
    let extra = tokio::time::timeout(Duration::from_millis(200), watch.next()).await;
    assert!(extra.is_err(), "nothing more: {extra:?}");
}

#[tokio::test]
async fn a_watch_that_falls_behind_the_hub_catches_up_without_a_gap() {
    // Arrange: a hub that keeps only four changes for slow subscribers.
    let (service, repository, _) = service();
    let log = repository.changes();
    let (feed, hub) = feed(&log, settings()).await;
    settled(&hub, &log).await;
    let mut watch = feed.watch(Some(log.newest().into())).await.expect("watch");

    // Act: twenty changes while the watcher reads nothing.
    let mut expected = Vec::new();
    for i in 0..20 {
        expected.push(create(&service, &format!("P{i}")).await.id());
    }
    settled(&hub, &log).await;
    let seen = next_ids(&mut watch, expected.len()).await;

    // Assert
    assert_eq!(seen, expected);
}

#[tokio::test]
async fn watching_from_a_cursor_retention_dropped_is_gone() {
    let (service, repository, clock) = service();
    let log = repository.changes();
    log.set_time(1_000);
    create(&service, "A").await;
    let first = log.newest();
    create(&service, "B").await;
    clock.set(10_000);
    let _retention = Retention::start(
        log.clone(),
        clock,
        Duration::from_millis(1),
        Duration::from_secs(60),
        1,
    );
    tokio::time::timeout(PATIENCE, async {
        while !log.all().is_empty() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("retention drops both changes, one per batch");
    let (feed, _hub) = feed(&log, settings()).await;

    let watched = feed.watch(Some(first.into())).await;
    let read = feed.changes(request(Some(first), Duration::ZERO)).await;

    assert!(matches!(watched.err(), Some(ReadChangesError::Gone { .. })));
    assert!(matches!(read, Err(ReadChangesError::Gone { .. })));
}

#[tokio::test]
async fn retention_keeps_changes_younger_than_the_retention() {
    let (service, repository, clock) = service();
    let log = repository.changes();
    log.set_time(9_000);
    create(&service, "A").await;
    clock.set(10_000);

    let _retention = Retention::start(
        log.clone(),
        clock,
        Duration::from_secs(5),
        Duration::from_secs(60),
        10,
    );
    tokio::time::sleep(Duration::from_millis(100)).await;

    assert_eq!(log.all().len(), 1);
}

#[tokio::test]
async fn without_wake_ups_the_safety_poll_still_finds_changes() {
    // Arrange: a silent listener.
    let (service, repository, _) = service();
    let log = repository.changes();
    log.wakeups().silence();
    let (_feed, hub) = feed(&log, settings()).await;
    let mut subscription = hub.subscribe();

    // Act
    let point = create(&service, "A").await;

    // Assert
    let event = tokio::time::timeout(PATIENCE, subscription.events.recv())
        .await
        .expect("found by polling")
        .expect("an event");
    assert!(matches!(event, HubEvent::Change(change) if change.id() == point.id()));
    assert!(
        !hub.progress().listening,
        "the hub reports the lost listener"
    );
}

#[tokio::test]
async fn a_watch_ends_when_the_hub_stops() {
    let (_, repository, _) = service();
    let (feed, hub) = feed(&repository.changes(), settings()).await;
    let mut watch = feed.watch(None).await.expect("watch");

    hub.stop();
    let ended = tokio::time::timeout(PATIENCE, watch.next())
        .await
        .expect("ends");

    assert!(matches!(ended, Err(WatchError::Stopped)));
}

/// Records a change of a new point `code`, written by the store's
/// transaction `writer`, and answers the point's id and the change's cursor.
async fn written_by(
    service: &impl IntegrationPointService,
    log: &InMemoryChangeLog,
    code: &str,
    writer: u64,
) -> (PointId, Cursor) {
    log.set_writer(writer);
    let point = create(service, code).await;
    (point.id(), log.newest())
}

#[tokio::test]
async fn reading_from_a_list_revision_skips_the_changes_its_snapshot_reflected() {
    // Arrange: after the revision's cursor, writers 2 and 5 are news to the
    // list; writer 3 committed before it read (the snapshot saw every
    // transaction below 4 but 2), so the list already reflects its change.
    let (service, repository, _) = service();
    let log = repository.changes();
    let (_, listed) = written_by(&service, &log, "LISTED", 1).await;
    let (news, _) = written_by(&service, &log, "NEWS", 2).await;
    let (_, seen) = written_by(&service, &log, "SEEN", 3).await;
    let snapshot = Snapshot::new(4, vec![2]).expect("a snapshot");
    let revision = FeedRevision::new(listed, Some(Arc::new(snapshot)));
    let (feed, _hub) = feed(&log, settings()).await;

    // Act
    let page = feed
        .changes(
            ChangesRequest::new(Some(revision.clone()), None, 1000, Duration::ZERO).expect("valid"),
        )
        .await
        .expect("a page");
    let only_seen = feed
        .changes(
            ChangesRequest::new(
                Some(revision.advanced_to(log.all()[1].cursor())),
                None,
                1000,
                Duration::ZERO,
            )
            .expect("valid"),
        )
        .await
        .expect("a page");
    let mut watch = feed.watch(Some(revision.clone())).await.expect("watch");
    let caught_up = next_ids(&mut watch, 1).await;
    // Live, through the hub: one the list saw, then one it did not.
    let (_, seen_live) = written_by(&service, &log, "SEEN-LIVE", 3).await;
    let (later, _) = written_by(&service, &log, "LATER", 5).await;
    let live = next_ids(&mut watch, 1).await;
    let extra = tokio::time::timeout(Duration::from_millis(200), watch.next()).await;

    // Assert
    let ids: Vec<_> = page.changes.iter().map(|c| c.id()).collect();
    assert_eq!(ids, [news], "the page skips what the list saw");
    assert_eq!(page.next.cursor(), seen, "and reads on after it");
    assert_eq!(only_seen.changes, [], "nothing new: nothing to answer");
    assert_eq!(only_seen.next.cursor(), seen);
    assert_eq!(caught_up, [news]);
    assert_eq!(
        live,
        [later],
        "the live change the list saw ({seen_live}) is skipped"
    );
    assert!(extra.is_err(), "nothing more: {extra:?}");
}

/// A log whose next reads fail, as many as the test arms: the store
/// unavailable (what waiting may mend) or failing otherwise. Clones share
/// the failures.
#[derive(Clone)]
struct FlakyLog {
    log: InMemoryChangeLog,
    failures: Arc<AtomicU64>,
    transient: Arc<AtomicBool>,
    failed: Arc<AtomicU64>,
}

impl FlakyLog {
    fn new(log: InMemoryChangeLog) -> Self {
        Self {
            log,
            failures: Arc::default(),
            transient: Arc::new(AtomicBool::new(true)),
            failed: Arc::default(),
        }
    }

    /// Makes the next `count` reads fail, as the store being unavailable
    /// when `transient`, else as an unknown failure.
    fn fail_next(&self, count: u64, transient: bool) {
        self.transient.store(transient, Ordering::SeqCst);
        self.failures.store(count, Ordering::SeqCst);
    }

    /// How many reads have failed.
    fn failed(&self) -> u64 {
        self.failed.load(Ordering::SeqCst)
    }
}

impl ChangeLog for FlakyLog {
    async fn read(
        &self,
        after: Option<Cursor>,
        limit: u64,
    ) -> Result<ChangePage, ReadChangesError> {
        let fails = self
            .failures
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| {
                left.checked_sub(1)
            })
            .is_ok();
        if !fails {
            return self.log.read(after, limit).await;
        }
        self.failed.fetch_add(1, Ordering::SeqCst);
        Err(ReadChangesError::Store(
            if self.transient.load(Ordering::SeqCst) {
                StoreError::Unavailable("the pool has no connection to spare".into())
            } else {
                StoreError::Unknown("the change log is corrupt".into())
            },
        ))
    }

    async fn head(&self) -> Result<Cursor, StoreError> {
        self.log.head().await
    }

    async fn expire(&self, older_than: Timestamp, batch: u64) -> Result<u64, StoreError> {
        self.log.expire(older_than, batch).await
    }
}

/// A feed whose watches read `log` through a [`FlakyLog`] (its hub reads
/// `log` untroubled), with a watch from the start that has read its first
/// batch of the backlog and must read the log again for the rest.
async fn flaky_watch(log: &InMemoryChangeLog) -> (impl ChangeWatch + use<>, FlakyLog, ChangeHub) {
    let (_, hub) = feed(log, settings()).await;
    let flaky = FlakyLog::new(log.clone());
    let feed = FeedService::new(flaky.clone(), hub.clone(), settings().batch);
    let watch = feed.watch(None).await.expect("watch");
    (watch, flaky, hub)
}

#[tokio::test]
async fn a_watch_waits_out_an_unavailable_store_and_delivers_every_change_once_in_order() {
    // Arrange: a backlog of three reads' worth.
    let (service, repository, _) = service();
    let log = repository.changes();
    let mut expected = Vec::new();
    for i in 0..7 {
        expected.push(create(&service, &format!("OLD{i}")).await.id());
    }
    let (mut watch, flaky, _hub) = flaky_watch(&log).await;

    // Act: the store is unavailable to the next four reads, while more
    // changes come than the hub keeps for a subscriber that reads nothing.
    flaky.fail_next(4, true);
    for i in 0..5 {
        expected.push(create(&service, &format!("NEW{i}")).await.id());
    }
    let seen = next_ids(&mut watch, expected.len()).await;

    // Assert
    assert_eq!(seen, expected);
    assert_eq!(flaky.failed(), 4, "the watch met every failure");
    let extra = tokio::time::timeout(Duration::from_millis(200), watch.next()).await;
    assert!(extra.is_err(), "nothing more: {extra:?}");
}

#[tokio::test]
async fn a_watch_waiting_out_an_unavailable_store_ends_promptly_when_the_hub_stops() {
    // Arrange: a watch that keeps finding the store unavailable.
    let (service, repository, _) = service();
    let log = repository.changes();
    for i in 0..4 {
        create(&service, &format!("OLD{i}")).await;
    }
    let (mut watch, flaky, hub) = flaky_watch(&log).await;
    flaky.fail_next(u64::MAX, true);
    next_ids(&mut watch, 3).await;
    let next = tokio::spawn(async move { watch.next().await });
    tokio::time::timeout(PATIENCE, async {
        while flaky.failed() < 2 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("the watch tries again");

    // Act
    hub.stop();
    let ended = tokio::time::timeout(Duration::from_millis(500), next)
        .await
        .expect("it ends before its next attempt could")
        .expect("no panic");

    // Assert
    assert!(matches!(ended, Err(WatchError::Stopped)), "{ended:?}");
}

#[tokio::test]
async fn a_watch_ends_on_a_store_failure_that_waiting_does_not_mend() {
    let (service, repository, _) = service();
    let log = repository.changes();
    for i in 0..4 {
        create(&service, &format!("OLD{i}")).await;
    }
    let (mut watch, flaky, _hub) = flaky_watch(&log).await;
    next_ids(&mut watch, 3).await;

    flaky.fail_next(1, false);
    let ended = tokio::time::timeout(PATIENCE, watch.next())
        .await
        .expect("it ends at once");

    assert!(
        matches!(ended, Err(WatchError::Store(StoreError::Unknown(_)))),
        "{ended:?}"
    );
}
