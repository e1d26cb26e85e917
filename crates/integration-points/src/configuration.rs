//! Typed settings, layered from the compiled-in defaults, an environment file,
//! a file named on the command line and `APP__…` environment variables.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use config::{Config, Environment, File, FileFormat};
use serde::{Deserialize, Serialize};

use api::{CorsOriginError, CorsOrigins};
use infrastructure::SqliteSynchronous;

use crate::access::AuthSettings;
pub use crate::choice::{Choice, UnknownChoice, parse_choice};
use crate::choice::{choice, choice_name, choice_setting};

mod secret_files;

/// `config/default.toml`, compiled in so that the binary runs from any directory.
const DEFAULTS: &str = include_str!("../../../config/default.toml");

/// Every setting of the service.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// The HTTP listener.
    pub server: ServerSettings,
    /// The database.
    pub database: DatabaseSettings,
    /// List requests.
    pub list: ListSettings,
    /// HTTP request limits.
    pub http: HttpSettings,
    /// Who may call the API.
    pub auth: AuthSettings,
    /// The change feed.
    pub feed: FeedSettings,
    /// Reads served from memory.
    pub cache: CacheSettings,
    /// Logging.
    pub log: LogSettings,
}

/// The HTTP listener.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    /// Address to bind.
    pub host: String,
    /// Port to bind; 0 picks a free one.
    pub port: u16,
    /// How long in-flight requests may take to finish on shutdown.
    pub shutdown_timeout_ms: u64,
    /// How long the server keeps serving after SIGTERM, not ready, before
    /// it stops accepting: the time load balancers take to stop routing to it.
    pub shutdown_delay_ms: u64,
    /// How long a connection may take to deliver a complete request head,
    /// from being accepted or from the previous response.
    pub header_read_timeout_ms: u64,
    /// How long a request may take, body and database included.
    pub request_timeout_ms: u64,
    /// Threads of the async runtime; 0 for one per core.
    pub worker_threads: usize,
}

/// The database.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    /// `sqlite://…` or `postgres://…`. May hold a password: never log it whole.
    pub url: String,
    /// Apply pending migrations at start-up.
    pub auto_migrate: bool,
    /// PostgreSQL schema to use; empty for the search path's default.
    pub schema: String,
    /// Largest pool size.
    pub max_connections: u32,
    /// Connections opened at start-up.
    pub min_connections: u32,
    /// Bound on opening one connection.
    pub connect_timeout_ms: u64,
    /// How long `serve` keeps trying to reach (and migrate) the database at
    /// start-up before it gives up; 0 for ever.
    pub startup_timeout_ms: u64,
    /// Bound on waiting for a pooled connection.
    pub acquire_timeout_ms: u64,
    /// Bound on one statement of the repository.
    pub statement_timeout_ms: u64,
    /// PostgreSQL: `false` behind a pooler in transaction mode (PgBouncer
    /// before 1.21): no named prepared statements, no session settings.
    pub prepared_statements: bool,
    /// SQLite file only: `full` (an acknowledged write survives a power
    /// loss) or `normal` (it survives a crash of the process only).
    #[serde(deserialize_with = "choice", serialize_with = "choice_name")]
    pub sqlite_synchronous: SqliteSynchronous,
}

/// List requests.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ListSettings {
    /// Default and maximum `limit`.
    pub max_limit: u64,
    /// How many matching points `count=estimated` counts exactly.
    pub exact_count_max: u64,
}

/// HTTP request limits.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSettings {
    /// Largest request body, in bytes.
    pub body_limit: usize,
    /// Longest query string, in bytes.
    pub query_limit: usize,
    /// Cross-origin requests from browsers.
    pub cors: CorsSettings,
}

/// Which browser origins may call the API (`[http.cors]`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(try_from = "CorsTable", into = "CorsTable")]
pub struct CorsSettings {
    origins: CorsOrigins,
}

impl CorsSettings {
    /// The origins allowed.
    pub fn origins(&self) -> &CorsOrigins {
        &self.origins
    }
}

/// `[http.cors]` as written.
#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct CorsTable {
    #[serde(deserialize_with = "list_or_comma_separated")]
    allowed_origins: Vec<String>,
}

