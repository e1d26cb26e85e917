//! The change feed (contract §8): `GET …/changes` as a page of JSON (with a
//! long poll), or with `Accept: text/event-stream` as Server-Sent Events.
//!
//! Handlers only translate, as the points' do: parameters into a domain
//! request, changes into their representation (written by hand, like the
//! points', so that `mask` and `flat` shape the embedded point).

use std::time::Duration;

use domain::change_feed::{
    Change, ChangeFeedService, ChangesRequest, Cursor, FeedRevision, ReadChangesError,
};
use poem::web::sse::{Event, SSE};
use poem::{IntoResponse, Response};
use poem_openapi::param::{Header, Query};
use poem_openapi::registry::{MetaMediaType, MetaResponse, MetaResponses, MetaSchemaRef, Registry};
use poem_openapi::types::Type;
use poem_openapi::{ApiResponse, Object, OpenApi, Tags};
use serde::ser::{Serialize, SerializeMap, Serializer};

use crate::http::error::{ApiError, ErrorStatus, JSON_CONTENT_TYPE, Operation, OperationError};
use crate::points::dto::IntegrationPointBody;
use crate::points::metrics::FeedMetrics;
use crate::points::params::{FlatParam, MaskParam};
use crate::points::render::{PointView, View};
use crate::points::responses::{INTERNAL, UNAVAILABLE};
use crate::points::{COLLECTION_PATH, view};

/// How often an idle event stream sends a comment at most, so that proxies
/// and clients can tell a quiet stream from a dead one.
const HEARTBEAT: Duration = Duration::from_secs(15);

/// How often an idle event stream sends a comment on connections that close
/// after `idle_deadline` without a byte written: [`HEARTBEAT`], or more often
/// if that is too seldom to keep the connection (`http::head_timeout`).
fn heartbeat(idle_deadline: Duration) -> Duration {
    HEARTBEAT.min(idle_deadline / 2)
}

/// The feed's full path.
pub(crate) const CHANGES_PATH: &str = "/rest/v1/service/integration_points/changes";

/// The media type of an event stream.
const EVENT_STREAM: &str = "text/event-stream";

#[derive(Tags)]
enum ApiTags {
    /// The change feed: every committed change of the points, in order, to
    /// follow after a list (list + watch).
    #[oai(rename = "change feed")]
    ChangeFeed,
}

/// The change feed's operations, over any implementation of its driving port.
#[derive(Clone)]
pub(crate) struct ChangesApi<F> {
    feed: F,
    max_limit: u64,
    heartbeat: Duration,
    metrics: FeedMetrics,
}

impl<F> ChangesApi<F> {
    /// The operations over `feed`; `limit` may not exceed `max_limit`, and an
    /// idle event stream keeps a connection that closes after
    /// `idle_deadline` without a byte written.
    pub(crate) fn new(
        feed: F,
        max_limit: u64,
        idle_deadline: Duration,
        metrics: FeedMetrics,
    ) -> Self {
        Self {
            feed,
            max_limit,
            heartbeat: heartbeat(idle_deadline),
            metrics,
        }
    }
}

