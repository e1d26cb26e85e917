//! Starts the real service on a random port over a fresh database, and talks
//! to it over HTTP.

use std::path::PathBuf;
use std::sync::LazyLock;

use integration_points::configuration::{LogFormat, Settings};
use integration_points::startup::{Application, Stop};
use integration_points::telemetry;
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};
use tokio::sync::oneshot;

use crate::process::ServiceProcess;

/// The collection path.
pub const POINTS: &str = "/rest/v1/service/integration_points";

/// Logs go to stdout when `TEST_LOG` is set, else nowhere.
static TRACING: LazyLock<()> = LazyLock::new(|| {
    let subscriber = if std::env::var_os("TEST_LOG").is_some() {
        telemetry::get_subscriber("info", LogFormat::Pretty, std::io::stdout, false)
    } else {
        telemetry::get_subscriber("off", LogFormat::Pretty, std::io::sink, false)
    };
    // A second test binary thread racing here is harmless: one of them wins.
    let _ = telemetry::init_subscriber(subscriber);
});

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A fresh SQLite file.
    Sqlite,
    /// A fresh schema in the database `TEST_DATABASE_URL` names.
    Postgres,
}

/// A running service and a client for it.
pub struct TestApp {
    /// `http://127.0.0.1:<port>`.
    pub address: String,
    /// A plain HTTP client.
    pub client: reqwest::Client,
    shutdown: Option<oneshot::Sender<()>>,
    sqlite_file: Option<PathBuf>,
    /// The child process serving, when the app is one; killed on drop.
    _process: Option<ServiceProcess>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(file) = &self.sqlite_file {
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
            }
        }
    }
}

/// The PostgreSQL URL tests use, or `None` to skip PostgreSQL variants.
/// Under CI the variants must run, so a missing URL fails them.
pub fn postgres_url() -> Option<String> {
    match std::env::var("TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI is set but TEST_DATABASE_URL is not: the PostgreSQL tests must run in CI"
            );
            eprintln!("TEST_DATABASE_URL is not set: skipping the PostgreSQL variant");
            None
        }
    }
}

/// Whether the PostgreSQL of `TEST_DATABASE_URL` keeps sessions: not when
/// `TEST_DATABASE_PREPARED_STATEMENTS=false` says it is a pooler in
/// transaction mode (`scripts/pgbouncer.sh`).
pub fn postgres_prepared_statements() -> bool {
    std::env::var("TEST_DATABASE_PREPARED_STATEMENTS").map_or(true, |value| value != "false")
}

/// Where a test service LISTENs for the change feed: `TEST_DATABASE_LISTEN_URL`
/// when set (`scripts/pgbouncer.sh` sets it to PostgreSQL itself, since a
/// pooler in transaction mode delivers no notifications — the setup the README
/// gives operators), else `url`, the database the service uses.
pub fn postgres_listen_url(url: &str) -> String {
    std::env::var("TEST_DATABASE_LISTEN_URL").unwrap_or_else(|_| url.to_owned())
}

/// [`postgres_listen_url`] with the session named `name`, so that a test
/// can find the listener that uses it and end it ([`end_listeners`]).
pub fn named_listen_url(url: &str, name: &str) -> String {
    let direct = postgres_listen_url(url);
    let separator = if direct.contains('?') { '&' } else { '?' };
    format!("{direct}{separator}application_name={name}")
}

/// Ends, through `db`, the LISTEN sessions named `name`; how many it ended.
pub async fn end_listeners(db: &sea_orm::DatabaseConnection, name: &str) -> i64 {
    use sea_orm::{ConnectionTrait as _, DbBackend, Statement};
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT count(pg_terminate_backend(pid)) AS n FROM pg_stat_activity \
             WHERE application_name = $1 AND query LIKE 'LISTEN%'",
            [name.into()],
        ))
        .await
        .expect("the query runs")
        .expect("one row");
    row.try_get::<i64>("", "n").expect("a count")
}

/// `url`, a test database URL whose user is `postgres`, with `password` in
/// it: trust authentication ignores the password, which lets it stand for a
/// real one in tests that check it never shows.
pub fn with_password(url: &str, password: &str) -> String {
    let url = url.replacen("://postgres@", &format!("://postgres:{password}@"), 1);
    assert!(
        url.contains(password),
        "the test URL names user postgres: {url}"
    );
    url
}

