//! Opening the database: the connection pool, the per-connection settings both
//! backends need for the repository's semantics, migrations and health checks.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use domain::integration_point::StoreError;
use migration::{MigrationStatus, Migrator, MigratorTrait};
use sea_orm::sqlx::{
    self, ConnectOptions as _,
    pool::PoolOptions,
    postgres::PgConnectOptions,
    sqlite::{SqliteConnectOptions, SqliteJournalMode},
};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DbBackend, DbErr, SqlErr, SqliteTransactionMode,
    SqlxPostgresConnector, SqlxSqliteConnector, TransactionOptions, TransactionTrait as _,
};

use super::error::{is_missing_database, is_unavailable, store_error};
use super::pool::{ConnectionPool, Deadlines, Transactions};
use super::wakeups::{self, ChangeListener, ChangeSignal};

/// The page cache of each connection to a SQLite file, in KiB when negative
/// (SQLite's convention): 256 KiB instead of SQLite's default 2 MiB.
///
/// Every pooled connection keeps its own cache, so the default grows the
/// process by up to 2 MiB per connection (32 MiB for a pool of 16) holding
/// copies of the same pages, which the operating system's page cache holds
/// once anyway. A small cache keeps the inner B-tree pages, which every
/// lookup needs, and leaves the leaves to the operating system.
const SQLITE_FILE_CACHE_SIZE: &str = "-256";

/// How long a SQLite connection waits for another writer before giving up.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Where the database is and how the pool behaves; the binary fills it from
/// configuration.
///
/// Its `Debug` output hides the password the URL may carry.
#[derive(Clone)]
pub struct DatabaseSettings {
    /// `postgres://…`/`postgresql://…`, or `sqlite:…`/`sqlite://…`
    /// (`sqlite://data/points.db?mode=rwc` creates the file, `sqlite::memory:`
    /// keeps the database in memory).
    pub url: String,
    /// The most connections the repository's pool opens (at least 1); on a
    /// SQLite file that many readers, plus one writer. An in-memory SQLite
    /// database always uses exactly one. Migrations and readiness checks open
    /// at most two more of their own.
    pub max_connections: u32,
    /// The connections [`connect`] opens at once (at least one, which proves
    /// the database reachable; at most `max_connections`). The pool closes
    /// no connection for being idle, only ones that failed or reached their
    /// lifetime.
    pub min_connections: u32,
    /// The longest [`connect`] may take as a whole: opening the first connection
    /// and preparing the schema.
    pub connect_timeout: Duration,
    /// The longest a query waits for a pooled connection (including opening a
    /// new one) before the store reports itself unavailable.
    pub acquire_timeout: Duration,
    /// The longest one statement of the repository may take, from sending it
    /// to its last row, before the store reports itself unavailable. It bounds
    /// a request on a network that silently drops packets, which TCP would
    /// take many minutes to notice.
    pub statement_timeout: Duration,
    /// PostgreSQL only: the schema that holds the tables, created if missing and
    /// made the search path of every connection. Letters, digits and `_`, not
    /// starting with a digit, at most 63 characters.
    pub schema: Option<String>,
    /// PostgreSQL only: whether the connections are the service's own
    /// sessions, where statements are prepared once per connection and
    /// settings made once per session. `false` behind a pooler in
    /// transaction mode (PgBouncer before 1.21), which hands each transaction
    /// to any server connection: then every repository statement runs
    /// unnamed in a transaction of its own that makes the settings
    /// (`SET LOCAL`), two more round trips each, and migrations clear the
    /// statements they prepared before they commit.
    pub prepared_statements: bool,
    /// SQLite file only: how far a commit goes before it is acknowledged.
    pub sqlite_synchronous: SqliteSynchronous,
}

/// SQLite's `synchronous` setting for a database file, which runs in WAL
/// mode: what an acknowledged write survives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SqliteSynchronous {
    /// Every commit is synced to disk before it is acknowledged: an
    /// acknowledged write survives a crash of the process and of the machine
    /// (power loss).
    #[default]
    Full,
    /// Commits are synced at WAL checkpoints only: an acknowledged write
    /// survives a crash of the process, but a power loss or kernel crash may
    /// lose the last ones (never corrupting the file). Writes are cheaper.
    Normal,
}

