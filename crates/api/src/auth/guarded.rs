//! The OpenAPI description of what the guards around the operations add: the
//! bearer security scheme, which gives Swagger UI its Authorize button, and
//! the statuses that authentication and the request limits answer with.
//!
//! The guards are middleware, not poem-openapi security extractors: those
//! would answer a missing key themselves (in `text/plain`), and would demand
//! a key even when the service runs open on loopback. So the document is
//! amended here instead, and the middleware decides.

use std::collections::HashMap;

use poem::endpoint::BoxEndpoint;
use poem::http::Method;
use poem_openapi::OpenApi;
use poem_openapi::registry::{MetaApi, MetaHeader, MetaParamIn, MetaSecurityScheme, Registry};
use poem_openapi::types::Type;

use std::marker::PhantomData;

use super::Scope;
use super::guard::{Refused, ScopeRule};
use crate::http::error::{ApiError, ErrorBody, ErrorStatus};
use crate::http::limits::DEFAULT_QUERY_LIMIT;

/// The name of the bearer scheme in the document.
const BEARER_SCHEME: &str = "apiKey";

/// What the scheme tells a reader of the document.
const BEARER_DESCRIPTION: &str = "An API key from the service's configuration, sent as \
    `Authorization: Bearer <key>`. `GET`, `LOOKUP` and `POST …/lookup` need the `read` scope; \
    create, patch, delete and rotate_token need `write`. A service without configured keys, \
    which only runs on a loopback address, asks for none.";

/// The statuses the guards may answer an operation with, given the scope it
/// needs.
fn guard_errors(scope: Scope) -> [ErrorStatus; 3] {
    [
        ErrorStatus::new(
            401,
            "No API key, or one the service does not know; `WWW-Authenticate` says `Bearer`.",
            || Refused::MissingKey.into(),
        ),
        match scope {
            Scope::Read => ErrorStatus::new(
                403,
                "The API key lacks the scope the operation needs.",
                || Refused::Forbidden(Scope::Read).into(),
            ),
            Scope::Write => ErrorStatus::new(
                403,
                "The API key lacks the scope the operation needs.",
                || Refused::Forbidden(Scope::Write).into(),
            ),
        },
        ErrorStatus::new(
            414,
            "The query string exceeds the configured limit.",
            || ApiError::query_too_long(DEFAULT_QUERY_LIMIT),
        ),
    ]
}

/// An API documented with its guards, whose scopes `R` decides; it routes
/// exactly as the API it wraps.
pub(crate) struct Guarded<T, R>(T, PhantomData<fn() -> R>);

impl<T, R> Guarded<T, R> {
    /// Documents `api` with its guards.
    pub(crate) fn new(api: T) -> Self {
        Self(api, PhantomData)
    }
}

impl<T: OpenApi, R: ScopeRule> OpenApi for Guarded<T, R> {
    fn meta() -> Vec<MetaApi> {
        let mut apis = T::meta();
        for path in apis.iter_mut().flat_map(|api| &mut api.paths) {
            for operation in &mut path.operations {
                let scope = R::required_scope(&operation.method, &path.path).unwrap_or(Scope::Read);
                operation.security = vec![HashMap::from([(BEARER_SCHEME, vec![])])];
                let responses = &mut operation.responses.responses;
                responses.extend(guard_errors(scope).map(|guard| {
                    let mut response = guard.meta();
                    if guard.status() == 401 {
                        response.headers = vec![MetaHeader {
                            name: "WWW-Authenticate".to_owned(),
                            description: Some("The bearer challenge (RFC 6750).".to_owned()),
                            required: true,
                            deprecated: false,
                            schema: String::schema_ref(),
                        }];
                    }
                    response
                }));
                responses.sort_by_key(|response| response.status);
                for header in responses.iter_mut().flat_map(|r| &mut r.headers) {
                    header.name = header_spelling(&header.name);
                }
                for param in &mut operation.params {
                    if param.in_type == MetaParamIn::Header {
                        param.name = header_spelling(&param.name);
                    }
                }
            }
        }
        apis
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
        ErrorBody::register(registry);
        registry.create_security_scheme(
            BEARER_SCHEME,
            MetaSecurityScheme {
                ty: "http",
                description: Some(BEARER_DESCRIPTION),
                name: None,
                key_in: None,
                scheme: Some("bearer"),
                bearer_format: None,
                flows: None,
                openid_connect_url: None,
            },
        );
    }

    fn add_routes(self, route_table: &mut HashMap<String, HashMap<Method, BoxEndpoint<'static>>>) {
        self.0.add_routes(route_table);
    }
}

/// A header's name as it is sent (`ETag`, `X-Total-Count`): poem-openapi
/// writes every one in capitals, which clients then copy.
fn header_spelling(name: &str) -> String {
    const IRREGULAR: [&str; 2] = ["ETag", "WWW-Authenticate"];
    if let Some(irregular) = IRREGULAR.iter().find(|n| n.eq_ignore_ascii_case(name)) {
        return (*irregular).to_owned();
    }
    name.split('-')
        .map(|word| {
            let lower = word.to_ascii_lowercase();
            let mut chars = lower.chars();
            chars.next().map_or_else(String::new, |first| {
                first.to_ascii_uppercase().to_string() + chars.as_str()
            })
        })
        .collect::<Vec<_>>()
        .join("-")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_spelt_as_they_are_sent() {
        for (documented, sent) in [
            ("ETAG", "ETag"),
            ("X-TOTAL-COUNT", "X-Total-Count"),
            ("LOCATION", "Location"),
            ("IF-NONE-MATCH", "If-None-Match"),
            ("WWW-AUTHENTICATE", "WWW-Authenticate"),
            ("X-REQUEST-ID", "X-Request-Id"),
            ("LINK", "Link"),
        ] {
            assert_eq!(header_spelling(documented), sent);
        }
    }
}
