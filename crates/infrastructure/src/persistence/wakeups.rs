//! [`ChangeSignal`]: tells a replica's change feed that changes may have been
//! recorded, from this process's own writes at once, and on PostgreSQL from
//! every writer's `NOTIFY`, which arrives after the write's commit and never
//! for a rollback.
//!
//! Who sends the `NOTIFY`: the trigger that records the change, in the
//! writing transaction, for any writer but this service. A notifying
//! transaction's commit queues for a lock that every notifying commit of the
//! cluster takes and holds through its WAL flush, so writers that notify
//! commit one at a time (migration `m20261129_000002` has the figures). The
//! service's own connections therefore set `point_changes.notify` to
//! `after_commit`, which the trigger honours, and this process notifies
//! once its writes have committed: one `SELECT pg_notify(…)` at a time, in
//! a transaction that writes nothing and so waits for no flush, standing for
//! every write that committed before it started. Under load one
//! notification thus covers many writes, and a quiet replica's write is
//! announced one round trip after its commit. The notifications go out on a
//! connection of their own: on the statements' pool they queued behind the
//! writes for a connection, which at 1,000 writes/s put the other replicas'
//! median delivery at 5-6 ms instead of about 1 (BENCHMARKS.md, "Change
//! feed").
//!
//! One listening connection per replica, opened from its own URL: LISTEN
//! needs a session, which a pooler in transaction mode (PgBouncer) does not
//! keep, so the listener may need to bypass the pooler the statements use.

use std::str::FromStr as _;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use domain::change_feed::{ChangeWakeups, Wakeup};
use sea_orm::sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};
use sea_orm::sqlx::{self, ConnectOptions as _};
use sea_orm::{ConnectionTrait as _, DbBackend, Statement};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use super::pool::ConnectionPool;

/// The channel the trigger notifies; the payload is the schema written.
const CHANNEL: &str = "point_changes";

/// The session setting by which a writer tells the trigger that it sends the
/// notification itself, after commit, and the value that says so.
pub(crate) const NOTIFY_SETTING: (&str, &str) = ("point_changes.notify", "after_commit");

/// What this process sends once its writes have committed: the trigger's
/// notification, on the connection's schema.
const NOTIFY_AFTER_COMMIT: &str = "SELECT pg_notify('point_changes', current_schema())";

/// The longest wait between attempts to reconnect a lost listener.
const MAX_RECONNECT_DELAY: Duration = Duration::from_secs(5);

const CHANGED: u8 = 1;
const LISTENING: u8 = 2;
const LOST: u8 = 4;

/// The wake-ups of one replica's change feed; clones share them.
#[derive(Debug, Clone)]
pub struct ChangeSignal {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    notify: Notify,
    /// The kinds of wake-up raised since the last [`ChangeWakeups::next`].
    pending: AtomicU8,
    listening: AtomicBool,
    /// On PostgreSQL: how this process tells the other replicas.
    broadcast: Option<Broadcast>,
}

/// The notifications this process owes the other replicas, the connection
/// they go out on, and the task that sends them.
#[derive(Debug)]
struct Broadcast {
    owed: Arc<Owed>,
    notifier: ConnectionPool,
    task: OnceLock<AbortOnDrop>,
}

/// How many writes asked for a notification, and how many of the first of
/// them one has covered; the sender waits on `wake`.
#[derive(Debug, Default)]
struct Owed {
    requested: AtomicU64,
    covered: AtomicU64,
    wake: Notify,
}

impl Owed {
    /// Sends one notification, standing for every request made before it,
    /// unless one sent since covers them all.
    async fn send(&self, pool: &ConnectionPool) {
        let requested = self.requested.load(Ordering::Acquire);
        if self.covered.load(Ordering::Acquire) >= requested {
            return;
        }
        let statement = Statement::from_string(DbBackend::Postgres, NOTIFY_AFTER_COMMIT);
        match pool.writes().execute_raw(statement).await {
            Ok(_) => {
                self.covered.fetch_max(requested, Ordering::AcqRel);
            }
            Err(error) => {
                // The other replicas find the change by their safety poll.
                tracing::warn!(error = %error, "could not notify other replicas of a change");
            }
        }
    }
}

