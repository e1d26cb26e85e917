//! Reads from memory (contract §9): GET one and LOOKUP answered from an
//! in-process cache in front of the use cases, kept coherent by the
//! replica's change feed.
//!
//! Three rules keep it from answering with a state older than one the
//! replica knows of:
//! - a write made here drops what it changed before its answer leaves;
//! - every change the [`ChangeHub`] reads (other replicas' writes included)
//!   drops the point it names and voids the LOOKUP answers it can change:
//!   those that held the point, and those whose key names the point's new
//!   code, token or id (see [`Stripes`]);
//! - a read that missed inserts what it read only if nothing was dropped
//!   since it began (the invalidation epoch), so a change that lands while
//!   the store is being read cannot be undone by the slower read.
//!
//! And one rule for when the feed itself cannot be trusted: the cache is
//! used only while the hub confirms, within the allowed staleness, that
//! every change up to its position has been applied here. Otherwise reads go
//! to the store; when confirmations resume after a gap (a lost listener, a
//! subscription that lagged, a hub that could not read), the cache is
//! emptied before it is used again.

use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use domain::change_feed::{ChangeOp, Cursor, FeedProgress};
use domain::integration_point::{
    Attributes, CacheStats, Clock, Code, Comment, CreatePointError, CreatePointRequest,
    DeletePointError, GetPointError, IfMatch, IntegrationPoint, IntegrationPointService,
    ListPointsError, ListQuery, Listing, LookupError, LookupKey, Opts, PatchPointError,
    PatchPointRequest, PointId, PointType, RotateTokenError, ScriptCode, TextError, Timestamp,
    Title, TokenLocal, TokenRemote, Url, Version,
};
use quick_cache::sync::Cache;
use tokio::sync::broadcast::error::RecvError;
use tokio::task::JoinHandle;

use crate::change_feed::{ChangeHub, HubEvent, HubSubscription};

/// How the cache of one replica behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheSettings {
    /// The most points, and separately the most LOOKUP answers, held.
    pub max_entries: usize,
    /// How old the hub's last confirmation that this replica has applied
    /// every change may be before reads go to the store instead. The hub
    /// confirms on every change and at least once per poll interval, so
    /// this should exceed the feed's poll interval.
    pub max_age: Duration,
}

/// `confirmed_at` when the cache must not be used.
const UNCONFIRMED: i64 = i64::MIN;

/// How many invalidation counters LOOKUP answers are checked against; a
/// power of two. 16,384 counters cost 128 KiB; with three per change, a
/// change voids an unrelated answer with a chance of about one in 2,000
/// per counter that answer watches.
const STRIPES: usize = 1 << 14;

/// Invalidation counters, each standing for every point id and every text
/// that hashes to it.
///
/// A LOOKUP answer can change only through a point it held (found under its
/// old code, token or id) or a point that now carries the key (its new
/// code, token or id). A change moves the counters of the point's id and
/// of its new code and token; an answer records, when read, the counters of
/// its key and of every id it holds, and holds only while none of them has
/// moved. Neither side needs to know what the point was before the change,
/// and no index from points to keys has to be kept in step with the
/// cache's evictions.
struct Stripes {
    counters: Box<[AtomicU64]>,
    hasher: RandomState,
}

/// A counter's index and the value an answer read from it.
type Stamp = (u32, u64);

impl Stripes {
    fn new() -> Self {
        Self {
            counters: (0..STRIPES).map(|_| AtomicU64::new(0)).collect(),
            hasher: RandomState::new(),
        }
    }

    fn of_id(&self, id: PointId) -> u32 {
        self.index(self.hasher.hash_one(id.as_uuid().as_u128()))
    }

    fn of_text(&self, text: &str) -> u32 {
        self.index(self.hasher.hash_one(text))
    }

    fn index(&self, hash: u64) -> u32 {
        // STRIPES fits in u32, so the masked value does too.
        u32::try_from(hash & (STRIPES as u64 - 1)).unwrap_or_default()
    }

    fn counter(&self, index: u32) -> &AtomicU64 {
        &self.counters[index as usize % STRIPES]
    }