/// Why `[http.cors]` is invalid.
#[derive(Debug, thiserror::Error)]
#[error("allowed_origins: {0}")]
pub struct CorsSettingsError(#[from] CorsOriginError);

impl TryFrom<CorsTable> for CorsSettings {
    type Error = CorsSettingsError;

    fn try_from(table: CorsTable) -> Result<Self, CorsSettingsError> {
        let origins = CorsOrigins::from_config(&table.allowed_origins)?;
        Ok(Self { origins })
    }
}

impl From<CorsSettings> for CorsTable {
    fn from(settings: CorsSettings) -> Self {
        Self {
            allowed_origins: settings.origins.to_config(),
        }
    }
}

/// Reads a list of strings written as a list (files) or, since an
/// environment variable is only ever a string, as one comma-separated string.
fn list_or_comma_separated<'de, D>(deserializer: D) -> Result<Vec<String>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Written {
        List(Vec<String>),
        Joined(String),
    }
    Ok(match Written::deserialize(deserializer)? {
        Written::List(items) => items,
        Written::Joined(joined) => joined
            .split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(str::to_owned)
            .collect(),
    })
}

/// Reads served from memory (GET one and LOOKUP).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CacheSettings {
    /// Whether GET one and LOOKUP are answered from memory.
    pub enabled: bool,
    /// The most points, and separately the most LOOKUP answers, held.
    pub max_entries: usize,
    /// How long a replica may go without confirming it has applied every
    /// change before it reads the database instead.
    pub max_staleness_ms: u64,
}

/// The change feed.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FeedSettings {
    /// How long changes are kept: a number and a unit, `s`, `m`, `h` or `d`.
    pub retention: String,
    /// How often the feed looks for changes nobody announced.
    pub poll_interval_ms: u64,
    /// PostgreSQL only: where the connection that listens for changes goes;
    /// empty for `database.url`. May hold a password.
    pub listen_url: String,
}

impl FeedSettings {
    /// `retention` as a duration.
    ///
    /// # Errors
    /// When it is not a positive number followed by `s`, `m`, `h` or `d`.
    pub fn retention(&self) -> anyhow::Result<Duration> {
        let value = self.retention.trim();
        let split = value.len().saturating_sub(1);
        let (number, unit) = (
            value.get(..split).unwrap_or(""),
            value.get(split..).unwrap_or(""),
        );
        let seconds = match unit {
            "s" => 1,
            "m" => 60,
            "h" => 3600,
            "d" => 86_400,
            _ => 0,
        };
        let count: u64 = number.parse().unwrap_or(0);
        anyhow::ensure!(
            seconds > 0 && count > 0,
            "feed.retention must be a positive number followed by s, m, h or d (like \"7d\")"
        );
        Ok(Duration::from_secs(count.saturating_mul(seconds)))
    }

    /// The URL the change listener connects to.
    pub fn listen_url<'a>(&'a self, database: &'a DatabaseSettings) -> &'a str {
        if self.listen_url.is_empty() {
            &database.url
        } else {
            &self.listen_url
        }
    }
}

/// Logging.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    /// `tracing` filter directives; `RUST_LOG` takes precedence.
    pub level: String,
    /// Output format.
    pub format: LogFormat,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(try_from = "String", into = "&'static str")]
pub enum LogFormat {
    /// Human-readable lines.
    Pretty,
    /// One JSON object per line.
    Json,
}

impl Choice for LogFormat {
    const ALL: &'static [Self] = &[Self::Pretty, Self::Json];

    fn name(self) -> &'static str {
        match self {
            Self::Pretty => "pretty",
            Self::Json => "json",
        }
    }
}

choice_setting!(LogFormat);

impl Choice for SqliteSynchronous {
    const ALL: &'static [Self] = &SqliteSynchronous::ALL;

    fn name(self) -> &'static str {
        SqliteSynchronous::name(self)
    }
}

impl Settings {
    /// Loads the layers in order: compiled-in defaults, `config/$APP_ENV.toml`
    /// (relative to the working directory, when `APP_ENV` is set), `file`, and
    /// `APP__SECTION__KEY` environment variables, where `APP__DATABASE__URL_FILE`
    /// and `APP__AUTH__KEYS_FILE` may name a file holding the value instead.
    ///
    /// # Errors
    /// A missing environment or explicit file, a malformed value or an unknown
    /// key, an unreadable secret file.
    pub fn load(file: Option<&Path>) -> anyhow::Result<Self> {
        let app_env = std::env::var("APP_ENV").ok().filter(|e| !e.is_empty());
        // Variables that are not Unicode cannot be settings; skipping them
        // (rather than `env::vars`, which panics on one) lets their owner run.
        let variables = std::env::vars_os().filter_map(|(name, value)| {
            Some((name.into_string().ok()?, value.into_string().ok()?))
        });
        let variables = secret_files::resolve(variables, |path| std::fs::read_to_string(path))?;
        let environment = Environment::with_prefix("APP").source(Some(variables));
        Self::load_from(app_env.as_deref(), file, environment)
    }

