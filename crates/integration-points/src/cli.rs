//! The command line: `serve` (the default), `migrate`, `openapi`, `check-config`.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Parser, Subcommand, ValueEnum};

use crate::configuration::{Settings, redact_url_password};
use crate::startup::{self, Application};
use crate::telemetry;

/// Integration points: a REST service that manages the channels connecting the
/// platform to outside messaging systems (web hooks, Telegram bots, …).
///
/// Settings come from the compiled-in defaults, then config/$APP_ENV.toml,
/// then --config FILE, then APP__SECTION__KEY environment variables
/// (for example APP__SERVER__PORT=9000 or APP__DATABASE__URL=postgres://…).
#[derive(Debug, Parser)]
#[command(name = "integration-points", version, about, long_about)]
pub struct Cli {
    /// A TOML file layered over the defaults and config/$APP_ENV.toml.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// What to do; `serve` when omitted.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// A subcommand.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the HTTP API until SIGTERM or SIGINT (the default).
    Serve,
    /// Apply, revert or list database migrations, then exit.
    Migrate {
        /// `up` applies every pending migration, `down` reverts the latest one,
        /// `status` lists them.
        #[arg(value_enum, default_value_t = MigrateAction::Up)]
        action: MigrateAction,
    },
    /// Print the OpenAPI document (JSON) to stdout, to generate clients offline.
    Openapi,
    /// Load and validate the configuration, then print it with secrets redacted.
    CheckConfig,
}

/// What `migrate` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MigrateAction {
    /// Apply every pending migration.
    Up,
    /// Revert the most recently applied migration.
    Down,
    /// List migrations and whether each is applied.
    Status,
}

/// Runs the command the command line names.
///
/// # Errors
/// Whatever the command fails with, with context for the operator.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let settings = Settings::load(cli.config.as_deref())?;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(settings).await,
        Command::Migrate { action } => migrate(&settings, action).await,
        Command::Openapi => {
            println!("{}", openapi(&settings).await?);
            Ok(())
        }
        Command::CheckConfig => {
            print!("{}", settings.redacted_toml()?);
            Ok(())
        }
    }
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    init_logging(&settings)?;
    let app = Application::build(&settings).await?;
    app.run_until(startup::shutdown_signal()).await?;
    tracing::info!("stopped");
    Ok(())
}

async fn migrate(settings: &Settings, action: MigrateAction) -> anyhow::Result<()> {
    init_logging(settings)?;
    let url = redact_url_password(&settings.database.url);
    let db = infrastructure::connect(&settings.database.to_connection_settings())
        .await
        .with_context(|| format!("failed to connect to the database at {url}"))?;
    match action {
        MigrateAction::Up => {
            infrastructure::migrate(&db)
                .await
                .context("migration failed")?;
            println!("all migrations applied to {url}");
        }
        MigrateAction::Down => {
            infrastructure::migrate_down(&db, 1)
                .await
                .context("reverting the latest migration failed")?;
            println!("reverted the latest migration of {url}");
        }
        MigrateAction::Status => {
            for (name, applied) in infrastructure::migration_status(&db)
                .await
                .context("reading the migration status failed")?
            {
                println!("{} {name}", if applied { "applied" } else { "pending" });
            }
        }
    }
    Ok(())
}

async fn openapi(settings: &Settings) -> anyhow::Result<String> {
    // The document does not depend on data; an in-memory database gives the
    // real service to describe without touching the configured one.
    let mut offline = settings.clone();
    offline.database.url = "sqlite::memory:".to_owned();
    offline.database.auto_migrate = false;
    offline.database.min_connections = 1;
    offline.database.max_connections = 1;
    let service = startup::build_service(&offline).await?;
    Ok(api::openapi_json(service, startup::api_config(settings)))
}

fn init_logging(settings: &Settings) -> anyhow::Result<()> {
    telemetry::init_subscriber(telemetry::get_subscriber(
        &settings.log.level,
        settings.log.format,
        std::io::stdout,
    ))
}
