//! Wiring: the database, the use cases and the HTTP server, built from settings.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context as _;
use api::{ApiConfig, HttpServer};
use application::Service;
use infrastructure::{OsRandomTokens, SeaOrmIntegrationPointRepository, SystemClock, UuidV7Ids};

use crate::configuration::{Settings, redact_url_password};

/// The production service: use cases over the sea-orm repository.
pub type ProductionService =
    Service<SeaOrmIntegrationPointRepository, SystemClock, UuidV7Ids, OsRandomTokens>;

/// A built service, bound to its port and ready to serve.
pub struct Application {
    server: HttpServer,
    shutdown_timeout: Duration,
}

impl Application {
    /// Connects to the database (migrating it when configured to), wires the
    /// use cases and binds the listener. Port 0 binds a free port; see [`Self::port`].
    ///
    /// # Errors
    /// Any start-up step that fails, with the step named.
    pub async fn build(settings: &Settings) -> anyhow::Result<Self> {
        let service = build_service(settings).await?;
        let address = format!("{}:{}", settings.server.host, settings.server.port);
        let server = HttpServer::bind(&address, service, api_config(settings))
            .await
            .with_context(|| format!("failed to listen on {address}"))?;
        tracing::info!(address = %server.local_addr(), "listening");
        Ok(Self {
            server,
            shutdown_timeout: Duration::from_millis(settings.server.shutdown_timeout_ms),
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

    /// Serves until `shutdown` completes, then lets in-flight requests finish
    /// for at most the configured time.
    ///
    /// # Errors
    /// When the server fails.
    pub async fn run_until(self, shutdown: impl Future<Output = ()> + Send) -> anyhow::Result<()> {
        self.server
            .run_until(shutdown, self.shutdown_timeout)
            .await
            .context("the HTTP server failed")
    }
}

/// The API's settings.
pub fn api_config(settings: &Settings) -> ApiConfig {
    ApiConfig {
        max_limit: settings.list.max_limit,
        body_limit: settings.http.body_limit,
    }
}

/// Connects, migrates when configured, and wires the use cases.
///
/// # Errors
/// When the database cannot be reached or migrated.
pub async fn build_service(settings: &Settings) -> anyhow::Result<ProductionService> {
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
