//! The integration point operations (contract §2), generic over the driving
//! port so that this crate knows nothing of how points are stored.
//!
//! Handlers only translate: HTTP input into domain commands (through the
//! DTOs and the parameter types), domain results into responses (through
//! `render` and the ETag helpers). Every rule lives in the domain.

pub(crate) mod changes;
pub(crate) mod document;
pub(crate) mod dto;
pub(crate) mod errors;
pub(crate) mod etag;
pub(crate) mod metrics;
pub(crate) mod params;
pub(crate) mod render;
pub(crate) mod responses;
pub(crate) mod routes;
#[cfg(feature = "testing")]
pub mod testing;
pub mod transfer;

use domain::integration_point::{
    Count, CountMode, IntegrationPoint, IntegrationPointService, ListQuery, Mask, Page, QueryError,
    Total,
};
use poem_openapi::param::{Header, Path, Query};
use poem_openapi::{OpenApi, Tags};

use self::dto::{
    CreateIntegrationPointBody, LookupBody, LookupRequestBody, PatchIntegrationPointBody,
};
use self::responses::{
    Create, CreatePointResponse, Delete, DeletePointResponse, Get, GetPointResponse, IdListJson,
    List, ListPointsResponse, Lookup, LookupResponse, Patch, PatchPointResponse, PointJson,
    PointListJson, RotateToken, RotateTokenResponse,
};
use crate::http::error::{ApiError, OperationError};
use crate::http::payload::JsonBody;
use crate::points::params::{
    AfterParam, CountParam, FilterParam, FlatParam, MaskParam, OrderParam, cursor, point_id,
};
use crate::points::render::{ListView, PointView, View};

/// Where the collection lives; every operation's path starts with it.
pub(crate) const COLLECTION_PATH: &str = "/rest/v1/service/integration_points";

/// The path of the `POST` alias of LOOKUP, relative to [`COLLECTION_PATH`].
pub(crate) const LOOKUP_ALIAS: &str = "/lookup";

#[derive(Tags)]
enum ApiTags {
    /// Integration points: the channels between the platform and outside
    /// messaging systems (web hooks, Telegram bots, …).
    #[oai(rename = "integration points")]
    IntegrationPoints,
}

/// The operations on integration points, over any implementation of the
/// driving port.
#[derive(Clone)]
pub(crate) struct PointsApi<S> {
    service: S,
    max_limit: u64,
    exact_count_max: u64,
}

impl<S> PointsApi<S> {
    /// The operations over `service`; `limit` may not exceed `max_limit`, and
    /// `count=estimated` counts up to `exact_count_max` points exactly.
    pub(crate) fn new(service: S, max_limit: u64, exact_count_max: u64) -> Self {
        Self {
            service,
            max_limit,
            exact_count_max,
        }
    }
}

#[OpenApi(prefix_path = COLLECTION_PATH, tag = "ApiTags::IntegrationPoints")]
impl<S: IntegrationPointService> PointsApi<S> {
    /// Create an integration point
    ///
    /// `code` is required; every other field has a default. `id` and
    /// `token_local` may be given to import an existing channel. Answers 200
    /// (as the source document does) with the point, its `ETag`, and its URL
    /// in `Location`.
    #[oai(path = "/", method = "post", operation_id = "createIntegrationPoint")]
    async fn create(
        &self,
        body: JsonBody<CreateIntegrationPointBody>,
        /// Fields to return.
        mask: Query<Option<MaskParam>>,
        /// Whether to return group members as dotted top-level keys.
        flat: Query<Option<FlatParam>>,
    ) -> Result<CreatePointResponse, OperationError<Create>> {
        let request = body.into_inner().try_into_domain()?;
        let point = self.service.create(request).await?;
        Ok(CreatePointResponse::Created(
            point_json(&point, view(mask.0, flat.0))?,
            format!("{COLLECTION_PATH}/{}", point.id()),
            etag::etag(point.revision()),
        ))
    }

