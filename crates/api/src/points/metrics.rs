//! What the points count, beside the HTTP metrics: the change feed's
//! watchers and deliveries, and what the read cache has done.

use std::fmt;

use domain::change_feed::ChangeFeedService;
use domain::integration_point::{IntegrationPointService, Timestamp};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric as _};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::http::metrics::ResourceMetrics;

/// The points' metrics: the feed's, which its endpoints record into, whether
/// `feed` is listening, and the counters `service` keeps of its cache.
pub(crate) struct PointsMetrics<S, F> {
    metrics: FeedMetrics,
    feed: F,
    service: S,
}

impl<S: IntegrationPointService, F: ChangeFeedService> PointsMetrics<S, F> {
    /// The metrics of `feed` (recorded into `metrics`) and of `service`'s
    /// cache.
    pub(crate) fn new(metrics: FeedMetrics, feed: F, service: S) -> Self {
        Self {
            metrics,
            feed,
            service,
        }
    }
}

impl<S: IntegrationPointService, F: ChangeFeedService> ResourceMetrics for PointsMetrics<S, F> {
    fn register(self, registry: &mut Registry) {
        self.metrics.register(registry);
        registry.register_collector(Box::new(FeedListening(self.feed)));
        registry.register_collector(Box::new(CacheCounts(self.service)));
    }
}

/// Whether the feed hears other writers' changes, read on every scrape.
struct FeedListening<F>(F);

impl<F> fmt::Debug for FeedListening<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FeedListening")
    }
}

impl<F: ChangeFeedService> Collector for FeedListening<F> {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), fmt::Error> {
        let listening = ConstGauge::new(i64::from(self.0.listening()));
        listening.encode(encoder.encode_descriptor(
            "feed_listening",
            "1 while this replica hears of other writers' changes as they commit, \
             0 while its listener is lost and only the safety poll finds them",
            None,
            listening.metric_type(),
        )?)
    }
}

/// Upper bounds of the change feed's delivery lag buckets, in seconds: from
/// a change streamed as it commits to one a slow watcher catches up on.
const LAG_BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0, 30.0,
];

/// The change feed's metrics; clones share them.
#[derive(Debug, Clone)]
pub(crate) struct FeedMetrics {
    watchers: Gauge,
    delivered: Counter,
    lag: Histogram,
}

impl Default for FeedMetrics {
    fn default() -> Self {
        Self {
            watchers: Gauge::default(),
            delivered: Counter::default(),
            lag: Histogram::new(LAG_BUCKETS.iter().copied()),
        }
    }
}

impl FeedMetrics {
    fn register(&self, registry: &mut Registry) {
        registry.register(
            "feed_watchers",
            "Event streams of the change feed open on this replica",
            self.watchers.clone(),
        );
        registry.register(
            "feed_changes_delivered",
            "Changes sent to event stream watchers",
            self.delivered.clone(),
        );
        registry.register(
            "feed_delivery_lag_seconds",
            "Time from a change being recorded to its being sent to a watcher",
            self.lag.clone(),
        );
    }

    /// Counts a watcher until the guard is dropped.
    pub(crate) fn watcher_connected(&self) -> WatcherGuard {
        self.watchers.inc();
        WatcherGuard(self.watchers.clone())
    }

    /// Records a change recorded at `at` being sent now.
    pub(crate) fn delivered(&self, at: Timestamp) {
        self.delivered.inc();
        let now = Timestamp::from_datetime(chrono::Utc::now());
        let lag_ms = now.as_millis().saturating_sub(at.as_millis()).max(0);
        // Milliseconds to seconds: exact enough for a histogram.
        #[allow(clippy::cast_precision_loss)]
        self.lag.observe(lag_ms as f64 / 1000.0);
    }
}

/// One open event stream, counted in `feed_watchers` while it lives.
#[derive(Debug)]
pub(crate) struct WatcherGuard(Gauge);

impl Drop for WatcherGuard {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// What the service's read cache has done, read on every scrape; nothing
/// when reads are not cached.
struct CacheCounts<S>(S);

impl<S> fmt::Debug for CacheCounts<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CacheCounts")
    }
}

impl<S: IntegrationPointService> Collector for CacheCounts<S> {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), fmt::Error> {
        let Some(stats) = self.0.cache_stats() else {
            return Ok(());
        };
        let counters = [
            (
                "cache_hits",
                "GET one and LOOKUP requests answered from memory",
                stats.hits,
            ),
            (
                "cache_misses",
                "GET one and LOOKUP requests the current cache sent to the database",
                stats.misses,
            ),
            (
                "cache_invalidations",
                "Changes (own writes and the change feed's) that dropped cached answers",
                stats.invalidations,
            ),
            (
                "cache_stale_bypasses",
                "GET one and LOOKUP requests sent to the database because the cache \
                 could not confirm it had applied every change within cache.max_staleness_ms",
                stats.bypasses,
            ),
        ];
        for (name, help, value) in counters {
            let counter = ConstCounter::new(value);
            counter.encode(encoder.encode_descriptor(
                name,
                help,
                None,
                counter.metric_type(),
            )?)?;
        }
        let entries = ConstGauge::new(i64::try_from(stats.entries).unwrap_or(i64::MAX));
        entries.encode(encoder.encode_descriptor(
            "cache_entries",
            "Points and LOOKUP answers held in memory",
            None,
            entries.metric_type(),
        )?)?;
        Ok(())
    }
}
