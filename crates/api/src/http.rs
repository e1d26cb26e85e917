//! The generic HTTP edge, which knows no resource: the error shape of
//! contract §4, request bodies and their limits, the route tables, the
//! middleware (request id, logging, metrics, compression, CORS, limits), the
//! health probes, and the server with its head timeout and drain.

pub(crate) mod compression;
pub(crate) mod cors;
pub(crate) mod drain;
pub(crate) mod error;
pub(crate) mod head_timeout;
pub(crate) mod health;
pub(crate) mod limits;
pub(crate) mod metrics;
pub(crate) mod middleware;
pub(crate) mod payload;
pub(crate) mod request_id;
pub(crate) mod routes;
pub(crate) mod server;
