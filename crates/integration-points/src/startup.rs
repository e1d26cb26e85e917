//! Wiring: the database, the use cases and the HTTP server, built from settings.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context as _;
use api::{ApiConfig, HttpServer};
use application::Service;
use infrastructure::{
    Database, OsRandomTokens, SeaOrmHealthCheck, SeaOrmIntegrationPointRepository, SystemClock,
    UuidV7Ids,
};

use crate::access;
use crate::configuration::{Settings, redact_url_password};

/// The production service: use cases over the sea-orm repository.
pub type ProductionService =
    Service<SeaOrmIntegrationPointRepository, SystemClock, UuidV7Ids, OsRandomTokens>;

/// How long closing the pool may take at shutdown. Closing waits for every
/// connection to come back, and one stuck on a dead network never would.
const POOL_CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// A built service, bound to its port and ready to serve.
pub struct Application {
    server: HttpServer,
    shutdown_timeout: Duration,
    db: Database,
}

impl Application {
    /// Connects to the database (migrating it when configured to), wires the
    /// use cases and binds the listener. Port 0 binds a free port; see [`Self::port`].
    ///
    /// # Errors
    /// Any start-up step that fails, with the step named; first of all, no
    /// API keys on an address other than loopback (contract §6).
    pub async fn build(settings: &Settings) -> anyhow::Result<Self> {
        access::check_exposure(&settings.server.host, settings.auth.access())?;
        let db = open_database(settings).await?;
        let service = service_over(&db)?;
        // Readiness waits on the database no longer than a request would.
        let health = SeaOrmHealthCheck::new(
            db.clone(),
            Duration::from_millis(settings.database.acquire_timeout_ms),
        );
        let address = format!("{}:{}", settings.server.host, settings.server.port);
        let server = HttpServer::bind(&address, service, health, api_config(settings))
            .await
            .with_context(|| format!("failed to listen on {address}"))?;
        tracing::info!(address = %server.local_addr(), "listening");
        Ok(Self {
            server,
            shutdown_timeout: Duration::from_millis(settings.server.shutdown_timeout_ms),
            db,
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

    /// Serves until `shutdown` completes: then stops accepting connections,
    /// lets in-flight requests finish for at most the configured time, and
    /// closes the database pool.
    ///
    /// # Errors
    /// When the server fails, or the pool does not close in time.
    pub async fn run_until(self, shutdown: impl Future<Output = ()> + Send) -> anyhow::Result<()> {
        let served = self
            .server
            .run_until(shutdown, self.shutdown_timeout)
            .await
            .context("the HTTP server failed");
        // Closed explicitly, whatever the server's fate: PostgreSQL then sees
        // each session end cleanly instead of a connection reset, and SQLite
        // checkpoints its write-ahead log.
        let closed = match tokio::time::timeout(POOL_CLOSE_TIMEOUT, self.db.close()).await {
            Ok(()) => Ok(()),
            Err(_) => Err(anyhow::anyhow!(
                "the database pool did not close within {POOL_CLOSE_TIMEOUT:?}"
            )),
        };
        if closed.is_ok() {
            tracing::info!("database connections closed");
        }
        served.and(closed)
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

/// Connects, migrates when configured, and wires the use cases.
///
/// # Errors
/// When the database cannot be reached or migrated.
pub async fn build_service(settings: &Settings) -> anyhow::Result<ProductionService> {
    service_over(&open_database(settings).await?)
}

/// Connects to the configured database and migrates it when configured to.
///
/// # Errors
/// When the database cannot be reached or migrated.
async fn open_database(settings: &Settings) -> anyhow::Result<Database> {
    let db_settings = &settings.database;
    let safe_url = redact_url_password(&db_settings.url);
    let db = infrastructure::connect(&db_settings.to_connection_settings())
        .await
        .with_context(|| format!("failed to connect to the database at {safe_url}"))?;
    if db_settings.auto_migrate {
        infrastructure::migrate(&db)
            .await
            .context("failed to apply database migrations")?;
    }
    tracing::info!(database = %safe_url, "database ready");
    Ok(db)
}

/// The use cases over the repository on `db`.
///
/// # Errors
/// When the operating system cannot provide randomness for tokens.
fn service_over(db: &Database) -> anyhow::Result<ProductionService> {
    let tokens =
        OsRandomTokens::new().context("the operating system's random generator is unavailable")?;
    Ok(Service::new(
        SeaOrmIntegrationPointRepository::new(db),
        SystemClock,
        UuidV7Ids,
        tokens,
    ))
}

/// Completes on SIGTERM or SIGINT (Ctrl-C).
pub async fn shutdown_signal() {
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
        () = interrupt => tracing::info!("SIGINT received; shutting down"),
        () = terminate => tracing::info!("SIGTERM received; shutting down"),
    }
}
