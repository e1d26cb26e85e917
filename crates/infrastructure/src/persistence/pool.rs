//! The connections the repository's statements run on.
//!
//! sea-orm's own handle runs each statement on sqlx's pool, which talks to
//! the database three times per statement: it pings a connection before
//! handing it out, runs the statement, and pings the connection again,
//! unconditionally, when it comes back. On PostgreSQL that doubled the
//! database's work per read (BENCHMARKS.md). The pool here hands a connection
//! out as it is and takes it back as it is, so a statement is one round trip,
//! and keeps what the pings were for by cheaper means:
//! - a connection left in the middle of a statement (its future dropped, its
//!   deadline passed), or failed by anything but an error the database
//!   answered with (or by one saying the database ended the session), is
//!   closed, never handed out again;
//! - a connection idle for [`IDLE_BEFORE_PING`] or more, long enough for the
//!   database or the network to have dropped it unseen, is pinged before it
//!   is handed out again, and replaced if the ping fails; so is every idle
//!   connection once one of its pool's connections was lost (a restarted or
//!   failed-over database drops them all at once), and a read that found its
//!   connection lost runs once more on another;
//! - every statement has a deadline, so a network that silently drops
//!   packets costs a request that deadline, not the many minutes TCP takes to
//!   give up.
//!
//! On a SQLite file, writes go through a pool of their own with one
//! connection: SQLite lets one writer in at a time, and writers that queue
//! here, in order, wait for each other's statements rather than in SQLite's
//! busy handler, which sleeps in growing steps and put the writes' p99 at up
//! to 26 times their median.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use deadpool::managed::{self, Metrics, Object, PoolError, QueueMode, RecycleError, RecycleResult};
use domain::health::PoolStatus;
use sea_orm::prelude::async_trait;
use sea_orm::sqlx::{
    self, ConnectOptions, Connection, Database as SqlxDatabase, Executor, IntoArguments,
    database::HasStatementCache, postgres::Postgres, sqlite::Sqlite,
};
use sea_orm::{
    ConnAcquireErr, ConnectionTrait, DbBackend, DbErr, ExecResult, QueryResult, RuntimeErr,
    Statement, Values,
};
use sea_query_sqlx::SqlxValues;

/// How long a connection may sit idle before it is pinged on its way out.
///
/// Under load connections come back within milliseconds and are never pinged;
/// a service that was quiet for a second pays one round trip to learn that its
/// connection survived.
pub(crate) const IDLE_BEFORE_PING: Duration = Duration::from_secs(1);

/// How long a connection is used before it is replaced, as sqlx's pool does,
/// so that no database session lives (and grows its caches) for ever.
const MAX_LIFETIME: Duration = Duration::from_secs(30 * 60);

/// How long closing one connection at shutdown may take.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

/// Opens, checks and replaces the connections of one pool.
pub(crate) struct Manager<DB: SqlxDatabase> {
    options: <DB::Connection as Connection>::Options,
    /// An in-memory SQLite database lives as long as its one connection, so
    /// that connection is kept whatever happens to it.
    keep_forever: bool,
    /// When a connection of this pool was last lost (nanoseconds after
    /// `epoch`; 0 for never): idle connections last used before then are
    /// suspect, and pinged before reuse however briefly they idled.
    lost_at: AtomicU64,
    epoch: Instant,
}

impl<DB: SqlxDatabase> Manager<DB> {
    fn new(options: <DB::Connection as Connection>::Options, keep_forever: bool) -> Self {
        Self {
            options,
            keep_forever,
            lost_at: AtomicU64::new(0),
            epoch: Instant::now(),
        }
    }

    /// Records that a connection failed on its way to or from the database.
    fn connection_lost(&self) {
        let now = u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.lost_at.store(now.max(1), Ordering::Relaxed);
    }

    /// Whether a connection last handed out at `used` may have been lost
    /// with another since.
    fn suspect(&self, used: Instant) -> bool {
        match self.lost_at.load(Ordering::Relaxed) {
            0 => false,
            lost => used.saturating_duration_since(self.epoch) <= Duration::from_nanos(lost),
        }
    }
}

impl<DB: SqlxDatabase> managed::Manager for Manager<DB> {
    type Type = DB::Connection;
    type Error = sqlx::Error;

    async fn create(&self) -> Result<DB::Connection, sqlx::Error> {
        // Boxed: the PostgreSQL handshake's future is kilobytes, and the
        // pool's `get` holds this one inline, so unboxed it would be built
        // and moved with every statement's future though it rarely runs.
        Box::pin(self.options.connect()).await
    }

