//! HTTP adapter of the integration points service: the REST API of the
//! contract (`/rest/v1/service/integration_points`), its OpenAPI document and
//! Swagger UI, built with poem-openapi over the driving port
//! [`IntegrationPointService`].
//!
//! The binary calls [`app`] (or [`openapi_json`]) and nothing else: poem's
//! types stay behind this crate's boundary, apart from the endpoint it serves.
//!
//! Beside the API it serves what operators need: health probes at
//! `/health/live` and `/health/ready`, Prometheus metrics at `/metrics`, an
//! `X-Request-Id` on every response, and one log span per request.
//!
//! Three rooms: `http`, the generic HTTP edge, which knows no resource;
//! `auth`, API keys and the guard; `points`, the resource. `auth` and
//! `points` build on `http` and never on each other (a test checks it); this
//! file is the composition that plugs the resource into the rest: its routes,
//! its scope rule, its open paths and its methods.

mod auth;
mod http;
mod points;

#[cfg(feature = "testing")]
pub use crate::points::testing;
pub use crate::points::transfer;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use domain::change_feed::{ChangeFeedService, ChangesRequest};
use domain::health::HealthCheck;
use domain::integration_point::{DEFAULT_EXACT_COUNT_MAX, IntegrationPointService};
use poem::endpoint::BoxEndpoint;
use poem::http::Method;
use poem::middleware::CatchPanic;
use poem::{Endpoint, EndpointExt, Request, Response, Route, get};
use poem_openapi::{OpenApi, OpenApiService};

use crate::auth::guard::{Authenticate, OpenPaths, ScopeRule};
use crate::auth::guarded::Guarded;
use crate::http::compression::Compression;
use crate::http::cors::Cors;
use crate::http::health::{Live, Ready};
use crate::http::limits::Limits;
use crate::http::metrics::{HttpMetrics, Metrics, MetricsEndpoint};
use crate::http::middleware::{ErrorShape, RequestLog};
use crate::http::payload::BodyLimit;
use crate::http::routes::{AllowTable, RouteTemplates};
use crate::points::changes::{CHANGES_PATH, ChangesApi};
use crate::points::metrics::{FeedMetrics, PointsMetrics};
use crate::points::routes::{PointsRoutes, lookup_method};
use crate::points::{COLLECTION_PATH, LOOKUP_ALIAS, PointsApi};

pub use crate::auth::{Access, ApiKey, KeyDigest, KeyError, KeyRing, Scope};
pub use crate::http::cors::{CorsOriginError, CorsOrigins};
pub use crate::http::server::HttpServer;

/// Settings of the HTTP API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiConfig {
    /// The largest `limit` a list request may ask for, and the default one.
    pub max_limit: u64,
    /// How many matching points `count=estimated` counts exactly before it
    /// takes the database's estimate.
    pub exact_count_max: u64,
    /// The most bytes a request body may have; more is a 413.
    pub body_limit: usize,
    /// The most bytes a query string may have; more is a 414.
    pub query_limit: usize,
    /// How long a request may take, from its head being read to its response
    /// being ready (reading the body included); longer is a 503.
    pub request_timeout: Duration,
    /// How long a connection may take to deliver a complete request head,
    /// counted from when it is accepted or from the last response; past it the
    /// connection is closed (after a 408 if a head had begun). A quiet event
    /// stream sends its heartbeat at least twice within it, to keep its
    /// connection.
    pub header_read_timeout: Duration,
    /// Who may call the API; the probes, metrics and documentation are open
    /// to all.
    pub access: Access,
    /// Which browser origins may call the API (CORS).
    pub cors: CorsOrigins,
}

impl ApiConfig {
    /// The default of [`ApiConfig::max_limit`].
    pub const DEFAULT_MAX_LIMIT: u64 = 1000;
    /// The default of [`ApiConfig::body_limit`]: 64 KiB.
    pub const DEFAULT_BODY_LIMIT: usize = http::payload::DEFAULT_BODY_LIMIT;
    /// The default of [`ApiConfig::query_limit`]: 60 KiB, room for a
    /// `filter` whose `in` lists 1000 ids or tokens, percent-encoded (about
    /// 45 bytes each).
    pub const DEFAULT_QUERY_LIMIT: usize = http::limits::DEFAULT_QUERY_LIMIT;
    /// The largest useful [`ApiConfig::query_limit`]: hyper itself refuses a
    /// request target over 64 KiB (with a bare 414, before the service sees
    /// the request), so a limit must leave room below that for the path.
    pub const MAX_QUERY_LIMIT: usize = http::limits::MAX_QUERY_LIMIT;
    /// The default of [`ApiConfig::request_timeout`].
    pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
    /// The default of [`ApiConfig::header_read_timeout`].
    pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
}