#[derive(Debug)]
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl ChangeSignal {
    /// A signal that only this process raises, and says it hears every
    /// change: right for SQLite, where no other replica writes (a writer in
    /// another process is found by the feed's safety poll).
    pub(crate) fn new() -> Self {
        Self::with(None)
    }

    /// A signal for PostgreSQL, whose writes this process also announces to
    /// the other replicas, on `notifier` (a pool of one connection that
    /// nothing else uses), once [`ChangeSignal::start_broadcast`] has run.
    pub(crate) fn broadcasting(notifier: ConnectionPool) -> Self {
        Self::with(Some(Broadcast {
            owed: Arc::default(),
            notifier,
            task: OnceLock::new(),
        }))
    }

    fn with(broadcast: Option<Broadcast>) -> Self {
        Self {
            inner: Arc::new(Inner {
                notify: Notify::new(),
                pending: AtomicU8::new(0),
                listening: AtomicBool::new(true),
                broadcast,
            }),
        }
    }

    /// This process committed a write that recorded changes: its feed looks
    /// now, and the other replicas' feeds are told.
    pub(crate) fn announce(&self) {
        self.raise(CHANGED);
        if let Some(broadcast) = &self.inner.broadcast {
            broadcast.owed.requested.fetch_add(1, Ordering::AcqRel);
            broadcast.owed.wake.notify_one();
        }
    }

    /// This process's feed looks now (its store may have become readable,
    /// or another writer's change was heard); nobody else is told.
    pub(crate) fn look(&self) {
        self.raise(CHANGED);
    }

    /// Starts the task that notifies the other replicas of this process's
    /// writes; once, however often it is called.
    pub(crate) fn start_broadcast(&self) {
        let Some(broadcast) = &self.inner.broadcast else {
            return;
        };
        broadcast.task.get_or_init(|| {
            let owed = Arc::clone(&broadcast.owed);
            let pool = broadcast.notifier.clone();
            // The task holds no reference to the signal: it stops when the
            // last clone of the signal is dropped.
            AbortOnDrop(tokio::spawn(async move {
                loop {
                    owed.wake.notified().await;
                    owed.send(&pool).await;
                }
            }))
        });
    }

    /// Sends the notification still owed for this process's writes, if any,
    /// without waiting for the task, then closes the notifier's connection:
    /// at shutdown, once the last write has committed.
    pub(crate) async fn close(&self) {
        if let Some(broadcast) = &self.inner.broadcast {
            broadcast.owed.send(&broadcast.notifier).await;
            broadcast.notifier.close().await;
        }
    }

    fn raise(&self, kind: u8) {
        self.inner.pending.fetch_or(kind, Ordering::AcqRel);
        // Stores a permit when nobody waits, so the next wait returns at once.
        self.inner.notify.notify_one();
    }

    fn set_listening(&self, listening: bool) {
        let was = self.inner.listening.swap(listening, Ordering::AcqRel);
        if was != listening {
            self.raise(if listening { LISTENING } else { LOST });
        }
    }
}

impl ChangeWakeups for ChangeSignal {
    async fn next(&self) -> Wakeup {
        loop {
            let pending = self.inner.pending.swap(0, Ordering::AcqRel);
            // A loss outranks a reconnection, which outranks a change: each
            // asks the feed to look, and the first two change what it reports.
            if pending & LOST != 0 && !self.listening() {
                return Wakeup::Lost;
            }
            if pending & LISTENING != 0 {
                return Wakeup::Listening;
            }
            if pending != 0 {
                return Wakeup::Changed;
            }
            self.inner.notify.notified().await;
        }
    }

    fn listening(&self) -> bool {
        self.inner.listening.load(Ordering::Acquire)
    }
}

/// The task that listens for other writers' changes; it stops when dropped.
#[derive(Debug)]
pub struct ChangeListener {
    task: JoinHandle<()>,
}

impl Drop for ChangeListener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts listening for changes on PostgreSQL at `url`, in `schema` (`None`:
/// the connection's default), raising `signal` for each; reconnects when the
/// connection is lost, and raises a re-check each time it is back.
///
/// # Errors
/// The parser's error when `url` is not a PostgreSQL URL.
pub(crate) fn listen(
    url: &str,
    schema: Option<&str>,
    signal: ChangeSignal,
) -> Result<ChangeListener, sqlx::Error> {
    let mut options = PgConnectOptions::from_str(url)?.disable_statement_logging();
    if let Some(schema) = schema {
        options = options.options([("search_path", schema)]);
    }
    // Lost until the first connection proves otherwise.
    signal.inner.listening.store(false, Ordering::Release);
    let task = tokio::spawn(async move {
        let mut delay = Duration::from_millis(100);
        loop {
            match listen_once(&options, &signal).await {
                Ok(()) => delay = Duration::from_millis(100),
                Err(error) => {
                    tracing::warn!(error = %error, "change listener lost its connection; reconnecting");
                }
            }
            signal.set_listening(false);
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(MAX_RECONNECT_DELAY);
        }
    });
    Ok(ChangeListener { task })
}

/// Listens on one connection until it is lost.
async fn listen_once(options: &PgConnectOptions, signal: &ChangeSignal) -> Result<(), sqlx::Error> {
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .min_connections(0)
        .max_lifetime(None)
        .idle_timeout(None)
        .connect_lazy_with(options.clone());
    let mut listener = PgListener::connect_with(&pool).await?;
    listener.eager_reconnect(false);
    // NULL while the configured schema does not exist yet (the service
    // creates it when it first reaches the database): try again later.
    let schema: Option<String> = sqlx::query_scalar("SELECT current_schema()::text")
        .fetch_one(&mut listener)
        .await?;
    let Some(schema) = schema else {
        return Err(sqlx::Error::Protocol(
            "the configured schema does not exist yet".to_owned(),
        ));
    };
    listener.listen(CHANNEL).await?;
    tracing::info!(schema = %schema, "change listener connected");
    signal.set_listening(true);
    // Changes committed while the listener was away were announced to
    // nobody: the feed looks now.
    signal.raise(LISTENING);
    loop {
        match listener.try_recv().await? {
            // A wake-up for this replica's feed only: passing it on would
            // notify the replica that sent it, and every replica would
            // notify every other for ever (thousands of notifications a
            // second once a single write had started it).
            Some(notification) if notification.payload() == schema => signal.look(),
            Some(_) => {}
            None => return Ok(()),
        }
    }
}
