//! HTTP adapter of the integration points service: the REST API of the
//! contract (`/rest/v1/service/integration_points`), its OpenAPI document and
//! Swagger UI, built with poem-openapi over the driving port
//! [`IntegrationPointService`].
//!
//! The binary calls [`app`] (or [`openapi_json`]) and nothing else: poem's
//! types stay behind this crate's boundary, apart from the endpoint it serves.

mod error;
mod etag;
mod middleware;
mod params;
mod payload;
mod points;
mod render;
mod routes;
mod server;

use domain::integration_point::IntegrationPointService;
use poem::endpoint::BoxEndpoint;
use poem::middleware::CatchPanic;
use poem::{EndpointExt, Route};
use poem_openapi::OpenApiService;

use crate::middleware::{ErrorShape, RequestLog};
use crate::payload::BodyLimit;
use crate::points::{COLLECTION_PATH, PointsApi};
use crate::routes::{AllowTable, PointsRoutes};

pub use crate::server::HttpServer;

/// Settings of the HTTP API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiConfig {
    /// The largest `limit` a list request may ask for, and the default one.
    pub max_limit: u64,
    /// The most bytes a request body may have; more is a 413.
    pub body_limit: usize,
}

impl ApiConfig {
    /// The default of [`ApiConfig::max_limit`].
    pub const DEFAULT_MAX_LIMIT: u64 = 1000;
    /// The default of [`ApiConfig::body_limit`]: 64 KiB.
    pub const DEFAULT_BODY_LIMIT: usize = 64 * 1024;
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            max_limit: Self::DEFAULT_MAX_LIMIT,
            body_limit: Self::DEFAULT_BODY_LIMIT,
        }
    }
}

/// The whole HTTP application over `service`: the operations under
/// `/rest/v1/service/integration_points` (`LOOKUP` included), Swagger UI at
/// `/docs` and the OpenAPI document at `/openapi.json`.
///
/// Every error leaves it in the shape of contract §4, and each request is
/// traced in a span. More middleware (authentication, request ids, metrics)
/// can be wrapped around the returned endpoint.
pub fn app<S: IntegrationPointService>(service: S, config: ApiConfig) -> BoxEndpoint<'static> {
    let routes = PointsRoutes::new(PointsApi::new(service, config.max_limit));
    let allow = AllowTable::of(routes.clone());
    let api = document(routes);
    Route::new()
        .at("/openapi.json", api.spec_endpoint())
        .nest("/docs", api.swagger_ui())
        .nest_no_strip(COLLECTION_PATH, api)
        .data(BodyLimit(config.body_limit))
        .with(CatchPanic::new().with_handler(middleware::panic_response))
        .with(ErrorShape::new(allow))
        .with(RequestLog)
        .boxed()
}

/// The OpenAPI document of [`app`], as JSON.
pub fn openapi_json<S: IntegrationPointService>(service: S, config: ApiConfig) -> String {
    document(PointsRoutes::new(PointsApi::new(service, config.max_limit))).spec()
}

fn document<S: IntegrationPointService>(
    routes: PointsRoutes<S>,
) -> OpenApiService<PointsRoutes<S>, ()> {
    OpenApiService::new(routes, "Integration points", env!("CARGO_PKG_VERSION")).description(
        "Integration points connect the platform to outside messaging systems. Every error \
         has the body `{\"error_code\": 1000 + status, \"error_message\": …, \
         \"error_details\": {\"field\": …}}` (`error_details` optional). `LOOKUP` on the \
         collection path is served too; OpenAPI 3.0 cannot describe it, so see its alias \
         `POST …/lookup`.",
    )
}