    async fn recycle(
        &self,
        connection: &mut DB::Connection,
        metrics: &Metrics,
    ) -> RecycleResult<sqlx::Error> {
        if self.keep_forever {
            return Ok(());
        }
        if metrics.age() >= MAX_LIFETIME {
            return Err(RecycleError::message("the connection reached its lifetime"));
        }
        let used = metrics.recycled.unwrap_or(metrics.created);
        if metrics.last_used() >= IDLE_BEFORE_PING || self.suspect(used) {
            connection.ping().await?;
        }
        Ok(())
    }
}

type Pool<DB> = managed::Pool<Manager<DB>>;

/// A connection out of the pool.
///
/// It goes back when dropped, unless a statement on it did not finish
/// cleanly: then what the database will send next is unknown, and the
/// connection is closed instead.
pub(crate) struct Checkout<DB: SqlxDatabase> {
    connection: Option<Object<Manager<DB>>>,
    /// What the connection will send or expect next is unknown (a statement
    /// did not finish cleanly), or it is gone: close it rather than return it.
    discard: bool,
    /// The statement failed on the way to or from the database.
    lost: bool,
    /// Behind a transaction pooler: what opens the transaction each
    /// statement runs in (see [`Transactions`]).
    begin: Option<Arc<str>>,
    /// A transaction is open on the connection: it must not go back so.
    in_transaction: bool,
}

impl<DB: SqlxDatabase> Checkout<DB> {
    fn new(connection: Object<Manager<DB>>, begin: Option<Arc<str>>) -> Self {
        Self {
            connection: Some(connection),
            discard: false,
            lost: false,
            begin,
            in_transaction: false,
        }
    }
}

impl<DB: SqlxDatabase> Drop for Checkout<DB> {
    fn drop(&mut self) {
        if !self.discard && !self.in_transaction {
            return;
        }
        let Some(connection) = self.connection.take() else {
            return;
        };
        let pool = Object::pool(&connection);
        let manager = pool.as_ref().map(managed::Pool::manager);
        if self.lost
            && let Some(manager) = manager
        {
            manager.connection_lost();
        }
        if !manager.is_some_and(|manager| manager.keep_forever) {
            // Out of the pool and dropped: the socket closes, and the pool
            // opens a fresh connection when it next needs one.
            drop(Object::take(connection));
        }
    }
}

