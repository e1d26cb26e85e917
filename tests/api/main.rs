//! End-to-end tests: the real service on a random port, over HTTP, on SQLite
//! and (when `TEST_DATABASE_URL` is set) on PostgreSQL.

mod helpers;
mod process;
mod proxy;

mod auth;
mod cache;
mod cli;
mod concurrency;
mod containers;
mod documents;
mod durability;
mod edges;
mod errors;
mod examples;
mod feed;
mod fields;
mod limits;
mod logs;
mod nul;
mod openapi_examples;
mod operations;
mod outage;
mod paging;
mod query;
mod redaction;
mod replicas;
mod shutdown;
mod startup;
mod transfer;
mod writes;
