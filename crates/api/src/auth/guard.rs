//! The guard in front of the API: it checks the key and scope of every
//! request to a path that is not open.
//!
//! It knows no resource. Which scope a request needs is a [`ScopeRule`], and
//! which paths stay open an [`OpenPaths`], both given by the composition,
//! which knows the routes.

use std::marker::PhantomData;
use std::sync::Arc;

use poem::http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use poem::http::{HeaderMap, HeaderValue, Method, StatusCode};
use poem::{Endpoint, Middleware, Request};

use super::keys::{Access, Scope};
use crate::http::error::ApiError;

/// Why the guard turned a request away.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Refused {
    /// 401: the request carries no API key, or not as `Authorization: Bearer <key>`.
    #[error("an API key is required: send `Authorization: Bearer <key>`")]
    MissingKey,
    /// 401: the API key sent is not one the service knows.
    #[error("the API key is not valid")]
    UnknownKey,
    /// 403: the API key lacks the scope the operation needs.
    #[error("the API key lacks the `{}` scope this operation needs", .0.name())]
    Forbidden(Scope),
}

impl From<Refused> for ApiError {
    fn from(refused: Refused) -> Self {
        // RFC 6750: a 401 carries the challenge, and says whether the key
        // sent was the problem.
        let challenge = match refused {
            Refused::MissingKey => r#"Bearer realm="integration-points""#,
            Refused::UnknownKey => r#"Bearer realm="integration-points", error="invalid_token""#,
            Refused::Forbidden(_) => return Self::new(StatusCode::FORBIDDEN, refused),
        };
        Self::new(StatusCode::UNAUTHORIZED, refused)
            .with_header(WWW_AUTHENTICATE, HeaderValue::from_static(challenge))
    }
}

/// Which scope a request needs. A type rather than a value, so that the
/// OpenAPI document, which is derived from types, can ask it too.
pub(crate) trait ScopeRule: Send + Sync + 'static {
    /// The scope a request needs, or `None` when any valid key will do:
    /// methods the API does not serve, which routing answers with a 405.
    fn required_scope(method: &Method, path: &str) -> Option<Scope>;
}

/// Paths served without a key, whatever the configuration (contract §6):
/// each path listed, and every path below a listed one that ends in `/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OpenPaths(Vec<&'static str>);

impl OpenPaths {
    /// The paths `paths`, and what lies below those ending in `/`.
    pub(crate) fn new(paths: impl IntoIterator<Item = &'static str>) -> Self {
        Self(paths.into_iter().collect())
    }

    /// Whether `path` is served without a key.
    pub(crate) fn contains(&self, path: &str) -> bool {
        self.0
            .iter()
            .any(|open| path == *open || (open.ends_with('/') && path.starts_with(open)))
    }
}

/// The key of an `Authorization: Bearer <key>` header; the scheme's name is
/// case-insensitive (RFC 9110). Several `Authorization` headers are refused
/// as a whole rather than guessed between.
fn bearer_key(headers: &HeaderMap) -> Option<&[u8]> {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let value = values.next()?;
    if values.next().is_some() {
        return None;
    }
    let value = value.as_bytes();
    let space = value.iter().position(|b| *b == b' ')?;
    let (scheme, rest) = value.split_at(space);
    let key = rest.trim_ascii();
    (scheme.eq_ignore_ascii_case(b"bearer") && !key.is_empty()).then_some(key)
}

/// Checks the key and scope of every request to a path that is not open,
/// answering 401 or 403 in the §4 shape, and records the key's name (never
/// the key) in the request's span as `api_key`. `R` says which scope a
/// request needs.
pub(crate) struct Authenticate<R> {
    access: Arc<Access>,
    open: Arc<OpenPaths>,
    rule: PhantomData<fn() -> R>,
}

impl<R: ScopeRule> Authenticate<R> {
    /// Guards every path but `open` with `access`.
    pub(crate) fn new(access: Access, open: OpenPaths) -> Self {
        Self {
            access: Arc::new(access),
            open: Arc::new(open),
            rule: PhantomData,
        }
    }
}