    /// The compiled-in defaults alone, whatever the environment says.
    ///
    /// # Errors
    /// Only if the compiled-in defaults are invalid, which a test rules out.
    pub fn defaults() -> anyhow::Result<Self> {
        let no_variables = Environment::with_prefix("APP").source(Some(Default::default()));
        Self::load_from(None, None, no_variables)
    }

    /// [`Settings::load`] with the environment layer given, so tests need not
    /// touch the process environment.
    ///
    /// # Errors
    /// As [`Settings::load`].
    pub fn load_from(
        app_env: Option<&str>,
        file: Option<&Path>,
        environment: Environment,
    ) -> anyhow::Result<Self> {
        let mut builder = Config::builder().add_source(File::from_str(DEFAULTS, FileFormat::Toml));
        if let Some(env) = app_env {
            let path = PathBuf::from("config").join(format!("{env}.toml"));
            anyhow::ensure!(
                path.is_file(),
                "APP_ENV={env} but {} does not exist",
                path.display()
            );
            builder = builder.add_source(File::from(path));
        }
        if let Some(file) = file {
            anyhow::ensure!(
                file.is_file(),
                "configuration file {} does not exist",
                file.display()
            );
            builder = builder.add_source(File::from(file.to_path_buf()));
        }
        let settings: Self = builder
            .add_source(
                environment
                    .prefix_separator("__")
                    .separator("__")
                    .try_parsing(true),
            )
            .build()
            .context("failed to read the configuration")?
            .try_deserialize()
            .context("invalid configuration")?;
        settings.validate()?;
        Ok(settings)
    }

    fn validate(&self) -> anyhow::Result<()> {
        let db = &self.database;
        anyhow::ensure!(
            db.url.starts_with("sqlite:")
                || db.url.starts_with("postgres:")
                || db.url.starts_with("postgresql:"),
            "database.url must start with sqlite: or postgres:"
        );
        anyhow::ensure!(
            db.max_connections >= 1,
            "database.max_connections must be at least 1"
        );
        anyhow::ensure!(
            db.min_connections <= db.max_connections,
            "database.min_connections must not exceed database.max_connections"
        );
        anyhow::ensure!(
            db.statement_timeout_ms >= 1,
            "database.statement_timeout_ms must be at least 1"
        );
        anyhow::ensure!(
            self.http.body_limit >= 1024,
            "http.body_limit must be at least 1024 bytes"
        );
        anyhow::ensure!(
            (1024..=api::ApiConfig::MAX_QUERY_LIMIT).contains(&self.http.query_limit),
            "http.query_limit must be from 1024 to {} bytes",
            api::ApiConfig::MAX_QUERY_LIMIT
        );
        anyhow::ensure!(
            self.server.worker_threads <= 1024,
            "server.worker_threads must be at most 1024 (0 for one per core)"
        );
        anyhow::ensure!(
            self.server.header_read_timeout_ms >= 1 && self.server.request_timeout_ms >= 1,
            "server.header_read_timeout_ms and server.request_timeout_ms must be at least 1"
        );
        self.feed.retention()?;
        anyhow::ensure!(
            self.feed.poll_interval_ms >= 10,
            "feed.poll_interval_ms must be at least 10"
        );
        anyhow::ensure!(
            self.cache.max_entries >= 1,
            "cache.max_entries must be at least 1"
        );
        Ok(())
    }

    /// The settings as TOML with secrets (the database password) redacted.
    ///
    /// # Errors
    /// Only if serialisation fails, which the types rule out in practice.
    pub fn redacted_toml(&self) -> anyhow::Result<String> {
        let mut copy = self.clone();
        copy.database.url = infrastructure::redact_url_password(&copy.database.url);
        copy.feed.listen_url = infrastructure::redact_url_password(&copy.feed.listen_url);
        toml::to_string(&copy).context("serialising settings")
    }
}

impl DatabaseSettings {
    /// The settings the persistence adapter takes.
    pub fn to_connection_settings(&self) -> infrastructure::DatabaseSettings {
        infrastructure::DatabaseSettings {
            url: self.url.clone(),
            max_connections: self.max_connections,
            min_connections: self.min_connections,
            connect_timeout: Duration::from_millis(self.connect_timeout_ms),
            acquire_timeout: Duration::from_millis(self.acquire_timeout_ms),
            statement_timeout: Duration::from_millis(self.statement_timeout_ms),
            schema: Some(self.schema.clone()).filter(|s| !s.is_empty()),
            prepared_statements: self.prepared_statements,
            sqlite_synchronous: self.sqlite_synchronous,
        }
    }
}