    /// The counters a LOOKUP of `key` answered with `ids` depends on.
    fn of_answer(&self, key: &LookupKey, ids: &[PointId]) -> Vec<u32> {
        let mut indices: Vec<u32> = ids.iter().map(|&id| self.of_id(id)).collect();
        match key {
            LookupKey::Any(text) => {
                indices.push(self.of_text(text.as_str()));
                if let Ok(id) = PointId::parse(text.as_str()) {
                    indices.push(self.of_id(id));
                }
            }
            LookupKey::Id(Some(id)) => indices.push(self.of_id(*id)),
            // Matches nothing, whatever changes.
            LookupKey::Id(None) => {}
            LookupKey::Code(text) | LookupKey::TokenLocal(text) => {
                indices.push(self.of_text(text.as_str()));
            }
        }
        indices.sort_unstable();
        indices.dedup();
        indices
    }

    fn stamp(&self, indices: Vec<u32>) -> Box<[Stamp]> {
        indices
            .into_iter()
            .map(|index| (index, self.counter(index).load(Ordering::SeqCst)))
            .collect()
    }

    fn unmoved(&self, stamps: &[Stamp]) -> bool {
        stamps
            .iter()
            .all(|&(index, value)| self.counter(index).load(Ordering::SeqCst) == value)
    }

    /// Voids the answers that `id`, now `after`, can change.
    fn moved(&self, id: PointId, after: Option<&IntegrationPoint>) {
        self.counter(self.of_id(id)).fetch_add(1, Ordering::SeqCst);
        if let Some(point) = after {
            for text in [
                point.attributes().code.as_str(),
                point.token_local().as_str(),
            ] {
                self.counter(self.of_text(text))
                    .fetch_add(1, Ordering::SeqCst);
            }
        }
    }
}

/// A cached LOOKUP answer: the ids (none for a cached 404), the counters
/// they were read under, and the generation of all answers then.
struct LookupEntry {
    generation: u64,
    stamps: Box<[Stamp]>,
    ids: Box<[PointId]>,
}

/// What a change left of a point, as far as the cache is told.
#[derive(Clone, Copy)]
enum After<'a> {
    /// The point as the change left it; `None`: deleted.
    Known(Option<&'a IntegrationPoint>),
    /// The store refused the write (not found, a failed precondition, a
    /// conflict): nothing changed.
    Refused,
    /// The store failed: the write may still have committed, with values
    /// unknown.
    Unknown,
}

/// A cached point: its twelve texts in one shared allocation instead of a
/// `String` each.
///
/// Held as an `IntegrationPoint`, a point of the side-by-side data set cost
/// 891 bytes of RSS: about 360 inline in the cache's slot plus twelve heap
/// blocks, each rounded up by the allocator, for some 330 bytes of text.
/// Packed it costs 431 (BENCHMARKS.md, "Memory with 100,000 points
/// cached"). A hit pays what the clone of a whole point paid before, one
/// allocation per text, plus the constructors' checks.
#[derive(Clone)]
struct PackedPoint {
    id: PointId,
    /// The texts, one after another, in [`PackedPoint::pack`]'s order.
    text: Arc<str>,
    /// Where each text ends in `text`.
    ends: [u32; TEXTS],
    created_at: Timestamp,
    updated_at: Timestamp,
    version: Version,
    allow_files_api: bool,
    issync: bool,
}

/// The texts of a point: its local token and eleven attributes.
const TEXTS: usize = 12;

