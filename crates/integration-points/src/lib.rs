//! The integration points service's composition root: configuration, logging
//! and the wiring of the layers. `main.rs` only parses the command line.

pub mod access;
mod choice;
pub mod cli;
pub mod configuration;
pub mod healthcheck;
pub mod startup;
pub mod telemetry;
pub mod transfer;
