//! The integration points domain: what an integration point is, the rules every
//! one of its values obeys, and the ports through which the outside world is
//! reached.
//!
//! Nothing here performs IO or knows about HTTP, serialisation or SQL: an
//! invalid point cannot be built, so every layer above can trust what it holds.

pub mod change_feed;
pub mod health;
pub mod integration_point;
pub mod text;
