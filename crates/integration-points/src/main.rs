//! `integration-points`: see `--help`.

use std::process::ExitCode;

use clap::Parser as _;
use integration_points::cli::{self, Cli};

fn main() -> ExitCode {
    match cli::run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // Logging may not be set up yet (bad configuration), so stderr it is.
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