impl SqliteSynchronous {
    /// Every value, as configuration lists them.
    pub const ALL: [Self; 2] = [Self::Full, Self::Normal];

    /// The name configuration uses, which is SQLite's own, in lowercase.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Full => "full",
            Self::Normal => "normal",
        }
    }

    fn pragma(self) -> sqlx::sqlite::SqliteSynchronous {
        match self {
            Self::Full => sqlx::sqlite::SqliteSynchronous::Full,
            Self::Normal => sqlx::sqlite::SqliteSynchronous::Normal,
        }
    }
}

impl fmt::Debug for DatabaseSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatabaseSettings")
            .field("url", &redact_url_password(&self.url))
            .field("max_connections", &self.max_connections)
            .field("min_connections", &self.min_connections)
            .field("connect_timeout", &self.connect_timeout)
            .field("acquire_timeout", &self.acquire_timeout)
            .field("statement_timeout", &self.statement_timeout)
            .field("schema", &self.schema)
            .field("prepared_statements", &self.prepared_statements)
            .field("sqlite_synchronous", &self.sqlite_synchronous)
            .finish()
    }
}

/// A database URL fit to print: the password of its user info
/// (`scheme://user:password@host`) and the value of any parameter whose name
/// holds `password` (`?password=…`, `?sslpassword=…`) replaced by
/// `<redacted>`. Every place that shows a database URL (logs, errors,
/// `check-config`) goes through this one function.
pub fn redact_url_password(url: &str) -> String {
    const REDACTED: &str = "<redacted>";
    let mut redacted = String::with_capacity(url.len());
    let (before_query, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    // The user info ends at the last `@`, not at the first `/`: a password
    // holding a `/` or `@` its writer forgot to percent-encode must not leak
    // for that.
    let user_info = before_query
        .split_once("://")
        .and_then(|(scheme, rest)| Some((scheme, rest.rsplit_once('@')?)));
    match user_info {
        Some((scheme, (user_info, host_and_path))) => {
            redacted.push_str(scheme);
            redacted.push_str("://");
            match user_info.split_once(':') {
                Some((user, _)) => {
                    redacted.push_str(user);
                    redacted.push(':');
                    redacted.push_str(REDACTED);
                }
                None => redacted.push_str(user_info),
            }
            redacted.push('@');
            redacted.push_str(host_and_path);
        }
        None => redacted.push_str(before_query),
    }
    if let Some(query) = query {
        redacted.push('?');
        let params: Vec<String> = query
            .split('&')
            .map(|param| match param.split_once('=') {
                Some((key, _)) if key.to_ascii_lowercase().contains("password") => {
                    format!("{key}={REDACTED}")
                }
                _ => param.to_owned(),
            })
            .collect();
        redacted.push_str(&params.join("&"));
    }
    redacted
}

/// Why [`connect`] failed. No variant carries the URL, which may hold a password.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The URL is neither a PostgreSQL nor a SQLite URL.
    #[error("the database URL must start with postgres://, postgresql:// or sqlite:")]
    UnsupportedUrl,
    /// The URL has the right scheme but cannot be parsed.
    #[error("the database URL is invalid")]
    InvalidUrl(#[source] sqlx::Error),
    /// The pool sizes contradict each other.
    #[error(
        "max_connections must be at least 1 and min_connections at most max_connections \
         (max_connections = {max}, min_connections = {min})"
    )]
    InvalidPoolSize {
        /// `max_connections` as configured.
        max: u32,
        /// `min_connections` as configured.
        min: u32,
    },
    /// The schema name is not a plain identifier.
    #[error(
        "the schema name `{0}` is invalid: use letters, digits and `_`, not starting with a digit, \
         at most 63 characters"
    )]
    InvalidSchema(String),
    /// A schema was configured for a database that has none.
    #[error("a schema can only be configured for PostgreSQL")]
    SchemaWithoutPostgres,
    /// The directory of a SQLite database file could not be created.
    #[error("cannot create the directory {} for the SQLite database", .path.display())]
    CreateDirectory {
        /// The directory.
        path: PathBuf,
        /// Why it could not be created.
        #[source]
        source: std::io::Error,
    },
    /// The database did not answer in time.
    #[error("the database did not answer within {0:?}")]
    TimedOut(Duration),
    /// The PostgreSQL database the URL names does not exist on its server.
    #[error(
        "the database \"{database}\" does not exist on {host}:{port}; create it first: \
         createdb -h {host} -p {port} -U {user} {database}"
    )]
    NoSuchDatabase {
        /// The database's name.
        database: String,
        /// The server's host.
        host: String,
        /// The server's port.
        port: u16,
        /// The user the URL names.
        user: String,
    },
    /// The database refused the connection or the schema could not be prepared.
    // The driver's error is part of the message rather than a source: its own
    // message already repeats its source's, so a chain would print it twice.
    #[error("cannot connect to the database: {0}")]
    Database(DbErr),
}

