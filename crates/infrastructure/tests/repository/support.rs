//! Fresh databases, point fixtures, and the macro that runs one test body on
//! both backends.

use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

use domain::integration_point::{
    Attributes, Code, IdGenerator, IntegrationPoint, PointId, Timestamp, TokenGenerator,
    TokenLocal, Version,
};
use infrastructure::{
    Database, DatabaseSettings, OsRandomTokens, SeaOrmIntegrationPointRepository,
    SqliteSynchronous, UuidV7Ids, connect, migrate,
};
use sea_orm::ConnectionTrait;

/// Runs each named `async fn(TestDb)` on both backends: expands into a module
/// of the same name with two tests, `sqlite` and `postgres`, each giving the
/// function a fresh migrated database.
macro_rules! on_both_backends {
    ($($test:ident),+ $(,)?) => {$(
        mod $test {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                $crate::support::run($crate::support::Backend::Sqlite, super::$test).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            #[::pg_gate::requires_postgres]
            async fn postgres() {
                $crate::support::run($crate::support::Backend::Postgres, super::$test).await;
            }
        }
    )+};
}

/// The database product a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A fresh, migrated database and a repository on it.
pub struct TestDb {
    pub backend: Backend,
    pub database: Database,
    pub repository: SeaOrmIntegrationPointRepository,
}

/// Where a fresh database lives, and how to remove it afterwards.
pub struct Scratch {
    pub settings: DatabaseSettings,
    base_url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    Directory(PathBuf),
    Schema(String),
}

/// Pool settings for tests: small, several connections so that concurrency is
/// real, and short timeouts so that a broken setup fails fast.
pub fn settings(url: String, schema: Option<String>) -> DatabaseSettings {
    DatabaseSettings {
        url,
        max_connections: 4,
        min_connections: 0,
        connect_timeout: Duration::from_secs(10),
        acquire_timeout: Duration::from_secs(10),
        statement_timeout: Duration::from_secs(10),
        schema,
        prepared_statements: prepared_statements(),
        sqlite_synchronous: SqliteSynchronous::Full,
    }
}

/// Whether PostgreSQL connections are sessions of their own: `false` with
/// `TEST_DATABASE_PREPARED_STATEMENTS=false`, for a `TEST_DATABASE_URL` that
/// names a pooler in transaction mode.
fn prepared_statements() -> bool {
    std::env::var("TEST_DATABASE_PREPARED_STATEMENTS").map_or(true, |value| value != "false")
}

/// The PostgreSQL server to test against, if any.
///
/// # Panics
/// When `CI` is set but `TEST_DATABASE_URL` is not: CI must run every test.
pub fn postgres_url() -> Option<String> {
    match std::env::var("TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var_os("CI").is_some() => {
            panic!(
                "CI is set but TEST_DATABASE_URL is not: the PostgreSQL tests may not be skipped"
            )
        }
        _ => None,
    }
}

/// A name no other test run uses.
pub fn unique_name(prefix: &str) -> String {
    format!("{prefix}_{}", UuidV7Ids.new_id().as_uuid().simple())
}

impl Scratch {
    /// Names a fresh database; `None` when the backend is not configured here
    /// (PostgreSQL without `TEST_DATABASE_URL`), after saying so.
    pub fn new(backend: Backend) -> Option<Self> {
        match backend {
            Backend::Sqlite => {
                // A directory that does not exist yet: `connect` must create it.
                let directory = std::env::temp_dir().join(unique_name("infrastructure_tests"));
                let url = format!(
                    "sqlite://{}?mode=rwc",
                    directory.join("points.db").display()
                );
                Some(Self {
                    settings: settings(url.clone(), None),
                    base_url: url,
                    cleanup: Cleanup::Directory(directory),
                })
            }
            Backend::Postgres => {
                let Some(url) = postgres_url() else {
                    eprintln!("skipped: set TEST_DATABASE_URL to run the PostgreSQL tests");
                    return None;
                };
                let schema = unique_name("test");
                Some(Self {
                    settings: settings(url.clone(), Some(schema.clone())),
                    base_url: url,
                    cleanup: Cleanup::Schema(schema),
                })
            }
        }
    }

    /// Removes the database, with a connection of its own (the test's pool may
    /// be closed or gone).
    pub async fn remove(self) {
        match self.cleanup {
            Cleanup::Directory(directory) => {
                // Best effort: a leftover temporary directory harms no later run.
                let _ = std::fs::remove_dir_all(directory);
            }
            Cleanup::Schema(schema) => {
                let admin = connect(&settings(self.base_url, None))
                    .await
                    .expect("connect to drop the test schema");
                admin
                    .connection()
                    .execute_unprepared(&format!(r#"DROP SCHEMA "{schema}" CASCADE"#))
                    .await
                    .expect("drop the test schema");
                admin.close().await;
            }
        }
    }
}

/// Runs `test` on a fresh migrated database of `backend`, then removes the
/// database whether the test passed or not.
pub async fn run<F, Fut>(backend: Backend, test: F)
where
    F: FnOnce(TestDb) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let Some(scratch) = Scratch::new(backend) else {
        return;
    };
    let database = connect(&scratch.settings).await.expect("connect");
    migrate(&database).await.expect("migrate");
    let db = TestDb {
        backend,
        repository: SeaOrmIntegrationPointRepository::new(&database),
        database,
    };
    // On its own task, so that a failing test still reaches the cleanup.
    let outcome = tokio::spawn(test(db)).await;
    scratch.remove().await;
    if let Err(error) = outcome {
        std::panic::resume_unwind(error.into_panic());
    }
}

/// An instant, `millis` after the Unix epoch.
pub fn ts(millis: i64) -> Timestamp {
    Timestamp::from_millis(millis).expect("instant in range")
}

/// A fresh random local token.
pub fn token() -> TokenLocal {
    OsRandomTokens::new()
        .expect("OS random generator")
        .new_token()
}

/// A point under construction: defaults everywhere, a fresh id and token.
pub struct Spec {
    id: PointId,
    token_local: TokenLocal,
    attributes: Attributes,
    created: i64,
    updated: i64,
    version: i64,
}

/// A point with code `code` and defaults everywhere else.
pub fn spec(code: &str) -> Spec {
    Spec {
        id: UuidV7Ids.new_id(),
        token_local: token(),
        attributes: Attributes::new(Code::new(code).expect("valid code")),
        created: 1_567_000_000_000,
        updated: 1_567_000_000_000,
        version: 1,
    }
}

impl Spec {
    pub fn id(mut self, id: PointId) -> Self {
        self.id = id;
        self
    }

    pub fn token(mut self, token: TokenLocal) -> Self {
        self.token_local = token;
        self
    }

    /// Sets `ext.ct`, and `ext.lwt` to the same instant, as on a new point.
    pub fn created(mut self, millis: i64) -> Self {
        self.created = millis;
        self.updated = millis;
        self
    }

    pub fn updated(mut self, millis: i64) -> Self {
        self.updated = millis;
        self
    }

    pub fn version(mut self, version: i64) -> Self {
        self.version = version;
        self
    }

    pub fn with(mut self, change: impl FnOnce(&mut Attributes)) -> Self {
        change(&mut self.attributes);
        self
    }

    pub fn build(self) -> IntegrationPoint {
        IntegrationPoint::new(
            self.id,
            self.token_local,
            self.attributes,
            ts(self.created),
            ts(self.updated),
            Version::new(self.version).expect("positive version"),
        )
    }
}

/// A point with code `code` and defaults everywhere else.
pub fn point(code: &str) -> IntegrationPoint {
    spec(code).build()
}