/// The defaults, with [`Access::Open`]: what a service on loopback without
/// keys runs with.
///
/// The binary's `config/default.toml` states them too (it is what operators
/// read and override); a test of the binary checks that the two agree.
impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            max_limit: Self::DEFAULT_MAX_LIMIT,
            exact_count_max: DEFAULT_EXACT_COUNT_MAX,
            body_limit: Self::DEFAULT_BODY_LIMIT,
            query_limit: Self::DEFAULT_QUERY_LIMIT,
            request_timeout: Self::DEFAULT_REQUEST_TIMEOUT,
            header_read_timeout: Self::DEFAULT_HEADER_READ_TIMEOUT,
            access: Access::Open,
            cors: CorsOrigins::None,
        }
    }
}

/// A body that never changes, built once and shared by every response.
#[derive(Clone)]
struct StaticBody {
    content_type: &'static str,
    bytes: Bytes,
}

impl StaticBody {
    fn new(content_type: &'static str, text: String) -> Self {
        Self {
            content_type,
            bytes: Bytes::from(text),
        }
    }
}

impl Endpoint for StaticBody {
    type Output = Response;

    async fn call(&self, _: Request) -> poem::Result<Response> {
        Ok(Response::builder()
            .content_type(self.content_type)
            .body(self.bytes.clone()))
    }
}

/// The OpenAPI document's path.
const SPEC_PATH: &str = "/openapi.json";
/// Swagger UI's page; `/docs/` serves it too.
const DOCS_PATH: &str = "/docs";
/// Swagger UI's page with a trailing slash, under which its assets would lie.
const DOCS_DIR: &str = "/docs/";
/// The liveness probe.
const LIVE_PATH: &str = "/health/live";
/// The readiness probe.
const READY_PATH: &str = "/health/ready";
/// The Prometheus metrics.
const METRICS_PATH: &str = "/metrics";

/// The documentation's paths.
const DOCS_ROUTES: [&str; 3] = [SPEC_PATH, DOCS_PATH, DOCS_DIR];

/// The operators' paths, all served to `GET` (and so `HEAD`) only.
const OPERATIONS_ROUTES: [&str; 3] = [LIVE_PATH, READY_PATH, METRICS_PATH];

/// Paths served without a key, whatever the configuration (contract §6):
/// the documentation and the operators' paths.
fn open_paths() -> OpenPaths {
    OpenPaths::new(DOCS_ROUTES.into_iter().chain(OPERATIONS_ROUTES))
}

/// The methods the API serves, which a browser page may send (CORS).
fn served_methods() -> [Method; 6] {
    [
        Method::GET,
        Method::HEAD,
        Method::POST,
        Method::PATCH,
        Method::DELETE,
        lookup_method(),
    ]
}

/// The scope each request to the points needs: reading is `GET`, `HEAD`,
/// `LOOKUP` and its alias `POST …/lookup`; writing is every other `POST`,
/// `PUT`, `PATCH` and `DELETE`.
struct PointsScopes;

impl ScopeRule for PointsScopes {
    fn required_scope(method: &Method, path: &str) -> Option<Scope> {
        let is_lookup_alias = path
            .strip_prefix(COLLECTION_PATH)
            .is_some_and(|rest| rest == LOOKUP_ALIAS);
        let reads = *method == Method::GET || *method == Method::HEAD || *method == lookup_method();
        if reads || (*method == Method::POST && is_lookup_alias) {
            Some(Scope::Read)
        } else if [Method::POST, Method::PUT, Method::PATCH, Method::DELETE].contains(method) {
            Some(Scope::Write)
        } else {
            None
        }
    }
}

