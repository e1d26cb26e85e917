//! Draining before a shutdown: the server keeps serving, but says it is not
//! ready and closes each connection after its response.
//!
//! A load balancer goes on routing to a replica for a while after it is told
//! to stop (Kubernetes removes a terminating pod from its endpoints at about
//! the same time as it sends SIGTERM, and the proxies learn it later still).
//! A server that stopped accepting at once would refuse those requests, and
//! one that closed its idle keep-alive connections would race clients that
//! are sending on them at that moment. Draining serves them all: readiness
//! turns 503 at once so the balancers stop choosing this replica, and
//! `Connection: close` on every response moves keep-alive clients to a new
//! connection, which the balancer sends elsewhere.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use poem::http::{HeaderValue, header};
use poem::{Endpoint, IntoResponse, Middleware, Request, Response};

/// Whether the server is draining; shared by the server, which sets it, and
/// every request, which reads it.
#[derive(Debug, Clone, Default)]
pub(crate) struct DrainState(Arc<AtomicBool>);

impl DrainState {
    /// From now on, the server drains.
    pub(crate) fn start(&self) {
        self.0.store(true, Ordering::Release);
    }

    /// Whether the server drains.
    pub(crate) fn is_draining(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }

    /// Whether the server that handles `request` drains. A request that went
    /// through no [`Drain`] (an application tested on its own) never does.
    pub(crate) fn of(request: &Request) -> bool {
        request.data::<Self>().is_some_and(Self::is_draining)
    }
}

/// Puts the [`DrainState`] into every request, and `Connection: close` on
/// every response while draining.
pub(crate) struct Drain(pub(crate) DrainState);

impl<E: Endpoint> Middleware<E> for Drain {
    type Output = DrainEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        DrainEndpoint {
            inner,
            state: self.0.clone(),
        }
    }
}

/// The endpoint [`Drain`] makes.
pub(crate) struct DrainEndpoint<E> {
    inner: E,
    state: DrainState,
}

impl<E: Endpoint> Endpoint for DrainEndpoint<E> {
    type Output = Response;

    async fn call(&self, mut request: Request) -> poem::Result<Response> {
        request.extensions_mut().insert(self.state.clone());
        let mut response = match self.inner.call(request).await {
            Ok(output) => output.into_response(),
            Err(error) => error.into_response(),
        };
        // Read after the request: one that began before the signal and ends
        // after it must close its connection too.
        if self.state.is_draining() {
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        Ok(response)
    }
}

#[cfg(test)]
mod tests {
    use poem::test::TestClient;
    use poem::{EndpointExt as _, get, handler};

    use super::*;
    use crate::http::error::ApiError;

    #[handler]
    fn answer(request: &Request) -> poem::Result<&'static str> {
        if DrainState::of(request) {
            return Err(ApiError::shutting_down().into());
        }
        Ok("served")
    }

    #[tokio::test]
    async fn responses_keep_their_connection_until_the_server_drains() {
        // Arrange
        let state = DrainState::default();
        let client = TestClient::new(get(answer).with(Drain(state.clone())));

        // Act
        let before = client.get("/").send().await;
        state.start();
        let after = client.get("/").send().await;

        // Assert
        before.assert_status_is_ok();
        before.assert_header_is_not_exist(header::CONNECTION);
        after.assert_status(poem::http::StatusCode::SERVICE_UNAVAILABLE);
        after.assert_header(header::CONNECTION, "close");
    }

    #[tokio::test]
    async fn requests_outside_a_draining_server_never_see_it_drain() {
        let client = TestClient::new(get(answer));

        client.get("/").send().await.assert_status_is_ok();
    }
}
