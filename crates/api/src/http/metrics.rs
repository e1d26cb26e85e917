//! Prometheus metrics: requests by method, route template and status, their
//! latency, the requests in flight, the database pool, the build and the
//! process, and what the resource served adds ([`ResourceMetrics`]), served
//! at `GET /metrics`.
//!
//! Each [`app`](crate::app) has its own registry rather than a process-wide
//! recorder, so that apps built side by side (tests start many in one process)
//! count only their own requests.

use std::fmt;
use std::sync::Arc;
use std::time::Instant;

use domain::health::HealthCheck;
use poem::http::{Method, StatusCode};
use poem::{Endpoint, IntoResponse, Middleware, Request, Response};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{
    DescriptorEncoder, EncodeLabelSet, EncodeMetric as _, prometheus_text,
};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

mod process;

use crate::http::error::ApiError;
use crate::http::metrics::process::ProcessMetrics;
use crate::http::routes::RouteTemplates;

/// Upper bounds of the latency buckets, in seconds: from a probe or a
/// lookup by primary key (a few hundred microseconds end to end) to a request
/// that waited out the pool's acquire timeout (seconds).
const LATENCY_BUCKETS: [f64; 16] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];

/// The version `build_info` reports: the same as the OpenAPI document's.
const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The label values of one request count.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct RequestLabels {
    method: &'static str,
    route: Arc<str>,
    status: u16,
}

/// The label values of one latency histogram.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct RouteLabels {
    method: &'static str,
    route: Arc<str>,
}

type LatencyFamily = Family<RouteLabels, Histogram, fn() -> Histogram>;

/// The label of `build_info`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct BuildLabels {
    version: &'static str,
}

/// What the resource an app serves counts, beside the HTTP metrics: its own
/// families, and collectors read on every scrape.
pub(crate) trait ResourceMetrics {
    /// Registers them in the app's `registry`, once, when the app is built.
    fn register(self, registry: &mut Registry);
}

/// The metrics of one app: the families its middleware records into, and the
/// registry `GET /metrics` encodes.
pub(crate) struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: LatencyFamily,
    in_flight: Gauge,
    routes: Arc<RouteTemplates>,
}

impl Metrics {
    /// Registers the HTTP metrics, gauges that read `health`'s pool on every
    /// scrape, and the `resource`'s metrics.
    pub(crate) fn new<H: HealthCheck>(
        health: H,
        routes: Arc<RouteTemplates>,
        resource: impl ResourceMetrics,
    ) -> Self {
        let mut registry = Registry::default();
        registry.register_collector(Box::new(PoolGauges(health)));
        resource.register(&mut registry);
        let requests = Family::<RequestLabels, Counter>::default();
        let latency =
            LatencyFamily::new_with_constructor(|| Histogram::new(LATENCY_BUCKETS.iter().copied()));
        registry.register(
            "http_requests",
            "HTTP requests answered, by method, route template and status",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "Time from receiving a request to answering it, by method and route template",
            latency.clone(),
        );
        let in_flight = Gauge::default();
        registry.register(
            "http_requests_in_flight",
            "Requests received and not yet answered",
            in_flight.clone(),
        );
        let build = Family::<BuildLabels, Gauge>::default();
        build
            .get_or_create(&BuildLabels { version: VERSION })
            .set(1);
        registry.register(
            "build_info",
            "Always 1; the label says which version of the service this is",
            build,
        );
        registry.register_collector(Box::new(ProcessMetrics));
        Self {
            registry,
            requests,
            latency,
            in_flight,
            routes,
        }
    }

    fn record(&self, method: &'static str, route: Arc<str>, status: StatusCode, seconds: f64) {
        self.latency
            .get_or_create(&RouteLabels {
                method,
                route: Arc::clone(&route),
            })
            .observe(seconds);
        self.requests
            .get_or_create(&RequestLabels {
                method,
                route,
                status: status.as_u16(),
            })
            .inc();
    }

    /// The Prometheus text exposition of every metric.
    fn encode(&self) -> Result<String, fmt::Error> {
        let mut text = String::new();
        prometheus_text::encode(&mut text, &self.registry)?;
        Ok(text)
    }
}

