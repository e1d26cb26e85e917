//! The change feed (contract §8): every committed write that changed a point,
//! in an order consistent with commit order, for clients that keep their own
//! copy of the points (list, then watch from the list's cursor).

pub mod errors;
pub mod model;
pub mod ports;

pub use errors::{ReadChangesError, WatchError};
pub use model::{
    Change, ChangeOp, ChangePage, ChangesRequest, ChangesRequestError, Cursor, CursorError,
    FeedPage, FeedProgress, FeedRevision, Snapshot,
};
pub use ports::{ChangeFeedService, ChangeLog, ChangeWakeups, ChangeWatch, Wakeup};
