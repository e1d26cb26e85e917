//! Use cases of the integration points service, written against the domain's
//! ports: no storage or HTTP here, so every rule can be tested with in-memory
//! ports. The change feed's fan-out uses tokio's channels and timers (no IO).

pub mod cache;
pub mod change_feed;
pub mod integration_point;
#[cfg(feature = "testing")]
pub mod testing;
pub mod transfer;

pub use cache::{CacheSettings, CachedService};
pub use change_feed::{ChangeHub, FeedService, HubEvent, HubSettings, HubSubscription, Retention};
pub use integration_point::Service;
pub use transfer::TransferService;
