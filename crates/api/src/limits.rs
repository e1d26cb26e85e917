//! Limits on each request that the framework does not enforce by itself: the
//! length of the query string and the time a request may take.
//!
//! Both answer in the §4 shape, through [`ApiError`]. The body limit and the
//! nesting limit of JSON bodies are enforced where bodies are read (the
//! `payload` module); slow request heads are cut at the connection (the
//! `head_timeout` module).

use std::time::Duration;

use poem::{Endpoint, Middleware, Request};

use crate::error::ApiError;

/// Rejects query strings longer than a limit (414) and stops requests that
/// take longer than a timeout (503).
///
/// The timeout covers reading the body and handling the request, so a client
/// that sends its body slowly and a database that does not answer are both
/// cut off. Dropping the handler's future drops its database work with it:
/// sqlx gives back or closes the connection, and an open transaction is
/// rolled back.
pub(crate) struct Limits {
    query_limit: usize,
    timeout: Duration,
}

impl Limits {
    /// Allows query strings of up to `query_limit` bytes and requests of up to
    /// `timeout`.
    pub(crate) fn new(query_limit: usize, timeout: Duration) -> Self {
        Self {
            query_limit,
            timeout,
        }
    }
}

impl<E: Endpoint> Middleware<E> for Limits {
    type Output = LimitsEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        LimitsEndpoint {
            inner,
            query_limit: self.query_limit,
            timeout: self.timeout,
        }
    }
}

/// The endpoint [`Limits`] makes.
pub(crate) struct LimitsEndpoint<E> {
    inner: E,
    query_limit: usize,
    timeout: Duration,
}

impl<E: Endpoint> Endpoint for LimitsEndpoint<E> {
    type Output = E::Output;

    async fn call(&self, request: Request) -> poem::Result<Self::Output> {
        let query_length = request.uri().query().map_or(0, str::len);
        if query_length > self.query_limit {
            return Err(ApiError::QueryTooLong {
                limit: self.query_limit,
            }
            .into());
        }
        match tokio::time::timeout(self.timeout, self.inner.call(request)).await {
            Ok(result) => result,
            Err(_) => {
                tracing::warn!(
                    timeout_ms = self.timeout.as_millis(),
                    "request cut off: it took too long"
                );
                Err(ApiError::TimedOut {
                    after: self.timeout,
                }
                .into())
            }
        }
    }
}
