//! [`SeaOrmHealthCheck`]: the health port over the connection pool.

use std::time::Duration;

use domain::health::{HealthCheck, HealthError, PoolStatus};

use super::connect::{Database, pending_migrations, ping};
use super::error::store_error;

/// Readiness and pool figures of the database the repository uses.
#[derive(Debug, Clone)]
pub struct SeaOrmHealthCheck {
    db: Database,
    timeout: Duration,
}

impl SeaOrmHealthCheck {
    /// Checks `db`, giving up on a check after `timeout`.
    ///
    /// The bound matters when the network silently drops packets: a query on
    /// an already open connection then waits for TCP to give up, which takes
    /// many minutes, and the pool's acquire timeout does not cover it.
    pub fn new(db: Database, timeout: Duration) -> Self {
        Self { db, timeout }
    }
}

impl HealthCheck for SeaOrmHealthCheck {
    async fn check(&self) -> Result<(), HealthError> {
        let check = async {
            ping(&self.db)
                .await
                .map_err(|e| HealthError::Unreachable(e.into()))?;
            match pending_migrations(&self.db).await {
                Ok(0) => Ok(()),
                Ok(pending) => Err(HealthError::MigrationsPending(pending)),
                Err(e) => Err(HealthError::Unreachable(
                    store_error("read the migration status", &e).into(),
                )),
            }
        };
        tokio::time::timeout(self.timeout, check)
            .await
            .map_err(|_| HealthError::TimedOut(self.timeout))?
    }

    fn pool(&self) -> PoolStatus {
        self.db.pool().status()
    }
}
