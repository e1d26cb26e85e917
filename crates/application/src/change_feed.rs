//! The change feed's use cases: reading changes (with a long poll), watching
//! them, and the per-replica fan-out and retention behind both.
//!
//! One [`ChangeHub`] per replica follows the [`ChangeLog`]: woken by the
//! store's wake-ups (and a slow safety poll), it reads each new change once
//! and hands it to every subscriber through a broadcast channel, so a
//! thousand watchers cost one database read per batch of changes, not a
//! thousand. A watch first catches up from the log on its own, then follows
//! the hub; a watcher that falls too far behind the hub drops back to the
//! log, so no change is ever skipped.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use domain::change_feed::{
    Change, ChangeFeedService, ChangeLog, ChangePage, ChangeWakeups, ChangeWatch, ChangesRequest,
    Cursor, FeedPage, FeedProgress, FeedRevision, ReadChangesError, Wakeup, WatchError,
};
use domain::integration_point::{Clock, StoreError, Timestamp};

/// How long a reader waits for a hub that has not read the store's head
/// yet (a replica that has just reached its database) before answering that
/// the store is unavailable.
const READY_WAIT: Duration = Duration::from_secs(5);

/// The feed's use cases before its hub has read the store's head.
#[derive(Debug, thiserror::Error)]
#[error("the change feed has not reached its store yet")]
struct NotReady;

fn not_ready() -> StoreError {
    StoreError::Unavailable(Box::new(NotReady))
}
use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;

/// How the fan-out of one replica behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HubSettings {
    /// How often the hub looks for changes when nothing woke it: the safety
    /// net for a lost listener, and how writes of other processes reach a
    /// SQLite replica.
    pub poll_interval: Duration,
    /// How many changes one read of the log takes at most.
    pub batch: u64,
    /// How many changes a subscriber may fall behind the hub before it must
    /// catch up from the log again.
    pub capacity: usize,
}

impl Default for HubSettings {
    fn default() -> Self {
        Self {
            poll_interval: Duration::from_secs(1),
            batch: 500,
            capacity: 4096,
        }
    }
}

/// What the hub hands its subscribers, in feed order.
#[derive(Debug, Clone)]
pub enum HubEvent {
    /// The next change.
    Change(Arc<Change>),
    /// Retention dropped changes the hub had not read yet (it was cut off
    /// from the store for longer than the retention): everything up to
    /// `horizon` is lost to whoever had not seen it.
    Skipped {
        /// Changes up to here may have been dropped unseen.
        horizon: Cursor,
    },
}

/// A subscription to a replica's feed: every change the hub reads after the
/// subscription, and its progress.
///
/// This is the in-process interface for anything that keeps a copy of the
/// points (a read cache): subscribe, wait until the hub is
/// [ready](ChangeHub::ready), load the copy, then apply the events
/// whose cursor is above the copy's revision. `progress` says up to which
/// cursor the hub has read and when, and whether the replica is listening;
/// when `events` reports `Lagged`, or `progress.listening` is false for
/// longer than the copy may be stale, the copy must be rebuilt or
/// distrusted.
pub struct HubSubscription {
    /// The changes, in order.
    pub events: broadcast::Receiver<HubEvent>,
    /// How far the hub has read; closed when the hub stops.
    pub progress: watch::Receiver<FeedProgress>,
}

/// The fan-out of one replica's feed. Clones share it; the reading task
/// stops with [`ChangeHub::stop`] or when the last clone is dropped.
#[derive(Clone)]
pub struct ChangeHub {
    events: broadcast::Sender<HubEvent>,
    progress: watch::Receiver<FeedProgress>,
    ready: watch::Receiver<bool>,
    task: Arc<Task>,
}

/// The hub's reading task, aborted when the last hub handle goes.
struct Task(JoinHandle<()>);

impl Drop for Task {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl std::fmt::Debug for ChangeHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChangeHub")
            .field("progress", &*self.progress.borrow())
            .field("subscribers", &self.events.receiver_count())
            .finish_non_exhaustive()
    }
}