/// An `APP__…` environment layer from a list, so tests never touch the
/// process environment (other tests run beside them).
#[cfg(test)]
pub(crate) fn test_environment(vars: &[(&str, &str)]) -> Environment {
    let map = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    Environment::with_prefix("APP").source(Some(map))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(vars: &[(&str, &str)]) -> Environment {
        test_environment(vars)
    }

    #[test]
    fn defaults_serve_sqlite_on_loopback_port_8080() {
        let settings = Settings::load_from(None, None, env(&[])).expect("defaults load");
        assert_eq!(settings.server.host, "127.0.0.1");
        assert_eq!(settings.server.port, 8080);
        assert!(settings.database.url.starts_with("sqlite://data/"));
        assert!(settings.database.auto_migrate);
        assert_eq!(settings.list.max_limit, 1000);
        assert_eq!(settings.http.body_limit, 64 * 1024);
    }

    #[test]
    fn worker_threads_default_to_one_per_core_and_are_bounded() {
        let default = Settings::load_from(None, None, env(&[])).expect("defaults load");
        let one = Settings::load_from(None, None, env(&[("APP__SERVER__WORKER_THREADS", "1")]))
            .expect("loads");
        let absurd =
            Settings::load_from(None, None, env(&[("APP__SERVER__WORKER_THREADS", "5000")]));

        assert_eq!(default.server.worker_threads, 0, "0 = one per core");
        assert_eq!(one.server.worker_threads, 1);
        let error = absurd.expect_err("too many").to_string();
        assert!(error.contains("server.worker_threads"), "{error}");
    }

    #[test]
    fn environment_variables_override_nested_keys() {
        let settings = Settings::load_from(
            None,
            None,
            env(&[
                ("APP__SERVER__PORT", "9000"),
                ("APP__DATABASE__URL", "postgres://u:p@db:5432/ip"),
                ("APP__DATABASE__AUTO_MIGRATE", "false"),
            ]),
        )
        .expect("loads");
        assert_eq!(settings.server.port, 9000);
        assert_eq!(settings.database.url, "postgres://u:p@db:5432/ip");
        assert!(!settings.database.auto_migrate);
    }

    #[test]
    fn a_config_file_overrides_defaults_and_environment_overrides_the_file() {
        let path = std::env::temp_dir().join(format!("ip-config-{}.toml", std::process::id()));
        std::fs::write(&path, "[server]\nport = 7000\nhost = \"0.0.0.0\"\n").expect("written");
        let settings =
            Settings::load_from(None, Some(&path), env(&[("APP__SERVER__PORT", "7001")]))
                .expect("loads");
        std::fs::remove_file(&path).ok();
        assert_eq!(settings.server.host, "0.0.0.0");
        assert_eq!(settings.server.port, 7001);
    }

    #[test]
    fn a_wrong_enum_value_is_answered_with_the_valid_ones() {
        let error = Settings::load_from(None, None, env(&[("APP__LOG__FORMAT", "xml")]))
            .expect_err("xml is no log format");

        let message = format!("{error:#}");
        assert!(
            message.contains("`xml` is not a valid value; valid values: pretty, json"),
            "{message}"
        );
        assert!(message.contains("log.format"), "{message}");
    }

    #[test]
    fn a_wrong_scope_is_answered_with_the_valid_ones_in_both_forms_of_keys() {
        let path = std::env::temp_dir().join(format!("ip-scopes-{}.toml", std::process::id()));
        std::fs::write(
            &path,
            "[[auth.keys]]\nname = \"a\"\nkey = \"0123456789abcdef-key\"\nscopes = [\"admin\"]\n",
        )
        .expect("written");
        let from_file = Settings::load_from(None, Some(&path), env(&[]));
        std::fs::remove_file(&path).ok();
        let from_json = Settings::load_from(
            None,
            None,
            env(&[(
                "APP__AUTH__KEYS",
                r#"[{"name": "a", "key": "0123456789abcdef-key", "scopes": ["admin"]}]"#,
            )]),
        );

        for (form, result) in [("file", from_file), ("JSON", from_json)] {
            let message = format!("{:#}", result.expect_err("admin is no scope"));
            assert!(
                message.contains("`admin` is not a valid value; valid values: read, write"),
                "{form}: {message}"
            );
        }
    }

    #[test]
    fn enum_settings_are_printed_by_their_names() {
        let settings =
            Settings::load_from(None, None, env(&[("APP__LOG__FORMAT", "json")])).expect("loads");

        let printed = settings.redacted_toml().expect("printable");

        assert!(printed.contains("format = \"json\""), "{printed}");
    }

    #[test]
    fn every_choice_parses_from_its_own_name() {
        for format in LogFormat::ALL {
            assert_eq!(parse_choice::<LogFormat>(format.name()), Ok(*format));
        }
        for synchronous in <SqliteSynchronous as Choice>::ALL {
            assert_eq!(
                parse_choice::<SqliteSynchronous>(Choice::name(*synchronous)),
                Ok(*synchronous)
            );
        }
    }

    #[test]
    fn sqlite_commits_are_durable_unless_configured_otherwise() {
        let defaults = Settings::load_from(None, None, env(&[])).expect("defaults load");
        let normal = Settings::load_from(
            None,
            None,
            env(&[("APP__DATABASE__SQLITE_SYNCHRONOUS", "normal")]),
        )
        .expect("normal is valid");

        assert_eq!(
            defaults.database.sqlite_synchronous,
            SqliteSynchronous::Full
        );
        assert_eq!(
            defaults
                .database
                .to_connection_settings()
                .sqlite_synchronous,
            SqliteSynchronous::Full
        );
        assert_eq!(
            normal.database.to_connection_settings().sqlite_synchronous,
            SqliteSynchronous::Normal
        );
        let printed = normal.redacted_toml().expect("printable");
        assert!(
            printed.contains("sqlite_synchronous = \"normal\""),
            "{printed}"
        );
    }

    #[test]
    fn a_wrong_sqlite_synchronous_is_answered_with_the_valid_ones() {
        for value in ["off", "FULL", "extra", ""] {
            let error = Settings::load_from(
                None,
                None,
                env(&[("APP__DATABASE__SQLITE_SYNCHRONOUS", value)]),
            )
            .expect_err("not a valid value");

            let message = format!("{error:#}");
            assert!(
                message.contains(&format!(
                    "`{value}` is not a valid value; valid values: full, normal"
                )),
                "{message}"
            );
            assert!(message.contains("database.sqlite_synchronous"), "{message}");
        }
    }

    #[test]
    fn no_origin_may_call_from_a_browser_by_default() {
        let settings = Settings::load_from(None, None, env(&[])).expect("defaults load");

        assert_eq!(settings.http.cors.origins(), &CorsOrigins::None);
    }

    #[test]
    fn cors_origins_come_as_a_list_or_comma_separated_in_the_environment() {
        let path = std::env::temp_dir().join(format!("ip-cors-{}.toml", std::process::id()));
        std::fs::write(
            &path,
            "[http.cors]\nallowed_origins = [\"https://a.example\", \"http://localhost:3000\"]\n",
        )
        .expect("written");
        let from_file = Settings::load_from(None, Some(&path), env(&[]));
        std::fs::remove_file(&path).ok();
        let from_env = Settings::load_from(
            None,
            None,
            env(&[(
                "APP__HTTP__CORS__ALLOWED_ORIGINS",
                "https://a.example, http://localhost:3000",
            )]),
        );
        let any = Settings::load_from(
            None,
            None,
            env(&[("APP__HTTP__CORS__ALLOWED_ORIGINS", "*")]),
        );

        let expected = CorsOrigins::Listed(vec![
            "https://a.example".to_owned(),
            "http://localhost:3000".to_owned(),
        ]);
        for (form, settings) in [("file", from_file), ("environment", from_env)] {
            assert_eq!(
                settings.expect(form).http.cors.origins(),
                &expected,
                "{form}"
            );
        }
        assert_eq!(any.expect("*").http.cors.origins(), &CorsOrigins::Any);
    }

    #[test]
    fn a_malformed_origin_is_named_with_its_setting() {
        let result = Settings::load_from(
            None,
            None,
            env(&[("APP__HTTP__CORS__ALLOWED_ORIGINS", "https://a.example/")]),
        );

        let message = format!("{:#}", result.expect_err("a path is no origin"));
        assert!(
            message.contains("allowed_origins: `https://a.example/` is not an origin")
                && message.contains("http.cors"),
            "{message}"
        );
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let result = Settings::load_from(None, None, env(&[("APP__SERVER__PROT", "1")]));
        assert!(result.is_err());
    }

    #[test]
    fn a_missing_explicit_file_is_an_error() {
        let result = Settings::load_from(None, Some(Path::new("/nonexistent/x.toml")), env(&[]));
        assert!(result.is_err());
    }
}