impl PackedPoint {
    fn pack(point: &IntegrationPoint) -> Option<Self> {
        // Every attribute by name, without `..`: one added to the domain
        // and not cached here does not compile.
        let Attributes {
            code,
            kind,
            token_remote,
            token_remote2,
            url,
            recv_svcscriptcode,
            recv_svcscriptcode_ws,
            send_svcscriptcode,
            send_svcscriptcode_ws,
            opts:
                Opts {
                    title,
                    comment,
                    allow_files_api,
                    issync,
                },
        } = point.attributes();
        let texts: [&str; TEXTS] = [
            point.token_local().as_str(),
            code.as_str(),
            kind.as_str(),
            token_remote.as_str(),
            token_remote2.as_str(),
            url.as_str(),
            recv_svcscriptcode.as_str(),
            recv_svcscriptcode_ws.as_str(),
            send_svcscriptcode.as_str(),
            send_svcscriptcode_ws.as_str(),
            title.as_str(),
            comment.as_str(),
        ];
        let mut text = String::with_capacity(texts.iter().map(|t| t.len()).sum());
        let mut ends = [0; TEXTS];
        for (end, t) in ends.iter_mut().zip(texts) {
            text.push_str(t);
            // A point too large to pack is not cached; none is near 4 GiB.
            *end = u32::try_from(text.len()).ok()?;
        }
        Some(Self {
            id: point.id(),
            text: text.into(),
            ends,
            created_at: point.created_at(),
            updated_at: point.updated_at(),
            version: point.version(),
            allow_files_api: *allow_files_api,
            issync: *issync,
        })
    }

    /// The point again, through the constructors that admitted it.
    fn unpack(&self) -> Result<IntegrationPoint, TextError> {
        let mut start = 0;
        let mut texts = self.ends.iter().map(|&end| {
            let end = usize::try_from(end).unwrap_or(usize::MAX);
            let t = self.text.get(start..end).unwrap_or_default().to_owned();
            start = end;
            t
        });
        let mut next = move || texts.next().unwrap_or_default();
        let token_local = TokenLocal::new(next())?;
        let attributes = Attributes {
            code: Code::new(next())?,
            kind: PointType::new(next())?,
            token_remote: TokenRemote::new(next())?,
            token_remote2: TokenRemote::new(next())?,
            url: Url::new(next())?,
            recv_svcscriptcode: ScriptCode::new(next())?,
            recv_svcscriptcode_ws: ScriptCode::new(next())?,
            send_svcscriptcode: ScriptCode::new(next())?,
            send_svcscriptcode_ws: ScriptCode::new(next())?,
            opts: Opts {
                title: Title::new(next())?,
                comment: Comment::new(next())?,
                allow_files_api: self.allow_files_api,
                issync: self.issync,
            },
        };
        Ok(IntegrationPoint::new(
            self.id,
            token_local,
            attributes,
            self.created_at,
            self.updated_at,
            self.version,
        ))
    }
}

/// What the reads, the writes and the feed's applier share.
struct State<C> {
    /// `None`: no point has this id (a cached 404).
    points: Cache<PointId, Option<PackedPoint>>,
    /// An empty answer is a cached LOOKUP 404.
    lookups: Cache<LookupKey, Arc<LookupEntry>>,
    /// What LOOKUP answers are checked against on a hit.
    stripes: Stripes,
    /// Moves when a change's effect on LOOKUP answers is not known: every
    /// answer read before it is void.
    generation: AtomicU64,
    /// Moves on every invalidation; see the module's rules.
    epoch: AtomicU64,
    /// The time (ms) of the hub's last confirmation, or [`UNCONFIRMED`].
    confirmed_at: AtomicI64,
    max_age_ms: i64,
    /// Every change up to here has been applied; `None` until the hub is
    /// ready.
    applied: Mutex<Option<Cursor>>,
    clock: C,
    hits: AtomicU64,
    misses: AtomicU64,
    invalidations: AtomicU64,
    bypasses: AtomicU64,
}