impl<DB> Checkout<DB>
where
    DB: SqlxDatabase + HasStatementCache,
    SqlxValues: IntoArguments<DB>,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    QueryResult: From<DB::Row>,
    ExecResult: From<DB::QueryResult>,
{
    async fn fetch_all(
        &mut self,
        statement: &Statement,
        deadline: Duration,
        persistent: bool,
    ) -> Result<Vec<QueryResult>, sqlx::Error> {
        let query = prepare::<DB>(statement.clone(), persistent && self.begin.is_none());
        self.begin(deadline).await?;
        let rows = self.run(deadline, |c| query.fetch_all(c)).await;
        let rows = self.end(rows, deadline).await?;
        Ok(rows.into_iter().map(QueryResult::from).collect())
    }

    async fn fetch_optional(
        &mut self,
        statement: &Statement,
        deadline: Duration,
        persistent: bool,
    ) -> Result<Option<QueryResult>, sqlx::Error> {
        let query = prepare::<DB>(statement.clone(), persistent && self.begin.is_none());
        self.begin(deadline).await?;
        let row = self.run(deadline, |c| query.fetch_optional(c)).await;
        let row = self.end(row, deadline).await?;
        Ok(row.map(QueryResult::from))
    }

    async fn execute(
        &mut self,
        statement: Statement,
        deadline: Duration,
    ) -> Result<ExecResult, sqlx::Error> {
        let query = prepare::<DB>(statement, self.begin.is_none());
        self.begin(deadline).await?;
        let done = self.run(deadline, |c| query.execute(c)).await;
        let done = self.end(done, deadline).await?;
        Ok(done.into())
    }

    async fn execute_unprepared(
        &mut self,
        sql: &str,
        deadline: Duration,
    ) -> Result<ExecResult, sqlx::Error> {
        let query = sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()));
        self.begin(deadline).await?;
        let done = self.run(deadline, |c| query.execute(c)).await;
        let done = self.end(done, deadline).await?;
        Ok(done.into())
    }

    /// Behind a transaction pooler, opens the transaction the next statement
    /// runs in; otherwise does nothing.
    async fn begin(&mut self, deadline: Duration) -> Result<(), sqlx::Error> {
        let Some(begin) = self.begin.clone() else {
            return Ok(());
        };
        let query = sqlx::raw_sql(sqlx::AssertSqlSafe(begin.to_string()));
        // Set first: should a `SET LOCAL` fail after the `BEGIN`, the
        // connection holds an aborted transaction and must not go back.
        self.in_transaction = true;
        self.run(deadline, |c| query.execute(c)).await?;
        Ok(())
    }

    /// Ends the transaction [`Self::begin`] opened, if it did: commits after
    /// a statement that succeeded, rolls back after one that failed, unless
    /// the connection is to be closed anyway.
    async fn end<T>(
        &mut self,
        outcome: Result<T, sqlx::Error>,
        deadline: Duration,
    ) -> Result<T, sqlx::Error> {
        if !self.in_transaction || self.discard {
            return outcome;
        }
        let end = if outcome.is_ok() {
            "COMMIT"
        } else {
            "ROLLBACK"
        };
        self.run(deadline, |c| sqlx::raw_sql(end).execute(c))
            .await?;
        self.in_transaction = false;
        outcome
    }

    async fn ping(&mut self, deadline: Duration) -> Result<(), sqlx::Error> {
        self.run(deadline, |c| c.ping()).await
    }

    /// Runs one statement with a deadline, and tells whether the connection
    /// is still fit to be reused.
    async fn run<'c, T, F>(
        &'c mut self,
        deadline: Duration,
        statement: impl FnOnce(&'c mut DB::Connection) -> F,
    ) -> Result<T, sqlx::Error>
    where
        F: Future<Output = Result<T, sqlx::Error>> + 'c,
    {
        let Some(connection) = self.connection.as_mut() else {
            return Err(sqlx::Error::PoolClosed);
        };
        // Should this future be dropped before the statement finishes, the
        // connection is left mid-exchange.
        self.discard = true;
        let outcome = tokio::time::timeout(deadline, statement(connection)).await;
        match outcome {
            Ok(Ok(value)) => {
                self.discard = false;
                Ok(value)
            }
            Ok(Err(error)) => {
                // An error the database answered with ends the exchange where
                // the protocol expects, and the connection can carry on,
                // unless the error says the database ended the session.
                self.lost = is_lost_connection(&error);
                self.discard = self.lost || !matches!(error, sqlx::Error::Database(_));
                Err(error)
            }
            Err(_) => {
                // Silence from the database: the network may have dropped
                // every connection of the pool.
                self.lost = true;
                Err(sqlx::Error::Io(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("the database did not answer within {deadline:?}"),
                )))
            }
        }
    }
}

/// Whether a statement failed because its connection is gone (broken on the
/// way to or from the database, or its session ended by the server), not
/// because the database refused the statement or took too long.
fn is_lost_connection(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(error) => error.kind() != io::ErrorKind::TimedOut,
        sqlx::Error::Tls(_) | sqlx::Error::Protocol(_) | sqlx::Error::WorkerCrashed => true,
        // PostgreSQL: class 08 is a connection exception, 57P01..03 a server
        // shutting down, restarting or crashed, which ends every session.
        sqlx::Error::Database(error) => error
            .code()
            .is_some_and(|code| code.starts_with("08") || code.starts_with("57P")),
        _ => false,
    }
}

/// The statement with its values bound: prepared and cached per connection
/// when `named`, else prepared unnamed each time.
fn prepare<DB>(statement: Statement, named: bool) -> sqlx::query::Query<'static, DB, SqlxValues>
where
    DB: SqlxDatabase + HasStatementCache,
    SqlxValues: IntoArguments<DB>,
{
    let values = statement.values.unwrap_or(Values(Vec::new()));
    sqlx::query_with(sqlx::AssertSqlSafe(statement.sql), SqlxValues(values)).persistent(named)
}

/// Runs a [`Checkout`] method on a connection from `route`'s pool, on
/// whichever backend that is.
macro_rules! on_connection {
    ($route:expr, $method:ident($($arg:expr),*)) => {
        match $route.pool {
            PoolRef::Postgres(pool) => $route.checkout(pool).await?.$method($($arg),*).await,
            PoolRef::Sqlite(pool) => $route.checkout(pool).await?.$method($($arg),*).await,
        }
    };
}

