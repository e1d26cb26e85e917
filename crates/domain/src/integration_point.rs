//! Integration points: the records that connect the platform to an outside
//! messaging system (a web hook, a Telegram bot, …).

pub mod errors;
pub mod fields;
pub mod model;
pub mod ports;
pub mod query;
pub mod transfer;
pub mod values;

pub use errors::{
    CreatePointError, DeletePointError, GetPointError, ListPointsError, LookupError,
    PatchPointError, RotateTokenError, StoreError, UniqueField, WriteError,
};
pub use fields::{Access, Field, FieldDefault, FieldKind, FieldSpec, Group};
pub use model::{
    Attributes, CreatePointRequest, FieldRef, IfMatch, IntegrationPoint, LookupKey, Opts,
    PatchPointRequest, PatchRejected, Revision,
};
pub use ports::{
    CacheStats, Clock, IdGenerator, IntegrationPointRepository, IntegrationPointService,
    TokenGenerator, WriteOutcome,
};
pub use query::{
    Condition, Count, CountMode, Cursor, DEFAULT_EXACT_COUNT_MAX, Filter, ListQuery, Listing,
    Literal, LiteralOperand, MAX_FILTER_CLAUSES, MAX_FILTER_DEPTH, MAX_LIST_ITEMS, MAX_SORT_KEYS,
    Mask, Operand, Operator, Page, QueryError, Sort, SortDirection, SortKey, Total, Value,
    field_from_path, field_value,
};
pub use transfer::{ExistingPoints, ImportOutcome, PointArchive, PointTransferService};
pub use values::{
    Code, Comment, FieldError, PointId, PointType, ScriptCode, SearchText, Timestamp, Title,
    TokenLocal, TokenRemote, Url, Version,
};
// Named here too, where every value type that returns them is.
pub use crate::text::{TextError, reject_nul};