#[OpenApi(prefix_path = COLLECTION_PATH, tag = "ApiTags::ChangeFeed")]
impl<F: ChangeFeedService> ChangesApi<F> {
    /// Changes of integration points (long poll or Server-Sent Events)
    ///
    /// Every committed create, change, delete and token rotation, in an order
    /// consistent with commit order, without gaps. As JSON: up to `limit`
    /// changes after `since`, and `next`, the revision to continue after;
    /// with `wait`, an empty answer comes only after that many seconds.
    ///
    /// With `Accept: text/event-stream` the same changes stream as
    /// Server-Sent Events: `id:` the revision, `event:` the op, `data:` the
    /// change as JSON; a comment line at least every 15 s; resume with
    /// `Last-Event-ID` (or `since`). `limit` and `wait` do not apply.
    ///
    /// Start from the `X-Revision` of a list. A revision older than the
    /// retention answers 410: list again. At least once across reconnects:
    /// de-duplicate by `revision`.
    #[oai(path = "/changes", method = "get", operation_id = "listChanges")]
    #[expect(
        clippy::too_many_arguments,
        reason = "poem-openapi documents each parameter from its own argument"
    )]
    async fn changes(
        &self,
        /// The revision to read after (a list's `X-Revision`, a page's `next`, or an event's `id`); without it, from the oldest change retained.
        since: Query<Option<String>>,
        /// How many changes to return at most (default 100, at most the list maximum).
        limit: Query<Option<u64>>,
        /// Seconds to wait for a change when there is none yet (0 to 60, default 0).
        wait: Query<Option<u64>>,
        /// Fields of the embedded point to return.
        mask: Query<Option<MaskParam>>,
        /// Whether the embedded point's group members are dotted top-level keys.
        flat: Query<Option<FlatParam>>,
        /// `text/event-stream` for Server-Sent Events; JSON otherwise.
        #[oai(name = "Accept")]
        accept: Header<Option<String>>,
        /// The last event received, to resume a stream after it (wins over `since`).
        #[oai(name = "Last-Event-ID")]
        last_event_id: Header<Option<String>>,
    ) -> Result<ChangesResponse, OperationError<Changes>> {
        let view = view(mask.0, flat.0);
        let streams = accept.0.as_deref().is_some_and(wants_event_stream);
        if streams {
            let since = match last_event_id.0.as_deref().filter(|id| !id.is_empty()) {
                Some(id) => Some(cursor("Last-Event-ID", id)?),
                None => since.0.as_deref().map(|s| cursor("since", s)).transpose()?,
            };
            let watch = self.feed.watch(since).await?;
            return Ok(ChangesResponse::Stream(event_stream(
                watch,
                view,
                self.heartbeat,
                self.metrics.clone(),
            )));
        }
        let since = since.0.as_deref().map(|s| cursor("since", s)).transpose()?;
        let wait = Duration::from_secs(wait.0.unwrap_or(0));
        let request = ChangesRequest::new(since, limit.0, self.max_limit, wait).map_err(|e| {
            let field = match e {
                domain::change_feed::ChangesRequestError::WaitTooLong { .. } => "wait",
                domain::change_feed::ChangesRequestError::LimitZero
                | domain::change_feed::ChangesRequestError::LimitTooLarge { .. } => "limit",
            };
            ApiError::invalid(field, e.to_string())
        })?;
        let page = self.feed.changes(request).await?;
        let body = serde_json::to_vec(&PageView {
            changes: &page.changes,
            next: &page.next,
            view,
        })
        .map_err(|e| ApiError::internal(&e))?;
        Ok(ChangesResponse::Page(body))
    }
}

/// Whether an `Accept` header asks for an event stream.
fn wants_event_stream(accept: &str) -> bool {
    accept.split(',').any(|range| {
        range
            .split(';')
            .next()
            .is_some_and(|media| media.trim().eq_ignore_ascii_case(EVENT_STREAM))
    })
}

fn cursor(param: &str, value: &str) -> Result<FeedRevision, ApiError> {
    value
        .parse()
        .map_err(|e| ApiError::invalid(param, format!("{param}: {e}")))
}

/// The events of a watch, each rendered for this client, until the watch
/// ends (the client then reconnects with `Last-Event-ID`).
fn event_stream<W: domain::change_feed::ChangeWatch>(
    watch: W,
    view: View,
    heartbeat: Duration,
    metrics: FeedMetrics,
) -> SSE {
    let connected = metrics.watcher_connected();
    let events = futures_util::stream::unfold((watch, connected), move |(mut watch, connected)| {
        let metrics = metrics.clone();
        async move {
            match watch.next().await {
                Ok(change) => {
                    let data = match serde_json::to_string(&ChangeView {
                        change: &change,
                        view,
                    }) {
                        Ok(data) => data,
                        Err(error) => {
                            tracing::error!(error = ?error, "a change could not be rendered");
                            return None;
                        }
                    };
                    metrics.delivered(change.at());
                    let event = Event::message(data)
                        .id(change.cursor().to_string())
                        .event_type(change.op().as_str());
                    Some((event, (watch, connected)))
                }
                Err(error) => {
                    tracing::info!(error = %error, "change stream ended");
                    None
                }
            }
        }
    });
    SSE::new(events).keep_alive(heartbeat)
}

/// One change as the client asked to see its point.
struct ChangeView<'a> {
    change: &'a Change,
    view: View,
}

impl Serialize for ChangeView<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let change = self.change;
        let point = change.point();
        let mut map = serializer.serialize_map(Some(5 + usize::from(point.is_some())))?;
        map.serialize_entry("revision", &change.cursor().to_string())?;
        map.serialize_entry("op", change.op().as_str())?;
        map.serialize_entry("id", &change.id().to_string())?;
        map.serialize_entry("version", &change.version().get())?;
        map.serialize_entry("at", &change.at().to_string())?;
        if let Some(point) = point {
            map.serialize_entry(
                "point",
                &PointView {
                    point,
                    view: self.view,
                },
            )?;
        }
        map.end()
    }
}

