//! What the feed is made of: changes, the cursor that orders them, and the
//! request a reader makes.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use crate::integration_point::{IntegrationPoint, PointId, Timestamp, Version};

/// A cursor that no feed handed out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not a revision this feed handed out")]
pub struct CursorError;

/// A reader's request breaks a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ChangesRequestError {
    /// `limit` was 0.
    #[error("limit: must be at least 1")]
    LimitZero,
    /// `limit` was above the configured maximum.
    #[error("limit: must be at most {max}")]
    LimitTooLarge {
        /// The maximum.
        max: u64,
    },
    /// `wait` was above the longest allowed.
    #[error("wait: must be at most {max_seconds} seconds")]
    WaitTooLong {
        /// The longest wait, in seconds.
        max_seconds: u64,
    },
}

/// A position in the feed (`revision` in the contract), opaque to clients.
///
/// Ordered: a change's cursor is greater than the cursor of every change the
/// feed handed out before it. The store decides what the two parts mean
/// (on PostgreSQL a transaction id and an insertion position); only their
/// order matters here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Cursor {
    tx: u64,
    position: u64,
}

impl Cursor {
    /// Before every change.
    pub const ORIGIN: Self = Self { tx: 0, position: 0 };

    /// A cursor from its stored parts.
    pub const fn new(tx: u64, position: u64) -> Self {
        Self { tx, position }
    }

    /// The stored transaction part.
    pub fn tx(self) -> u64 {
        self.tx
    }

    /// The stored position part.
    pub fn position(self) -> u64 {
        self.position
    }
}

/// `<tx>-<position>` in decimal, which [`Cursor::from_str`] reads back.
impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.tx, self.position)
    }
}

impl FromStr for Cursor {
    type Err = CursorError;

    fn from_str(value: &str) -> Result<Self, CursorError> {
        let (tx, position) = value.split_once('-').ok_or(CursorError)?;
        Ok(Self::new(decimal(tx)?, decimal(position)?))
    }
}

/// The writes a list's snapshot saw beyond its revision's cursor: on a store
/// whose feed order is not commit order (PostgreSQL, where a change waits
/// behind older transactions still in flight), a list can reflect changes
/// that come after the newest change its feed could hand out. A reader that
/// starts from the list's revision skips exactly those.
///
/// Stated as the store's snapshot: every transaction below `horizon` that
/// is not in `in_flight` had committed (or left nothing) when the list read.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Snapshot {
    horizon: u64,
    in_flight: Vec<u64>,
}

impl Snapshot {
    /// A snapshot that saw every transaction below `horizon` but those in
    /// `in_flight`.
    ///
    /// # Errors
    /// [`CursorError`] when a transaction in flight is not below `horizon`.
    pub fn new(horizon: u64, mut in_flight: Vec<u64>) -> Result<Self, CursorError> {
        in_flight.sort_unstable();
        in_flight.dedup();
        if in_flight.last().is_some_and(|&tx| tx >= horizon) {
            return Err(CursorError);
        }
        Ok(Self { horizon, in_flight })
    }

    /// Whether the list reflected `change` already.
    pub fn reflects(&self, change: &Change) -> bool {
        change.writer < self.horizon && self.in_flight.binary_search(&change.writer).is_err()
    }

    /// Whether a change after `cursor` can still be one the list reflected.
    /// Every change the snapshot saw has a transaction part below its
    /// horizon, so once a reader is past that, the snapshot says nothing.
    pub fn matters_after(&self, cursor: Cursor) -> bool {
        cursor.tx < self.horizon
    }
}

/// Where a reader stands (`revision` in the contract, `since` of a read):
/// after a cursor, and, when it comes from a list, past the later changes
/// that list already reflected.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct FeedRevision {
    cursor: Cursor,
    snapshot: Option<Arc<Snapshot>>,
}

impl FeedRevision {
    /// After `cursor`, skipping what `snapshot` reflects; the snapshot is
    /// dropped when nothing after `cursor` can be in it.
    pub fn new(cursor: Cursor, snapshot: Option<Arc<Snapshot>>) -> Self {
        let snapshot = snapshot.filter(|s| s.matters_after(cursor));
        Self { cursor, snapshot }
    }

    /// The cursor to read after.
    pub fn cursor(&self) -> Cursor {
        self.cursor
    }

    /// What to skip after the cursor.
    pub fn snapshot(&self) -> Option<&Arc<Snapshot>> {
        self.snapshot.as_ref()
    }

    /// Whether a reader from here must skip `change`.
    pub fn skips(&self, change: &Change) -> bool {
        self.snapshot.as_ref().is_some_and(|s| s.reflects(change))
    }

