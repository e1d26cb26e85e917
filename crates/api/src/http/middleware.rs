//! Middleware around the whole application: one span per request with its id,
//! and the reshaping of every error (and panic) into the body of contract §4.

use std::any::Any;
use std::sync::Arc;
use std::time::Instant;

use domain::text::TextError;
use poem::error::{MethodNotAllowedError, NotFoundError, ResponseError};
use poem::{Endpoint, IntoResponse, Middleware, Request, Response};
use tracing::Instrument;

use crate::http::error::ApiError;
use crate::http::request_id::{REQUEST_ID_HEADER, RequestId};
use crate::http::routes::{AllowTable, RouteTemplates};

/// Answers every error that reaches it with a §4 body, so that no layer (the
/// router, poem-openapi's extractors, the handlers) can leak a `text/plain`
/// error. A 405 gets the `Allow` header of its path. A path holding NUL that
/// no route serves (404, 405) is a 400 naming `path`, as every value holding
/// NUL is; one that reaches an operation has the NUL in a parameter, such as
/// an id, whose own type rejects it naming the parameter.
pub(crate) struct ErrorShape {
    allow: Arc<AllowTable>,
}

impl ErrorShape {
    /// Reshapes errors, taking the methods of each path from `allow`.
    pub(crate) fn new(allow: AllowTable) -> Self {
        Self {
            allow: Arc::new(allow),
        }
    }
}

impl<E: Endpoint> Middleware<E> for ErrorShape {
    type Output = ErrorShapeEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        ErrorShapeEndpoint {
            inner,
            allow: Arc::clone(&self.allow),
        }
    }
}

/// The endpoint [`ErrorShape`] makes.
pub(crate) struct ErrorShapeEndpoint<E> {
    inner: E,
    allow: Arc<AllowTable>,
}

impl<E: Endpoint> Endpoint for ErrorShapeEndpoint<E> {
    type Output = Response;

    async fn call(&self, request: Request) -> poem::Result<Response> {
        // Kept for the `Allow` header: the request itself moves into the inner endpoint.
        let path = request.uri().path().to_owned();
        match self.inner.call(request).await {
            Ok(output) => Ok(output.into_response()),
            // A response some layer chose to send as an error is sent as it is.
            Err(error) if error.is_from_response() => Ok(error.into_response()),
            Err(error)
                if (error.is::<NotFoundError>() || error.is::<MethodNotAllowedError>())
                    && path.contains("%00") =>
            {
                Ok(
                    ApiError::invalid("path", format!("path: {}", TextError::ContainsNul))
                        .as_response(),
                )
            }
            Err(error) => Ok(ApiError::from_poem(error, || self.allow.allow(&path)).as_response()),
        }
    }
}

/// The answer to a panic in a handler: logged, and an opaque 500.
pub(crate) fn panic_response(panic: Box<dyn Any + Send + 'static>) -> Response {
    let message = panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("a panic without a message");
    ApiError::internal(message).as_response()
}

/// A span per request holding its id, method and route template, so that
/// every line logged while serving it names the request; one access line
/// when it is answered, with the status and the time taken; and the id in the
/// `X-Request-Id` header of the response.
///
/// Unlike `poem::middleware::Tracing`, neither the raw path nor the query
/// string is recorded: a `filter` may hold a token, and a confused client may
/// put one in the path. Headers and bodies never are.
pub(crate) struct RequestLog {
    routes: Arc<RouteTemplates>,
}

impl RequestLog {
    /// Logs requests under the templates of `routes`.
    pub(crate) fn new(routes: Arc<RouteTemplates>) -> Self {
        Self { routes }
    }
}

impl<E: Endpoint> Middleware<E> for RequestLog {
    type Output = RequestLogEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        RequestLogEndpoint {
            inner,
            routes: Arc::clone(&self.routes),
        }
    }
}

/// The endpoint [`RequestLog`] makes.
pub(crate) struct RequestLogEndpoint<E> {
    inner: E,
    routes: Arc<RouteTemplates>,
}

impl<E: Endpoint> Endpoint for RequestLogEndpoint<E> {
    type Output = Response;

    async fn call(&self, request: Request) -> poem::Result<Response> {
        let id = RequestId::of(&request);
        let span = tracing::info_span!(
            "request",
            request_id = %id,
            method = %request.method(),
            route = %self.routes.of_path(request.uri().path()),
            // The name of the API key, recorded by authentication; never the key.
            api_key = tracing::field::Empty,
        );
        async move {
            let started = Instant::now();
            // Whatever happened inside, the client gets a response carrying
            // the id, so an error it reports can be found in the log.
            let mut response = match self.inner.call(request).await {
                Ok(output) => output.into_response(),
                Err(error) => error.into_response(),
            };
            tracing::info!(
                status = response.status().as_u16(),
                latency_ms = started.elapsed().as_secs_f64() * 1000.0,
                "answered"
            );
            if let Ok(value) = id.as_str().parse() {
                response.headers_mut().insert(REQUEST_ID_HEADER, value);
            }
            Ok(response)
        }
        .instrument(span)
        .await
    }
}