/// The server, user and database of a PostgreSQL URL.
#[derive(Debug, Clone)]
struct PostgresTarget {
    host: String,
    port: u16,
    user: String,
    database: String,
}

impl PostgresTarget {
    fn of(options: &PgConnectOptions) -> Self {
        Self {
            host: options.get_host().to_owned(),
            port: options.get_port(),
            user: options.get_username().to_owned(),
            database: options
                .get_database()
                .unwrap_or(options.get_username())
                .to_owned(),
        }
    }
}

/// Which database a URL names.
enum Target {
    Postgres,
    SqliteMemory,
    SqliteFile(PathBuf),
}

impl Target {
    fn of(url: &str) -> Result<Self, ConnectError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            PgConnectOptions::from_str(url).map_err(ConnectError::InvalidUrl)?;
            return Ok(Self::Postgres);
        }
        let Some(rest) = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
        else {
            return Err(ConnectError::UnsupportedUrl);
        };
        let options = SqliteConnectOptions::from_str(url).map_err(ConnectError::InvalidUrl)?;
        // sqlx recognises an in-memory database (`:memory:` or `mode=memory`)
        // but does not tell whether it found one.
        let (database, params) = rest.split_once('?').unwrap_or((rest, ""));
        let in_memory = database == ":memory:" || params.split('&').any(|p| p == "mode=memory");
        Ok(if in_memory {
            Self::SqliteMemory
        } else {
            Self::SqliteFile(options.get_filename().to_path_buf())
        })
    }
}

/// How many connections sea-orm's own pool, which runs migrations and the
/// readiness check's migration query, may open besides the statements' pool.
const ADMIN_CONNECTIONS: u32 = 2;

/// How long a connection of sea-orm's own pool stays open unused.
const ADMIN_IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// A database: the pool the repository's statements run on, and sea-orm's
/// connection for migrations and everything else.
#[derive(Debug, Clone)]
pub struct Database {
    connection: DatabaseConnection,
    pool: ConnectionPool,
    /// Behind a transaction pooler, what a migration transaction runs first:
    /// its search path, and no prepared statements left over (the setting
    /// `prepared_statements = false`).
    migration_setup: Option<String>,
    /// The PostgreSQL schema to create when opening, which the change
    /// listener joins too.
    schema: Option<String>,
    /// Where a PostgreSQL database lives, to say so when it does not exist
    /// (never the password).
    postgres_target: Option<PostgresTarget>,
    /// Raised by the repository's writes; the change feed waits on it.
    signal: ChangeSignal,
    min_connections: usize,
    connect_timeout: Duration,
}

