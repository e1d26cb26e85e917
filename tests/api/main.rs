//! End-to-end tests: the real service on a random port, over HTTP, on SQLite
//! and (when `TEST_DATABASE_URL` is set) on PostgreSQL.

mod helpers;

mod concurrency;
mod errors;
mod examples;
mod query;
mod writes;
