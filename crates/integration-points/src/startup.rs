//! Wiring: the database, the use cases and the HTTP server, built from settings.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context as _;
use api::{ApiConfig, HttpServer};
use application::{
    CacheSettings, CachedService, ChangeHub, FeedService, HubSettings, Retention, Service,
};
use infrastructure::{
    ChangeListener, Database, OsRandomTokens, SeaOrmChangeLog, SeaOrmHealthCheck,
    SeaOrmIntegrationPointRepository, SystemClock, UuidV7Ids,
};
use tokio::time::Instant;

use crate::access;
use crate::configuration::Settings;

/// The production service: use cases over the sea-orm repository, with
/// reads from memory when `cache.enabled`.
pub type ProductionService = CachedService<
    Service<SeaOrmIntegrationPointRepository, SystemClock, UuidV7Ids, OsRandomTokens>,
    SystemClock,
>;

/// The production change feed: its use cases over the sea-orm change log.
pub type ProductionFeed = FeedService<SeaOrmChangeLog>;

/// How often retention looks for changes to drop, and how many one statement
/// drops: small batches keep each delete short beside live traffic.
const RETENTION_INTERVAL: Duration = Duration::from_secs(60);
const RETENTION_BATCH: u64 = 1000;

/// The change feed of one replica and the tasks behind it, which run while
/// it lives.
pub struct Feed {
    /// The use cases the API serves.
    pub service: ProductionFeed,
    hub: ChangeHub,
    _listener: Option<ChangeListener>,
    _retention: Retention,
}

impl Feed {
    /// Starts the feed of `db`: its listener (PostgreSQL), fan-out and
    /// retention, which reach the database on their own once it is up.
    ///
    /// # Errors
    /// When the feed's settings are invalid.
    pub fn start(db: &Database, settings: &Settings) -> anyhow::Result<Self> {
        let listener = db
            .listen_for_changes(settings.feed.listen_url(&settings.database))
            .context("invalid feed.listen_url")?;
        let log = SeaOrmChangeLog::new(db);
        let hub_settings = HubSettings {
            poll_interval: Duration::from_millis(settings.feed.poll_interval_ms),
            ..HubSettings::default()
        };
        let hub = ChangeHub::start(log.clone(), db.change_signal(), SystemClock, hub_settings);
        let retention = Retention::start(
            log.clone(),
            SystemClock,
            settings.feed.retention()?,
            RETENTION_INTERVAL,
            RETENTION_BATCH,
        );
        Ok(Self {
            service: FeedService::new(log, hub.clone(), hub_settings.batch),
            hub,
            _listener: listener,
            _retention: retention,
        })
    }
}

/// How long closing the pool may take at shutdown. Closing waits for every
/// connection to come back, and one stuck on a dead network never would.
const POOL_CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// The wait before the second attempt to reach the database at start-up;
/// each later wait doubles, up to [`MAX_RETRY_DELAY`].
const FIRST_RETRY_DELAY: Duration = Duration::from_millis(250);

/// The longest wait between two attempts to reach the database at start-up,
/// and the shortest time between two log lines about failed attempts.
const MAX_RETRY_DELAY: Duration = Duration::from_secs(5);

/// How the process was asked to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// SIGTERM, what orchestrators send: drain for `server.shutdown_delay_ms`
    /// first, while load balancers stop routing here.
    Drain,
    /// SIGINT (Ctrl-C), or a test: stop accepting at once.
    Now,
}

/// A built service, bound to its port and serving once started.
pub struct Application {
    server: HttpServer,
    db: Database,
    feed: Feed,
    startup: Startup,
    shutdown_timeout: Duration,
    shutdown_delay: Duration,
}

/// What reaching the database at start-up needs.
struct Startup {
    auto_migrate: bool,
    /// `None` to try for ever.
    timeout: Option<Duration>,
    /// The database URL without its password, for the log.
    safe_url: String,
}