impl ChangeHub {
    /// Starts following `log`, woken by `wakeups`. Needs a tokio runtime.
    ///
    /// The hub first reads the log's head, trying again until the store
    /// answers (a replica may start before its database); until then it is
    /// not [ready](Self::is_ready), and the feed's use cases answer that the
    /// store is unavailable. Every change after the head reaches whoever
    /// subscribed, so a subscriber that reads anything from the store once
    /// the hub is ready misses no change committed after that read.
    pub fn start<L, W, C>(log: L, wakeups: W, clock: C, settings: HubSettings) -> Self
    where
        L: ChangeLog,
        W: ChangeWakeups,
        C: Clock,
    {
        let (events, _) = broadcast::channel(settings.capacity.max(1));
        let (progress_tx, progress) = watch::channel(FeedProgress {
            cursor: Cursor::ORIGIN,
            at: clock.now(),
            listening: wakeups.listening(),
        });
        let (ready_tx, ready) = watch::channel(false);
        let task = tokio::spawn(follow(
            log,
            wakeups,
            clock,
            events.clone(),
            progress_tx,
            ready_tx,
            settings,
        ));
        Self {
            events,
            progress,
            ready,
            task: Arc::new(Task(task)),
        }
    }

    /// Whether the hub has read the log's head and hands on what follows.
    pub fn is_ready(&self) -> bool {
        *self.ready.borrow()
    }

    /// Waits until the hub [is ready](Self::is_ready); returns at once if it
    /// stopped before.
    pub async fn ready(&self) {
        let mut ready = self.ready.clone();
        let _ = ready.wait_for(|ready| *ready).await;
    }

    /// Subscribes to every change the hub reads from now on, and to its
    /// progress.
    pub fn subscribe(&self) -> HubSubscription {
        let mut progress = self.progress.clone();
        progress.mark_unchanged();
        HubSubscription {
            events: self.events.subscribe(),
            progress,
        }
    }

    /// How far the hub has read.
    pub fn progress(&self) -> FeedProgress {
        *self.progress.borrow()
    }

    /// Stops reading; subscribers see the progress channel close, and
    /// watches end with [`WatchError::Stopped`].
    pub fn stop(&self) {
        self.task.0.abort();
    }
}

/// The hub's task: read what is new whenever woken, hand it on, report.
async fn follow<L: ChangeLog, W: ChangeWakeups, C: Clock>(
    log: L,
    wakeups: W,
    clock: C,
    events: broadcast::Sender<HubEvent>,
    progress: watch::Sender<FeedProgress>,
    ready: watch::Sender<bool>,
    settings: HubSettings,
) {
    let mut cursor = loop {
        match log.head().await {
            Ok(head) => break head,
            Err(error) => {
                tracing::debug!(error = %error, "change feed waits for its store");
                // The store's wake-ups say when it may answer; the poll
                // covers one that never says.
                let _ = tokio::time::timeout(settings.poll_interval, wakeups.next()).await;
            }
        }
    };
    progress.send_replace(FeedProgress {
        cursor,
        at: clock.now(),
        listening: wakeups.listening(),
    });
    ready.send_replace(true);
    let mut woken = Some(Wakeup::Listening);
    loop {
        match woken {
            Some(Wakeup::Lost) => {
                tracing::warn!("change listener lost: the change feed polls until it is back");
            }
            Some(Wakeup::Listening | Wakeup::Changed) | None => {}
        }
        let mut caught_up = true;
        let mut withheld_since = None;
        loop {
            match log.read(Some(cursor), settings.batch).await {
                Ok(ChangePage {
                    changes,
                    next,
                    withheld_since: withheld,
                }) => {
                    withheld_since = withheld;
                    let full = changes.len() as u64 >= settings.batch;
                    for change in changes {
                        // No subscriber is not an error: the next may come.
                        let _ = events.send(HubEvent::Change(Arc::new(change)));
                    }
                    cursor = next;
                    if !full {
                        break;
                    }
                }
                Err(ReadChangesError::Gone { horizon }) => {
                    tracing::error!(
                        %horizon,
                        "change feed fell behind retention: changes were dropped unseen"
                    );
                    let _ = events.send(HubEvent::Skipped { horizon });
                    cursor = horizon;
                }
                Err(ReadChangesError::Store(error)) => {
                    tracing::warn!(error = %error, "change feed cannot read changes; retrying");
                    caught_up = false;
                    break;
                }
            }
        }
        if caught_up {
            // Caught up with what the store can hand out; writes committed
            // behind an older one still in flight are not in it, so this
            // replica is current only as of the oldest of them.
            let now = clock.now();
            progress.send_replace(FeedProgress {
                cursor,
                at: withheld_since.map_or(now, |withheld| withheld.min(now)),
                listening: wakeups.listening(),
            });
        }
        woken = tokio::time::timeout(settings.poll_interval, wakeups.next())
            .await
            .ok();
    }
}

/// The canonical implementation of [`ChangeFeedService`], over a log and
/// the replica's hub.
#[derive(Debug, Clone)]
pub struct FeedService<L> {
    log: L,
    hub: ChangeHub,
    batch: u64,
}

