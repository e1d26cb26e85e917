//! Logging through `tracing`: one subscriber, built once, writing to a sink the
//! caller chooses (stdout in production, a buffer in tests).

use tracing::Subscriber;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::{EnvFilter, Registry};

use crate::configuration::LogFormat;

/// Builds a subscriber filtered by `RUST_LOG` when set, else by `default_filter`.
///
/// `colours` turns on the pretty format's terminal escape codes: wanted on a
/// terminal, noise in a file or a log collector.
pub fn get_subscriber<W>(
    default_filter: &str,
    format: LogFormat,
    sink: W,
    colours: bool,
) -> Box<dyn Subscriber + Send + Sync>
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let registry = Registry::default().with(filter);
    match format {
        // Every span the event is in, outermost first: a line logged deep in
        // an adapter's span still carries the request's id from the outer one.
        LogFormat::Json => Box::new(
            registry.with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_current_span(false)
                    .with_span_list(true)
                    .with_writer(sink),
            ),
        ),
        LogFormat::Pretty => Box::new(
            registry.with(
                tracing_subscriber::fmt::layer()
                    .with_ansi(colours)
                    .with_writer(sink),
            ),
        ),
    }
}

/// Installs the subscriber for the whole process; call it once, first thing.
///
/// # Errors
/// When a global subscriber is already installed.
pub fn init_subscriber(subscriber: Box<dyn Subscriber + Send + Sync>) -> anyhow::Result<()> {
    tracing::subscriber::set_global_default(subscriber)?;
    Ok(())
}
