//! The command line: `serve` (the default), `migrate`, `openapi`, `check-config`,
//! `healthcheck`, `export`, `import`.

use std::io::IsTerminal as _;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Parser, Subcommand, ValueEnum};
use domain::integration_point::ExistingPoints;

use crate::configuration::Settings;
use crate::startup::{self, Application};
use crate::transfer;
use crate::{healthcheck, telemetry};

/// Examples shown at the end of `--help`.
const EXAMPLES: &str = "\
Examples:
  integration-points
      Serve on 127.0.0.1:8080, with SQLite in ./data.
  APP__DATABASE__URL=postgres://app:secret@db:5432/points integration-points serve
      Serve on PostgreSQL.
  integration-points --config production.toml check-config
      Show the settings a start would use, secrets redacted.
  integration-points migrate status
      List the migrations and whether each is applied.
  integration-points openapi > openapi.json
      Write the API description, to generate clients offline.
  integration-points export > points.ndjson
      Write every point, one JSON object a line (a backup, or a move).
  APP__DATABASE__URL=postgres://app:secret@db/points integration-points import < points.ndjson
      Load an export into another database.";

/// What `serve --help` adds.
const SERVE_NOTES: &str = "\
Besides the API under /rest/v1/service/integration_points, it serves:
  GET /health/live     200 while the process runs
  GET /health/ready    200 when the database answers and is migrated, else 503
  GET /metrics         Prometheus metrics
  GET /docs            Swagger UI (GET /openapi.json is the document)

It listens before it reaches the database, answering 503 until it has
connected and migrated, and keeps trying (database.startup_timeout_ms bounds
the wait; 0, the default, waits for ever).

SIGTERM stops it gracefully: for server.shutdown_delay_ms it serves on, not
ready and closing each connection after its response, while load balancers
stop routing to it; then it stops accepting connections, gives requests in
flight server.shutdown_timeout_ms to finish, closes the database pool and
exits with status 0. SIGINT does the same without the delay.";

/// Integration points: a REST service that manages the channels connecting the
/// platform to outside messaging systems (web hooks, Telegram bots, …).
///
/// Settings are layered, each layer overriding the one before: the compiled-in
/// defaults, config/$APP_ENV.toml when APP_ENV is set, the file given with
/// --config, and APP__SECTION__KEY environment variables (APP__SERVER__PORT=9000,
/// APP__DATABASE__URL=postgres://…). `check-config` prints the result.
#[derive(Debug, Parser)]
#[command(
    name = "integration-points",
    version,
    about,
    long_about,
    after_help = EXAMPLES,
    after_long_help = EXAMPLES
)]
pub struct Cli {
    /// A TOML file of settings, layered over the defaults and
    /// config/$APP_ENV.toml and under APP__… environment variables.
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
    #[command(after_help = SERVE_NOTES)]
    Serve,
    /// Apply, revert or list database migrations, then exit.
    ///
    /// Serving applies pending migrations itself unless database.auto_migrate
    /// is false; this command is for doing it by hand, before a rollout or to
    /// undo one.
    #[command(after_help = "Examples:\n  integration-points migrate status\n  \
                            APP__DATABASE__URL=postgres://app:secret@db/points integration-points migrate up")]
    Migrate {
        /// What to do with the migrations.
        #[arg(value_enum, default_value_t = MigrateAction::Up)]
        action: MigrateAction,
    },
    /// Print the OpenAPI document (JSON) to stdout, to generate clients offline.
    ///
    /// It needs no database and reads no settings: the document describes the
    /// API, which no setting changes.
    Openapi,
    /// Load and validate the configuration, then print it as TOML with secrets
    /// redacted.
    ///
    /// Exits with a non-zero status and a message naming the problem when a
    /// setting is malformed or a key is unknown (a misspelt APP__… variable
    /// included), so it can gate a deployment.
    CheckConfig,
    /// Exit 0 when the service on this machine is ready (GET /health/ready on
    /// the configured port answers 200), else 1 with the reason: the
    /// container health check, which needs no curl in the image.
    ///
    /// A service listening on 0.0.0.0 or :: is asked on loopback.
    Healthcheck,
    /// Write every point to stdout, one JSON object a line (NDJSON), in id
    /// order: the API's representation with id, tokens and ext.
    ///
    /// Reads page by page, so memory stays flat however many points there
    /// are; `import` reads the file back.
    #[command(
        after_help = "Examples:\n  integration-points export > points.ndjson\n  \
                            integration-points export | gzip > points.ndjson.gz"
    )]
    Export,
    /// Read points from stdin, one JSON object a line (as `export` writes
    /// them), and store them as they are: id, tokens, ext.ct and ext.lwt kept.
    ///
    /// Each line is checked as a create request is (and must have id,
    /// token_local and ext). A point whose id is stored already is skipped,
    /// or overwritten with --replace; one whose code or local token another
    /// point holds is rejected. Rejected lines are listed with their numbers,
    /// then a summary; the exit status is non-zero when any line was
    /// rejected. Points are stored in batches, so memory stays flat.
    #[command(
        after_help = "Examples:\n  integration-points import < points.ndjson\n  \
                            APP__DATABASE__URL=postgres://app:secret@db/points integration-points import --replace < points.ndjson"
    )]
    Import {
        /// Overwrite stored points that have an imported point's id, instead
        /// of keeping them.
        #[arg(long)]
        replace: bool,
    },
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

