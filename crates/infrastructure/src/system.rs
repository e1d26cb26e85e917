//! The production adapters of the clock, id and token ports.

use chrono::Utc;
use domain::integration_point::{
    Clock, IdGenerator, PointId, Timestamp, TokenGenerator, TokenLocal,
};
use uuid::Uuid;

/// The system clock, to the millisecond.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_datetime(Utc::now())
    }
}

/// UUIDv7 ids: time-ordered, so new rows land at the end of the primary key
/// index, and monotonic within the process.
#[derive(Debug, Clone, Copy, Default)]
pub struct UuidV7Ids;

impl IdGenerator for UuidV7Ids {
    fn new_id(&self) -> PointId {
        PointId::from_uuid(Uuid::now_v7())
    }
}

/// The operating system's random generator could not be used.
#[derive(Debug, thiserror::Error)]
#[error("the operating system's random number generator is unavailable")]
pub struct RandomnessUnavailable(#[source] getrandom::Error);

/// Local tokens of 128 bits from the operating system's cryptographically
/// secure generator.
#[derive(Debug, Clone, Copy)]
pub struct OsRandomTokens {
    // Only `new` makes one, after proving the generator works.
    _probed: (),
}

impl OsRandomTokens {
    /// Draws once from the generator, so that a system without a working one
    /// fails at startup rather than on the first create.
    ///
    /// # Errors
    /// [`RandomnessUnavailable`] when the draw fails.
    pub fn new() -> Result<Self, RandomnessUnavailable> {
        let mut probe = [0_u8; 16];
        getrandom::fill(&mut probe).map_err(RandomnessUnavailable)?;
        Ok(Self { _probed: () })
    }
}

impl TokenGenerator for OsRandomTokens {
    fn new_token(&self) -> TokenLocal {
        let mut bytes = [0_u8; 16];
        // The port is infallible on purpose: there is no safe fallback for a
        // credential, and a guessable token would be worse than no token. The
        // draw cannot fail in practice: `new` proved the generator works, and
        // once it has (Linux's getrandom(2) after the pool is initialised) a
        // request of at most 256 bytes always succeeds. Should the operating
        // system break anyway, panicking fails this one request with a 500
        // (the HTTP layer catches panics) and never hands out a weak token.
        getrandom::fill(&mut bytes)
            .expect("the OS random generator failed after working at startup");
        TokenLocal::from_bytes(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_32_lowercase_hex_digits_and_differ() {
        let tokens = OsRandomTokens::new().expect("OS generator available");

        let (a, b) = (tokens.new_token(), tokens.new_token());

        assert!(TokenLocal::new(a.as_str()).is_ok(), "well formed");
        assert_ne!(a, b);
    }

    #[test]
    fn ids_are_version_7_and_increase() {
        let (a, b) = (UuidV7Ids.new_id(), UuidV7Ids.new_id());

        assert_eq!(a.as_uuid().get_version_num(), 7);
        assert!(a < b);
    }

    #[test]
    fn the_clock_has_millisecond_precision() {
        let now = SystemClock.now();

        assert_eq!(Timestamp::from_millis(now.as_millis()), Ok(now));
    }
}
