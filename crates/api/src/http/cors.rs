//! Cross-origin requests from browsers (contract §10): which origins may call
//! the API, and the CORS headers they get.
//!
//! poem's `Cors` middleware answers preflights and adds the headers; this
//! module decides which requests reach it. A request from an origin that is
//! not allowed is served as if it had no `Origin` (no CORS headers, so the
//! browser withholds the response from the page) instead of poem's 403,
//! which would tell a same-origin tool nothing and break non-browser clients
//! that happen to send `Origin`.

use std::sync::Arc;

use poem::http::{HeaderValue, Method, header};
use poem::middleware::{Cors as PoemCors, CorsEndpoint as PoemCorsEndpoint};
use poem::{Endpoint, IntoResponse, Middleware, Request, Response};

use poem::error::ResponseError as _;

use crate::http::error::ApiError;

/// The request headers a page may set.
pub(crate) const ALLOWED_HEADERS: [&str; 5] = [
    "Authorization",
    "Content-Type",
    "If-Match",
    "If-None-Match",
    "X-Request-Id",
];

/// The response headers a page may read besides the CORS-safelisted ones.
pub(crate) const EXPOSED_HEADERS: [&str; 7] = [
    "X-Total-Count",
    "X-Total-Count-Estimated",
    "X-Revision",
    "Link",
    "ETag",
    "Location",
    "X-Request-Id",
];

/// Which browser origins may call the API (`http.cors.allowed_origins`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum CorsOrigins {
    /// None: no response carries CORS headers (the default).
    #[default]
    None,
    /// Any origin (configured as `["*"]`).
    Any,
    /// Exactly these origins, each `scheme://host[:port]` as browsers send it.
    Listed(Vec<String>),
}

/// Why a list of origins cannot be configured.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CorsOriginError {
    /// `*` beside other origins, which would make them pointless.
    #[error("`*` allows every origin and must be the only item")]
    WildcardNotAlone,
    /// Not an origin as a browser writes it in the `Origin` header.
    #[error(
        "`{0}` is not an origin: write `http://host` or `https://host:port`, in lowercase, \
         without a path or a trailing slash"
    )]
    NotAnOrigin(String),
}

impl CorsOrigins {
    /// Reads the configured list: empty for none, `["*"]` for any, else
    /// origins as browsers send them (`https://app.example.com`,
    /// `http://localhost:3000`).
    ///
    /// # Errors
    /// The first item that is not an origin, or `*` beside other items.
    pub fn from_config<S: AsRef<str>>(items: &[S]) -> Result<Self, CorsOriginError> {
        let items: Vec<&str> = items.iter().map(AsRef::as_ref).collect();
        match items.as_slice() {
            [] => Ok(Self::None),
            ["*"] => Ok(Self::Any),
            _ => items
                .iter()
                .map(|&item| match item {
                    "*" => Err(CorsOriginError::WildcardNotAlone),
                    origin if is_origin(origin) => Ok(origin.to_owned()),
                    other => Err(CorsOriginError::NotAnOrigin(other.to_owned())),
                })
                .collect::<Result<_, _>>()
                .map(Self::Listed),
        }
    }

    /// The configuration form: `[]`, `["*"]` or the origins.
    pub fn to_config(&self) -> Vec<String> {
        match self {
            Self::None => vec![],
            Self::Any => vec!["*".to_owned()],
            Self::Listed(origins) => origins.clone(),
        }
    }

    fn allows(&self, origin: &HeaderValue) -> bool {
        match self {
            Self::None => false,
            Self::Any => true,
            Self::Listed(origins) => origins.iter().any(|allowed| allowed.as_bytes() == origin),
        }
    }
}

/// `scheme://host[:port]` in the serialisation browsers use: `http` or
/// `https`, a lowercase host name, IPv4 or bracketed IPv6 address, and a
/// port of digits.
fn is_origin(value: &str) -> bool {
    let Some(authority) = value
        .strip_prefix("https://")
        .or_else(|| value.strip_prefix("http://"))
    else {
        return false;
    };
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) if !host.ends_with(':') && !port.contains(']') => (host, Some(port)),
        _ => (authority, None),
    };
    let host_ok = if let Some(ipv6) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        !ipv6.is_empty() && ipv6.bytes().all(|b| b.is_ascii_hexdigit() || b == b':')
    } else {
        !host.is_empty()
            && host
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
    };
    let port_ok = port.is_none_or(|port| {
        !port.is_empty() && port.len() <= 5 && port.bytes().all(|b| b.is_ascii_digit())
    });
    host_ok && port_ok
}

/// Adds CORS to the endpoint it wraps, for the configured origins.
pub(crate) struct Cors {
    origins: Arc<CorsOrigins>,
    methods: Vec<Method>,
}

impl Cors {
    /// CORS for `origins`, which may send `methods` (every one the API
    /// serves); with [`CorsOrigins::None`] it changes nothing.
    pub(crate) fn new(origins: CorsOrigins, methods: impl IntoIterator<Item = Method>) -> Self {
        Self {
            origins: Arc::new(origins),
            methods: methods.into_iter().collect(),
        }
    }
}