/// Settings for a test service on `backend`, or `None` when PostgreSQL is not available.
pub fn test_settings(backend: Backend) -> Option<(Settings, Option<PathBuf>)> {
    let mut settings =
        Settings::load_from(None, None, config::Environment::with_prefix("IP_TEST_NONE"))
            .expect("the default configuration loads");
    settings.server.host = "127.0.0.1".to_owned();
    settings.server.port = 0;
    settings.server.shutdown_timeout_ms = 5_000;
    settings.server.shutdown_delay_ms = 0;
    let unique = uuid::Uuid::now_v7().simple().to_string();
    let sqlite_file = match backend {
        Backend::Sqlite => {
            let file = std::env::temp_dir().join(format!("ip-e2e-{unique}.db"));
            settings.database.url = format!("sqlite://{}?mode=rwc", file.display());
            Some(file)
        }
        Backend::Postgres => {
            settings.database.url = postgres_url()?;
            settings.feed.listen_url = postgres_listen_url(&settings.database.url);
            settings.database.prepared_statements = postgres_prepared_statements();
            settings.database.schema = format!("e2e_{unique}");
            settings.database.max_connections = 8;
            None
        }
    };
    Some((settings, sqlite_file))
}

/// One connection to the database at `url`, for a test's own statements.
pub fn one_connection(url: &str) -> infrastructure::DatabaseSettings {
    infrastructure::DatabaseSettings {
        url: url.to_owned(),
        max_connections: 1,
        min_connections: 0,
        connect_timeout: std::time::Duration::from_secs(10),
        acquire_timeout: std::time::Duration::from_secs(10),
        statement_timeout: std::time::Duration::from_secs(60),
        schema: None,
        prepared_statements: postgres_prepared_statements(),
        sqlite_synchronous: infrastructure::SqliteSynchronous::Full,
    }
}

/// Percent-encodes a query parameter's value.
pub fn urlencode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Starts the service on `backend` with default settings.
pub async fn spawn_app(backend: Backend) -> Option<TestApp> {
    let (settings, sqlite_file) = test_settings(backend)?;
    Some(spawn_with(settings, sqlite_file).await)
}

/// Starts the service with the given settings.
pub async fn spawn_with(settings: Settings, sqlite_file: Option<PathBuf>) -> TestApp {
    LazyLock::force(&TRACING);
    let app = Application::build(&settings)
        .await
        .expect("the service starts");
    let address = format!("http://127.0.0.1:{}", app.port());
    let (tx, rx) = oneshot::channel();
    tokio::spawn(async move {
        app.run_until(async {
            let _ = rx.await;
            Stop::Now
        })
        .await
        .expect("the server runs");
    });
    let app = TestApp {
        address,
        client: reqwest::Client::new(),
        shutdown: Some(tx),
        sqlite_file,
        _process: None,
    };
    app.until_ready().await;
    app
}

impl TestApp {
    /// The app a child process serves, for tests that need separate
    /// processes (replicas) rather than servers in the test's own.
    pub fn of_process(process: ServiceProcess) -> Self {
        Self {
            address: process.address.clone(),
            client: reqwest::Client::new(),
            shutdown: None,
            sqlite_file: None,
            _process: Some(process),
        }
    }
}

impl TestApp {
    /// Waits until the service has connected to its database and migrated
    /// it (in the background, as it starts), as an orchestrator waits: until
    /// it is ready.
    async fn until_ready(&self) {
        let started = std::time::Instant::now();
        loop {
            let reply = self.request("GET", "/health/ready", None).await;
            if reply.status == StatusCode::OK {
                return;
            }
            assert!(
                started.elapsed() < crate::process::PROCESS_BOUND,
                "the service did not reach its database: {}",
                reply.text
            );
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }
}

/// A response read whole.
pub struct Reply {
    /// The status.
    pub status: StatusCode,
    /// The headers.
    pub headers: reqwest::header::HeaderMap,
    /// The raw body.
    pub text: String,
}

impl Reply {
    async fn read(response: Response) -> Self {
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.expect("a readable body");
        Self {
            status,
            headers,
            text,
        }
    }