    /// List integration points
    ///
    /// Filtering, ordering and paging all run in the database. The
    /// `X-Total-Count` header tells how many points match the filter in all
    /// (see `count` for what that costs). A full page has a `Link` header to
    /// the next one (`after`), which is as cheap at any depth as the first.
    /// `X-Revision` is the change feed's revision to watch from after this
    /// list.
    #[allow(clippy::too_many_arguments)]
    #[oai(path = "/", method = "get", operation_id = "listIntegrationPoints")]
    async fn list(
        &self,
        request: &poem::Request,
        /// Which points to return.
        filter: Query<Option<FilterParam>>,
        /// In which order.
        order: Query<Option<OrderParam>>,
        /// How many matching points to skip (default 0). For deep pages,
        /// `after` costs less: an offset reads every point it skips.
        offset: Query<Option<u64>>,
        /// How many points to return at most (default and maximum from configuration, 1000 unless configured otherwise).
        limit: Query<Option<u64>>,
        /// Where the page starts: the cursor of the previous page's `Link`.
        after: Query<Option<AfterParam>>,
        /// How `X-Total-Count` is computed: `exact`, `estimated` (default) or `none`.
        count: Query<Option<CountParam>>,
        /// Fields to return.
        mask: Query<Option<MaskParam>>,
        /// Whether to return group members as dotted top-level keys.
        flat: Query<Option<FlatParam>>,
    ) -> Result<ListPointsResponse, OperationError<List>> {
        let page = Page::new(
            offset.0.unwrap_or(0),
            limit.0.unwrap_or(self.max_limit),
            self.max_limit,
        )
        .map_err(|error| {
            let param = match error {
                QueryError::OffsetTooLarge { .. } => "offset",
                _ => "limit",
            };
            ApiError::invalid(param, error.to_string())
        })?;
        let mode = count
            .0
            .map_or(CountMode::Estimated, |CountParam(mode)| mode);
        let mut query = ListQuery::new(
            filter.0.and_then(|FilterParam(filter)| filter),
            order.0.map(|OrderParam(sort)| sort).unwrap_or_default(),
            page,
        )
        .map_err(|error| ApiError::invalid("filter", error.to_string()))?
        .counted(Count::new(mode, self.exact_count_max));
        if let Some(AfterParam(cursor)) = after.0 {
            query = query
                .after(cursor)
                .map_err(|error| ApiError::invalid("after", error.to_string()))?;
        }
        let listing = self.service.list(query.clone()).await?;
        let next = query
            .next_cursor(&listing)
            .map(|cursor| next_link(request.uri().query(), &cursor::encode(&cursor)));
        let (total, estimated) = match listing.total {
            Total::Exact(total) => (Some(total), None),
            Total::Estimated(total) => (Some(total), Some(true)),
            Total::Skipped => (None, None),
        };
        let view = view(mask.0, flat.0);
        Ok(ListPointsResponse::Listed(
            PointListJson::new(&ListView {
                points: &listing.items,
                view,
            })?,
            total,
            estimated,
            next,
            listing.revision.map(|revision| revision.to_string()),
        ))
    }

    /// Get an integration point
    ///
    /// Honours `If-None-Match`: a current tag (or `*`) answers 304 without a body.
    #[oai(path = "/:id", method = "get", operation_id = "getIntegrationPoint")]
    async fn get(
        &self,
        /// The point's id.
        id: Path<String>,
        /// Entity tags the client already has; a current one answers 304.
        #[oai(name = "If-None-Match")]
        if_none_match: Header<Option<String>>,
        /// Fields to return.
        mask: Query<Option<MaskParam>>,
        /// Whether to return group members as dotted top-level keys.
        flat: Query<Option<FlatParam>>,
    ) -> Result<GetPointResponse, OperationError<Get>> {
        let point = self.service.get(point_id(&id)?).await?;
        let tag = etag::etag(point.revision());
        if if_none_match
            .0
            .is_some_and(|header| etag::none_match(&header, point.revision()))
        {
            return Ok(GetPointResponse::NotModified(tag));
        }
        Ok(GetPointResponse::Found(
            point_json(&point, view(mask.0, flat.0))?,
            tag,
        ))
    }