/// [`on_connection!`] for a read. Reads change nothing, so one that found its
/// connection lost runs once more, on a connection the pool has checked.
/// Writes do not: whether the database applied one whose answer was lost is
/// unknown.
macro_rules! read_on_connection {
    ($route:expr, $method:ident($($arg:expr),*)) => {
        match on_connection!($route, $method($($arg),*)) {
            Err(error) if is_lost_connection(&error) => {
                on_connection!($route, $method($($arg),*))
            }
            result => result,
        }
    };
}

/// How long waiting for connections and statements may take.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Deadlines {
    /// Waiting for a connection, opening one included.
    pub(crate) acquire: Duration,
    /// One statement, from sending it to its last row.
    pub(crate) statement: Duration,
}

/// The pools of one database.
#[derive(Clone)]
enum Pools {
    Postgres(Pool<Postgres>),
    /// Without `writes` (an in-memory database), writes share `reads`.
    Sqlite {
        reads: Pool<Sqlite>,
        writes: Option<Pool<Sqlite>>,
    },
}

/// The connections of one database, and where reads and writes take theirs.
#[derive(Clone)]
pub(crate) struct ConnectionPool {
    pools: Pools,
    deadlines: Deadlines,
    /// Whether statements may run: not before the database is open (and
    /// migrated), so that none meets a schema that is not there yet.
    admitted: Arc<AtomicBool>,
    /// Behind a transaction pooler: what opens each statement's transaction.
    begin: Option<Arc<str>>,
}

/// How statements run on PostgreSQL behind a pooler in transaction mode
/// (PgBouncer before 1.21), which hands each transaction, and each statement
/// outside one, to whichever server connection is free.
///
/// There a named prepared statement is found on one server connection and
/// not the next, and even an unnamed one is not safe on its own: sqlx parses
/// and describes a statement, waits for the answer, then binds and executes
/// it, two exchanges between which the pooler may switch server connections
/// (and another client's statement may take the unnamed slot). Settings of
/// the session (`search_path`, `statement_timeout`) do not follow either. So
/// each statement runs unnamed inside its own transaction, which the pooler
/// keeps on one server connection, opened by one simple query that also
/// sets what the session would have: `BEGIN; SET LOCAL …`. That costs two
/// more round trips per statement (the `BEGIN …` and the `COMMIT`), and the
/// parse and plan the cache saved.
#[derive(Debug, Clone)]
pub(crate) struct Transactions {
    /// `BEGIN` and the `SET LOCAL` statements that follow it.
    pub(crate) begin: String,
}

impl std::fmt::Debug for ConnectionPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectionPool")
            .field("backend", &self.backend())
            .field("status", &self.status())
            .field("deadlines", &self.deadlines)
            .finish()
    }
}

/// What a pool of `max_size` connections with these options looks like.
fn build<DB: SqlxDatabase>(
    options: <DB::Connection as Connection>::Options,
    max_size: usize,
    keep_forever: bool,
) -> Pool<DB> {
    let manager = Manager::new(options, keep_forever);
    managed::Pool::builder(manager)
        .max_size(max_size)
        // The most recently returned connection first: under light load a
        // few connections stay warm and are not pinged, the rest idle.
        .queue_mode(QueueMode::Lifo)
        .build()
        // Building fails only for a timeout without a runtime, and none is set.
        .unwrap_or_else(|error| unreachable!("a pool without timeouts builds: {error}"))
}

impl ConnectionPool {
    /// A pool of up to `max_size` PostgreSQL connections, whose statements
    /// run in [`Transactions`] when given.
    pub(crate) fn postgres(
        options: sqlx::postgres::PgConnectOptions,
        max_size: usize,
        deadlines: Deadlines,
        transactions: Option<Transactions>,
    ) -> Self {
        Self {
            pools: Pools::Postgres(build(options, max_size, false)),
            deadlines,
            admitted: Arc::default(),
            begin: transactions.map(|t| Arc::from(t.begin)),
        }
    }

    /// On PostgreSQL, a pool of one connection of its own, opened with this
    /// pool's options and admitting statements when this one does: for a
    /// task whose statement must not queue behind the others for a
    /// connection. `None` on SQLite.
    pub(crate) fn dedicated(&self) -> Option<Self> {
        match &self.pools {
            Pools::Postgres(pool) => Some(Self {
                pools: Pools::Postgres(build(pool.manager().options.clone(), 1, false)),
                deadlines: self.deadlines,
                admitted: Arc::clone(&self.admitted),
                begin: self.begin.clone(),
            }),
            Pools::Sqlite { .. } => None,
        }
    }