impl<C: Clock> State<C> {
    /// The epoch to read under, or `None` (counted) when the cache cannot
    /// be trusted now.
    fn current(&self) -> Option<u64> {
        // Loaded before the confirmation: a clearing bumps the epoch before
        // it confirms, so a read that sees the new confirmation either sees
        // the cleared cache or fails to insert.
        let epoch = self.epoch.load(Ordering::SeqCst);
        let confirmed = self.confirmed_at.load(Ordering::SeqCst);
        let age = self.clock.now().as_millis().saturating_sub(confirmed);
        if confirmed == UNCONFIRMED || age > self.max_age_ms {
            self.bypasses.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        Some(epoch)
    }

    fn hit(&self) {
        self.hits.fetch_add(1, Ordering::Relaxed);
    }

    fn miss(&self) {
        self.misses.fetch_add(1, Ordering::Relaxed);
    }

    /// Keeps what a read found, unless a change was applied since the read
    /// began under `epoch`.
    fn fill_point(&self, id: PointId, point: Option<&IntegrationPoint>, epoch: u64) {
        if self.epoch.load(Ordering::SeqCst) != epoch {
            return;
        }
        let point = match point.map(PackedPoint::pack) {
            Some(None) => return,
            Some(Some(packed)) => Some(packed),
            None => None,
        };
        self.points.insert(id, point);
        // An invalidation between the check and the insert bumped the epoch
        // first, then removed: either it removed this entry, or this sees it.
        if self.epoch.load(Ordering::SeqCst) != epoch {
            self.points.remove(&id);
        }
    }

    fn holds(&self, entry: &LookupEntry) -> bool {
        entry.generation == self.generation.load(Ordering::SeqCst)
            && self.stripes.unmoved(&entry.stamps)
    }

    /// The cached answer to `key`, if it still holds; one that does not is
    /// dropped, so that `cache_entries` stops counting it.
    fn cached_lookup(&self, key: &LookupKey) -> Option<Arc<LookupEntry>> {
        let entry = self.lookups.get(key)?;
        if self.holds(&entry) {
            return Some(entry);
        }
        // Only this entry: a fresh one filled meanwhile stays.
        self.lookups
            .remove_if(key, |current| Arc::ptr_eq(current, &entry));
        None
    }

    fn fill_lookup(&self, key: LookupKey, ids: &[PointId], epoch: u64) {
        // Stamped before the epoch is checked, and an invalidation moves
        // the epoch before the counters: if the epoch has not moved since
        // the read began, a change that raced the read moves a counter
        // after it was stamped, and the answer never holds.
        let generation = self.generation.load(Ordering::SeqCst);
        let stamps = self.stripes.stamp(self.stripes.of_answer(&key, ids));
        if self.epoch.load(Ordering::SeqCst) == epoch {
            let entry = LookupEntry {
                generation,
                stamps,
                ids: ids.into(),
            };
            self.lookups.insert(key, Arc::new(entry));
        }
    }

    /// `id` changed (or may have) and is now `after`: drop the point and
    /// void the LOOKUP answers the change can alter.
    fn invalidate(&self, id: PointId, after: After<'_>) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
        match after {
            After::Known(point) => self.stripes.moved(id, point),
            // Voiding what holds the id too costs a miss each, and spares
            // this from depending on every refusal being free of effects.
            After::Refused => self.stripes.moved(id, None),
            After::Unknown => {
                self.generation.fetch_add(1, Ordering::SeqCst);
            }
        }
        self.points.remove(&id);
        self.invalidations.fetch_add(1, Ordering::Relaxed);
    }

    /// A point nobody can have asked for by id may have been written with
    /// values unknown: void every LOOKUP answer.
    fn invalidate_lookups(&self) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.invalidations.fetch_add(1, Ordering::Relaxed);
    }

    /// Stops answering from memory until the hub confirms again.
    fn distrust(&self) {
        self.confirmed_at.store(UNCONFIRMED, Ordering::SeqCst);
    }

    /// The hub reports `progress`, and changes up to `applied` have been
    /// applied here: the cache is current as of `progress.at` if that
    /// covers the hub's position. After a gap the cache is emptied first.
    fn confirm(&self, progress: FeedProgress, applied: Cursor) {
        if !progress.listening {
            self.distrust();
            return;
        }
        if progress.cursor > applied {
            // Its changes are still on their way to the applier.
            return;
        }
        let at = progress.at.as_millis();
        let last = self.confirmed_at.load(Ordering::SeqCst);
        if last == UNCONFIRMED || at.saturating_sub(last) > self.max_age_ms {
            self.epoch.fetch_add(1, Ordering::SeqCst);
            self.points.clear();
            self.lookups.clear();
            self.invalidations.fetch_add(1, Ordering::Relaxed);
        }
        self.confirmed_at.fetch_max(at, Ordering::SeqCst);
    }

