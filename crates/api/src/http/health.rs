//! Health probes: `GET /health/live` says the process serves HTTP, `GET
//! /health/ready` that it can also serve the API (the database answers and is
//! migrated). An orchestrator restarts a process that is not live and routes
//! no traffic to one that is not ready.

use domain::health::HealthCheck;
use poem::{Endpoint, Request, Response};

use crate::http::drain::DrainState;
use crate::http::error::{ApiError, JSON_CONTENT_TYPE};

/// The body of a passing probe.
const OK_BODY: &str = r#"{"status":"ok"}"#;

fn ok() -> Response {
    Response::builder()
        .content_type(JSON_CONTENT_TYPE)
        .body(OK_BODY)
}

/// `GET /health/live`: 200 whenever the process can answer at all. It checks
/// nothing else on purpose: a database outage must not get every replica
/// restarted.
pub(crate) struct Live;

impl Endpoint for Live {
    type Output = Response;

    async fn call(&self, _request: Request) -> poem::Result<Response> {
        Ok(ok())
    }
}

/// `GET /health/ready`: 200 when the health check passes, else 503 in the
/// shape of every error, saying what failed; 503 at once, without asking,
/// once the server drains before a shutdown.
pub(crate) struct Ready<H>(H);

impl<H> Ready<H> {
    /// Asks `health`.
    pub(crate) fn new(health: H) -> Self {
        Self(health)
    }
}

impl<H: HealthCheck> Endpoint for Ready<H> {
    type Output = Response;

    async fn call(&self, request: Request) -> poem::Result<Response> {
        if DrainState::of(&request) {
            return Err(ApiError::shutting_down().into());
        }
        self.0.check().await.map_err(ApiError::from)?;
        Ok(ok())
    }
}