impl Application {
    /// Checks the settings, wires the use cases and binds the listener, without
    /// touching the database: [`Self::run_until`] connects (and migrates) while
    /// it serves. Port 0 binds a free port; see [`Self::port`].
    ///
    /// # Errors
    /// Any start-up step that fails, with the step named: invalid database
    /// settings, a port that cannot be bound, and first of all API keys
    /// missing on an address other than loopback (contract §6).
    pub async fn build(settings: &Settings) -> anyhow::Result<Self> {
        access::check_exposure(&settings.server.host, settings.auth.access())?;
        let db_settings = &settings.database;
        let safe_url = infrastructure::redact_url_password(&db_settings.url);
        let db = Database::new(&db_settings.to_connection_settings())
            .with_context(|| format!("cannot use the database at {safe_url}"))?;
        let feed = Feed::start(&db, settings)?;
        let service = service_over(&db, &feed, settings)?;
        // Readiness waits on the database no longer than a request would.
        let health = SeaOrmHealthCheck::new(
            db.clone(),
            Duration::from_millis(db_settings.acquire_timeout_ms),
        );
        let address = format!("{}:{}", settings.server.host, settings.server.port);
        let server = HttpServer::bind(
            &address,
            service,
            feed.service.clone(),
            health,
            api_config(settings),
        )
        .await
        .with_context(|| format!("failed to listen on {address}"))?;
        tracing::info!(address = %server.local_addr(), "listening");
        Ok(Self {
            server,
            db,
            feed,
            startup: Startup {
                auto_migrate: db_settings.auto_migrate,
                timeout: Some(Duration::from_millis(db_settings.startup_timeout_ms))
                    .filter(|timeout| !timeout.is_zero()),
                safe_url,
            },
            shutdown_timeout: Duration::from_millis(settings.server.shutdown_timeout_ms),
            shutdown_delay: Duration::from_millis(settings.server.shutdown_delay_ms),
        })
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.local_addr().port()
    }

    /// Serves until `shutdown` completes, and meanwhile connects to the
    /// database (migrating it when configured to), trying again with growing
    /// delays while it cannot; until then requests that need the database
    /// answer 503. On [`Stop::Drain`] it drains for the configured delay
    /// first; then it stops accepting connections, lets in-flight requests
    /// finish for at most the configured time, and closes the database pool.
    ///
    /// # Errors
    /// When the database could not be reached within
    /// `database.startup_timeout_ms` or its migrations failed (the server
    /// then stops at once), the server fails, or the pool does not close in
    /// time.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = Stop> + Send,
    ) -> anyhow::Result<()> {
        let Self {
            server,
            db,
            feed,
            startup,
            shutdown_timeout,
            shutdown_delay,
        } = self;
        let mut failed = None;
        let stop = async {
            let connected = async {
                match startup.connect(&db).await {
                    // Serving goes on until the shutdown signal.
                    Ok(()) => std::future::pending().await,
                    Err(error) => error,
                }
            };
            let delay = tokio::select! {
                stop = shutdown => match stop {
                    Stop::Drain => shutdown_delay,
                    Stop::Now => Duration::ZERO,
                },
                error = connected => {
                    failed = Some(error);
                    Duration::ZERO
                }
            };
            // Event streams and long polls never end on their own: stopping
            // the feed ends them, so that their clients reconnect elsewhere
            // and the graceful shutdown need not wait its whole timeout.
            feed.hub.stop();
            delay
        };
        let served = server
            .run_until(stop, shutdown_timeout)
            .await
            .context("the HTTP server failed");
        // Closed explicitly, whatever the server's fate: PostgreSQL then sees
        // each session end cleanly instead of a connection reset, and SQLite
        // checkpoints its write-ahead log.
        let closed = match tokio::time::timeout(POOL_CLOSE_TIMEOUT, db.close()).await {
            Ok(()) => Ok(()),
            Err(_) => Err(anyhow::anyhow!(
                "the database pool did not close within {POOL_CLOSE_TIMEOUT:?}"
            )),
        };
        if closed.is_ok() {
            tracing::info!("database connections closed");
        }
        match failed {
            Some(error) => Err(error),
            None => served.and(closed),
        }
    }
}

/// Why one attempt to reach the database failed.
enum AttemptError {
    /// The database could not be reached, or was lost or busy: try again.
    Transient(anyhow::Error),
    /// The database answered, and what it said will not change: give up.
    Permanent(anyhow::Error),
}

impl Startup {
    /// Opens and migrates `db`, trying again after each transient failure,
    /// until it succeeds or the start-up timeout passes; then lets the
    /// repository's statements through.
    async fn connect(&self, db: &Database) -> anyhow::Result<()> {
        let deadline = self.timeout.map(|timeout| Instant::now() + timeout);
        let mut delay = FIRST_RETRY_DELAY;
        let mut failures: u64 = 0;
        let mut last_error = None;
        let mut last_logged: Option<Instant> = None;
        loop {
            let attempt = self.attempt(db);
            let outcome = match deadline {
                Some(deadline) => match tokio::time::timeout_at(deadline, attempt).await {
                    Ok(outcome) => outcome,
                    Err(_) => {
                        let error = last_error.unwrap_or_else(|| {
                            anyhow::anyhow!("the database did not answer in time")
                        });
                        return Err(self.give_up(error, failures));
                    }
                },
                None => attempt.await,
            };
            let error = match outcome {
                Ok(()) => {
                    db.admit_statements();
                    tracing::info!(database = %self.safe_url, "database ready");
                    return Ok(());
                }
                Err(AttemptError::Permanent(error)) => return Err(error),
                Err(AttemptError::Transient(error)) => error,
            };
            failures += 1;
            let now = Instant::now();
            if deadline.is_some_and(|deadline| now >= deadline) {
                return Err(self.give_up(error, failures));
            }
            // One line per interval at most: a database that stays down for
            // an hour must not flood the log.
            if last_logged.is_none_or(|logged| now - logged >= MAX_RETRY_DELAY) {
                tracing::warn!(
                    database = %self.safe_url,
                    failures,
                    retry_in_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                    error = format!("{error:#}"),
                    "the database is not available yet; serving 503 until it is"
                );
                last_logged = Some(now);
            }
            last_error = Some(error);
            let wait = deadline.map_or(delay, |deadline| delay.min(deadline - now));
            tokio::time::sleep(wait).await;
            delay = (delay * 2).min(MAX_RETRY_DELAY);
        }
    }