/// A page of changes: `{"changes": […], "next": "<revision>"}`.
struct PageView<'a> {
    changes: &'a [Change],
    next: &'a FeedRevision,
    view: View,
}

impl Serialize for PageView<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        struct Changes<'a>(&'a [Change], View);
        impl Serialize for Changes<'_> {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_seq(self.0.iter().map(|change| ChangeView {
                    change,
                    view: self.1,
                }))
            }
        }
        let mut map = serializer.serialize_map(Some(2))?;
        map.serialize_entry("changes", &Changes(self.changes, self.view))?;
        map.serialize_entry("next", &self.next.to_string())?;
        map.end()
    }
}

/// What a change looks like (documentation only: changes are written by
/// [`ChangeView`]).
#[derive(Object)]
#[oai(rename = "Change")]
pub(crate) struct ChangeBody {
    /// The change's revision: an opaque cursor, to resume after.
    revision: String,
    /// `create`, `update` or `delete`.
    op: String,
    /// The point's id.
    id: uuid::Uuid,
    /// The point's version after the change (for a delete: the deleted one's).
    version: i64,
    /// When the change was recorded, RFC 3339.
    at: String,
    /// The point after the change, shaped by `mask` and `flat`; absent for a delete.
    point: Option<IntegrationPointBody>,
}

/// A page of changes (documentation only).
#[derive(Object)]
#[oai(rename = "ChangePage")]
pub(crate) struct ChangePageBody {
    /// The changes, in order.
    changes: Vec<ChangeBody>,
    /// The revision to read after next: the last change's, or `since` when there were none.
    next: String,
}

/// Answer of `GET …/changes`.
pub(crate) enum ChangesResponse {
    /// A page of changes, as JSON.
    Page(Vec<u8>),
    /// An event stream.
    Stream(SSE),
}

impl IntoResponse for ChangesResponse {
    fn into_response(self) -> Response {
        match self {
            Self::Page(bytes) => Response::builder()
                .content_type(JSON_CONTENT_TYPE)
                .body(bytes),
            Self::Stream(sse) => sse.into_response(),
        }
    }
}

impl ApiResponse for ChangesResponse {
    fn meta() -> MetaResponses {
        MetaResponses {
            responses: vec![MetaResponse {
                description: "The changes after `since`, in order: a page as JSON, or with \
                              `Accept: text/event-stream` a stream of events (`id:` revision, \
                              `event:` op, `data:` the change as JSON).",
                status: Some(200),
                status_range: None,
                content: vec![
                    MetaMediaType {
                        content_type: JSON_CONTENT_TYPE,
                        schema: ChangePageBody::schema_ref(),
                    },
                    MetaMediaType {
                        content_type: EVENT_STREAM,
                        schema: MetaSchemaRef::Inline(Box::new(
                            poem_openapi::registry::MetaSchema::new("string"),
                        )),
                    },
                ],
                headers: vec![],
            }],
        }
    }

    fn register(registry: &mut Registry) {
        ChangePageBody::register(registry);
    }
}

/// `GET …/changes`.
pub(crate) enum Changes {}

impl Operation for Changes {
    const ERRORS: &'static [ErrorStatus] = &[
        ErrorStatus::new(
            400,
            "`since`, `Last-Event-ID`, `limit`, `wait`, `mask` or `flat` is invalid; \
             `error_details.field` names which.",
            || ApiError::invalid("since", "since: not a revision this feed handed out"),
        ),
        ErrorStatus::new(
            410,
            "Changes after `since` are no longer retained: list again and watch from the \
             list's `X-Revision`.",
            || {
                ReadChangesError::Gone {
                    horizon: Cursor::ORIGIN,
                }
                .into()
            },
        ),
        INTERNAL,
        UNAVAILABLE,
    ];
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_accept_naming_event_stream_asks_for_one() {
        for (accept, streams) in [
            ("text/event-stream", true),
            ("application/json, TEXT/EVENT-STREAM;q=0.9", true),
            ("application/json", false),
            ("*/*", false),
            ("text/event-streams", false),
        ] {
            assert_eq!(wants_event_stream(accept), streams, "{accept}");
        }
    }
}
