//! What the feed is made of: changes, the cursor that orders them, and the
//! request a reader makes.

use std::fmt;
use std::str::FromStr;
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
        let part = |digits: &str| {
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(CursorError);
            }
            digits.parse::<u64>().map_err(|_| CursorError)
        };
        Ok(Self::new(part(tx)?, part(position)?))
    }
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
            op,
            id,
            version,
            at,
            point,
        }
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
}

/// How far the feed of one replica has been read, and whether it hears of
/// new changes at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeedProgress {
    /// Every change up to this cursor has been read and handed on.
    pub cursor: Cursor,
    /// When the feed was last found caught up to `cursor`.
    pub at: Timestamp,
    /// Whether the replica is told of new changes as they commit; when
    /// `false` it finds them only by its slow safety poll.
    pub listening: bool,
}

/// A reader's request: changes after `since`, at most `limit`, waiting up to
/// `wait` for one to arrive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChangesRequest {
    since: Option<Cursor>,
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
        since: Option<Cursor>,
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
    pub fn since(&self) -> Option<Cursor> {
        self.since
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