impl Database {
    /// The database `settings` name, with its settings checked and its pools
    /// made, but nothing opened yet: the repository's statements fail as
    /// unavailable until [`Database::open`] has succeeded and
    /// [`Database::admit_statements`] been called. A service can thus serve
    /// (and answer 503) while its database is still down, and connect when it
    /// comes up.
    ///
    /// SQLite connections all run in WAL mode with `synchronous` as
    /// `settings.sqlite_synchronous` says (on a file), a 5 s busy timeout, foreign keys and `case_sensitive_like` on (so that
    /// `like` is case-sensitive as on PostgreSQL). A PostgreSQL schema, when
    /// configured, is every connection's search path; PostgreSQL also stops a
    /// repository statement at `settings.statement_timeout`, as the client
    /// does. Statement logging is off: bound values include tokens.
    ///
    /// # Errors
    /// [`ConnectError`] for invalid settings, or a directory for the SQLite
    /// file that cannot be created.
    pub fn new(settings: &DatabaseSettings) -> Result<Self, ConnectError> {
        build(settings)
    }

    /// Opens `database.min_connections` connections (at least one, which
    /// proves the database reachable) and creates the PostgreSQL schema if
    /// missing, within `settings.connect_timeout`. Opening again after a
    /// failure carries on where the failure stopped.
    ///
    /// # Errors
    /// [`ConnectError::Database`] when the database refuses or cannot be
    /// reached, [`ConnectError::TimedOut`] when it does not answer in time.
    pub async fn open(&self) -> Result<(), ConnectError> {
        let open = async {
            self.pool
                .open(self.min_connections)
                .await
                .map_err(|error| self.refused(error))?;
            self.signal.start_broadcast();
            if let Some(schema) = &self.schema {
                create_schema(&self.connection, schema)
                    .await
                    .map_err(ConnectError::Database)?;
            }
            Ok(())
        };
        tokio::time::timeout(self.connect_timeout, open)
            .await
            .map_err(|_| ConnectError::TimedOut(self.connect_timeout))?
    }

    fn refused(&self, error: DbErr) -> ConnectError {
        match &self.postgres_target {
            Some(target) if is_missing_database(&error) => ConnectError::NoSuchDatabase {
                database: target.database.clone(),
                host: target.host.clone(),
                port: target.port,
                user: target.user.clone(),
            },
            _ => ConnectError::Database(error),
        }
    }

    /// Lets the repository's statements through, once the database is open
    /// and, where the caller migrates, migrated.
    pub fn admit_statements(&self) {
        self.pool.admit();
        // The change feed waits for its store: it may look now.
        self.signal.look();
    }

    /// sea-orm's connection to the database: migrations, and statements
    /// outside the repository. It keeps at most two connections of its own,
    /// opened when needed.
    pub fn connection(&self) -> &DatabaseConnection {
        &self.connection
    }

    pub(crate) fn pool(&self) -> &ConnectionPool {
        &self.pool
    }

    /// The wake-ups of this replica's change feed: raised by every write of
    /// this process, and on PostgreSQL, once [`Database::listen_for_changes`]
    /// runs, by every writer's.
    pub fn change_signal(&self) -> ChangeSignal {
        self.signal.clone()
    }

    /// On PostgreSQL, starts the one connection that listens for every
    /// writer's changes, at `url` (usually the database's own URL; a direct
    /// one when statements go through a pooler in transaction mode, which
    /// cannot LISTEN); it connects, and reconnects, on its own. `None` on
    /// SQLite, where only this process writes.
    ///
    /// # Errors
    /// [`ConnectError::InvalidUrl`] for a URL that is not PostgreSQL's.
    pub fn listen_for_changes(&self, url: &str) -> Result<Option<ChangeListener>, ConnectError> {
        match self.pool.backend() {
            sea_orm::DbBackend::Postgres => {
                wakeups::listen(url, self.schema.as_deref(), self.signal.clone())
                    .map(Some)
                    .map_err(ConnectError::InvalidUrl)
            }
            _ => Ok(None),
        }
    }

    /// Closes every connection: idle ones at once and cleanly, busy ones as
    /// they come back. Later statements fail as unavailable.
    pub async fn close(&self) {
        // The other replicas hear of the last writes now, not at their
        // next safety poll.
        self.signal.close().await;
        self.pool.close().await;
        // sea-orm's close waits for every connection of its pool to be idle.
        let _ = self.connection.close_by_ref().await;
    }
}

