//! The HTTP server: binds a listener and serves the API, so the composition
//! root never touches the web framework.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use domain::health::HealthCheck;
use domain::integration_point::IntegrationPointService;
use poem::Server;
use poem::endpoint::BoxEndpoint;
use poem::listener::TcpAcceptor;

use crate::head_timeout::HeadTimeout;
use crate::{ApiConfig, app};

/// A bound listener with the API behind it.
pub struct HttpServer {
    acceptor: HeadTimeout<TcpAcceptor>,
    local_addr: SocketAddr,
    endpoint: BoxEndpoint<'static>,
}

impl HttpServer {
    /// Binds `address` (`host:port`; port 0 picks a free port) and prepares the
    /// API over `service`, with probes and metrics that ask `health`.
    ///
    /// # Errors
    /// When the address cannot be resolved or bound.
    pub async fn bind<S: IntegrationPointService, H: HealthCheck>(
        address: &str,
        service: S,
        health: H,
        config: ApiConfig,
    ) -> io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(address).await?;
        let local_addr = listener.local_addr()?;
        Ok(Self {
            acceptor: HeadTimeout::new(
                TcpAcceptor::from_tokio(listener)?,
                config.header_read_timeout,
            ),
            local_addr,
            endpoint: app(service, health, config),
        })
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Serves until `shutdown` completes; then stops accepting and gives
    /// in-flight requests up to `grace` to finish.
    ///
    /// # Errors
    /// When accepting connections fails.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send,
        grace: Duration,
    ) -> io::Result<()> {
        Server::new_with_acceptor(self.acceptor)
            .run_with_graceful_shutdown(self.endpoint, shutdown, Some(grace))
            .await
    }
}
