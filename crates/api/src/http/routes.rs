//! Route tables that poem-openapi does not give: the methods of each path,
//! for the `Allow` header of a 405, and each path's route template, for logs
//! and metrics.

use std::collections::HashMap;
use std::sync::Arc;

use poem::endpoint::BoxEndpoint;
use poem::http::Method;
use poem_openapi::OpenApi;

/// The table poem-openapi fills in `OpenApi::add_routes`: path, method, endpoint.
pub(crate) type RouteTable = HashMap<String, HashMap<Method, BoxEndpoint<'static>>>;

/// Route paths, each with a value, matched against request paths the way
/// poem's router matches them: a static segment wins over a parameter.
#[derive(Debug)]
pub(crate) struct PathTable<T> {
    /// Routes with their values, most static first, so that the first route
    /// that matches a path is the one poem chose.
    routes: Vec<(Vec<Segment>, T)>,
}

#[derive(Debug, PartialEq, Eq)]
enum Segment {
    Static(String),
    Param,
}

impl<T> PathTable<T> {
    /// A table of `(path, value)` pairs; a path parameter is written as poem
    /// (`/points/:id`) or OpenAPI (`/points/{id}`) writes it.
    pub(crate) fn new<P: AsRef<str>>(routes: impl IntoIterator<Item = (P, T)>) -> Self {
        let mut routes: Vec<_> = routes
            .into_iter()
            .map(|(path, value)| (segments(path.as_ref()), value))
            .collect();
        routes.sort_by_key(|(segments, _)| {
            segments
                .iter()
                .map(|segment| *segment == Segment::Param)
                .collect::<Vec<_>>()
        });
        Self { routes }
    }

    /// The value of the route that serves `path`, if one does.
    pub(crate) fn find(&self, path: &str) -> Option<&T> {
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
            .map(|(_, value)| value)
    }
}

/// The methods each route answers, to fill the `Allow` header of a 405.
#[derive(Debug)]
pub(crate) struct AllowTable(PathTable<String>);

impl AllowTable {
    /// Reads the routes of `api`, whose endpoints are built and dropped, and
    /// adds the `extra` routes served beside it.
    pub(crate) fn of<'a>(
        api: impl OpenApi,
        extra: impl IntoIterator<Item = (&'a str, Vec<Method>)>,
    ) -> Self {
        let mut table = RouteTable::new();
        api.add_routes(&mut table);
        let api_routes = table
            .into_iter()
            .map(|(path, methods)| (path, methods.into_keys().collect()));
        let extra = extra
            .into_iter()
            .map(|(path, methods)| (path.to_owned(), methods));
        Self::from_routes(api_routes.chain(extra))
    }

    fn from_routes(routes: impl IntoIterator<Item = (String, Vec<Method>)>) -> Self {
        Self(PathTable::new(
            routes
                .into_iter()
                .map(|(path, methods)| (path, allow_value(methods))),
        ))
    }

    /// The `Allow` value of the route that serves `path`, if one does.
    pub(crate) fn allow(&self, path: &str) -> Option<String> {
        self.0.find(path).cloned()
    }
}

/// The route label of requests no route serves: one value whatever the path,
/// so that clients cannot make the labels grow.
pub(crate) const UNMATCHED: &str = "unmatched";

/// The route template (`/items/{id}`, not `/items/42`) of a request path,
/// for logs and metrics, where the raw path would leak ids and let clients
/// create any number of label values.
#[derive(Debug)]
pub(crate) struct RouteTemplates {
    table: PathTable<Arc<str>>,
    unmatched: Arc<str>,
}

impl RouteTemplates {
    /// The templates of `api` as its OpenAPI document writes them, and the
    /// `extra` routes served beside it.
    pub(crate) fn of<'a, A: OpenApi>(extra: impl IntoIterator<Item = &'a str>) -> Self {
        let api_paths = A::meta()
            .into_iter()
            .flat_map(|api| api.paths)
            .map(|path| path.path);
        let templates = api_paths
            .chain(extra.into_iter().map(str::to_owned))
            .map(|path| {
                let template = Arc::<str>::from(path.as_str());
                (path, template)
            });
        Self {
            table: PathTable::new(templates),
            unmatched: Arc::from(UNMATCHED),
        }
    }

    /// The template of the route that serves `path`, or [`UNMATCHED`].
    pub(crate) fn of_path(&self, path: &str) -> Arc<str> {
        Arc::clone(self.table.find(path).unwrap_or(&self.unmatched))
    }
}

/// Splits a route path (`/a/:param0/b` or `/a/{id}/b`) into its segments.
fn segments(route: &str) -> Vec<Segment> {
    route
        .strip_prefix('/')
        .unwrap_or(route)
        .split('/')
        .map(|segment| {
            let is_param =
                segment.starts_with(':') || (segment.starts_with('{') && segment.ends_with('}'));
            if is_param {
                Segment::Param
            } else {
                Segment::Static(segment.to_owned())
            }
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
        let value = allow_value(vec![
            Method::from_bytes(b"LOOKUP").expect("a token"),
            Method::POST,
            Method::GET,
        ]);
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
    fn parameters_may_be_written_as_poem_or_openapi_writes_them() {
        let table = PathTable::new([
            ("/points/{id}/rotate", "openapi"),
            ("/points/:param0", "poem"),
        ]);

        assert_eq!(table.find("/points/abc/rotate"), Some(&"openapi"));
        assert_eq!(table.find("/points/abc"), Some(&"poem"));
    }

    #[test]
    fn paths_no_route_serves_have_no_allow_value() {
        let table = table(&[("/points/:param0", &[Method::GET])]);
        for path in ["/points", "/points/", "/points/a/b", "/other/a"] {
            assert_eq!(table.allow(path), None, "{path}");
        }
    }
}