/// Opens the database `settings` names and prepares it: [`Database::new`],
/// [`Database::open`] and [`Database::admit_statements`] in one, for callers
/// that need the database now or not at all.
///
/// # Errors
/// [`ConnectError`] for invalid settings, an unreachable database, or a
/// database that does not answer within `settings.connect_timeout`.
pub async fn connect(settings: &DatabaseSettings) -> Result<Database, ConnectError> {
    let database = Database::new(settings)?;
    database.open().await?;
    database.admit_statements();
    Ok(database)
}

/// The pools of the database `settings` names, none of them connected.
fn build(settings: &DatabaseSettings) -> Result<Database, ConnectError> {
    let target = Target::of(&settings.url)?;
    let (max, min) = (settings.max_connections, settings.min_connections);
    if max == 0 || min > max {
        return Err(ConnectError::InvalidPoolSize { max, min });
    }
    let schema = match (&settings.schema, &target) {
        (None, _) => None,
        (Some(schema), Target::Postgres) if is_identifier(schema) => Some(schema.clone()),
        (Some(schema), Target::Postgres) => {
            return Err(ConnectError::InvalidSchema(schema.clone()));
        }
        (Some(_), _) => return Err(ConnectError::SchemaWithoutPostgres),
    };
    if let Target::SqliteFile(path) = &target {
        create_parent_directory(path)?;
    }

    let deadlines = Deadlines {
        acquire: settings.acquire_timeout,
        statement: settings.statement_timeout,
    };
    let max_size = usize::try_from(max).unwrap_or(usize::MAX);
    let (connection, pool) = match &target {
        Target::Postgres => {
            let options = PgConnectOptions::from_str(&settings.url)
                .map_err(ConnectError::InvalidUrl)?
                .disable_statement_logging();
            let statement_timeout = settings.statement_timeout.as_millis().to_string();
            // random_page_cost: PostgreSQL's default (4) prices a page read
            // in index order as a disk seek; with the table in memory, as a
            // service's working set is, that makes it walk the unique index
            // of `code` and filter `type` out of ten times the rows of a page
            // rather than read ix_integration_points_type_code_id's range of
            // the page alone (BENCHMARKS.md, "Plans"). 1.1 is the usual value
            // for data in RAM or on SSD.
            // point_changes.notify: this process notifies the other
            // replicas of its writes after they commit (see `wakeups`).
            let statement_settings = [
                ("statement_timeout", statement_timeout.as_str()),
                ("random_page_cost", "1.1"),
                wakeups::NOTIFY_SETTING,
            ];
            let (admin, statements, transactions) = if settings.prepared_statements {
                let options = match &schema {
                    Some(schema) => options.options([("search_path", schema.as_str())]),
                    None => options,
                };
                let statements = options.clone().options(statement_settings);
                (options, statements, None)
            } else {
                // Startup parameters other than the few a pooler tracks make
                // PgBouncer refuse the connection; `SET LOCAL` does their work.
                // No statement cache: migrations' statements are named, and
                // cleared before each transaction ends (see `run_migrations`).
                let options = options.extra_float_digits(None).statement_cache_capacity(0);
                let mut begin = "BEGIN".to_owned();
                for (name, value) in statement_settings {
                    begin.push_str(&format!("; SET LOCAL {name} = {value}"));
                }
                if let Some(schema) = &schema {
                    begin.push_str(&format!("; {}", set_local_search_path(schema)));
                }
                (options.clone(), options, Some(Transactions { begin }))
            };
            let admin = admin_pool::<sqlx::Postgres>(settings).connect_lazy_with(admin);
            (
                SqlxPostgresConnector::from_sqlx_postgres_pool(admin),
                ConnectionPool::postgres(statements, max_size, deadlines, transactions),
            )
        }
        Target::SqliteMemory => {
            let options = sqlite_options(&settings.url)?;
            // Both pools connect with these very options: they name one
            // shared in-memory database, which lives while the statements'
            // pool holds its one connection.
            let admin = admin_pool::<sqlx::Sqlite>(settings).connect_lazy_with(options.clone());
            (
                SqlxSqliteConnector::from_sqlx_sqlite_pool(admin),
                ConnectionPool::sqlite_memory(options, deadlines),
            )
        }
        Target::SqliteFile(_) => {
            let options = sqlite_options(&settings.url)?
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(settings.sqlite_synchronous.pragma())
                .pragma("cache_size", SQLITE_FILE_CACHE_SIZE);
            let admin = admin_pool::<sqlx::Sqlite>(settings).connect_lazy_with(options.clone());
            (
                SqlxSqliteConnector::from_sqlx_sqlite_pool(admin),
                ConnectionPool::sqlite_file(options, max_size, deadlines),
            )
        }
    };
    let pooled_postgres = matches!(target, Target::Postgres) && !settings.prepared_statements;
    let migration_setup = pooled_postgres.then(|| {
        // Statements other transactions left on the server connection may
        // bear the names this connection is about to give its own.
        let mut setup = "DEALLOCATE ALL".to_owned();
        if let Some(schema) = &schema {
            setup.push_str(&format!("; {}", set_local_search_path(schema)));
        }
        setup
    });
    let postgres_target = match &target {
        Target::Postgres => Some(PostgresTarget::of(
            &PgConnectOptions::from_str(&settings.url).map_err(ConnectError::InvalidUrl)?,
        )),
        Target::SqliteMemory | Target::SqliteFile(_) => None,
    };
    // On PostgreSQL this process tells the other replicas of its writes, on
    // a connection of its own (see `wakeups`).
    let signal = match pool.dedicated() {
        Some(notifier) => ChangeSignal::broadcasting(notifier),
        None => ChangeSignal::new(),
    };
    Ok(Database {
        connection,
        pool,
        migration_setup,
        schema,
        postgres_target,
        signal,
        min_connections: usize::try_from(min).unwrap_or(usize::MAX),
        connect_timeout: settings.connect_timeout,
    })
}

