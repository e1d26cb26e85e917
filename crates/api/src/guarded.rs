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
use poem_openapi::registry::{
    MetaApi, MetaHeader, MetaMediaType, MetaResponse, MetaSecurityScheme, Registry,
};
use poem_openapi::types::Type;

use crate::error::{ErrorBody, JSON_CONTENT_TYPE};

/// The name of the bearer scheme in the document.
const BEARER_SCHEME: &str = "apiKey";

/// What the scheme tells a reader of the document.
const BEARER_DESCRIPTION: &str = "An API key from the service's configuration, sent as \
    `Authorization: Bearer <key>`. `GET`, `LOOKUP` and `POST …/lookup` need the `read` scope; \
    create, patch, delete and rotate_token need `write`. A service without configured keys, \
    which only runs on a loopback address, asks for none.";

/// The statuses the guards may answer any operation with.
const GUARD_RESPONSES: [(u16, &str); 3] = [
    (
        401,
        "No API key, or one the service does not know; `WWW-Authenticate` says `Bearer`.",
    ),
    (403, "The API key lacks the scope the operation needs."),
    (414, "The query string exceeds the configured limit."),
];

/// An API documented with its guards; it routes exactly as the API it wraps.
pub(crate) struct Guarded<T>(pub(crate) T);

impl<T: OpenApi> OpenApi for Guarded<T> {
    fn meta() -> Vec<MetaApi> {
        let mut apis = T::meta();
        let operations = apis
            .iter_mut()
            .flat_map(|api| &mut api.paths)
            .flat_map(|path| &mut path.operations);
        for operation in operations {
            operation.security = vec![HashMap::from([(BEARER_SCHEME, vec![])])];
            let responses = &mut operation.responses.responses;
            responses.extend(GUARD_RESPONSES.map(|(status, description)| MetaResponse {
                description,
                status: Some(status),
                status_range: None,
                content: vec![MetaMediaType {
                    content_type: JSON_CONTENT_TYPE,
                    schema: ErrorBody::schema_ref(),
                }],
                headers: if status == 401 {
                    vec![MetaHeader {
                        name: "WWW-Authenticate".to_owned(),
                        description: Some("The bearer challenge (RFC 6750).".to_owned()),
                        required: true,
                        deprecated: false,
                        schema: String::schema_ref(),
                    }]
                } else {
                    vec![]
                },
            }));
            responses.sort_by_key(|response| response.status);
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
