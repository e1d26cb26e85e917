//! The repository, `connect` and the migrations against real databases.
//!
//! Every test runs on SQLite (a fresh file in a new temporary directory) and on
//! PostgreSQL (a fresh schema of the database named by `TEST_DATABASE_URL`).
//! Without `TEST_DATABASE_URL` the PostgreSQL variants are skipped, unless `CI`
//! is set: then they fail, so that CI cannot silently skip them.

#[macro_use]
mod support;

mod changes;
mod concurrency;
mod connect;
mod counting;
mod crud;
mod health;
mod list;
mod lookup;
mod migrations;
mod oracle;
mod transfer;