    /// The body as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {:?}", self.text))
    }

    /// A header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts the contract's error shape and status, and returns the body.
    pub fn assert_error(&self, status: u16) -> Value {
        assert_eq!(self.status.as_u16(), status, "status; body: {}", self.text);
        assert!(
            self.header("content-type")
                .is_some_and(|c| c.starts_with("application/json")),
            "errors are JSON: {:?}",
            self.headers
        );
        let body = self.json();
        assert_eq!(
            body["error_code"],
            json!(1000 + u64::from(status)),
            "{body}"
        );
        assert!(body["error_message"].is_string(), "{body}");
        body
    }

    /// Asserts a 400 naming `field` in `error_details.field`.
    pub fn assert_bad_field(&self, field: &str) -> Value {
        let body = self.assert_error(400);
        assert_eq!(body["error_details"]["field"], json!(field), "{body}");
        body
    }
}

impl TestApp {
    /// The database of an app that [`spawn_with`] started.
    pub fn backend(&self) -> Backend {
        if self.sqlite_file.is_some() {
            Backend::Sqlite
        } else {
            Backend::Postgres
        }
    }

    /// Sends a request; `body` is sent as JSON when given.
    pub async fn request(&self, method: &str, path: &str, body: Option<&Value>) -> Reply {
        let method = Method::from_bytes(method.as_bytes()).expect("a valid method");
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.address));
        if let Some(body) = body {
            request = request.json(body);
        }
        Reply::read(request.send().await.expect("the request is sent")).await
    }

    /// Sends a request with a raw body and content type.
    pub async fn request_raw(
        &self,
        method: &str,
        path: &str,
        content_type: &str,
        body: impl Into<reqwest::Body>,
    ) -> Reply {
        let method = Method::from_bytes(method.as_bytes()).expect("a valid method");
        let response = self
            .client
            .request(method, format!("{}{path}", self.address))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .expect("the request is sent");
        Reply::read(response).await
    }

    /// Sends a request with extra headers.
    pub async fn request_with(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let method = Method::from_bytes(method.as_bytes()).expect("a valid method");
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.address));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        Reply::read(request.send().await.expect("the request is sent")).await
    }

    /// Creates a point and returns its representation.
    pub async fn create(&self, body: Value) -> Value {
        let reply = self.request("POST", POINTS, Some(&body)).await;
        assert_eq!(
            reply.status,
            StatusCode::OK,
            "create failed: {}",
            reply.text
        );
        reply.json()
    }

    /// The path of one point.
    pub fn item(id: &str) -> String {
        format!("{POINTS}/{id}")
    }
}

/// Expands one test body into a SQLite and a PostgreSQL test.
#[macro_export]
macro_rules! on_both_backends {
    ($(#[$meta:meta])* async fn $name:ident($app:ident) $body:block) => {
        $crate::on_both_backends! {
            spawn = $crate::helpers::spawn_app;
            $(#[$meta])* async fn $name($app) $body
        }
    };
    // `spawn` starts the service on a backend with the settings a group of
    // tests needs (API keys, short timeouts, …), or `None` without PostgreSQL.
    (spawn = $spawn:path; $(#[$meta:meta])* async fn $name:ident($app:ident) $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            $(#[$meta])*
            async fn scenario($app: $crate::helpers::TestApp) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let app = $spawn($crate::helpers::Backend::Sqlite)
                    .await
                    .expect("SQLite is always available");
                scenario(app).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            #[::pg_gate::requires_postgres]
            async fn postgres() {
                if let Some(app) = $spawn($crate::helpers::Backend::Postgres).await {
                    scenario(app).await;
                }
            }
        }
    };
}

/// A turn on the machine for tests that must not share it: the 100,000-point
/// round trip keeps both cores and PostgreSQL busy for a minute or more, and a
/// replica's cache running beside it cannot confirm its feed within the
/// allowed staleness, so it (rightly) reads the database and the cache tests,
/// which wait for answers from memory, time out.
pub async fn exclusive_turn() -> tokio::sync::MutexGuard<'static, ()> {
    static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    TURN.lock().await
}
