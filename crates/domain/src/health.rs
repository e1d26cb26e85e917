//! The health of the store, for operators: whether the service can serve now
//! (readiness), and how busy its database connections are (metrics).
//!
//! This is a driven port like the repository: the HTTP adapter asks, the
//! storage adapter answers, and neither knows the other.

use std::error::Error as StdError;
use std::future::Future;
use std::time::Duration;

type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// Asks the store whether it can serve requests.
pub trait HealthCheck: Clone + Send + Sync + 'static {
    /// Checks that the store answers and that its schema is the one this
    /// build expects.
    ///
    /// # Errors
    /// MUST return [`HealthError::Unreachable`] when the store does not answer,
    /// [`HealthError::TimedOut`] instead of waiting past the bound the
    /// implementation was built with (a store that hangs must not hang the
    /// caller), and [`HealthError::MigrationsPending`] when migrations remain
    /// to be applied.
    fn check(&self) -> impl Future<Output = Result<(), HealthError>> + Send;

    /// The connection pool as it is now. No IO: it is read on every scrape
    /// of the metrics.
    fn pool(&self) -> PoolStatus;
}

/// Why the store cannot serve. The messages are safe to show to a client;
/// the source, when there is one, is for the log.
#[derive(Debug, thiserror::Error)]
pub enum HealthError {
    /// The store refused or failed the check.
    #[error("the database does not answer")]
    Unreachable(#[source] BoxError),
    /// The store did not answer within the bound.
    #[error("the database did not answer within {} ms", .0.as_millis())]
    TimedOut(Duration),
    /// The schema lags behind this build: the service would fail on queries.
    #[error("{0} database migration(s) pending")]
    MigrationsPending(usize),
}

/// A snapshot of a connection pool. The figures are read one after the other
/// while connections come and go, so they are made consistent here rather
/// than trusted: `idle ≤ size ≤ max` always holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStatus {
    size: u32,
    idle: u32,
    max: u32,
    waiting: u32,
}

impl PoolStatus {
    /// A snapshot of `size` open connections, `idle` of them unused, in a
    /// pool of at most `max`; out-of-order figures are clamped.
    pub fn new(size: u32, idle: u32, max: u32) -> Self {
        let size = size.min(max);
        Self {
            size,
            idle: idle.min(size),
            max,
            waiting: 0,
        }
    }

    /// The same snapshot, with `waiting` requests queued for a connection.
    #[must_use]
    pub fn with_waiting(self, waiting: u32) -> Self {
        Self { waiting, ..self }
    }

    /// Connections open now, busy or idle.
    pub fn size(&self) -> u32 {
        self.size
    }

    /// Open connections that no request is using.
    pub fn idle(&self) -> u32 {
        self.idle
    }

    /// Open connections that are not idle: used by a request, or being
    /// checked by the pool on their way in or out.
    pub fn in_use(&self) -> u32 {
        self.size - self.idle
    }

    /// The most connections the pool may open.
    pub fn max(&self) -> u32 {
        self.max
    }

    /// Requests waiting for a connection because every one is in use.
    pub fn waiting(&self) -> u32 {
        self.waiting
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_in_use_are_the_open_ones_that_are_not_idle() {
        let status = PoolStatus::new(5, 2, 16);

        assert_eq!(
            (status.size(), status.idle(), status.in_use(), status.max()),
            (5, 2, 3, 16)
        );
    }

    #[test]
    fn figures_read_while_connections_move_are_clamped_into_order() {
        let cases = [
            ("more idle than open", PoolStatus::new(2, 3, 16), (2, 2, 0)),
            (
                "more open than the maximum",
                PoolStatus::new(9, 1, 8),
                (8, 1, 7),
            ),
        ];

        for (what, status, (size, idle, in_use)) in cases {
            assert_eq!(
                (status.size(), status.idle(), status.in_use()),
                (size, idle, in_use),
                "{what}"
            );
        }
    }

    #[test]
    fn messages_tell_an_operator_what_is_wrong_without_internal_detail() {
        let unreachable = HealthError::Unreachable("connection refused to 10.0.0.7".into());

        assert_eq!(unreachable.to_string(), "the database does not answer");
        assert_eq!(
            HealthError::TimedOut(Duration::from_millis(1500)).to_string(),
            "the database did not answer within 1500 ms"
        );
        assert_eq!(
            HealthError::MigrationsPending(2).to_string(),
            "2 database migration(s) pending"
        );
    }
}