impl<E: Endpoint, R: ScopeRule> Middleware<E> for Authenticate<R> {
    type Output = AuthenticateEndpoint<E, R>;

    fn transform(&self, inner: E) -> Self::Output {
        AuthenticateEndpoint {
            inner,
            access: Arc::clone(&self.access),
            open: Arc::clone(&self.open),
            rule: PhantomData,
        }
    }
}

/// The endpoint [`Authenticate`] makes.
pub(crate) struct AuthenticateEndpoint<E, R> {
    inner: E,
    access: Arc<Access>,
    open: Arc<OpenPaths>,
    rule: PhantomData<fn() -> R>,
}

impl<E: Endpoint, R: ScopeRule> Endpoint for AuthenticateEndpoint<E, R> {
    type Output = E::Output;

    async fn call(&self, request: Request) -> poem::Result<Self::Output> {
        if let Access::Keys(ring) = &*self.access
            && !self.open.contains(request.uri().path())
        {
            let key = match bearer_key(request.headers()) {
                None => return Err(ApiError::from(Refused::MissingKey).into()),
                Some(presented) => ring
                    .find(presented)
                    .ok_or(ApiError::from(Refused::UnknownKey))?,
            };
            tracing::Span::current().record("api_key", key.name());
            if let Some(scope) = R::required_scope(request.method(), request.uri().path())
                && !key.allows(scope)
            {
                return Err(ApiError::from(Refused::Forbidden(scope)).into());
            }
        }
        self.inner.call(request).await
    }
}

#[cfg(test)]
mod tests {
    use poem::error::ResponseError;

    use super::*;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(
                AUTHORIZATION,
                HeaderValue::from_str(value).expect("a valid header"),
            );
        }
        headers
    }

    #[test]
    fn the_bearer_scheme_is_case_insensitive() {
        for value in ["Bearer k", "bearer k", "BEARER   k", "BeArEr k "] {
            assert_eq!(bearer_key(&headers(&[value])), Some(&b"k"[..]), "{value}");
        }
    }

    #[test]
    fn other_schemes_empty_keys_and_repeated_headers_carry_no_key() {
        for values in [
            &[][..],
            &["Basic a2V5"],
            &["Bearer"],
            &["Bearer "],
            &["Bearerk"],
            &["Bearer a", "Bearer b"],
        ] {
            assert_eq!(bearer_key(&headers(values)), None, "{values:?}");
        }
    }

    #[test]
    fn open_paths_are_those_listed_and_those_below_a_listed_directory() {
        let open = OpenPaths::new(["/metrics", "/docs", "/docs/"]);
        for path in ["/metrics", "/docs", "/docs/", "/docs/index.css"] {
            assert!(open.contains(path), "{path}");
        }
        for path in ["/metrics/x", "/metricsx", "/docsx", "/", ""] {
            assert!(!open.contains(path), "{path}");
        }
    }

    #[test]
    fn a_refused_key_is_a_401_with_a_bearer_challenge_and_a_missing_scope_a_403() {
        let cases = [
            (
                Refused::MissingKey,
                1401,
                Some(r#"Bearer realm="integration-points""#),
            ),
            (
                Refused::UnknownKey,
                1401,
                Some(r#"Bearer realm="integration-points", error="invalid_token""#),
            ),
            (Refused::Forbidden(Scope::Write), 1403, None),
        ];
        for (refused, code, challenge) in cases {
            let error = ApiError::from(refused);
            let response = error.as_response();
            assert_eq!(error.body().error_code, code, "{refused:?}");
            assert_eq!(
                response
                    .headers()
                    .get(WWW_AUTHENTICATE)
                    .and_then(|value| value.to_str().ok()),
                challenge,
                "{refused:?}"
            );
        }
    }

    #[test]
    fn a_missing_scope_is_named_by_its_name() {
        assert_eq!(
            Refused::Forbidden(Scope::Write).to_string(),
            "the API key lacks the `write` scope this operation needs"
        );
    }
}