    /// The revision after `cursor`, keeping this one's snapshot while it
    /// still matters.
    #[must_use]
    pub fn advanced_to(&self, cursor: Cursor) -> Self {
        Self::new(cursor, self.snapshot.clone())
    }
}

impl From<Cursor> for FeedRevision {
    fn from(cursor: Cursor) -> Self {
        Self {
            cursor,
            snapshot: None,
        }
    }
}

/// The cursor (`<tx>-<position>`), then with a snapshot `-<horizon>` and,
/// when some were in flight, `-` and their ids joined by `.`; all decimal.
impl fmt::Display for FeedRevision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.cursor)?;
        if let Some(snapshot) = &self.snapshot {
            write!(f, "-{}", snapshot.horizon)?;
            for (i, tx) in snapshot.in_flight.iter().enumerate() {
                let separator = if i == 0 { '-' } else { '.' };
                write!(f, "{separator}{tx}")?;
            }
        }
        Ok(())
    }
}

impl FromStr for FeedRevision {
    type Err = CursorError;

    fn from_str(value: &str) -> Result<Self, CursorError> {
        let mut parts = value.splitn(4, '-');
        let (Some(tx), Some(position)) = (parts.next(), parts.next()) else {
            return Err(CursorError);
        };
        let cursor = Cursor::new(decimal(tx)?, decimal(position)?);
        let Some(horizon) = parts.next() else {
            return Ok(cursor.into());
        };
        let in_flight = match parts.next() {
            Some(list) => list.split('.').map(decimal).collect::<Result<_, _>>()?,
            None => Vec::new(),
        };
        let snapshot = Snapshot::new(decimal(horizon)?, in_flight)?;
        Ok(Self::new(cursor, Some(Arc::new(snapshot))))
    }
}

/// A non-negative decimal without sign or spaces.
fn decimal(digits: &str) -> Result<u64, CursorError> {
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(CursorError);
    }
    digits.parse().map_err(|_| CursorError)
}

/// What a reader gets: changes in order, and the revision to read on from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedPage {
    /// The changes, in order.
    pub changes: Vec<Change>,
    /// Where to read on from: after the last change read, or `since` when
    /// there was none.
    pub next: FeedRevision,
}

/// What a write did to a point.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChangeOp {
    /// The point was created.
    Create,
    /// The point was changed (a patch that changed something, a rotated token).
    Update,
    /// The point was deleted.
    Delete,
}

impl ChangeOp {
    /// The name clients see (`op`, and the SSE `event:`).
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeOp::Create => "create",
            ChangeOp::Update => "update",
            ChangeOp::Delete => "delete",
        }
    }
}

/// One committed write that changed a point.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    cursor: Cursor,
    writer: u64,
    op: ChangeOp,
    id: PointId,
    version: Version,
    at: Timestamp,
    point: Option<IntegrationPoint>,
}

impl Change {
    /// The change `op` made, recorded at `at`; `point` is the point as the
    /// write left it (for a delete, as it was before). A delete carries no
    /// point, only its id and last version.
    pub fn new(cursor: Cursor, op: ChangeOp, point: IntegrationPoint, at: Timestamp) -> Self {
        let (id, version) = (point.id(), point.version());
        let point = match op {
            ChangeOp::Create | ChangeOp::Update => Some(point),
            ChangeOp::Delete => None,
        };
        Self {
            cursor,
            writer: cursor.tx,
            op,
            id,
            version,
            at,
            point,
        }
    }

    /// The same change, recorded by the store's transaction `writer` (what
    /// a [`Snapshot`] is asked about). Without it, the writer is taken to be
    /// the cursor's transaction part.
    #[must_use]
    pub fn written_by(mut self, writer: u64) -> Self {
        self.writer = writer;
        self
    }

    /// The store's id of the transaction that recorded the change.
    pub fn writer(&self) -> u64 {
        self.writer
    }

    /// Where the change is in the feed.
    pub fn cursor(&self) -> Cursor {
        self.cursor
    }

    /// What the write did.
    pub fn op(&self) -> ChangeOp {
        self.op
    }

    /// The point's id.
    pub fn id(&self) -> PointId {
        self.id
    }

    /// The point's version after the write (for a delete: the deleted one's).
    pub fn version(&self) -> Version {
        self.version
    }

    /// When the change was recorded.
    pub fn at(&self) -> Timestamp {
        self.at
    }

    /// The point after the write; `None` for a delete.
    pub fn point(&self) -> Option<&IntegrationPoint> {
        self.point.as_ref()
    }
}