impl<L: ChangeLog> FeedService<L> {
    /// The use cases over `log`, fed by `hub`; watches catch up `batch`
    /// changes per read.
    pub fn new(log: L, hub: ChangeHub, batch: u64) -> Self {
        Self {
            log,
            hub,
            batch: batch.max(1),
        }
    }
}

impl<L: ChangeLog> FeedService<L> {
    /// Waits a little for the hub to be ready.
    async fn ready(&self) -> Result<(), StoreError> {
        tokio::time::timeout(READY_WAIT, self.hub.ready())
            .await
            .map_err(|_| not_ready())?;
        if self.hub.is_ready() {
            Ok(())
        } else {
            Err(not_ready())
        }
    }
}

impl<L: ChangeLog> ChangeFeedService for FeedService<L> {
    type Watch = Watch<L>;

    #[tracing::instrument(level = "debug", skip_all)]
    async fn changes(&self, request: ChangesRequest) -> Result<FeedPage, ReadChangesError> {
        self.ready().await?;
        let deadline = tokio::time::Instant::now() + request.wait();
        // Subscribed before the read, so a change the read just missed
        // still wakes the wait below.
        let mut progress = self.hub.subscribe().progress;
        let mut after = request.since().map(FeedRevision::cursor);
        let mut since = request.since().cloned().unwrap_or_default();
        loop {
            let page = self.log.read(after, request.limit()).await?;
            let read = page.changes.len();
            let changes: Vec<_> = page
                .changes
                .into_iter()
                .filter(|change| !since.skips(change))
                .collect();
            since = since.advanced_to(page.next);
            after = Some(since.cursor());
            if !changes.is_empty() {
                return Ok(FeedPage {
                    changes,
                    next: since,
                });
            }
            if read > 0 {
                // Every change read was one the list reflected: read on.
                continue;
            }
            // Wait until the hub has read past what this read found.
            loop {
                match tokio::time::timeout_at(deadline, progress.changed()).await {
                    Ok(Ok(())) if progress.borrow_and_update().cursor > since.cursor() => break,
                    Ok(Ok(())) => {}
                    // Timed out, or the hub stopped: nothing came.
                    Ok(Err(_)) | Err(_) => {
                        return Ok(FeedPage {
                            changes,
                            next: since,
                        });
                    }
                }
            }
        }
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn watch(&self, since: Option<FeedRevision>) -> Result<Watch<L>, ReadChangesError> {
        self.ready().await?;
        let subscription = self.hub.subscribe();
        // The first read checks `since` against retention before the watch
        // is handed out (a stream that has started cannot answer 410).
        let first = self
            .log
            .read(since.as_ref().map(FeedRevision::cursor), self.batch)
            .await?;
        let live = (first.changes.len() as u64) < self.batch;
        let since = since.unwrap_or_default();
        let pending = first
            .changes
            .into_iter()
            .filter(|change| !since.skips(change))
            .map(Arc::new)
            .collect();
        Ok(Watch {
            log: self.log.clone(),
            hub: self.hub.clone(),
            subscription,
            last: since.advanced_to(first.next),
            pending,
            live,
            batch: self.batch,
        })
    }

    fn listening(&self) -> bool {
        self.hub.progress().listening
    }
}

/// A watch: catches up from the log, then follows the hub.
///
/// Gapless: the subscription to the hub is taken before the log is read, so
/// every change the hub hands on after the catch-up's last read is in it,
/// and the ones the catch-up already delivered are recognised by cursor.
///
/// A catch-up read that finds the store unavailable (the pool busy after the
/// watch fell behind the hub, a short outage) is tried again, after 50 ms
/// and then twice as long each time up to 1 s, for as long as it takes: the
/// stream stays open, with its heartbeats, and goes on where it stopped.
/// Any other store failure ends the watch with [`WatchError::Store`]: it is
/// not known to mend by waiting, and the client that reconnects with its
/// last event's id loses nothing. The watch ends with
/// [`WatchError::Stopped`] as soon as the hub stops, retrying or not.
pub struct Watch<L> {
    log: L,
    hub: ChangeHub,
    subscription: HubSubscription,
    /// The cursor of the last change delivered (or queued in `pending`, or
    /// skipped), with the changes after it that the watch's list reflected.
    last: FeedRevision,
    pending: VecDeque<Arc<Change>>,
    /// Whether the log has been read up to the hub's position.
    live: bool,
    batch: u64,
}

impl<L: ChangeLog> ChangeWatch for Watch<L> {
    async fn next(&mut self) -> Result<Arc<Change>, WatchError> {
        loop {
            if let Some(change) = self.pending.pop_front() {
                return Ok(change);
            }
            if !self.live {
                // State changes only after the read completes: a dropped
                // future loses nothing.
                let page = tokio::select! {
                    page = read_patiently(&self.log, self.last.cursor(), self.batch) => page?,
                    () = hub_stopped(&mut self.subscription.progress) => {
                        return Err(WatchError::Stopped);
                    }
                };
                self.live = (page.changes.len() as u64) < self.batch;
                let last = &self.last;
                self.pending.extend(
                    page.changes
                        .into_iter()
                        .filter(|change| !last.skips(change))
                        .map(Arc::new),
                );
                self.last = self.last.advanced_to(page.next);
                continue;
            }
            let event = tokio::select! {
                event = self.subscription.events.recv() => event,
                stopped = self.subscription.progress.changed() => match stopped {
                    Ok(()) => continue,
                    Err(_) => return Err(WatchError::Stopped),
                },
            };
            match event {
                Ok(HubEvent::Change(change)) if change.cursor() > self.last.cursor() => {
                    let reflected = self.last.skips(&change);
                    self.last = self.last.advanced_to(change.cursor());
                    if !reflected {
                        return Ok(change);
                    }
                }
                Ok(HubEvent::Change(_)) => {}
                Ok(HubEvent::Skipped { horizon }) if horizon > self.last.cursor() => {
                    return Err(WatchError::Gone { horizon });
                }
                Ok(HubEvent::Skipped { .. }) => {}
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    tracing::debug!(
                        missed,
                        "watch fell behind the hub; catching up from the log"
                    );
                    self.subscription = self.hub.subscribe();
                    self.live = false;
                }
                Err(broadcast::error::RecvError::Closed) => return Err(WatchError::Stopped),
            }
        }
    }
}