    /// Up to `max_size` connections reading a SQLite file, and one writing it.
    pub(crate) fn sqlite_file(
        options: sqlx::sqlite::SqliteConnectOptions,
        max_size: usize,
        deadlines: Deadlines,
    ) -> Self {
        Self {
            pools: Pools::Sqlite {
                reads: build(options.clone(), max_size, false),
                writes: Some(build(options, 1, false)),
            },
            deadlines,
            admitted: Arc::default(),
            begin: None,
        }
    }

    /// The one connection of an in-memory SQLite database.
    pub(crate) fn sqlite_memory(
        options: sqlx::sqlite::SqliteConnectOptions,
        deadlines: Deadlines,
    ) -> Self {
        Self {
            pools: Pools::Sqlite {
                reads: build(options, 1, true),
                writes: None,
            },
            deadlines,
            admitted: Arc::default(),
            begin: None,
        }
    }

    pub(crate) fn backend(&self) -> DbBackend {
        match self.pools {
            Pools::Postgres(_) => DbBackend::Postgres,
            Pools::Sqlite { .. } => DbBackend::Sqlite,
        }
    }

    /// Where statements that only read run.
    pub(crate) fn reads(&self) -> Route<'_> {
        let pool = match &self.pools {
            Pools::Postgres(pool) => PoolRef::Postgres(pool),
            Pools::Sqlite { reads, .. } => PoolRef::Sqlite(reads),
        };
        Route {
            pool,
            deadlines: self.deadlines,
            admitted: self.admitted.load(Ordering::Acquire),
            begin: self.begin.as_ref(),
            persistent: true,
        }
    }

    /// Where statements that write run.
    pub(crate) fn writes(&self) -> Route<'_> {
        let pool = match &self.pools {
            Pools::Postgres(pool) => PoolRef::Postgres(pool),
            Pools::Sqlite { reads, writes } => PoolRef::Sqlite(writes.as_ref().unwrap_or(reads)),
        };
        Route {
            pool,
            deadlines: self.deadlines,
            admitted: self.admitted.load(Ordering::Acquire),
            begin: self.begin.as_ref(),
            persistent: true,
        }
    }

    /// Lets statements run from now on.
    pub(crate) fn admit(&self) {
        self.admitted.store(true, Ordering::Release);
    }

    /// Opens connections until `count` are open (each pool at most full),
    /// proving the database reachable.
    pub(crate) async fn open(&self, count: usize) -> Result<(), DbErr> {
        async fn fill<DB: SqlxDatabase>(pool: &Pool<DB>, count: usize) -> Result<(), DbErr> {
            let count = count.clamp(1, pool.status().max_size);
            let mut held = Vec::with_capacity(count);
            for _ in 0..count {
                held.push(pool.get().await.map_err(acquire_error)?);
            }
            Ok(())
        }
        match &self.pools {
            Pools::Postgres(pool) => fill(pool, count).await,
            Pools::Sqlite { reads, writes } => {
                fill(reads, count).await?;
                match writes {
                    Some(writes) => fill(writes, 1).await,
                    None => Ok(()),
                }
            }
        }
    }

    /// Checks that a connection can be had and the database answers.
    pub(crate) async fn ping(&self) -> Result<(), DbErr> {
        let route = self.reads();
        let deadline = self.deadlines.statement;
        on_connection!(route, ping(deadline))
            .map_err(|e| DbErr::Conn(RuntimeErr::SqlxError(e.into())))
    }

    /// The connections open, idle and allowed, and the requests waiting for
    /// one, over every pool.
    pub(crate) fn status(&self) -> PoolStatus {
        let statuses: Vec<managed::Status> = match &self.pools {
            Pools::Postgres(pool) => vec![pool.status()],
            Pools::Sqlite { reads, writes } => std::iter::once(reads)
                .chain(writes)
                .map(managed::Pool::status)
                .collect(),
        };
        let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        let sum = |figure: fn(&managed::Status) -> usize| count(statuses.iter().map(figure).sum());
        PoolStatus::new(sum(|s| s.size), sum(|s| s.available), sum(|s| s.max_size))
            .with_waiting(sum(|s| s.waiting))
    }

    /// Closes every idle connection cleanly and refuses new checkouts;
    /// connections still out are closed when they come back.
    pub(crate) async fn close(&self) {
        async fn close<DB: SqlxDatabase>(pool: &Pool<DB>) {
            let idle = pool.retain(|_, _| false).removed;
            pool.close();
            for connection in idle {
                let _ = tokio::time::timeout(CLOSE_TIMEOUT, connection.close()).await;
            }
        }
        match &self.pools {
            Pools::Postgres(pool) => close(pool).await,
            Pools::Sqlite { reads, writes } => {
                if let Some(writes) = writes {
                    close(writes).await;
                }
                close(reads).await;
            }
        }
    }
}