    fn set_applied(&self, cursor: Cursor) {
        *self.applied.lock().unwrap_or_else(PoisonError::into_inner) = Some(cursor);
    }

    fn stats(&self) -> CacheStats {
        // Void answers linger until asked for or evicted; the gauge counts
        // the ones that still answer. One pass over the answers per scrape.
        self.lookups.retain(|_, entry| self.holds(entry));
        CacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            invalidations: self.invalidations.load(Ordering::Relaxed),
            bypasses: self.bypasses.load(Ordering::Relaxed),
            entries: (self.points.len() + self.lookups.len()) as u64,
        }
    }
}

/// The task applying the hub's changes; aborted with the last service clone.
struct Applier(JoinHandle<()>);

impl Drop for Applier {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Follows the hub: every change drops what it names, every report of
/// progress may confirm the cache current.
async fn apply<C: Clock>(state: Arc<State<C>>, hub: ChangeHub, mut feed: HubSubscription) {
    hub.ready().await;
    let mut applied = feed.progress.borrow_and_update().cursor;
    state.set_applied(applied);
    state.confirm(*feed.progress.borrow(), applied);
    loop {
        tokio::select! {
            // Changes first: the hub sends them before the progress that
            // covers them.
            biased;
            event = feed.events.recv() => match event {
                Ok(HubEvent::Change(change)) => {
                    let after = match (change.op(), change.point()) {
                        (ChangeOp::Delete, _) => After::Known(None),
                        (_, Some(point)) => After::Known(Some(point)),
                        (_, None) => After::Unknown,
                    };
                    state.invalidate(change.id(), after);
                    applied = applied.max(change.cursor());
                }
                Ok(HubEvent::Skipped { horizon }) => {
                    state.distrust();
                    applied = applied.max(horizon);
                }
                Err(RecvError::Lagged(missed)) => {
                    tracing::warn!(missed, "read cache fell behind the change feed; emptying it");
                    state.distrust();
                    // What it missed is older than the hub's position; the
                    // cache is emptied before it is trusted again.
                    applied = applied.max(feed.progress.borrow().cursor);
                }
                Err(RecvError::Closed) => break,
            },
            changed = feed.progress.changed() => if changed.is_err() { break },
        }
        state.set_applied(applied);
        state.confirm(*feed.progress.borrow_and_update(), applied);
    }
    // The hub stopped: nothing will confirm the cache again.
    state.distrust();
}

/// The use cases of `S` with GET one and LOOKUP answered from memory when
/// the cache is on and current; every other call goes straight to `S`.
#[derive(Clone)]
pub struct CachedService<S, C> {
    inner: S,
    cache: Option<(Arc<State<C>>, Arc<Applier>)>,
}

impl<S, C> std::fmt::Debug for CachedService<S, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedService")
            .field("enabled", &self.cache.is_some())
            .finish_non_exhaustive()
    }
}

impl<S: IntegrationPointService, C: Clock> CachedService<S, C> {
    /// `inner` with a cache kept coherent by `hub`. Needs a tokio runtime.
    pub fn new(inner: S, hub: &ChangeHub, clock: C, settings: CacheSettings) -> Self {
        let capacity = settings.max_entries.max(1);
        let state = Arc::new(State {
            points: Cache::new(capacity),
            lookups: Cache::new(capacity),
            stripes: Stripes::new(),
            generation: AtomicU64::new(0),
            epoch: AtomicU64::new(0),
            confirmed_at: AtomicI64::new(UNCONFIRMED),
            max_age_ms: i64::try_from(settings.max_age.as_millis()).unwrap_or(i64::MAX),
            applied: Mutex::new(None),
            clock,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            invalidations: AtomicU64::new(0),
            bypasses: AtomicU64::new(0),
        });
        let task = tokio::spawn(apply(Arc::clone(&state), hub.clone(), hub.subscribe()));
        Self {
            inner,
            cache: Some((state, Arc::new(Applier(task)))),
        }
    }

