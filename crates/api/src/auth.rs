//! Access control (contract §6): API keys with scopes, sent as
//! `Authorization: Bearer <key>`, checked by a guard in front of the API, and
//! the part of the OpenAPI document that describes it.
//!
//! This room depends on the generic HTTP edge only; what it needs to know of
//! the resource (which scope a request needs, which paths are open) the
//! composition passes in.

pub(crate) mod guard;
pub(crate) mod guarded;
mod keys;

pub use self::keys::{Access, ApiKey, KeyDigest, KeyError, KeyRing, Scope};
