//! Routing that poem-openapi cannot derive: the `LOOKUP` method, and the
//! methods of each path for the `Allow` header of a 405.

use std::collections::HashMap;
use std::sync::Arc;

use domain::integration_point::IntegrationPointService;
use poem::EndpointExt;
use poem::endpoint::BoxEndpoint;
use poem::http::Method;
use poem_openapi::OpenApi;
use poem_openapi::registry::{MetaApi, Registry};

use crate::points::{COLLECTION_PATH, LOOKUP_ALIAS, PointsApi};

/// The table poem-openapi fills in `OpenApi::add_routes`: path, method, endpoint.
type RouteTable = HashMap<String, HashMap<Method, BoxEndpoint<'static>>>;

/// The custom method of the source document's lookup operation.
pub(crate) fn lookup_method() -> Method {
    Method::from_bytes(b"LOOKUP").expect("LOOKUP is a valid method token")
}

/// The points API, with `LOOKUP` on the collection routed to the very endpoint
/// that serves its alias `POST …/lookup`.
///
/// `#[oai(method)]` takes only the standard methods, and OpenAPI 3.0 cannot
/// describe another one, so the document shows the alias alone (its
/// description mentions `LOOKUP`) while the route table gets both.
#[derive(Clone)]
pub(crate) struct PointsRoutes<S>(PointsApi<S>);

impl<S> PointsRoutes<S> {
    /// Wraps the derived API.
    pub(crate) fn new(api: PointsApi<S>) -> Self {
        Self(api)
    }
}

impl<S: IntegrationPointService> OpenApi for PointsRoutes<S> {
    fn meta() -> Vec<MetaApi> {
        PointsApi::<S>::meta()
    }

    fn register(registry: &mut Registry) {
        PointsApi::<S>::register(registry);
    }

    fn add_routes(self, route_table: &mut RouteTable) {
        self.0.add_routes(route_table);
        let alias_path = format!("{COLLECTION_PATH}{LOOKUP_ALIAS}");
        let alias = route_table
            .get_mut(&alias_path)
            .and_then(|methods| methods.remove(&Method::POST));
        if let Some(alias) = alias {
            let shared = Arc::new(alias);
            route_table
                .entry(alias_path)
                .or_default()
                .insert(Method::POST, Arc::clone(&shared).boxed());
            route_table
                .entry(COLLECTION_PATH.to_owned())
                .or_default()
                .insert(lookup_method(), shared.boxed());
        }
    }
}

/// The methods each route answers, to fill the `Allow` header of a 405.
#[derive(Debug)]
pub(crate) struct AllowTable {
    /// Routes with their `Allow` value, most static first: poem's router
    /// prefers a static segment to a parameter, so the first route that
    /// matches a path is the one poem chose.
    routes: Vec<(Vec<Segment>, String)>,
}

#[derive(Debug, PartialEq, Eq)]
enum Segment {
    Static(String),
    Param,
}

impl AllowTable {
    /// Reads the routes of `api`, whose endpoints are built and dropped.
    pub(crate) fn of(api: impl OpenApi) -> Self {
        let mut table = RouteTable::new();
        api.add_routes(&mut table);
        Self::from_routes(
            table
                .into_iter()
                .map(|(path, methods)| (path, methods.into_keys().collect())),
        )
    }

    fn from_routes(routes: impl IntoIterator<Item = (String, Vec<Method>)>) -> Self {
        let mut routes: Vec<_> = routes
            .into_iter()
            .map(|(path, methods)| (segments(&path), allow_value(methods)))
            .collect();
        routes.sort_by_key(|(segments, _)| {
            segments
                .iter()
                .map(|segment| *segment == Segment::Param)
                .collect::<Vec<_>>()
        });
        Self { routes }
    }

    /// The `Allow` value of the route that serves `path`, if one does.
    pub(crate) fn allow(&self, path: &str) -> Option<String> {
        let parts: Vec<&str> = path.strip_prefix('/').unwrap_or(path).split('/').collect();
        self.routes
            .iter()
            .find(|(segments, _)| {
                segments.len() == parts.len()
                    && segments
                        .iter()
                        .zip(&parts)
                        .all(|(segment, part)| match segment {
                            Segment::Static(name) => name == part,
                            Segment::Param => !part.is_empty(),
                        })
            })
            .map(|(_, allow)| allow.clone())
    }
}

/// Splits a poem route path (`/a/:param0/b`) into its segments.
fn segments(route: &str) -> Vec<Segment> {
    route
        .strip_prefix('/')
        .unwrap_or(route)
        .split('/')
        .map(|segment| match segment.strip_prefix(':') {
            Some(_) => Segment::Param,
            None => Segment::Static(segment.to_owned()),
        })
        .collect()
}

/// The methods in the conventional order, custom ones last. `HEAD` is added
/// wherever `GET` is: poem answers it from the `GET` endpoint, without a body.
fn allow_value(mut methods: Vec<Method>) -> String {
    const ORDER: [Method; 7] = [
        Method::GET,
        Method::HEAD,
        Method::POST,
        Method::PUT,
        Method::PATCH,
        Method::DELETE,
        Method::OPTIONS,
    ];
    if methods.contains(&Method::GET) && !methods.contains(&Method::HEAD) {
        methods.push(Method::HEAD);
    }
    methods.sort_by_cached_key(|method| {
        let rank = ORDER
            .iter()
            .position(|m| m == method)
            .unwrap_or(ORDER.len());
        (rank, method.to_string())
    });
    methods
        .iter()
        .map(Method::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(routes: &[(&str, &[Method])]) -> AllowTable {
        AllowTable::from_routes(
            routes
                .iter()
                .map(|(path, methods)| ((*path).to_owned(), methods.to_vec())),
        )
    }

    #[test]
    fn methods_are_listed_in_the_conventional_order_with_head_beside_get() {
        let value = allow_value(vec![lookup_method(), Method::POST, Method::GET]);
        assert_eq!(value, "GET, HEAD, POST, LOOKUP");
    }

    #[test]
    fn a_static_segment_wins_over_a_parameter() {
        // Arrange
        let table = table(&[
            ("/points/:param0", &[Method::GET, Method::DELETE]),
            ("/points/lookup", &[Method::POST]),
        ]);

        // Act & Assert
        assert_eq!(table.allow("/points/lookup").as_deref(), Some("POST"));
        assert_eq!(
            table.allow("/points/abc").as_deref(),
            Some("GET, HEAD, DELETE")
        );
    }

    #[test]
    fn paths_no_route_serves_have_no_allow_value() {
        let table = table(&[("/points/:param0", &[Method::GET])]);
        for path in ["/points", "/points/", "/points/a/b", "/other/a"] {
            assert_eq!(table.allow(path), None, "{path}");
        }
    }
}