    /// `inner` without a cache (`cache.enabled = false`).
    pub fn disabled(inner: S) -> Self {
        Self { inner, cache: None }
    }

    /// Up to which change of the feed the cache has applied; `None` when
    /// it is off or its hub is not ready. A read here started after this
    /// returns no older state than that change left.
    pub fn applied(&self) -> Option<Cursor> {
        self.state()
            .and_then(|state| *state.applied.lock().unwrap_or_else(PoisonError::into_inner))
    }

    fn state(&self) -> Option<&State<C>> {
        self.cache.as_ref().map(|(state, _)| &**state)
    }

    /// After a write to `id` (whatever its outcome: a failed store call may
    /// still have committed), before its answer leaves. `after` is what the
    /// write left when it says so; any failure leaves it unknown.
    fn written(&self, id: PointId, after: After<'_>) {
        if let Some(state) = self.state() {
            state.invalidate(id, after);
        }
    }
}

impl<S: IntegrationPointService, C: Clock> IntegrationPointService for CachedService<S, C> {
    async fn create(
        &self,
        request: CreatePointRequest,
    ) -> Result<IntegrationPoint, CreatePointError> {
        let named = request.id;
        let created = self.inner.create(request).await;
        match (&created, named) {
            (Ok(point), _) => self.written(point.id(), After::Known(Some(point))),
            (Err(CreatePointError::Conflict(_)), Some(id)) => self.written(id, After::Refused),
            (Err(CreatePointError::Conflict(_)), None) => {}
            (Err(CreatePointError::Store(_)), Some(id)) => self.written(id, After::Unknown),
            // A generated id nobody can have asked for yet: only LOOKUP
            // answers (the code, the token) may have changed.
            (Err(CreatePointError::Store(_)), None) => {
                if let Some(state) = self.state() {
                    state.invalidate_lookups();
                }
            }
        }
        created
    }

    async fn get(&self, id: PointId) -> Result<IntegrationPoint, GetPointError> {
        // Every call of `inner` is boxed: its future holds the database
        // round trip's (kilobytes), which inline would make this future as
        // large even on a hit, and every layer of the HTTP stack that boxes
        // its inner future copies it. A hit skips that copy; a miss pays an
        // allocation beside its round trip.
        let Some(state) = self.state() else {
            return Box::pin(self.inner.get(id)).await;
        };
        let Some(epoch) = state.current() else {
            return Box::pin(self.inner.get(id)).await;
        };
        match state.points.get(&id) {
            Some(None) => {
                state.hit();
                return Err(GetPointError::NotFound);
            }
            Some(Some(packed)) => {
                if let Ok(point) = packed.unpack() {
                    state.hit();
                    return Ok(point);
                }
                // Packed from a valid point, so never here; the store decides.
            }
            None => {}
        }
        state.miss();
        let read = Box::pin(self.inner.get(id)).await;
        match &read {
            Ok(point) => state.fill_point(id, Some(point), epoch),
            Err(GetPointError::NotFound) => state.fill_point(id, None, epoch),
            Err(GetPointError::Store(_)) => {}
        }
        read
    }

    async fn list(&self, query: ListQuery) -> Result<Listing, ListPointsError> {
        self.inner.list(query).await
    }

    async fn patch(
        &self,
        id: PointId,
        patch: PatchPointRequest,
        if_match: Option<IfMatch>,
    ) -> Result<IntegrationPoint, PatchPointError> {
        let patched = self.inner.patch(id, patch, if_match).await;
        let after = match &patched {
            Ok(point) => After::Known(Some(point)),
            Err(PatchPointError::Store(_)) => After::Unknown,
            Err(_) => After::Refused,
        };
        self.written(id, after);
        patched
    }

    async fn delete(&self, id: PointId, if_match: Option<IfMatch>) -> Result<(), DeletePointError> {
        let deleted = self.inner.delete(id, if_match).await;
        let after = match deleted {
            Ok(()) => After::Known(None),
            Err(DeletePointError::Store(_)) => After::Unknown,
            Err(_) => After::Refused,
        };
        self.written(id, after);
        deleted
    }