/// Changes in feed order, and where to continue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangePage {
    /// The changes, in order.
    pub changes: Vec<Change>,
    /// The cursor to read on from: the last change's, or the one read from
    /// when there were none.
    pub next: Cursor,
    /// When the oldest committed change that the read could not hand out
    /// yet was recorded (`None` when there is none): it committed while an
    /// older write was still in flight, and waits behind it. Every write
    /// committed before this time is in the feed up to `next` or before.
    pub withheld_since: Option<Timestamp>,
}

/// How far the feed of one replica has been read, and whether it hears of
/// new changes at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeedProgress {
    /// Every change up to this cursor has been read and handed on.
    pub cursor: Cursor,
    /// Every write committed before this time has been read and handed on:
    /// when the feed was last found caught up to `cursor`, or, while
    /// committed changes wait behind an older write in flight, when the
    /// oldest of them was recorded.
    pub at: Timestamp,
    /// Whether the replica is told of new changes as they commit; when
    /// `false` it finds them only by its slow safety poll.
    pub listening: bool,
}

/// A reader's request: changes after `since`, at most `limit`, waiting up to
/// `wait` for one to arrive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangesRequest {
    since: Option<FeedRevision>,
    limit: u64,
    wait: Duration,
}

impl ChangesRequest {
    /// The `limit` when the client names none.
    pub const DEFAULT_LIMIT: u64 = 100;
    /// The longest a reader may ask to wait.
    pub const MAX_WAIT: Duration = Duration::from_secs(60);

    /// A request; `limit` defaults to [`Self::DEFAULT_LIMIT`] (or `max_limit`
    /// when that is smaller) and must lie in `1..=max_limit`.
    ///
    /// # Errors
    /// [`ChangesRequestError`] for a `limit` of 0 or above `max_limit`, or a
    /// `wait` above [`Self::MAX_WAIT`].
    pub fn new(
        since: Option<FeedRevision>,
        limit: Option<u64>,
        max_limit: u64,
        wait: Duration,
    ) -> Result<Self, ChangesRequestError> {
        let limit = limit.unwrap_or(Self::DEFAULT_LIMIT.min(max_limit));
        if limit == 0 {
            return Err(ChangesRequestError::LimitZero);
        }
        if limit > max_limit {
            return Err(ChangesRequestError::LimitTooLarge { max: max_limit });
        }
        if wait > Self::MAX_WAIT {
            return Err(ChangesRequestError::WaitTooLong {
                max_seconds: Self::MAX_WAIT.as_secs(),
            });
        }
        Ok(Self { since, limit, wait })
    }

    /// The cursor to read after; `None`: from the oldest retained change.
    pub fn since(&self) -> Option<&FeedRevision> {
        self.since.as_ref()
    }