/// sea-orm's own pool: small, and empty when unused.
fn admin_pool<DB: sqlx::Database>(settings: &DatabaseSettings) -> PoolOptions<DB> {
    PoolOptions::new()
        .max_connections(ADMIN_CONNECTIONS)
        .min_connections(0)
        .idle_timeout(ADMIN_IDLE_TIMEOUT)
        .acquire_timeout(settings.acquire_timeout)
}

/// The connection options of a SQLite URL, with what every connection needs.
fn sqlite_options(url: &str) -> Result<SqliteConnectOptions, ConnectError> {
    let options = SqliteConnectOptions::from_str(url).map_err(ConnectError::InvalidUrl)?;
    Ok(sqlite_connection_settings(options).disable_statement_logging())
}

/// What every SQLite connection needs, on disk or in memory.
fn sqlite_connection_settings(options: SqliteConnectOptions) -> SqliteConnectOptions {
    options
        .busy_timeout(SQLITE_BUSY_TIMEOUT)
        .foreign_keys(true)
        // Off by default, which makes LIKE fold ASCII case, unlike PostgreSQL's.
        .pragma("case_sensitive_like", "ON")
}

fn create_parent_directory(database: &Path) -> Result<(), ConnectError> {
    let Some(directory) = database.parent().filter(|d| !d.as_os_str().is_empty()) else {
        return Ok(());
    };
    // Blocking, but once at startup and before any connection exists.
    std::fs::create_dir_all(directory).map_err(|source| ConnectError::CreateDirectory {
        path: directory.to_path_buf(),
        source,
    })
}

