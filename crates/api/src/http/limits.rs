//! Limits on each request that the framework does not enforce by itself: the
//! length of the query string, the domain's rule that no value holds NUL
//! (here for query parameters, which not every operation reads), and the time
//! a request may take.
//!
//! Both answer in the §4 shape, through [`ApiError`]. The body limit and the
//! nesting limit of JSON bodies are enforced where bodies are read (the
//! `payload` module); slow request heads are cut at the connection (the
//! `head_timeout` module).

use std::sync::Arc;
use std::time::Duration;

use domain::text::reject_nul;
use poem::{Endpoint, Middleware, Request};

use crate::http::error::ApiError;

/// The largest useful query limit: hyper itself refuses a request target over
/// 64 KiB (with a bare 414, before the service sees the request), so a limit
/// must leave room below that for the path.
pub(crate) const MAX_QUERY_LIMIT: usize = 60 * 1024;

/// The default query limit: 60 KiB, room for a `filter` whose `in` lists 1000
/// ids or tokens, percent-encoded (about 45 bytes each).
pub(crate) const DEFAULT_QUERY_LIMIT: usize = MAX_QUERY_LIMIT;

/// Rejects query strings longer than a limit (414) and query parameters
/// holding NUL (400, naming the parameter), and stops requests that take
/// longer than a timeout (503).
///
/// The timeout covers reading the body and handling the request, so a client
/// that sends its body slowly and a database that does not answer are both
/// cut off. Dropping the handler's future drops its database work with it:
/// sqlx gives back or closes the connection, and an open transaction is
/// rolled back.
pub(crate) struct Limits {
    query_limit: usize,
    timeout: Duration,
    extra_time: Arc<Vec<(&'static str, Duration)>>,
}

impl Limits {
    /// Allows query strings of up to `query_limit` bytes and requests of up to
    /// `timeout`.
    pub(crate) fn new(query_limit: usize, timeout: Duration) -> Self {
        Self {
            query_limit,
            timeout,
            extra_time: Arc::default(),
        }
    }

    /// Gives requests to `path` `extra` time beyond the timeout: a long poll
    /// may wait that long before it starts answering (an event stream answers
    /// at once and streams on outside the timeout).
    pub(crate) fn with_extra_time(mut self, path: &'static str, extra: Duration) -> Self {
        Arc::make_mut(&mut self.extra_time).push((path, extra));
        self
    }
}

impl<E: Endpoint> Middleware<E> for Limits {
    type Output = LimitsEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        LimitsEndpoint {
            inner,
            query_limit: self.query_limit,
            timeout: self.timeout,
            extra_time: Arc::clone(&self.extra_time),
        }
    }
}

/// The endpoint [`Limits`] makes.
pub(crate) struct LimitsEndpoint<E> {
    inner: E,
    query_limit: usize,
    timeout: Duration,
    extra_time: Arc<Vec<(&'static str, Duration)>>,
}

impl<E: Endpoint> Endpoint for LimitsEndpoint<E> {
    type Output = E::Output;

    async fn call(&self, request: Request) -> poem::Result<Self::Output> {
        let query_length = request.uri().query().map_or(0, str::len);
        if query_length > self.query_limit {
            return Err(ApiError::query_too_long(self.query_limit).into());
        }
        nul_free_query(&request)?;
        let extra = self
            .extra_time
            .iter()
            .find(|(path, _)| *path == request.uri().path())
            .map_or(Duration::ZERO, |(_, extra)| *extra);
        let timeout = self.timeout + extra;
        match tokio::time::timeout(timeout, self.inner.call(request)).await {
            Ok(result) => result,
            Err(_) => {
                tracing::warn!(
                    timeout_ms = timeout.as_millis(),
                    "request cut off: it took too long"
                );
                Err(ApiError::timed_out(timeout).into())
            }
        }
    }
}

/// Every query parameter, named or valued, obeys the rule of every value:
/// no NUL. Unknown parameters too, so the answer never depends on which
/// parameters an operation happens to read.
fn nul_free_query(request: &Request) -> Result<(), ApiError> {
    // A decoded query holds NUL only where the raw one spells `%00`; the
    // common request is spared the decoding.
    let raw = request.uri().query().unwrap_or_default();
    if !raw.contains("%00") {
        return Ok(());
    }
    let pairs: Vec<(String, String)> = request.params().unwrap_or_default();
    for (name, value) in pairs {
        if let Err(error) = reject_nul(&name).and_then(|()| reject_nul(&value)) {
            return Err(ApiError::invalid(&name, format!("{name}: {error}")));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use poem::http::StatusCode;

    use super::*;

    fn verdict(uri: &str) -> Result<(), (StatusCode, Option<String>, String)> {
        let request = Request::builder().uri_str(uri).finish();
        nul_free_query(&request).map_err(|error| {
            let body = error.body();
            (
                error.status(),
                body.error_details.map(|d| d.field),
                body.error_message,
            )
        })
    }

    #[test]
    fn a_nul_in_any_query_parameter_is_a_400_naming_it() {
        for (uri, name) in [
            ("/p?mask=id%00", "mask"),
            ("/p?limit=1&after=%00", "after"),
            ("/p?unknown=a%00b", "unknown"),
            ("/p?flat=true&count=exact%00", "count"),
        ] {
            assert_eq!(
                verdict(uri),
                Err((
                    StatusCode::BAD_REQUEST,
                    Some(name.to_owned()),
                    format!("{name}: must not contain the NUL character")
                )),
                "{uri}"
            );
        }
    }

    #[test]
    fn a_nul_in_a_parameters_name_is_a_400_too() {
        assert!(verdict("/p?a%00=1").is_err());
    }

    #[test]
    fn queries_without_nul_pass_however_they_are_encoded() {
        for uri in [
            "/p",
            "/p?",
            "/p?mask=id,code",
            "/p?x=%2500",
            "/p?filter=%7B%7D&x=%FF",
        ] {
            assert_eq!(verdict(uri), Ok(()), "{uri}");
        }
    }
}
