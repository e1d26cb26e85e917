//! `#[pg_gate::requires_postgres]`: the PostgreSQL variant of a test is
//! *ignored* (and so counted as ignored in `cargo test`'s summary, not as
//! passed) when the tests were built without `TEST_DATABASE_URL`.
//!
//! `cargo test --workspace` stays the one command: with the variable set the
//! variants run, without it they show as `ignored` with the reason. The
//! decision is made when this crate is compiled: `option_env!` makes rustc
//! record the variables in its dependency information, so cargo rebuilds
//! this crate, and the tests that use it, whenever they change.
//!
//! Under CI (`CI` set) nothing is ignored: the tests then run and fail for
//! want of a database, since CI must run them all.

use proc_macro::TokenStream;

/// Whether the PostgreSQL tests are built to be skipped.
const SKIPPED: bool = match (option_env!("TEST_DATABASE_URL"), option_env!("CI")) {
    (_, Some(_)) => false,
    (Some(url), None) => url.is_empty(),
    (None, None) => true,
};

/// Adds `#[ignore = "…"]` to the test it marks when the tests were built
/// without `TEST_DATABASE_URL` (and without `CI`); leaves it as it is
/// otherwise.
#[proc_macro_attribute]
pub fn requires_postgres(_arguments: TokenStream, test: TokenStream) -> TokenStream {
    if !SKIPPED {
        return test;
    }
    let mut marked: TokenStream =
        r#"#[ignore = "needs PostgreSQL: set TEST_DATABASE_URL to run it"]"#
            .parse()
            .unwrap_or_default();
    marked.extend(test);
    marked
}
