//! Use cases of the integration points service, written against the domain's
//! ports: no storage, HTTP or runtime here, so every rule can be tested with
//! in-memory ports.

pub mod integration_point;
pub mod transfer;

pub use integration_point::Service;
pub use transfer::TransferService;
