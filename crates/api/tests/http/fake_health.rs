//! A hand-written `HealthCheck`: its verdict and its pool figures are set by
//! the test.

use std::sync::{Arc, Mutex, MutexGuard};

use domain::health::{HealthCheck, HealthError, PoolStatus};

/// What the next checks answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The database answers and is migrated.
    Ready,
    /// The database answers, but migrations are pending.
    Pending(usize),
    /// The database does not answer; the cause must never reach a client.
    Unreachable,
}

/// The cause behind [`Verdict::Unreachable`], which only the log may see.
pub const UNREACHABLE_DETAIL: &str = "connect 10.1.2.3:5432: password=hunter2 rejected";

struct State {
    verdict: Verdict,
    pool: PoolStatus,
}

/// The fake. Clones share their state.
#[derive(Clone)]
pub struct FakeHealth {
    state: Arc<Mutex<State>>,
}

impl Default for FakeHealth {
    fn default() -> Self {
        Self {
            state: Arc::new(Mutex::new(State {
                verdict: Verdict::Ready,
                pool: PoolStatus::new(0, 0, 1),
            })),
        }
    }
}

impl FakeHealth {
    /// Makes every later check answer `verdict`.
    pub fn set(&self, verdict: Verdict) {
        self.state().verdict = verdict;
    }

    /// Makes the pool report `status`.
    pub fn set_pool(&self, status: PoolStatus) {
        self.state().pool = status;
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl HealthCheck for FakeHealth {
    async fn check(&self) -> Result<(), HealthError> {
        match self.state().verdict {
            Verdict::Ready => Ok(()),
            Verdict::Pending(count) => Err(HealthError::MigrationsPending(count)),
            Verdict::Unreachable => Err(HealthError::Unreachable(UNREACHABLE_DETAIL.into())),
        }
    }

    fn pool(&self) -> PoolStatus {
        self.state().pool
    }
}