/// The statement that makes `schema` (a checked identifier) the search path
/// of the current transaction.
fn set_local_search_path(schema: &str) -> String {
    format!(r#"SET LOCAL search_path TO "{schema}""#)
}

/// Whether `name` is a plain PostgreSQL identifier, safe to quote as it is.
fn is_identifier(name: &str) -> bool {
    let mut bytes = name.bytes();
    let starts_well = bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_');
    starts_well && name.len() <= 63 && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

async fn create_schema(db: &DatabaseConnection, schema: &str) -> Result<(), DbErr> {
    // The name is a validated identifier: quoting it is enough.
    let statement = format!(r#"CREATE SCHEMA IF NOT EXISTS "{schema}""#);
    match db.execute_unprepared(&statement).await {
        // Two replicas starting together can both pass IF NOT EXISTS; the loser
        // sees a unique violation in the catalog, and the schema exists.
        Err(error) if matches!(error.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {
            Ok(())
        }
        result => result.map(drop),
    }
}

/// Whether a failure to migrate may pass by itself (the database was
/// unreachable, lost the connection, or refused work for now), so that
/// trying again later makes sense.
pub fn is_transient(error: &DbErr) -> bool {
    is_unavailable(error)
}

/// Which way a migration run goes.
#[derive(Debug, Clone, Copy)]
enum Direction {
    Up,
    Down(u32),
}

/// The advisory lock migrations take on PostgreSQL: a fixed class, and the
/// schema, so that services on different schemas of one database do not
/// wait for each other.
const PG_MIGRATION_LOCK: &str = "SELECT pg_advisory_xact_lock(\
     hashtext('integration_points.migrations'), hashtext(coalesce(current_schema(), '')))";

/// Runs the migrations one process at a time, in one transaction.
///
/// Replicas that start together would otherwise run the same migrations at
/// once, and all but one fail on the catalog (`relation already exists`,
/// `duplicate key … pg_type_typname_nsp_index`). On PostgreSQL the run holds
/// a transaction-scoped advisory lock, which the database releases at commit,
/// rollback or the end of the session, so a replica that dies mid-run leaves
/// no lock behind; a transaction, not the session, is what PgBouncer in
/// transaction mode keeps on one server connection. On SQLite the run holds
/// the file's write lock from its start (`BEGIN IMMEDIATE`); another process
/// waits for it up to the busy timeout. The others then find nothing pending.
async fn run_migrations(db: &Database, direction: Direction) -> Result<(), DbErr> {
    let connection = &db.connection;
    // `connect` opens SQLite or PostgreSQL, nothing else.
    let transaction = if connection.get_database_backend() == DbBackend::Sqlite {
        let immediate = TransactionOptions {
            sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
            ..TransactionOptions::default()
        };
        connection.begin_with_options(immediate).await?
    } else {
        let transaction = connection.begin().await?;
        if let Some(setup) = &db.migration_setup {
            transaction.execute_unprepared(setup).await?;
        }
        transaction.execute_unprepared(PG_MIGRATION_LOCK).await?;
        transaction
    };
    match direction {
        Direction::Up => Migrator::up(&transaction, None).await?,
        Direction::Down(steps) => Migrator::down(&transaction, Some(steps)).await?,
    }
    if db.migration_setup.is_some() {
        // Prepared statements outlive the transaction on the server
        // connection, which the pooler hands to other clients next.
        transaction.execute_unprepared("DEALLOCATE ALL").await?;
    }
    transaction.commit().await
}

/// Applies every pending migration, all or none, while no other process
/// migrates the same database (or PostgreSQL schema); a process that comes
/// second waits, then finds nothing left to do.
///
/// # Errors
/// The failure of the first migration that fails; then none is applied.
pub async fn migrate(db: &Database) -> Result<(), DbErr> {
    run_migrations(db, Direction::Up).await
}

/// Reverts the `steps` most recently applied migrations, all or none, while
/// no other process migrates.
///
/// # Errors
/// The failure of the first revert that fails; then none is reverted.
pub async fn migrate_down(db: &Database, steps: u32) -> Result<(), DbErr> {
    run_migrations(db, Direction::Down(steps)).await
}

/// Every migration by name, oldest first, with whether it is applied; reads
/// only (an unmigrated database lists them all as pending).
///
/// # Errors
/// When the database cannot be read.
pub async fn migration_status(db: &Database) -> Result<Vec<(String, bool)>, DbErr> {
    Ok(
        Migrator::get_migration_with_status_read_only(&db.pool.reads())
            .await?
            .iter()
            .map(|m| (m.name().to_owned(), m.status() == MigrationStatus::Applied))
            .collect(),
    )
}

/// Checks that the repository's pool hands out a connection and the
/// database answers on it.
///
/// # Errors
/// [`StoreError::Unavailable`] when it does not.
pub async fn ping(db: &Database) -> Result<(), StoreError> {
    db.pool.ping().await.map_err(|e| store_error("ping", &e))
}

/// How many migrations are not applied yet, without changing the database
/// (not even creating the migrations table).
///
/// # Errors
/// When the database cannot be read.
pub async fn pending_migrations(db: &Database) -> Result<usize, DbErr> {
    Migrator::get_pending_migrations_read_only(&db.pool.reads())
        .await
        .map(|pending| pending.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_never_show_a_password() {
        let cases = [
            (
                "postgres://app:s3cret@db:5432/points",
                "postgres://app:<redacted>@db:5432/points",
            ),
            (
                "postgres://app@db/points?password=s3cret&sslmode=require",
                "postgres://app@db/points?password=<redacted>&sslmode=require",
            ),
            (
                "postgres://app:s3cret@db/points?sslmode=require&PASSWORD=s3cret",
                "postgres://app:<redacted>@db/points?sslmode=require&PASSWORD=<redacted>",
            ),
            (
                "postgres://app@db/points?sslpassword=s3cret",
                "postgres://app@db/points?sslpassword=<redacted>",
            ),
            (
                "postgres://app:s3/cr@et@db/points",
                "postgres://app:<redacted>@db/points",
            ),
            ("postgres://app@db/points", "postgres://app@db/points"),
            ("postgres://db/points", "postgres://db/points"),
            (
                "sqlite://data/points.db?mode=rwc",
                "sqlite://data/points.db?mode=rwc",
            ),
            ("sqlite::memory:", "sqlite::memory:"),
        ];
        for (url, expected) in cases {
            assert_eq!(redact_url_password(url), expected, "{url}");
        }
        let settings = DatabaseSettings {
            url: "postgres://app:s3cret@db/points".into(),
            max_connections: 1,
            min_connections: 0,
            connect_timeout: Duration::from_secs(1),
            acquire_timeout: Duration::from_secs(1),
            statement_timeout: Duration::from_secs(1),
            schema: None,
            prepared_statements: true,
            sqlite_synchronous: SqliteSynchronous::Full,
        };
        assert!(!format!("{settings:?}").contains("s3cret"));
    }

    #[test]
    fn schema_names_are_plain_identifiers() {
        for good in ["points", "_tests", "t_0193a0b4", &"a".repeat(63)] {
            assert!(is_identifier(good), "{good:?}");
        }
        for bad in ["", "0abc", "a-b", r#"a"b"#, "a b", "схема", &"a".repeat(64)] {
            assert!(!is_identifier(bad), "{bad:?}");
        }
    }

    #[test]
    fn urls_name_their_backend() {
        let cases = [
            ("postgres://postgres@127.0.0.1:5432/test", "postgres"),
            ("postgresql://u:p@db/test", "postgres"),
            ("sqlite::memory:", "memory"),
            ("sqlite://:memory:", "memory"),
            ("sqlite://?mode=memory", "memory"),
            ("sqlite://data/x.db?mode=rwc", "file data/x.db"),
            ("sqlite:data/x.db", "file data/x.db"),
            ("sqlite:///var/lib/x.db?mode=rwc", "file /var/lib/x.db"),
        ];
        for (url, expected) in cases {
            let described = match Target::of(url) {
                Ok(Target::Postgres) => "postgres".to_owned(),
                Ok(Target::SqliteMemory) => "memory".to_owned(),
                Ok(Target::SqliteFile(path)) => format!("file {}", path.display()),
                Err(error) => format!("error {error}"),
            };
            assert_eq!(described, expected, "{url}");
        }
    }

    #[test]
    fn other_urls_are_rejected_without_echoing_them() {
        for url in ["mysql://root:secret@db/x", "secret", ""] {
            let error = Target::of(url).err().map(|e| e.to_string());
            assert!(
                error.as_deref().is_some_and(|e| !e.contains("secret")),
                "{url}: {error:?}"
            );
        }
    }
}