#[derive(Clone, Copy)]
enum PoolRef<'a> {
    Postgres(&'a Pool<Postgres>),
    Sqlite(&'a Pool<Sqlite>),
}

/// A pool seen as a sea-orm connection: each statement takes a connection,
/// runs with its deadline, and gives the connection back.
#[derive(Clone, Copy)]
pub(crate) struct Route<'a> {
    pool: PoolRef<'a>,
    deadlines: Deadlines,
    /// Whether the pool admitted statements when the route was taken.
    admitted: bool,
    begin: Option<&'a Arc<str>>,
    /// Whether reads are prepared once per connection and cached.
    persistent: bool,
}

impl Route<'_> {
    /// The same route, with reads that PostgreSQL plans anew for their values
    /// on every execution.
    ///
    /// A statement prepared and cached per connection gets a generic plan
    /// after five executions, made without the values: for a list that is
    /// the wrong index whenever the right one depends on them (how many rows
    /// `ext.lwt > ?` or `type = ?` select). An unnamed statement is planned
    /// with its values each time, for the price of parsing and planning it,
    /// which a list, unlike a read by key, repays. SQLite plans without the
    /// values either way, so its statements stay cached.
    pub(crate) fn planned_per_execution(self) -> Self {
        Self {
            persistent: matches!(self.pool, PoolRef::Sqlite(_)),
            ..self
        }
    }

    async fn checkout<DB: SqlxDatabase>(&self, pool: &Pool<DB>) -> Result<Checkout<DB>, DbErr> {
        if !self.admitted {
            return Err(DbErr::ConnectionAcquire(ConnAcquireErr::ConnectionClosed));
        }
        match tokio::time::timeout(self.deadlines.acquire, pool.get()).await {
            Ok(result) => result
                .map(|connection| Checkout::new(connection, self.begin.cloned()))
                .map_err(acquire_error),
            Err(_) => Err(DbErr::ConnectionAcquire(ConnAcquireErr::Timeout)),
        }
    }
}

fn acquire_error(error: PoolError<sqlx::Error>) -> DbErr {
    match error {
        PoolError::Timeout(_) => DbErr::ConnectionAcquire(ConnAcquireErr::Timeout),
        PoolError::Closed => DbErr::ConnectionAcquire(ConnAcquireErr::ConnectionClosed),
        PoolError::Backend(error) => DbErr::Conn(RuntimeErr::SqlxError(error.into())),
        PoolError::NoRuntimeSpecified | PoolError::PostCreateHook(_) => {
            DbErr::Conn(RuntimeErr::Internal(error.to_string()))
        }
    }
}

fn query_error(error: sqlx::Error) -> DbErr {
    DbErr::Query(RuntimeErr::SqlxError(error.into()))
}

fn exec_error(error: sqlx::Error) -> DbErr {
    DbErr::Exec(RuntimeErr::SqlxError(error.into()))
}

#[async_trait::async_trait]
impl ConnectionTrait for Route<'_> {
    fn get_database_backend(&self) -> DbBackend {
        match self.pool {
            PoolRef::Postgres(_) => DbBackend::Postgres,
            PoolRef::Sqlite(_) => DbBackend::Sqlite,
        }
    }

    async fn execute_raw(&self, statement: Statement) -> Result<ExecResult, DbErr> {
        let deadline = self.deadlines.statement;
        on_connection!(self, execute(statement, deadline)).map_err(exec_error)
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        let deadline = self.deadlines.statement;
        on_connection!(self, execute_unprepared(sql, deadline)).map_err(exec_error)
    }

    async fn query_one_raw(&self, statement: Statement) -> Result<Option<QueryResult>, DbErr> {
        let deadline = self.deadlines.statement;
        read_on_connection!(self, fetch_optional(&statement, deadline, self.persistent))
            .map_err(query_error)
    }

    async fn query_all_raw(&self, statement: Statement) -> Result<Vec<QueryResult>, DbErr> {
        let deadline = self.deadlines.statement;
        read_on_connection!(self, fetch_all(&statement, deadline, self.persistent))
            .map_err(query_error)
    }
}

#[cfg(test)]
mod tests;