    /// The most changes to return.
    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// How long to wait for a change when there is none yet.
    pub fn wait(&self) -> Duration {
        self.wait
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::integration_point::{Attributes, Code, TokenLocal};

    fn point() -> IntegrationPoint {
        let code = Code::new("bot-1".to_owned()).expect("a code");
        let now = Timestamp::from_millis(1_700_000_000_000).expect("a time");
        IntegrationPoint::new(
            PointId::parse("0193a0b4-0000-7000-8000-000000000001").expect("an id"),
            TokenLocal::new("0123456789abcdef0123456789abcdef".to_owned()).expect("a token"),
            Attributes::new(code),
            now,
            now,
            Version::new(3).expect("a version"),
        )
    }

    #[test]
    fn cursors_read_back_what_they_print() {
        let cursor = Cursor::new(7_000_123, 42);
        assert_eq!(cursor.to_string().parse::<Cursor>(), Ok(cursor));
    }

    #[test]
    fn cursors_order_by_transaction_then_position() {
        assert!(Cursor::new(1, 99) < Cursor::new(2, 1));
        assert!(Cursor::new(2, 1) < Cursor::new(2, 2));
        assert!(Cursor::ORIGIN < Cursor::new(0, 1));
    }

    #[test]
    fn malformed_cursors_are_rejected() {
        for bad in [
            "",
            "1",
            "-",
            "1-",
            "-1",
            "a-1",
            "1-b",
            "+1-2",
            "1-2-3",
            " 1-2",
            "99999999999999999999-1",
        ] {
            assert_eq!(bad.parse::<Cursor>(), Err(CursorError), "{bad:?}");
        }
    }

    fn snapshot(horizon: u64, in_flight: &[u64]) -> Option<Arc<Snapshot>> {
        Some(Arc::new(
            Snapshot::new(horizon, in_flight.to_vec()).expect("a snapshot"),
        ))
    }

    #[test]
    fn revisions_read_back_what_they_print() {
        for revision in [
            FeedRevision::from(Cursor::new(7, 42)),
            FeedRevision::new(Cursor::new(7, 42), snapshot(12, &[])),
            FeedRevision::new(Cursor::new(7, 42), snapshot(12, &[8, 10])),
        ] {
            let printed = revision.to_string();
            assert_eq!(printed.parse::<FeedRevision>(), Ok(revision), "{printed}");
        }
        assert_eq!(
            FeedRevision::new(Cursor::new(7, 42), snapshot(12, &[10, 8])).to_string(),
            "7-42-12-8.10"
        );
    }

    #[test]
    fn a_bare_cursor_is_a_revision_without_a_snapshot() {
        let revision: FeedRevision = "7-42".parse().expect("a revision");
        assert_eq!(revision, FeedRevision::from(Cursor::new(7, 42)));
        assert_eq!(revision.snapshot(), None);
    }

    #[test]
    fn malformed_revisions_are_rejected() {
        for bad in [
            "",
            "7",
            "7-",
            "7-42-",
            "7-42-x",
            "7-42-12-",
            "7-42-12-8.",
            "7-42-12-.8",
            "7-42-12-8-9",
            "7-42-12-12",
            "7-42-12-13",
            "7-42--8",
            "7-42-12-8,9",
        ] {
            assert_eq!(bad.parse::<FeedRevision>(), Err(CursorError), "{bad:?}");
        }
    }

    #[test]
    fn a_snapshot_reflects_writers_below_its_horizon_that_were_not_in_flight() {
        let snapshot = snapshot(12, &[8, 10]).expect("a snapshot");
        let by = |writer: u64| {
            Change::new(
                Cursor::new(writer, 1),
                ChangeOp::Update,
                point(),
                point().updated_at(),
            )
        };
        for (writer, reflected) in [
            (3, true),
            (8, false),
            (9, true),
            (10, false),
            (11, true),
            (12, false),
            (40, false),
        ] {
            assert_eq!(snapshot.reflects(&by(writer)), reflected, "writer {writer}");
        }
        // A change whose cursor was raised past its writer is judged by its
        // writer: the list saw it although its cursor is above the horizon.
        let raised = by(12).written_by(9);
        assert!(snapshot.reflects(&raised));
    }

    #[test]
    fn a_revision_drops_its_snapshot_once_past_the_snapshots_horizon() {
        let revision = FeedRevision::new(Cursor::new(7, 42), snapshot(12, &[8]));
        assert!(revision.snapshot().is_some());
        assert!(
            revision
                .advanced_to(Cursor::new(11, 99))
                .snapshot()
                .is_some()
        );
        assert_eq!(revision.advanced_to(Cursor::new(12, 1)).snapshot(), None);
        assert_eq!(
            FeedRevision::new(Cursor::new(12, 1), snapshot(12, &[8])).to_string(),
            "12-1"
        );
    }

    #[test]
    fn a_delete_carries_the_id_and_version_but_no_point() {
        let change = Change::new(
            Cursor::new(1, 1),
            ChangeOp::Delete,
            point(),
            point().updated_at(),
        );
        assert_eq!(change.point(), None);
        assert_eq!(change.id(), point().id());
        assert_eq!(change.version(), point().version());
    }

    #[test]
    fn creates_and_updates_carry_the_point_as_written() {
        for op in [ChangeOp::Create, ChangeOp::Update] {
            let change = Change::new(Cursor::new(1, 1), op, point(), point().updated_at());
            assert_eq!(change.point(), Some(&point()), "{op:?}");
        }
    }

    #[test]
    fn the_default_limit_is_capped_by_the_maximum() {
        let request = ChangesRequest::new(None, None, 10, Duration::ZERO).expect("valid");
        assert_eq!(request.limit(), 10);
        let request = ChangesRequest::new(None, None, 1000, Duration::ZERO).expect("valid");
        assert_eq!(request.limit(), ChangesRequest::DEFAULT_LIMIT);
    }

    #[test]
    fn limits_outside_one_to_the_maximum_are_rejected() {
        assert_eq!(
            ChangesRequest::new(None, Some(0), 10, Duration::ZERO),
            Err(ChangesRequestError::LimitZero)
        );
        assert_eq!(
            ChangesRequest::new(None, Some(11), 10, Duration::ZERO),
            Err(ChangesRequestError::LimitTooLarge { max: 10 })
        );
    }

    #[test]
    fn waits_over_a_minute_are_rejected() {
        assert_eq!(
            ChangesRequest::new(None, None, 10, Duration::from_secs(61)),
            Err(ChangesRequestError::WaitTooLong { max_seconds: 60 })
        );
        assert!(ChangesRequest::new(None, None, 10, Duration::from_secs(60)).is_ok());
    }
}