/// The method as a label value. Clients may send any method token; only the
/// ones the API knows become label values, so their number stays bounded.
fn method_label(method: &Method) -> &'static str {
    const KNOWN: [Method; 9] = [
        Method::GET,
        Method::HEAD,
        Method::POST,
        Method::PUT,
        Method::PATCH,
        Method::DELETE,
        Method::OPTIONS,
        Method::TRACE,
        Method::CONNECT,
    ];
    if let Some(known) = KNOWN.iter().find(|known| *known == method) {
        known.as_str()
    } else if method.as_str() == "LOOKUP" {
        "LOOKUP"
    } else {
        "other"
    }
}

/// Gauges of the connection pool, read when scraped so they are never stale.
struct PoolGauges<H>(H);

impl<H> fmt::Debug for PoolGauges<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PoolGauges")
    }
}

impl<H: HealthCheck> Collector for PoolGauges<H> {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), fmt::Error> {
        let pool = self.0.pool();
        let gauges = [
            ("db_pool_size", "Open database connections", pool.size()),
            (
                "db_pool_idle",
                "Open database connections no request uses",
                pool.idle(),
            ),
            (
                "db_pool_in_use",
                "Open database connections that are not idle",
                pool.in_use(),
            ),
            (
                "db_pool_max_size",
                "The most connections the pool may open",
                pool.max(),
            ),
            (
                "db_pool_waiting",
                "Requests waiting for a database connection",
                pool.waiting(),
            ),
        ];
        for (name, help, value) in gauges {
            let gauge = ConstGauge::new(i64::from(value));
            gauge.encode(encoder.encode_descriptor(name, help, None, gauge.metric_type())?)?;
        }
        Ok(())
    }
}

/// Counts and times every request, by the status it is finally answered with.
pub(crate) struct HttpMetrics(Arc<Metrics>);

impl HttpMetrics {
    /// Records into `metrics`.
    pub(crate) fn new(metrics: Arc<Metrics>) -> Self {
        Self(metrics)
    }
}

impl<E: Endpoint> Middleware<E> for HttpMetrics {
    type Output = HttpMetricsEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        HttpMetricsEndpoint {
            inner,
            metrics: Arc::clone(&self.0),
        }
    }
}

/// The endpoint [`HttpMetrics`] makes.
pub(crate) struct HttpMetricsEndpoint<E> {
    inner: E,
    metrics: Arc<Metrics>,
}

impl<E: Endpoint> Endpoint for HttpMetricsEndpoint<E> {
    type Output = Response;

    async fn call(&self, request: Request) -> poem::Result<Response> {
        let started = Instant::now();
        let _in_flight = InFlight::enter(&self.metrics.in_flight);
        let method = method_label(request.method());
        let route = self.metrics.routes.of_path(request.uri().path());
        let result = self
            .inner
            .call(request)
            .await
            .map(IntoResponse::into_response);
        let status = match &result {
            Ok(response) => response.status(),
            Err(error) => error.status(),
        };
        self.metrics
            .record(method, route, status, started.elapsed().as_secs_f64());
        result
    }
}

/// One request counted in `http_requests_in_flight` until dropped, so that
/// a request whose client went away (its future dropped) leaves the gauge too.
struct InFlight<'a>(&'a Gauge);

impl<'a> InFlight<'a> {
    fn enter(gauge: &'a Gauge) -> Self {
        gauge.inc();
        Self(gauge)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// `GET /metrics`: the exposition, in the Prometheus text format.
pub(crate) struct MetricsEndpoint(Arc<Metrics>);

impl MetricsEndpoint {
    /// Serves `metrics`.
    pub(crate) fn new(metrics: Arc<Metrics>) -> Self {
        Self(metrics)
    }
}

impl Endpoint for MetricsEndpoint {
    type Output = Response;

    async fn call(&self, _request: Request) -> poem::Result<Response> {
        let text = self.0.encode().map_err(|e| ApiError::internal(&e))?;
        Ok(Response::builder()
            .content_type(prometheus_text::CONTENT_TYPE)
            .body(text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_methods_the_api_knows_become_label_values() {
        let cases = [
            (Method::GET, "GET"),
            (Method::DELETE, "DELETE"),
            (Method::from_bytes(b"LOOKUP").expect("a token"), "LOOKUP"),
            (Method::from_bytes(b"BREW").expect("a token"), "other"),
            (
                Method::from_bytes(b"X-ANYTHING-42").expect("a token"),
                "other",
            ),
        ];

        for (method, label) in cases {
            assert_eq!(method_label(&method), label, "{method}");
        }
    }
}