    /// Change an integration point
    ///
    /// Merge semantics: present fields are set, absent ones stay, and `opts`
    /// merges key by key. `id`, `token_local` and `ext` may be sent back as
    /// read, with their current values only. A patch that changes nothing
    /// leaves `ext.lwt` and the `ETag` as they were.
    #[oai(
        path = "/:id",
        method = "patch",
        operation_id = "patchIntegrationPoint"
    )]
    async fn patch(
        &self,
        /// The point's id.
        id: Path<String>,
        body: JsonBody<PatchIntegrationPointBody>,
        /// Change the point only if its `ETag` is one of these (`*`: any).
        #[oai(name = "If-Match")]
        if_match: Header<Option<String>>,
        /// Fields to return.
        mask: Query<Option<MaskParam>>,
        /// Whether to return group members as dotted top-level keys.
        flat: Query<Option<FlatParam>>,
    ) -> Result<PatchPointResponse, OperationError<Patch>> {
        let id = point_id(&id)?;
        let patch = body.into_inner().try_into_domain()?;
        let if_match = if_match.0.as_deref().map(etag::if_match);
        let point = self.service.patch(id, patch, if_match).await?;
        Ok(PatchPointResponse::Patched(
            point_json(&point, view(mask.0, flat.0))?,
            etag::etag(point.revision()),
        ))
    }

    /// Delete an integration point
    #[oai(
        path = "/:id",
        method = "delete",
        operation_id = "deleteIntegrationPoint"
    )]
    async fn delete(
        &self,
        /// The point's id.
        id: Path<String>,
        /// Delete the point only if its `ETag` is one of these (`*`: any).
        #[oai(name = "If-Match")]
        if_match: Header<Option<String>>,
    ) -> Result<DeletePointResponse, OperationError<Delete>> {
        let id = point_id(&id)?;
        let if_match = if_match.0.as_deref().map(etag::if_match);
        self.service.delete(id, if_match).await?;
        Ok(DeletePointResponse::Deleted)
    }

    /// Look up integration points (alias of LOOKUP)
    ///
    /// The same operation as the `LOOKUP` method on the collection path, for
    /// clients and tools that cannot send a custom method (Swagger UI, some
    /// proxies). OpenAPI 3.0 cannot describe a `LOOKUP` operation, so only this
    /// alias appears here; `LOOKUP /rest/v1/service/integration_points` takes
    /// the same body and gives the same answers.
    ///
    /// The body is a JSON string, matched against `id` (when it is a UUID),
    /// `code` and `token_local`, or an object with exactly one of those keys to
    /// search that field alone. Answers the ids of the matching points.
    #[oai(
        path = "/lookup",
        method = "post",
        operation_id = "lookupIntegrationPoints"
    )]
    async fn lookup(
        &self,
        body: JsonBody<LookupBody, LookupRequestBody>,
    ) -> Result<LookupResponse, OperationError<Lookup>> {
        let key = body.into_inner().try_into_domain()?;
        let ids = self.service.lookup(key).await?;
        let ids: Vec<String> = ids.iter().map(ToString::to_string).collect();
        Ok(LookupResponse::Found(IdListJson::new(&ids)?))
    }

    /// Rotate the local token of an integration point
    ///
    /// Gives the point a fresh `token_local` (for a leaked one); the old token
    /// stops matching at once. No body.
    #[oai(
        path = "/:id/rotate_token",
        method = "post",
        operation_id = "rotateIntegrationPointToken"
    )]
    async fn rotate_token(
        &self,
        /// The point's id.
        id: Path<String>,
        /// Rotate only if the point's `ETag` is one of these (`*`: any).
        #[oai(name = "If-Match")]
        if_match: Header<Option<String>>,
        /// Fields to return.
        mask: Query<Option<MaskParam>>,
        /// Whether to return group members as dotted top-level keys.
        flat: Query<Option<FlatParam>>,
    ) -> Result<RotateTokenResponse, OperationError<RotateToken>> {
        let id = point_id(&id)?;
        let if_match = if_match.0.as_deref().map(etag::if_match);
        let point = self.service.rotate_token(id, if_match).await?;
        Ok(RotateTokenResponse::Rotated(
            point_json(&point, view(mask.0, flat.0))?,
            etag::etag(point.revision()),
        ))
    }
}

/// The `Link` to the page after the one `query` (the request's query
/// string) asked for: the same parameters as sent, but for `offset` (which
/// `after` replaces) and `after` itself, then the new cursor.
fn next_link(query: Option<&str>, cursor: &str) -> String {
    let mut target = format!("{COLLECTION_PATH}?");
    for pair in query.unwrap_or_default().split('&') {
        let name = pair.split_once('=').map_or(pair, |(name, _)| name);
        if !pair.is_empty() && name != "offset" && name != "after" {
            target.push_str(pair);
            target.push('&');
        }
    }
    format!("<{target}after={cursor}>; rel=\"next\"")
}

/// How the client asked to see points.
pub(crate) fn view(mask: Option<MaskParam>, flat: Option<FlatParam>) -> View {
    View {
        mask: mask.map_or_else(Mask::all, |MaskParam(mask)| mask),
        flat: flat.is_some_and(|FlatParam(flat)| flat),
    }
}

fn point_json(point: &IntegrationPoint, view: View) -> Result<PointJson, ApiError> {
    PointJson::new(&PointView { point, view })
}