    async fn lookup(&self, key: LookupKey) -> Result<Vec<PointId>, LookupError> {
        let Some(state) = self.state() else {
            return Box::pin(self.inner.lookup(key)).await;
        };
        // Boxed for the reason `get` gives.
        let Some(epoch) = state.current() else {
            return Box::pin(self.inner.lookup(key)).await;
        };
        if let Some(entry) = state.cached_lookup(&key) {
            state.hit();
            return if entry.ids.is_empty() {
                Err(LookupError::NoMatch)
            } else {
                Ok(entry.ids.to_vec())
            };
        }
        state.miss();
        let read = Box::pin(self.inner.lookup(key.clone())).await;
        match &read {
            Ok(ids) => state.fill_lookup(key, ids, epoch),
            Err(LookupError::NoMatch) => state.fill_lookup(key, &[], epoch),
            Err(LookupError::Store(_)) => {}
        }
        read
    }

    async fn rotate_token(
        &self,
        id: PointId,
        if_match: Option<IfMatch>,
    ) -> Result<IntegrationPoint, RotateTokenError> {
        let rotated = self.inner.rotate_token(id, if_match).await;
        let after = match &rotated {
            Ok(point) => After::Known(Some(point)),
            Err(RotateTokenError::Store(_)) => After::Unknown,
            Err(_) => After::Refused,
        };
        self.written(id, after);
        rotated
    }

    fn cache_stats(&self) -> Option<CacheStats> {
        self.state().map(State::stats)
    }
}

#[cfg(test)]
mod tests {
    use domain::integration_point::{
        Attributes, Code, Comment, IntegrationPoint, Opts, PointId, PointType, ScriptCode,
        Timestamp, Title, TokenLocal, TokenRemote, Url, Version,
    };

    use super::PackedPoint;

    /// A point with every text set, each distinct, `title` and `comment`
    /// as given.
    fn point(title: &str, comment: &str) -> IntegrationPoint {
        let attributes = Attributes {
            code: Code::new("ip-0000042").expect("code"),
            kind: PointType::new("telegram").expect("type"),
            token_remote: TokenRemote::new("00ea293c29f9dc30").expect("token_remote"),
            token_remote2: TokenRemote::new("").expect("token_remote2"),
            url: Url::new("https://hooks.example.com/telegram/42").expect("url"),
            recv_svcscriptcode: ScriptCode::new("recv_telegram").expect("recv"),
            recv_svcscriptcode_ws: ScriptCode::new("recv_ws_telegram").expect("recv_ws"),
            send_svcscriptcode: ScriptCode::new("send_telegram").expect("send"),
            send_svcscriptcode_ws: ScriptCode::new("send_ws_telegram").expect("send_ws"),
            opts: Opts {
                title: Title::new(title).expect("title"),
                comment: Comment::new(comment).expect("comment"),
                allow_files_api: true,
                issync: false,
            },
        };
        IntegrationPoint::new(
            PointId::from_uuid(uuid::Uuid::now_v7()),
            TokenLocal::new("82ddc7c68623726346a78371173e2f8d").expect("token_local"),
            attributes,
            Timestamp::from_millis(1_700_000_000_123).expect("created"),
            Timestamp::from_millis(1_700_000_456_789).expect("updated"),
            Version::new(7).expect("version"),
        )
    }

    #[test]
    fn a_packed_point_unpacks_to_the_point_it_was() {
        let cases = [
            point("Support bot — ünïcode ✓", "seeded row 42"),
            point("", ""),
            point("t", "a comment, then the title was empty"),
        ];
        for point in cases {
            let packed = PackedPoint::pack(&point).expect("packs");

            assert_eq!(packed.unpack().expect("unpacks"), point);
        }
    }

    #[test]
    fn a_cached_point_takes_at_most_half_the_slot_of_a_whole_point() {
        assert!(
            size_of::<Option<PackedPoint>>() * 2 <= size_of::<Option<IntegrationPoint>>(),
            "{} against {}",
            size_of::<Option<PackedPoint>>(),
            size_of::<Option<IntegrationPoint>>()
        );
    }
}