/// The first pause of a watch whose catch-up read found the store
/// unavailable, doubled after each further failure up to
/// [`WATCH_RETRY_MAX`].
const WATCH_RETRY_MIN: Duration = Duration::from_millis(50);

/// The longest pause between a watch's attempts to read the log.
const WATCH_RETRY_MAX: Duration = Duration::from_secs(1);

/// One read of the log after `after`, tried again for as long as the store
/// is unavailable (a busy pool, a short outage): a watch that ended then
/// would send every one of its clients back to reconnect at once, into the
/// same outage. Any other failure is answered as it is.
async fn read_patiently<L: ChangeLog>(
    log: &L,
    after: Cursor,
    limit: u64,
) -> Result<ChangePage, ReadChangesError> {
    let mut pause = WATCH_RETRY_MIN;
    loop {
        match log.read(Some(after), limit).await {
            Err(ReadChangesError::Store(StoreError::Unavailable(error))) => {
                tracing::debug!(error = %error, ?pause, "watch cannot read the log; retrying");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(WATCH_RETRY_MAX);
            }
            answer => return answer,
        }
    }
}

/// Returns once the hub has stopped (its progress channel closed).
async fn hub_stopped(progress: &mut watch::Receiver<FeedProgress>) {
    while progress.changed().await.is_ok() {}
}

/// The retention task of one replica; it stops when dropped.
#[derive(Debug)]
pub struct Retention(JoinHandle<()>);

impl Drop for Retention {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Retention {
    /// Every `interval`, drops the changes recorded more than `retention`
    /// ago, `batch` at a time with a pause between batches so that a large
    /// backlog never holds the store for long. Several replicas may run it
    /// at once: the log's `expire` is safe to race.
    pub fn start<L: ChangeLog, C: Clock>(
        log: L,
        clock: C,
        retention: Duration,
        interval: Duration,
        batch: u64,
    ) -> Self {
        let retention_ms = i64::try_from(retention.as_millis()).unwrap_or(i64::MAX);
        Self(tokio::spawn(async move {
            loop {
                let now = clock.now().as_millis();
                if let Ok(cutoff) = Timestamp::from_millis(now.saturating_sub(retention_ms)) {
                    expire_all(&log, cutoff, batch).await;
                }
                tokio::time::sleep(interval).await;
            }
        }))
    }
}

/// Drops every change before `cutoff`, in batches.
async fn expire_all<L: ChangeLog>(log: &L, cutoff: Timestamp, batch: u64) {
    const PAUSE: Duration = Duration::from_millis(50);
    let mut total = 0;
    loop {
        match log.expire(cutoff, batch).await {
            Ok(dropped) => {
                total += dropped;
                if dropped < batch {
                    break;
                }
                tokio::time::sleep(PAUSE).await;
            }
            Err(error) => {
                tracing::warn!(error = %error, "cannot drop old changes; retrying later");
                break;
            }
        }
    }
    if total > 0 {
        tracing::info!(dropped = total, "dropped changes past retention");
    }
}
