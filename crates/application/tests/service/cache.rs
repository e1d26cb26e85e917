//! The read cache over in-memory ports: two replicas share one repository
//! and change log, each with its own hub and cache, as two processes share
//! one database.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use application::{CacheSettings, CachedService, ChangeHub, HubSettings, Service};
use domain::integration_point::{
    CacheStats, GetPointError, IntegrationPoint, IntegrationPointRepository,
    IntegrationPointService, ListQuery, Listing, LookupError, LookupKey, PatchPointRequest,
    PointId, StoreError, Version, WriteError, WriteOutcome,
};
use tokio::sync::oneshot;

use crate::{code, create, title_patch};
use application::testing::{FixedClock, InMemoryRepository, SequentialIds, SequentialTokens};

const PATIENCE: Duration = Duration::from_secs(5);
const MAX_AGE: Duration = Duration::from_millis(500);
const HUB_TIME: i64 = 1_000;

type Cached<R> = CachedService<Service<R, FixedClock, SequentialIds, SequentialTokens>, FixedClock>;

/// One replica: its cached service, its hub, and the clock its cache reads.
struct Replica<R = InMemoryRepository> {
    service: Cached<R>,
    clock: FixedClock,
}

/// What every replica over one store shares: generators, so that two
/// replicas never hand out the same id or token.
#[derive(Clone, Default)]
struct Shared {
    ids: SequentialIds,
    tokens: SequentialTokens,
}

fn hub_settings(capacity: usize) -> HubSettings {
    HubSettings {
        poll_interval: Duration::from_millis(5),
        batch: 100,
        capacity,
    }
}

async fn replica_over<R: IntegrationPointRepository>(
    repository: R,
    log: &InMemoryRepository,
    shared: &Shared,
    capacity: usize,
) -> Replica<R> {
    let changes = log.changes();
    let hub = ChangeHub::start(
        changes.clone(),
        changes.wakeups(),
        FixedClock::at(HUB_TIME),
        hub_settings(capacity),
    );
    let clock = FixedClock::at(HUB_TIME);
    let service = CachedService::new(
        Service::new(
            repository,
            FixedClock::at(HUB_TIME),
            shared.ids.clone(),
            shared.tokens.clone(),
        ),
        &hub,
        clock.clone(),
        CacheSettings {
            max_entries: 1000,
            max_age: MAX_AGE,
        },
    );
    let replica = Replica { service, clock };
    caught_up(&replica, log).await;
    replica
}

async fn replica(repository: &InMemoryRepository, shared: &Shared) -> Replica {
    replica_over(repository.clone(), repository, shared, 64).await
}