impl<E: Endpoint> Middleware<E> for Cors {
    type Output = CorsEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        let inner = Arc::new(inner);
        let poem_cors = match &*self.origins {
            CorsOrigins::None => None,
            // Only origins this module let through reach poem's middleware,
            // so it may allow them all; it then echoes the request's origin.
            CorsOrigins::Any | CorsOrigins::Listed(_) => Some(
                PoemCors::new()
                    .allow_methods(self.methods.clone())
                    .allow_headers(ALLOWED_HEADERS)
                    .expose_headers(EXPOSED_HEADERS)
                    .transform(Arc::clone(&inner)),
            ),
        };
        CorsEndpoint {
            inner,
            poem_cors,
            origins: Arc::clone(&self.origins),
        }
    }
}

/// The endpoint [`Cors`] makes.
pub(crate) struct CorsEndpoint<E> {
    inner: Arc<E>,
    poem_cors: Option<PoemCorsEndpoint<Arc<E>>>,
    origins: Arc<CorsOrigins>,
}

impl<E: Endpoint> Endpoint for CorsEndpoint<E> {
    type Output = Response;

    async fn call(&self, request: Request) -> poem::Result<Response> {
        let Some(poem_cors) = &self.poem_cors else {
            return self
                .inner
                .call(request)
                .await
                .map(IntoResponse::into_response);
        };
        let allowed = request
            .headers()
            .get(header::ORIGIN)
            .is_some_and(|origin| self.origins.allows(origin));
        // poem takes every OPTIONS with an Origin for a preflight; one without
        // Access-Control-Request-Method is a plain OPTIONS, for the API to answer.
        let plain_options = request.method() == Method::OPTIONS
            && !request
                .headers()
                .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
        let mut response = if allowed && !plain_options {
            match poem_cors.call(request).await {
                Ok(response) => response,
                // A preflight asking for a method or header the API does not take.
                Err(error) => ApiError::cors_refused(error).as_response(),
            }
        } else {
            self.inner.get_response(request).await
        };
        // The answer depends on the Origin, allowed or not: caches must key
        // on it. (poem's middleware says so itself for some answers.)
        let headers = response.headers_mut();
        if !headers.get_all(header::VARY).iter().any(|v| v == "Origin") {
            headers.append(header::VARY, HeaderValue::from_static("Origin"));
        }
        Ok(response)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_list_allows_no_origin_and_a_lone_star_every_one() {
        assert_eq!(CorsOrigins::from_config::<&str>(&[]), Ok(CorsOrigins::None));
        assert_eq!(CorsOrigins::from_config(&["*"]), Ok(CorsOrigins::Any));
    }

    #[test]
    fn origins_as_browsers_send_them_are_accepted() {
        let origins = [
            "https://app.example.com",
            "http://localhost:3000",
            "http://127.0.0.1:8081",
            "http://[::1]:8080",
            "https://xn--80ak6aa92e.com",
        ];
        assert_eq!(
            CorsOrigins::from_config(&origins),
            Ok(CorsOrigins::Listed(
                origins.iter().map(|o| (*o).to_owned()).collect()
            ))
        );
    }

    #[test]
    fn anything_else_is_refused_with_the_item_named() {
        for bad in [
            "app.example.com",
            "https://app.example.com/",
            "https://app.example.com/path",
            "https://App.example.com",
            "ftp://example.com",
            "https://",
            "https://example.com:",
            "https://example.com:123456",
            "https://example.com:80a",
            "null",
            "https://*.example.com",
        ] {
            assert_eq!(
                CorsOrigins::from_config(&[bad]),
                Err(CorsOriginError::NotAnOrigin(bad.to_owned())),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_star_must_stand_alone() {
        assert_eq!(
            CorsOrigins::from_config(&["https://a.example", "*"]),
            Err(CorsOriginError::WildcardNotAlone)
        );
    }

    #[test]
    fn the_configuration_form_reads_back_as_the_same_origins() {
        for origins in [
            CorsOrigins::None,
            CorsOrigins::Any,
            CorsOrigins::Listed(vec!["https://a.example".to_owned()]),
        ] {
            assert_eq!(
                CorsOrigins::from_config(&origins.to_config()),
                Ok(origins.clone())
            );
        }
    }

    #[test]
    fn only_listed_origins_are_allowed_byte_for_byte() {
        let origins = CorsOrigins::Listed(vec!["https://a.example".to_owned()]);
        assert!(origins.allows(&HeaderValue::from_static("https://a.example")));
        for other in [
            "https://a.example:443",
            "http://a.example",
            "https://b.example",
        ] {
            assert!(!origins.allows(&HeaderValue::from_static(other)), "{other}");
        }
        assert!(!CorsOrigins::None.allows(&HeaderValue::from_static("https://a.example")));
        assert!(CorsOrigins::Any.allows(&HeaderValue::from_static("https://b.example")));
    }
}
