//! The points' routing that poem-openapi cannot derive: the `LOOKUP` method
//! on the collection, served by the endpoint of its alias `POST …/lookup`.

use std::sync::Arc;

use domain::change_feed::ChangeFeedService;
use domain::integration_point::IntegrationPointService;
use poem::EndpointExt;
use poem::http::Method;
use poem_openapi::OpenApi;
use poem_openapi::registry::{MetaApi, Registry};

use super::changes::ChangesApi;
use super::{COLLECTION_PATH, LOOKUP_ALIAS, PointsApi};
use crate::http::routes::RouteTable;

/// The custom method of the source document's lookup operation.
pub(crate) fn lookup_method() -> Method {
    Method::from_bytes(b"LOOKUP").expect("LOOKUP is a valid method token")
}

/// The points API, with `LOOKUP` on the collection routed to the very endpoint
/// that serves its alias `POST …/lookup`, and the change feed beside it
/// (`…/changes`, a static segment, which poem routes before `…/{id}`).
///
/// `#[oai(method)]` takes only the standard methods, and OpenAPI 3.0 cannot
/// describe another one, so the document shows the alias alone (its
/// description mentions `LOOKUP`) while the route table gets both.
#[derive(Clone)]
pub(crate) struct PointsRoutes<S, F>(PointsApi<S>, ChangesApi<F>);

impl<S, F> PointsRoutes<S, F> {
    /// Wraps the derived APIs.
    pub(crate) fn new(api: PointsApi<S>, changes: ChangesApi<F>) -> Self {
        Self(api, changes)
    }
}

impl<S: IntegrationPointService, F: ChangeFeedService> OpenApi for PointsRoutes<S, F> {
    fn meta() -> Vec<MetaApi> {
        let mut meta = PointsApi::<S>::meta();
        meta.extend(ChangesApi::<F>::meta());
        meta
    }

    fn register(registry: &mut Registry) {
        PointsApi::<S>::register(registry);
        ChangesApi::<F>::register(registry);
    }

    fn add_routes(self, route_table: &mut RouteTable) {
        self.0.add_routes(route_table);
        self.1.add_routes(route_table);
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