/// Runs the command the command line names, on an async runtime sized by
/// the settings.
///
/// # Errors
/// Whatever the command fails with, with context for the operator.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    let settings = match cli.command {
        // The document describes the API, which no setting changes, so a
        // configuration that is incomplete or wrong (a database URL not yet
        // known, say) must not stop a client being generated from it.
        Some(Command::Openapi) => Settings::defaults()?,
        _ => Settings::load(cli.config.as_deref())?,
    };
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    runtime.enable_all();
    if settings.server.worker_threads > 0 {
        runtime.worker_threads(settings.server.worker_threads);
    }
    let runtime = runtime.build().context("cannot start the async runtime")?;
    runtime.block_on(execute(cli.command.unwrap_or(Command::Serve), settings))
}

async fn execute(command: Command, settings: Settings) -> anyhow::Result<()> {
    match command {
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
        Command::Healthcheck => healthcheck::check(&settings),
        Command::Export => {
            // The points go to stdout, so the log goes to stderr.
            init_logging(&settings, Sink::Stderr)?;
            let count = transfer::export(&settings, std::io::stdout()).await?;
            eprintln!("exported {count} points");
            Ok(())
        }
        Command::Import { replace } => {
            init_logging(&settings, Sink::Stderr)?;
            let existing = if replace {
                ExistingPoints::Replace
            } else {
                ExistingPoints::Skip
            };
            let summary = transfer::import(
                &settings,
                std::io::stdin().lock(),
                transfer::stdin_len(),
                existing,
                std::io::stdout(),
            )
            .await?;
            println!("{summary}");
            match summary.rejected {
                0 => Ok(()),
                rejected => Err(anyhow::anyhow!("{rejected} line(s) rejected")),
            }
        }
    }
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    init_logging(&settings, Sink::Stdout)?;
    let app = Application::build(&settings).await?;
    app.run_until(startup::shutdown_signal()).await?;
    tracing::info!("stopped");
    Ok(())
}

async fn migrate(settings: &Settings, action: MigrateAction) -> anyhow::Result<()> {
    // Its report goes to stdout, so its log goes to stderr.
    init_logging(settings, Sink::Stderr)?;
    let url = infrastructure::redact_url_password(&settings.database.url);
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
    let (service, feed) = startup::build_service(&offline)?;
    Ok(api::openapi_json(
        service,
        feed.service.clone(),
        startup::api_config(settings),
    ))
}

/// Where log lines go.
enum Sink {
    Stdout,
    Stderr,
}

fn init_logging(settings: &Settings, sink: Sink) -> anyhow::Result<()> {
    let (level, format) = (&settings.log.level, settings.log.format);
    telemetry::init_subscriber(match sink {
        Sink::Stdout => {
            let colours = std::io::stdout().is_terminal();
            telemetry::get_subscriber(level, format, std::io::stdout, colours)
        }
        Sink::Stderr => {
            let colours = std::io::stderr().is_terminal();
            telemetry::get_subscriber(level, format, std::io::stderr, colours)
        }
    })
}