/// The whole HTTP application over `service` and `feed`: the operations
/// under `/rest/v1/service/integration_points` (`LOOKUP` and the change feed
/// `…/changes` included), Swagger UI at
/// `/docs`, the OpenAPI document at `/openapi.json`, and the probes and
/// metrics (`/health/live`, `/health/ready`, `/metrics`), which ask `health`
/// about the database.
///
/// Every error leaves it in the shape of contract §4, each request is traced
/// in a span under its request id, counted and timed.
pub fn app<S: IntegrationPointService, F: ChangeFeedService, H: HealthCheck>(
    service: S,
    feed: F,
    health: H,
    config: ApiConfig,
) -> BoxEndpoint<'static> {
    let feed_metrics = FeedMetrics::default();
    let routes = PointsRoutes::new(
        PointsApi::new(service.clone(), config.max_limit, config.exact_count_max),
        ChangesApi::new(
            feed.clone(),
            config.max_limit,
            config.header_read_timeout,
            feed_metrics.clone(),
        ),
    );
    let allow = AllowTable::of(
        routes.clone(),
        OPERATIONS_ROUTES.map(|path| (path, vec![Method::GET])),
    );
    let templates = Arc::new(RouteTemplates::of::<PointsRoutes<S, F>>(
        DOCS_ROUTES.into_iter().chain(OPERATIONS_ROUTES),
    ));
    let metrics = Arc::new(Metrics::new(
        health.clone(),
        Arc::clone(&templates),
        PointsMetrics::new(feed_metrics, feed, service),
    ));
    let api = document(routes);
    let (spec, swagger_ui) = finished_documents(&api);
    Route::new()
        .at(SPEC_PATH, get(spec))
        .at(DOCS_PATH, get(swagger_ui.clone()))
        .at(DOCS_DIR, get(swagger_ui))
        .at(LIVE_PATH, get(Live))
        .at(READY_PATH, get(Ready::new(health)))
        .at(
            METRICS_PATH,
            get(MetricsEndpoint::new(Arc::clone(&metrics))),
        )
        .nest_no_strip(COLLECTION_PATH, api)
        .data(BodyLimit(config.body_limit))
        .with(CatchPanic::new().with_handler(crate::http::middleware::panic_response))
        .with(Authenticate::<PointsScopes>::new(
            config.access,
            open_paths(),
        ))
        .with(
            Limits::new(config.query_limit, config.request_timeout)
                // A long poll of the change feed may wait this long before it
                // starts answering.
                .with_extra_time(CHANGES_PATH, ChangesRequest::MAX_WAIT),
        )
        .with(ErrorShape::new(allow))
        // Outside authentication: a preflight carries no key (contract §10).
        .with(Cors::new(config.cors, served_methods()))
        .with(Compression)
        .with(HttpMetrics::new(metrics))
        .with(RequestLog::new(templates))
        .boxed()
}

impl HttpServer {
    /// Binds `address` (`host:port`; port 0 picks a free port) and prepares
    /// [`app`] over `service` and `feed`, with probes and metrics that ask
    /// `health`.
    ///
    /// # Errors
    /// When the address cannot be resolved or bound.
    pub async fn bind<S: IntegrationPointService, F: ChangeFeedService, H: HealthCheck>(
        address: &str,
        service: S,
        feed: F,
        health: H,
        config: ApiConfig,
    ) -> std::io::Result<Self> {
        let header_read_timeout = config.header_read_timeout;
        let endpoint = app(service, feed, health, config);
        Self::bind_endpoint(address, endpoint, header_read_timeout).await
    }
}

/// The OpenAPI document of [`app`], as JSON.
pub fn openapi_json<S: IntegrationPointService, F: ChangeFeedService>(
    service: S,
    feed: F,
    config: ApiConfig,
) -> String {
    let api = document(PointsRoutes::new(
        PointsApi::new(service, config.max_limit, config.exact_count_max),
        ChangesApi::new(
            feed,
            config.max_limit,
            config.header_read_timeout,
            FeedMetrics::default(),
        ),
    ));
    crate::points::document::finish(&api.spec())
}

/// `/openapi.json` and Swagger UI's page, both with the finished document
/// ([`crate::points::document::finish`]).
fn finished_documents<T: OpenApi>(api: &OpenApiService<T, ()>) -> (StaticBody, StaticBody) {
    let raw = api.spec();
    let finished = crate::points::document::finish(&raw);
    // poem-openapi builds the page around the document it derives, and
    // offers no way to give it another; so the document is swapped in the
    // page. A test checks that the page carries the finished document.
    let page = api.swagger_ui_html().replacen(&raw, &finished, 1);
    (
        StaticBody::new("application/json; charset=utf-8", finished),
        StaticBody::new("text/html; charset=utf-8", page),
    )
}

