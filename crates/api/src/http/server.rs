//! The HTTP server: binds a listener and serves an endpoint, so the binary
//! never touches the web framework. The crate root gives it the API
//! ([`HttpServer::bind`]).

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use poem::endpoint::BoxEndpoint;
use poem::listener::TcpAcceptor;
use poem::{EndpointExt as _, Server};

use crate::http::drain::{Drain, DrainState};
use crate::http::head_timeout::HeadTimeout;

/// A bound listener with the API behind it.
pub struct HttpServer {
    acceptor: HeadTimeout<TcpAcceptor>,
    local_addr: SocketAddr,
    endpoint: BoxEndpoint<'static>,
    drain: DrainState,
}

impl HttpServer {
    /// Binds `address` (`host:port`; port 0 picks a free port) to serve
    /// `endpoint`, closing connections whose request head takes longer than
    /// `header_read_timeout`.
    ///
    /// # Errors
    /// When the address cannot be resolved or bound.
    pub(crate) async fn bind_endpoint(
        address: &str,
        endpoint: BoxEndpoint<'static>,
        header_read_timeout: Duration,
    ) -> io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(address).await?;
        let local_addr = listener.local_addr()?;
        let drain = DrainState::default();
        Ok(Self {
            acceptor: HeadTimeout::new(TcpAcceptor::from_tokio(listener)?, header_read_timeout),
            local_addr,
            endpoint: endpoint.with(Drain(drain.clone())).boxed(),
            drain,
        })
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Serves until `shutdown` completes with a drain period; then drains
    /// for that long (serving on, but answering `/health/ready` with 503 and
    /// closing each connection after its response), stops accepting, and
    /// gives in-flight requests up to `grace` to finish.
    ///
    /// # Errors
    /// When accepting connections fails.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = Duration> + Send,
        grace: Duration,
    ) -> io::Result<()> {
        let drain = self.drain;
        let stop_accepting = async move {
            let period = shutdown.await;
            drain.start();
            if !period.is_zero() {
                tracing::info!(
                    delay_ms = u64::try_from(period.as_millis()).unwrap_or(u64::MAX),
                    "draining: not ready, closing connections after their responses"
                );
                tokio::time::sleep(period).await;
            }
            tracing::info!("no longer accepting connections");
        };
        Server::new_with_acceptor(self.acceptor)
            .run_with_graceful_shutdown(self.endpoint, stop_accepting, Some(grace))
            .await
    }
}