/// Waits until `replica`'s cache has applied every change in the log.
async fn caught_up<R: IntegrationPointRepository>(replica: &Replica<R>, log: &InMemoryRepository) {
    let newest = log.changes().newest();
    tokio::time::timeout(PATIENCE, async {
        while replica
            .service
            .applied()
            .is_none_or(|applied| applied < newest)
        {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    })
    .await
    .expect("the cache applies the feed");
}

/// Reads `id` on `replica` until a read is not sent past the cache.
async fn until_trusted<R: IntegrationPointRepository>(replica: &Replica<R>, id: PointId) {
    tokio::time::timeout(PATIENCE, async {
        loop {
            let before = stats(replica);
            let _ = replica.service.get(id).await;
            if stats(replica).bypasses == before.bypasses {
                break;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    })
    .await
    .expect("the cache is used again");
}

fn stats<R: IntegrationPointRepository>(replica: &Replica<R>) -> CacheStats {
    replica.service.cache_stats().expect("the cache is on")
}

fn code_patch(value: &str) -> PatchPointRequest {
    PatchPointRequest {
        code: Some(code(value)),
        ..PatchPointRequest::EMPTY
    }
}

fn token_key(point: &IntegrationPoint) -> LookupKey {
    LookupKey::any(point.token_local().as_str()).expect("a key")
}

#[tokio::test]
async fn a_repeated_get_or_lookup_is_answered_from_memory_found_or_not() {
    // Arrange
    let repository = InMemoryRepository::default();
    let a = replica(&repository, &Shared::default()).await;
    let point = create(&a.service, "A").await;
    let missing = LookupKey::any("nothing").expect("a key");

    // Act
    let gets = [
        a.service.get(point.id()).await.expect("found"),
        a.service.get(point.id()).await.expect("found"),
    ];
    let lookups = [
        a.service.lookup(token_key(&point)).await.expect("found"),
        a.service.lookup(token_key(&point)).await.expect("found"),
    ];
    let misses = [
        a.service.lookup(missing.clone()).await,
        a.service.lookup(missing).await,
    ];

    // Assert
    assert_eq!(gets, [point.clone(), point.clone()]);
    assert_eq!(lookups, [vec![point.id()], vec![point.id()]]);
    assert!(
        misses
            .iter()
            .all(|m| matches!(m, Err(LookupError::NoMatch)))
    );
    let counts = stats(&a);
    assert_eq!((counts.hits, counts.misses), (3, 3));
    assert_eq!(counts.entries, 3);
}

#[tokio::test]
async fn a_rotation_stops_the_old_token_matching_on_its_replica_at_once() {
    // Arrange
    let repository = InMemoryRepository::default();
    let a = replica(&repository, &Shared::default()).await;
    let point = create(&a.service, "A").await;
    a.service.lookup(token_key(&point)).await.expect("found");
    a.service.get(point.id()).await.expect("found");

    // Act: no waiting for the feed
    let rotated = a.service.rotate_token(point.id(), None).await.expect("ok");
    let old = a.service.lookup(token_key(&point)).await;
    let new = a.service.lookup(token_key(&rotated)).await.expect("found");
    let read = a.service.get(point.id()).await.expect("found");

    // Assert
    assert!(matches!(old, Err(LookupError::NoMatch)), "{old:?}");
    assert_eq!(new, vec![point.id()]);
    assert_eq!(read, rotated);
}

#[tokio::test]
async fn another_replicas_writes_reach_the_cache_through_the_feed() {
    // Arrange: B has cached a point, its token and a code nobody has yet
    let repository = InMemoryRepository::default();
    let shared = Shared::default();
    let (a, b) = (
        replica(&repository, &shared).await,
        replica(&repository, &shared).await,
    );
    let point = create(&a.service, "A").await;
    caught_up(&b, &repository).await;
    let new_code = LookupKey::any("B").expect("a key");
    for _ in 0..2 {
        b.service.get(point.id()).await.expect("found");
        b.service.lookup(token_key(&point)).await.expect("found");
        let _ = b.service.lookup(new_code.clone()).await;
    }
    assert_eq!(stats(&b).hits, 3);

    // Act
    let rotated = a.service.rotate_token(point.id(), None).await.expect("ok");
    let created = create(&a.service, "B").await;
    caught_up(&b, &repository).await;

    // Assert
    assert_eq!(b.service.get(point.id()).await.expect("found"), rotated);
    let old = b.service.lookup(token_key(&point)).await;
    assert!(matches!(old, Err(LookupError::NoMatch)), "{old:?}");
    assert_eq!(
        b.service.lookup(new_code).await.expect("found"),
        vec![created.id()]
    );
}

#[tokio::test]
async fn a_change_to_one_point_leaves_the_lookup_answers_about_others_in_memory() {
    // Arrange: B has cached the answers for two tokens and a missing key
    let repository = InMemoryRepository::default();
    let shared = Shared::default();
    let (a, b) = (
        replica(&repository, &shared).await,
        replica(&repository, &shared).await,
    );
    let changed = create(&a.service, "A").await;
    let other = create(&a.service, "B").await;
    caught_up(&b, &repository).await;
    let missing = LookupKey::any("nothing").expect("a key");
    b.service.lookup(token_key(&changed)).await.expect("found");
    b.service.lookup(token_key(&other)).await.expect("found");
    let _ = b.service.lookup(missing.clone()).await;

    // Act: one point changed by the other replica, then by B itself
    a.service
        .rotate_token(changed.id(), None)
        .await
        .expect("ok");
    caught_up(&b, &repository).await;
    b.service
        .patch(changed.id(), title_patch("new"), None)
        .await
        .expect("ok");
    let before = stats(&b);
    let kept = b.service.lookup(token_key(&other)).await.expect("found");
    let still_missing = b.service.lookup(missing).await;
    let old = b.service.lookup(token_key(&changed)).await;

    // Assert: the other answers came from memory, the changed one did not
    let after = stats(&b);
    assert_eq!(kept, vec![other.id()]);
    assert!(matches!(still_missing, Err(LookupError::NoMatch)));
    assert!(matches!(old, Err(LookupError::NoMatch)), "{old:?}");
    assert_eq!(
        (after.hits - before.hits, after.misses - before.misses),
        (2, 1)
    );
}

#[tokio::test]
async fn a_point_that_a_change_gives_a_code_is_found_under_it_and_no_longer_under_the_old() {
    // Arrange: B has cached the old code's answer and the new code's 404
    let repository = InMemoryRepository::default();
    let shared = Shared::default();
    let (a, b) = (
        replica(&repository, &shared).await,
        replica(&repository, &shared).await,
    );
    let point = create(&a.service, "OLD").await;
    caught_up(&b, &repository).await;
    let (old_code, new_code) = (
        LookupKey::any("OLD").expect("a key"),
        LookupKey::any("NEW").expect("a key"),
    );
    for _ in 0..2 {
        b.service.lookup(old_code.clone()).await.expect("found");
        let _ = b.service.lookup(new_code.clone()).await;
    }
    assert_eq!(stats(&b).hits, 2);

    // Act
    a.service
        .patch(point.id(), code_patch("NEW"), None)
        .await
        .expect("ok");
    caught_up(&b, &repository).await;

    // Assert
    assert_eq!(
        b.service.lookup(new_code).await.expect("found"),
        vec![point.id()]
    );
    let old = b.service.lookup(old_code).await;
    assert!(matches!(old, Err(LookupError::NoMatch)), "{old:?}");
}

#[tokio::test]
async fn the_entries_gauge_counts_only_lookup_answers_that_still_hold() {
    // Arrange
    let repository = InMemoryRepository::default();
    let a = replica(&repository, &Shared::default()).await;
    let (changed, other) = (create(&a.service, "A").await, create(&a.service, "B").await);
    a.service.lookup(token_key(&changed)).await.expect("found");
    a.service.lookup(token_key(&other)).await.expect("found");
    assert_eq!(stats(&a).entries, 2);

    // Act
    a.service
        .rotate_token(changed.id(), None)
        .await
        .expect("ok");

    // Assert
    assert_eq!(stats(&a).entries, 1);
}

/// A repository whose next read can be held after it has read, as a slow
/// database read would be while a change commits.
#[derive(Clone)]
struct PausingRepository {
    inner: InMemoryRepository,
    gate: Arc<Mutex<Option<Gate>>>,
}

struct Gate {
    reached: oneshot::Sender<()>,
    release: oneshot::Receiver<()>,
}

impl PausingRepository {
    /// Holds the next `find` or `lookup` after it has read: the first
    /// channel says it has, the second lets it go on.
    fn pause_next_read(&self) -> (oneshot::Receiver<()>, oneshot::Sender<()>) {
        let (reached, reached_rx) = oneshot::channel();
        let (release_tx, release) = oneshot::channel();
        *self.gate.lock().unwrap_or_else(PoisonError::into_inner) = Some(Gate { reached, release });
        (reached_rx, release_tx)
    }

    async fn hold(&self) {
        let gate = self
            .gate
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(gate) = gate {
            let _ = gate.reached.send(());
            let _ = gate.release.await;
        }
    }
}

impl IntegrationPointRepository for PausingRepository {
    async fn insert(&self, point: &IntegrationPoint) -> Result<(), WriteError> {
        self.inner.insert(point).await
    }

    async fn find(&self, id: PointId) -> Result<Option<IntegrationPoint>, StoreError> {
        let found = self.inner.find(id).await;
        self.hold().await;
        found
    }

    async fn list(&self, query: &ListQuery) -> Result<Listing, StoreError> {
        self.inner.list(query).await
    }

    async fn update(
        &self,
        point: &IntegrationPoint,
        expected: Version,
    ) -> Result<WriteOutcome, WriteError> {
        self.inner.update(point, expected).await
    }

    async fn delete(
        &self,
        id: PointId,
        expected: Option<Version>,
    ) -> Result<WriteOutcome, StoreError> {
        self.inner.delete(id, expected).await
    }

    async fn lookup(&self, key: &LookupKey) -> Result<Vec<PointId>, StoreError> {
        let found = self.inner.lookup(key).await;
        self.hold().await;
        found
    }
}

#[tokio::test]
async fn a_read_that_a_change_overtakes_does_not_cache_what_it_read() {
    // Arrange: B's store reads can be held
    let repository = InMemoryRepository::default();
    let shared = Shared::default();
    let pausing = PausingRepository {
        inner: repository.clone(),
        gate: Arc::default(),
    };
    let a = replica(&repository, &shared).await;
    let b = replica_over(pausing.clone(), &repository, &shared, 64).await;
    let point = create(&a.service, "A").await;
    caught_up(&b, &repository).await;

    // Act: B misses and reads the point, A changes it and B applies the
    // change, then B's read goes on with the old state
    let (reached, release) = pausing.pause_next_read();
    let slow_get = tokio::spawn({
        let (service, id) = (b.service.clone(), point.id());
        async move { service.get(id).await }
    });
    reached.await.expect("the read happened");
    let patched = a
        .service
        .patch(point.id(), title_patch("new"), None)
        .await
        .expect("ok");
    caught_up(&b, &repository).await;
    let (reached, release_lookup) = pausing.pause_next_read();
    let slow_lookup = tokio::spawn({
        let (service, key) = (b.service.clone(), token_key(&point));
        async move { service.lookup(key).await }
    });
    reached.await.expect("the read happened");
    let rotated = a.service.rotate_token(point.id(), None).await.expect("ok");
    caught_up(&b, &repository).await;
    let _ = release.send(());
    let _ = release_lookup.send(());
    let raced_get = slow_get.await.expect("no panic").expect("found");
    let raced_lookup = slow_lookup.await.expect("no panic").expect("found");

    // Assert: the overtaken reads answered what they read, and kept nothing
    assert_eq!(raced_get, point);
    assert_eq!(raced_lookup, vec![point.id()]);
    let read = b.service.get(point.id()).await.expect("found");
    assert_eq!(read.version(), rotated.version());
    assert!(read.version() > patched.version());
    let old = b.service.lookup(token_key(&point)).await;
    assert!(matches!(old, Err(LookupError::NoMatch)), "{old:?}");
}

#[tokio::test]
async fn reads_go_to_the_store_while_the_listener_is_lost_and_find_an_emptied_cache_after() {
    // Arrange: B has cached a point
    let repository = InMemoryRepository::default();
    let shared = Shared::default();
    let (a, b) = (
        replica(&repository, &shared).await,
        replica(&repository, &shared).await,
    );
    let point = create(&a.service, "A").await;
    caught_up(&b, &repository).await;
    b.service.get(point.id()).await.expect("found");

    // Act: the listener is lost
    let wakeups = repository.changes().wakeups();
    wakeups.silence();
    tokio::time::timeout(PATIENCE, async {
        while stats(&b).bypasses == 0 {
            let _ = b.service.get(point.id()).await;
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    })
    .await
    .expect("reads bypass the cache");
    let lost = stats(&b);
    let patched = a
        .service
        .patch(point.id(), title_patch("new"), None)
        .await
        .expect("ok");
    let while_lost = b.service.get(point.id()).await.expect("found");
    let after_lost = stats(&b);
    wakeups.resume();
    until_trusted(&b, point.id()).await;
    let back = stats(&b);

    // Assert: while lost, every read went to the store (and saw the write
    // at once); once back, the first read found the cache emptied
    assert_eq!(while_lost, patched);
    assert_eq!(after_lost.bypasses, lost.bypasses + 1);
    assert_eq!(after_lost.hits, lost.hits);
    assert_eq!(back.misses, after_lost.misses + 1);
    assert_eq!(back.hits, after_lost.hits);
}

#[tokio::test]
async fn reads_go_to_the_store_when_the_hub_has_not_confirmed_within_the_allowed_age() {
    // Arrange
    let repository = InMemoryRepository::default();
    let a = replica(&repository, &Shared::default()).await;
    let point = create(&a.service, "A").await;
    a.service.get(point.id()).await.expect("found");
    let max_age = i64::try_from(MAX_AGE.as_millis()).expect("small");

    // Act: the hub's clock stays, the cache's moves past the allowed age
    a.clock.set(HUB_TIME + max_age);
    a.service.get(point.id()).await.expect("found");
    let within = stats(&a);
    a.clock.set(HUB_TIME + max_age + 1);
    a.service.get(point.id()).await.expect("found");
    let beyond = stats(&a);

    // Assert
    assert_eq!((within.hits, within.bypasses), (1, 0));
    assert_eq!((beyond.hits, beyond.bypasses), (1, 1));
}

#[tokio::test]
async fn a_replica_whose_feed_never_started_reads_the_store() {
    // Arrange: a hub stopped before it read the log's head
    let repository = InMemoryRepository::default();
    let changes = repository.changes();
    let hub = ChangeHub::start(
        changes.clone(),
        changes.wakeups(),
        FixedClock::at(HUB_TIME),
        hub_settings(64),
    );
    hub.stop();
    let shared = Shared::default();
    let service = CachedService::new(
        Service::new(
            repository.clone(),
            FixedClock::at(HUB_TIME),
            shared.ids.clone(),
            shared.tokens.clone(),
        ),
        &hub,
        FixedClock::at(HUB_TIME),
        CacheSettings {
            max_entries: 10,
            max_age: MAX_AGE,
        },
    );
    let point = create(&service, "A").await;

    // Act
    for _ in 0..3 {
        service.get(point.id()).await.expect("found");
    }

    // Assert
    let counts = service.cache_stats().expect("on");
    assert_eq!((counts.hits, counts.misses, counts.bypasses), (0, 0, 3));
}

#[tokio::test]
async fn a_cache_that_lagged_behind_its_hub_is_emptied_before_it_is_used_again() {
    // Arrange: B's subscription holds 4 changes; B has cached one point
    let repository = InMemoryRepository::default();
    let shared = Shared::default();
    let a = replica(&repository, &shared).await;
    let b = replica_over(repository.clone(), &repository, &shared, 4).await;
    let kept = create(&a.service, "KEPT").await;
    caught_up(&b, &repository).await;
    b.service.get(kept.id()).await.expect("found");
    b.service.get(kept.id()).await.expect("found");
    let before = stats(&b);

    // Act: more changes than fit arrive in one batch; the point stays
    for n in 0..10 {
        create(&a.service, &format!("OTHER{n}")).await;
    }
    caught_up(&b, &repository).await;
    until_trusted(&b, kept.id()).await;

    // Assert: the untouched point was read again
    let after = stats(&b);
    assert_eq!(before.hits, 1);
    assert_eq!(after.hits, before.hits);
    assert_eq!(after.misses, before.misses + 1);
}

/// What a replica may still answer for a point it has not caught up on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Seen {
    Never,
    At(Version),
    Deleted,
}

/// The model of one replica: what it must answer exactly, and what it has
/// already seen, which it may never answer older than.
#[derive(Default)]
struct Model {
    /// Points the other replica wrote since this one last caught up.
    unseen: HashSet<PointId>,
    seen: HashMap<PointId, Seen>,
    /// Tokens retired (rotated or deleted) before this replica last caught
    /// up, or by itself: never to match again.
    retired: HashSet<String>,
}

/// What the store holds for a point that was created.
fn stored(repository: &InMemoryRepository, id: PointId) -> Seen {
    repository
        .get(id)
        .map_or(Seen::Deleted, |p| Seen::At(p.version()))
}

fn truth_of_lookup(repository: &InMemoryRepository, ids: &[PointId], token: &str) -> Vec<PointId> {
    let mut found: Vec<PointId> = ids
        .iter()
        .filter_map(|id| repository.get(*id))
        .filter(|p| LookupKey::any(token).is_ok_and(|key| key.matches(p)))
        .map(|p| p.id())
        .collect();
    found.sort();
    found
}

/// A scripted random schedule of writes and reads on two replicas, checked
/// against the repository (the truth) after every step: a replica answers
/// exactly what is stored for whatever it wrote itself or has caught up on;
/// for the rest it never answers older than what it has already answered,
/// and a token it knows to be retired never matches again.
#[tokio::test]
async fn two_cached_replicas_never_answer_older_than_they_know_under_random_schedules() {
    for seed in 0..12 {
        run_schedule(seed, 250).await;
    }
}

#[allow(clippy::too_many_lines)]
async fn run_schedule(seed: u64, steps: usize) {
    let mut rng = fastrand::Rng::with_seed(seed);
    let repository = InMemoryRepository::default();
    let shared = Shared::default();
    let replicas = [
        replica(&repository, &shared).await,
        replica(&repository, &shared).await,
    ];
    let mut models = [Model::default(), Model::default()];
    let mut ids: Vec<PointId> = Vec::new();
    let mut tokens: Vec<String> = Vec::new();
    let mut retired: HashSet<String> = HashSet::new();
    let mut codes = 0;
    for step in 0..steps {
        let r = rng.usize(0..2);
        let other = 1 - r;
        let service = &replicas[r].service;
        let context = format!("seed {seed} step {step} replica {r}");
        let pick = |rng: &mut fastrand::Rng| {
            if ids.is_empty() || rng.u8(0..8) == 0 {
                shared.ids.peek()
            } else {
                ids[rng.usize(0..ids.len())]
            }
        };
        let mut wrote = None;
        match rng.u8(0..20) {
            0..=2 => {
                codes += 1;
                let point = create(service, &format!("C{codes}")).await;
                ids.push(point.id());
                tokens.push(point.token_local().as_str().to_owned());
                wrote = Some(point.id());
            }
            3 => {
                let id = pick(&mut rng);
                let _ = service
                    .patch(id, title_patch(&format!("t{step}")), None)
                    .await;
                wrote = Some(id);
            }
            4 => {
                let id = pick(&mut rng);
                codes += 1;
                let _ = service
                    .patch(id, code_patch(&format!("C{codes}")), None)
                    .await;
                wrote = Some(id);
            }
            5..=6 => {
                let id = pick(&mut rng);
                let before = repository.get(id);
                if let Ok(point) = service.rotate_token(id, None).await {
                    tokens.push(point.token_local().as_str().to_owned());
                }
                if let Some(before) = before {
                    retired.insert(before.token_local().as_str().to_owned());
                    models[r]
                        .retired
                        .insert(before.token_local().as_str().to_owned());
                }
                wrote = Some(id);
            }
            7 => {
                let id = pick(&mut rng);
                let before = repository.get(id);
                let _ = service.delete(id, None).await;
                if let Some(before) = before {
                    retired.insert(before.token_local().as_str().to_owned());
                    models[r]
                        .retired
                        .insert(before.token_local().as_str().to_owned());
                }
                wrote = Some(id);
            }
            8..=12 => {
                let id = pick(&mut rng);
                let answer = service.get(id).await;
                let truth = repository.get(id);
                let model = &mut models[r];
                let seen = model.seen.get(&id).copied().unwrap_or(Seen::Never);
                let now = match &answer {
                    Ok(point) => Seen::At(point.version()),
                    Err(GetPointError::NotFound) => {
                        if seen == Seen::Never {
                            Seen::Never
                        } else {
                            Seen::Deleted
                        }
                    }
                    Err(GetPointError::Store(e)) => panic!("{context}: {e}"),
                };
                if model.unseen.contains(&id) {
                    let older = match (seen, now) {
                        (Seen::Deleted, Seen::At(_) | Seen::Never) => true,
                        (Seen::At(was), Seen::At(is)) => is < was,
                        (Seen::At(_), Seen::Never) => true,
                        _ => false,
                    };
                    assert!(!older, "{context}: {id} went back from {seen:?} to {now:?}");
                    if let (Ok(point), Some(truth)) = (&answer, &truth) {
                        assert!(
                            point.version() <= truth.version(),
                            "{context}: from the future"
                        );
                    }
                } else {
                    assert_eq!(answer.as_ref().ok(), truth.as_ref(), "{context}: get {id}");
                }
                model.seen.insert(id, now);
            }
            13..=18 if !tokens.is_empty() => {
                let token = match rng.u8(0..5) {
                    0..=1 => tokens[rng.usize(0..tokens.len())].clone(),
                    2..=3 => format!("C{}", rng.usize(1..=codes + 1)),
                    _ => pick(&mut rng).to_string(),
                };
                let key = LookupKey::any(token.clone()).expect("a key");
                let mut answer = match service.lookup(key).await {
                    Ok(found) => found,
                    Err(LookupError::NoMatch) => Vec::new(),
                    Err(LookupError::Store(e)) => panic!("{context}: {e}"),
                };
                answer.sort();
                let model = &models[r];
                if model.retired.contains(&token) {
                    assert!(answer.is_empty(), "{context}: retired {token} matched");
                }
                // Exact for every point whose last change this replica knows.
                let known = |found: Vec<PointId>| -> Vec<PointId> {
                    found
                        .into_iter()
                        .filter(|id| !model.unseen.contains(id))
                        .collect()
                };
                assert_eq!(
                    known(answer),
                    known(truth_of_lookup(&repository, &ids, &token)),
                    "{context}: lookup {token}"
                );
            }
            _ => {
                for replica in &replicas {
                    caught_up(replica, &repository).await;
                }
                for model in &mut models {
                    model.unseen.clear();
                    model.retired.clone_from(&retired);
                    for id in &ids {
                        model.seen.insert(*id, stored(&repository, *id));
                    }
                }
            }
        }
        if let Some(id) = wrote {
            models[other].unseen.insert(id);
            models[r].unseen.remove(&id);
            let seen = if ids.contains(&id) {
                stored(&repository, id)
            } else {
                Seen::Never
            };
            models[r].seen.insert(id, seen);
        }
    }
}

#[tokio::test]
async fn while_committed_changes_wait_behind_an_older_write_the_cache_ages_from_the_oldest() {
    // Arrange: a replica whose hub and cache read one movable clock, with a
    // point cached.
    let repository = InMemoryRepository::default();
    let changes = repository.changes();
    let clock = FixedClock::at(HUB_TIME);
    let hub = ChangeHub::start(
        changes.clone(),
        changes.wakeups(),
        clock.clone(),
        hub_settings(64),
    );
    let shared = Shared::default();
    let service = CachedService::new(
        Service::new(
            repository.clone(),
            clock.clone(),
            shared.ids.clone(),
            shared.tokens.clone(),
        ),
        &hub,
        clock.clone(),
        CacheSettings {
            max_entries: 10,
            max_age: MAX_AGE,
        },
    );
    let a = Replica { service, clock };
    let point = create(&a.service, "A").await;
    caught_up(&a, &repository).await;
    let max_age = i64::try_from(MAX_AGE.as_millis()).expect("small");
    let later = HUB_TIME + 10 * max_age;
    let hub_at = |millis: i64| {
        let hub = hub.clone();
        async move {
            tokio::time::timeout(PATIENCE, async {
                while hub.progress().at.as_millis() != millis {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            })
            .await
            .expect("the hub reads again");
        }
    };

    // Act: a change committed just after the cache last confirmed waits
    // behind an older write while time passes; the hub keeps reading.
    changes.set_withheld_since(Some(HUB_TIME + 1));
    a.clock.set(later);
    hub_at(HUB_TIME + 1).await;
    a.service.get(point.id()).await.expect("found");
    let held = stats(&a);
    changes.set_withheld_since(None);
    hub_at(later).await;
    a.service.get(point.id()).await.expect("found");
    a.service.get(point.id()).await.expect("found");
    let released = stats(&a);

    // Assert: held back, it reads the store; caught up, from memory again.
    assert_eq!(held.bypasses, 1, "{held:?}");
    assert_eq!(released.bypasses, 1, "{released:?}");
    assert_eq!(released.hits, held.hits + 1, "{released:?}");
}