fn document<S: IntegrationPointService, F: ChangeFeedService>(
    routes: PointsRoutes<S, F>,
) -> OpenApiService<Guarded<PointsRoutes<S, F>, PointsScopes>, ()> {
    OpenApiService::new(
        Guarded::new(routes),
        "Integration points",
        env!("CARGO_PKG_VERSION"),
    )
    .description(
        "Integration points connect the platform to outside messaging systems. Every error \
         has the body `{\"error_code\": 1000 + status, \"error_message\": …, \
         \"error_details\": {\"field\": …}}` (`error_details` optional). `LOOKUP` on the \
         collection path is served too; OpenAPI 3.0 cannot describe it, so see its alias \
         `POST …/lookup` (and the collection path's `x-additionalOperations`). The examples \
         that \"Try it out\" is filled with can be run in order on an empty database: \
         create, list, get, patch, lookup, rotate_token, delete.",
    )
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    #[test]
    fn reads_need_read_and_writes_need_write() {
        let item = format!("{COLLECTION_PATH}/b4680fbe-016c-d86f-1d6b-50e54938780c");
        let cases = [
            (Method::GET, COLLECTION_PATH.to_owned(), Some(Scope::Read)),
            (Method::HEAD, item.clone(), Some(Scope::Read)),
            (
                lookup_method(),
                COLLECTION_PATH.to_owned(),
                Some(Scope::Read),
            ),
            (
                Method::POST,
                format!("{COLLECTION_PATH}{LOOKUP_ALIAS}"),
                Some(Scope::Read),
            ),
            (Method::POST, COLLECTION_PATH.to_owned(), Some(Scope::Write)),
            (Method::PATCH, item.clone(), Some(Scope::Write)),
            (Method::DELETE, item.clone(), Some(Scope::Write)),
            (
                Method::POST,
                format!("{item}/rotate_token"),
                Some(Scope::Write),
            ),
            (Method::OPTIONS, item, None),
        ];
        for (method, path, scope) in cases {
            assert_eq!(
                PointsScopes::required_scope(&method, &path),
                scope,
                "{method} {path}"
            );
        }
    }

    #[test]
    fn probes_metrics_and_documentation_are_open() {
        let open = open_paths();
        for path in [
            "/health/live",
            "/health/ready",
            "/metrics",
            "/openapi.json",
            "/docs",
            "/docs/",
            "/docs/index.css",
        ] {
            assert!(open.contains(path), "{path}");
        }
        for path in [COLLECTION_PATH, "/docsx", "/health", "/metrics/x", "/"] {
            assert!(!open.contains(path), "{path}");
        }
    }

    /// The rooms each room may import from, and the modules of `domain` it
    /// may name: `http` knows no resource and no access control, so of the
    /// domain only the health check and the rules of any text; `auth` and
    /// `points` build on `http` and never on each other; only the crate root
    /// (the composition) sees them all.
    const ROOMS: [(&str, &[&str], &[&str]); 3] = [
        ("http", &["http"], &["health", "text"]),
        ("auth", &["auth", "http"], &[]),
        (
            "points",
            &["points", "http"],
            &["change_feed", "health", "integration_point", "text"],
        ),
    ];

    /// The first path segment after each `root::` (a crate's name, not the
    /// tail of a longer one) on the lines of `text` that are code, not
    /// comments; `{` for a group of imports.
    fn paths_under(root: &str, text: &str) -> Vec<String> {
        let prefix = format!("{root}::");
        text.lines()
            .filter(|line| !line.trim_start().starts_with("//"))
            .flat_map(|line| {
                line.match_indices(&prefix)
                    .filter(|(at, _)| {
                        !line[..*at]
                            .chars()
                            .next_back()
                            .is_some_and(|c| c.is_alphanumeric() || c == '_')
                    })
                    .map(|(at, _)| {
                        let rest = &line[at + prefix.len()..];
                        let segment: String = rest
                            .chars()
                            .take_while(|c| c.is_alphanumeric() || *c == '_')
                            .collect();
                        if segment.is_empty() && rest.starts_with('{') {
                            "{".to_owned()
                        } else {
                            segment
                        }
                    })
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    fn sources(dir: &Path, found: &mut Vec<std::path::PathBuf>) {
        let entries = std::fs::read_dir(dir).expect("a source directory");
        for entry in entries {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                sources(&path, found);
            } else if path.extension().is_some_and(|ext| ext == "rs") {
                found.push(path);
            }
        }
    }

    #[test]
    fn each_room_imports_only_the_rooms_below_it() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut violations = Vec::new();
        for (room, rooms, domain_modules) in ROOMS {
            let mut files = vec![src.join(format!("{room}.rs"))];
            sources(&src.join(room), &mut files);
            for file in files {
                let text = std::fs::read_to_string(&file).expect("a readable source");
                for target in paths_under("crate", &text) {
                    if !rooms.contains(&target.as_str()) {
                        violations.push(format!("{} uses crate::{target}", file.display()));
                    }
                }
                for target in paths_under("domain", &text) {
                    if !domain_modules.contains(&target.as_str()) {
                        violations.push(format!("{} uses domain::{target}", file.display()));
                    }
                }
            }
        }
        assert!(violations.is_empty(), "{violations:#?}");
    }
}
