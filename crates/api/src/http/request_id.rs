//! Request ids: the `X-Request-Id` a client sends, or a new one, so that a
//! client, a proxy and the log can all name the same request.

use std::fmt;

use poem::Request;
use poem::http::HeaderName;
use uuid::Uuid;

/// The header that carries a request's id, both ways.
pub(crate) const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// The most characters a client's request id may have.
const MAX_LEN: usize = 64;

/// The id of one request: at most 64 characters of `[A-Za-z0-9._:-]`, so it
/// is safe to log and to echo in a header whatever the client sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RequestId(String);

impl RequestId {
    /// The client's id, when it is one a log can carry as it is.
    pub(crate) fn parse(value: &str) -> Option<Self> {
        let sane = (1..=MAX_LEN).contains(&value.len())
            && value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'));
        sane.then(|| Self(value.to_owned()))
    }

    /// A new id: a UUIDv7, so ids sort by the time their request arrived.
    pub(crate) fn generate() -> Self {
        Self(Uuid::now_v7().to_string())
    }

    /// The id of `request`: the client's `X-Request-Id` if it sent a sane
    /// one, else a new one. A client that sends the header twice gets the first.
    pub(crate) fn of(request: &Request) -> Self {
        request
            .headers()
            .get(&REQUEST_ID_HEADER)
            .and_then(|value| value.to_str().ok())
            .and_then(Self::parse)
            .unwrap_or_else(Self::generate)
    }

    /// The id as text.
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sane_client_ids_are_kept_as_they_are() {
        for id in [
            "a",
            "req-42",
            "0193a0b4-7c1e-7a3b-9c1d-5e6f7a8b9c0d",
            "trace:span.7_x",
            &"x".repeat(64),
        ] {
            assert_eq!(
                RequestId::parse(id).map(|r| r.0),
                Some(id.to_owned()),
                "{id:?}"
            );
        }
    }

    #[test]
    fn ids_a_log_could_not_carry_safely_are_refused() {
        for (what, id) in [
            ("empty", ""),
            ("too long", &"x".repeat(65)),
            ("a space", "a b"),
            ("a line break", "a\nforged log line"),
            ("a quote", "a\"b"),
            ("non-ASCII", "идентификатор"),
            ("a slash", "a/b"),
        ] {
            assert_eq!(RequestId::parse(id), None, "{what}");
        }
    }

    #[test]
    fn requests_without_a_sane_id_get_a_new_uuid() {
        let request = Request::builder()
            .header(REQUEST_ID_HEADER, "not sane!")
            .finish();

        let id = RequestId::of(&request);

        let parsed = Uuid::parse_str(id.as_str()).expect("a UUID");
        assert_eq!(parsed.get_version_num(), 7);
    }

    #[test]
    fn requests_with_a_sane_id_keep_it() {
        let request = Request::builder()
            .header(REQUEST_ID_HEADER, "client-7")
            .finish();

        assert_eq!(RequestId::of(&request).as_str(), "client-7");
    }
}