    /// The error `serve` exits with when the start-up timeout has passed.
    fn give_up(&self, last_error: anyhow::Error, failures: u64) -> anyhow::Error {
        let timeout = self.timeout.unwrap_or_default();
        last_error.context(format!(
            "gave up on the database at {} after {} ms (database.startup_timeout_ms) \
             and {failures} failed attempt(s)",
            self.safe_url,
            timeout.as_millis()
        ))
    }

    /// One attempt: open the database, then migrate it when configured to.
    async fn attempt(&self, db: &Database) -> Result<(), AttemptError> {
        db.open()
            .await
            .map_err(|error| AttemptError::Transient(error.into()))?;
        if self.auto_migrate {
            infrastructure::migrate(db).await.map_err(|error| {
                let transient = infrastructure::is_transient(&error);
                let error =
                    anyhow::Error::new(error).context("failed to apply database migrations");
                if transient {
                    AttemptError::Transient(error)
                } else {
                    AttemptError::Permanent(error)
                }
            })?;
        }
        Ok(())
    }
}

/// The API's settings.
pub fn api_config(settings: &Settings) -> ApiConfig {
    ApiConfig {
        max_limit: settings.list.max_limit,
        exact_count_max: settings.list.exact_count_max,
        body_limit: settings.http.body_limit,
        query_limit: settings.http.query_limit,
        request_timeout: Duration::from_millis(settings.server.request_timeout_ms),
        header_read_timeout: Duration::from_millis(settings.server.header_read_timeout_ms),
        access: settings.auth.access().clone(),
        cors: settings.http.cors.origins().clone(),
    }
}

/// The use cases and the change feed over the database `settings` name,
/// without connecting to it: what describing the API needs.
///
/// # Errors
/// When the database or feed settings are invalid.
pub fn build_service(settings: &Settings) -> anyhow::Result<(ProductionService, Feed)> {
    let db = Database::new(&settings.database.to_connection_settings())
        .context("invalid database settings")?;
    let feed = Feed::start(&db, settings)?;
    Ok((service_over(&db, &feed, settings)?, feed))
}

/// The use cases over the repository on `db`, behind a cache that `feed`
/// keeps coherent when the settings turn it on.
///
/// # Errors
/// When the operating system cannot provide randomness for tokens.
fn service_over(
    db: &Database,
    feed: &Feed,
    settings: &Settings,
) -> anyhow::Result<ProductionService> {
    let tokens =
        OsRandomTokens::new().context("the operating system's random generator is unavailable")?;
    let service = Service::new(
        SeaOrmIntegrationPointRepository::new(db),
        SystemClock,
        UuidV7Ids,
        tokens,
    );
    if !settings.cache.enabled {
        return Ok(CachedService::disabled(service));
    }
    // An idle feed confirms once per poll interval: the allowed staleness
    // is counted from when the next confirmation was due.
    let max_age = Duration::from_millis(
        settings
            .cache
            .max_staleness_ms
            .saturating_add(settings.feed.poll_interval_ms),
    );
    Ok(CachedService::new(
        service,
        &feed.hub,
        SystemClock,
        CacheSettings {
            max_entries: settings.cache.max_entries,
            max_age,
        },
    ))
}

/// Completes on SIGTERM or SIGINT (Ctrl-C), saying how to stop.
pub async fn shutdown_signal() -> Stop {
    let interrupt = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for SIGINT");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {
            tracing::info!("SIGINT received; shutting down");
            Stop::Now
        }
        () = terminate => {
            tracing::info!("SIGTERM received; shutting down");
            Stop::Drain
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `config/default.toml` is what the binary runs with, and
    /// `ApiConfig::default()` what the api's own tests run with; both must
    /// stay, so they must say the same.
    #[test]
    fn the_compiled_in_defaults_are_the_apis_defaults() {
        let settings = Settings::defaults().expect("the compiled-in defaults load");

        assert_eq!(api_config(&settings), ApiConfig::default());
    }
}
