//! The typed list query: filter, sort, page and mask.
//!
//! An adapter turns what a client wrote into [`Literal`]s and field paths; the
//! constructors here decide what is valid, so a [`ListQuery`] that exists can be
//! handed to any store without further checks.

use super::fields::{Field, FieldKind, Group};
use super::model::{FieldRef, IntegrationPoint};
use super::values::{PointId, SearchText, Timestamp};
use crate::text::{TextError, reject_nul};

/// Most items an `in`/`nin` operand may have.
pub const MAX_LIST_ITEMS: usize = 1000;
/// Most levels of `$and`/`$or`/`$not` a filter may nest.
pub const MAX_FILTER_DEPTH: usize = 8;
/// Most comparisons a filter may hold.
pub const MAX_FILTER_CLAUSES: usize = 100;
/// Most keys an order may have.
pub const MAX_SORT_KEYS: usize = 8;

/// A query that cannot be run, with a message that names the problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    /// A path that names no field.
    #[error("unknown field `{path}`; valid fields: {valid}")]
    UnknownField {
        /// What the client wrote.
        path: String,
        /// The accepted paths, comma-separated.
        valid: String,
    },
    /// An operator that does not exist.
    #[error(
        "unknown operator `{name}`; valid operators: eq, ne, lt, lte, gt, gte, in, nin, like, ilike"
    )]
    UnknownOperator {
        /// What the client wrote.
        name: String,
    },
    /// An operator the field's type does not support.
    #[error("operator `{}` does not apply to `{}` ({})", op.name(), field.path(), field.kind().expected())]
    OperatorNotApplicable {
        /// The field.
        field: Field,
        /// The operator.
        op: Operator,
    },
    /// An operand of the wrong JSON type.
    #[error("`{}` with `{}` expects {expected}", field.path(), op.name())]
    WrongOperand {
        /// The field.
        field: Field,
        /// The operator.
        op: Operator,
        /// What was expected, in words.
        expected: &'static str,
    },
    /// An operand of the right JSON type that breaks the field's rule.
    #[error("`{}`: {error}", field.path())]
    InvalidValue {
        /// The field.
        field: Field,
        /// What is wrong.
        error: TextError,
    },
    /// An `in`/`nin` operand that is too long.
    #[error("`{}` takes at most {max} items", op.name())]
    TooManyItems {
        /// The operator.
        op: Operator,
        /// The limit.
        max: usize,
    },
    /// `$and`/`$or` with an empty array.
    #[error("`{op}` needs a non-empty array of filters")]
    EmptyGroup {
        /// `$and` or `$or`.
        op: &'static str,
    },
    /// Logical operators nested too deep.
    #[error("filter nests deeper than {max} levels")]
    TooDeep {
        /// The limit.
        max: usize,
    },
    /// Too many comparisons.
    #[error("filter has more than {max} clauses")]
    TooManyClauses {
        /// The limit.
        max: usize,
    },
    /// Too many sort keys.
    #[error("order takes at most {max} items")]
    TooManySortKeys {
        /// The limit.
        max: usize,
    },
    /// A sort direction other than `asc`/`desc`.
    #[error("order direction for `{path}` must be \"asc\" or \"desc\"")]
    BadDirection {
        /// The field path as written.
        path: String,
    },
    /// A limit above the configured maximum.
    #[error("limit must be at most {max}")]
    LimitTooLarge {
        /// The configured maximum.
        max: u64,
    },
    /// An offset past anything a store can count.
    #[error("offset must be at most {max}")]
    OffsetTooLarge {
        /// The limit.
        max: u64,
    },
    /// A `count` other than `exact`, `estimated` and `none`.
    #[error("count must be exact, estimated or none")]
    BadCountMode,
    /// An `after` cursor that is not one this service made.
    #[error("after is not a valid cursor: {reason}")]
    MalformedCursor {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// An `after` cursor made for another order.
    #[error("after is a cursor of another order; page with the order it was made for")]
    CursorOrderMismatch,
    /// `after` together with a non-zero `offset`.
    #[error("after cannot be combined with a non-zero offset")]
    AfterWithOffset,
}

fn unknown_field(path: &str) -> QueryError {
    QueryError::UnknownField {
        path: path.to_owned(),
        valid: Field::all_paths(),
    }
}

/// Resolves a field path, with the error a client should see.
///
/// # Errors
/// [`QueryError::UnknownField`] listing the valid paths.
pub fn field_from_path(path: &str) -> Result<Field, QueryError> {
    Field::from_path(path).ok_or_else(|| unknown_field(path))
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operator {
    /// Equal.
    Eq,
    /// Not equal.
    Ne,
    /// Less than.
    Lt,
    /// Less than or equal.
    Lte,
    /// Greater than.
    Gt,
    /// Greater than or equal.
    Gte,
    /// One of a list.
    In,
    /// None of a list.
    Nin,
    /// SQL `LIKE` pattern (`%`, `_`; `\` escapes), case-sensitive.
    Like,
    /// SQL `LIKE` pattern, case-insensitive.
    Ilike,
}

impl Operator {
    /// Every operator.
    pub const ALL: [Operator; 10] = [
        Operator::Eq,
        Operator::Ne,
        Operator::Lt,
        Operator::Lte,
        Operator::Gt,
        Operator::Gte,
        Operator::In,
        Operator::Nin,
        Operator::Like,
        Operator::Ilike,
    ];

    /// The name clients write.
    pub const fn name(self) -> &'static str {
        match self {
            Operator::Eq => "eq",
            Operator::Ne => "ne",
            Operator::Lt => "lt",
            Operator::Lte => "lte",
            Operator::Gt => "gt",
            Operator::Gte => "gte",
            Operator::In => "in",
            Operator::Nin => "nin",
            Operator::Like => "like",
            Operator::Ilike => "ilike",
        }
    }

    /// Resolves an operator name.
    ///
    /// # Errors
    /// [`QueryError::UnknownOperator`].
    pub fn from_name(name: &str) -> Result<Self, QueryError> {
        Self::ALL
            .into_iter()
            .find(|op| op.name() == name)
            .ok_or_else(|| QueryError::UnknownOperator {
                name: name.to_owned(),
            })
    }

    /// Whether the operator applies to values of `kind`.
    pub const fn applies_to(self, kind: FieldKind) -> bool {
        match self {
            Operator::Eq | Operator::Ne => true,
            Operator::Lt
            | Operator::Lte
            | Operator::Gt
            | Operator::Gte
            | Operator::In
            | Operator::Nin => match kind {
                FieldKind::Id | FieldKind::Text | FieldKind::Timestamp => true,
                FieldKind::Bool => false,
            },
            Operator::Like | Operator::Ilike => match kind {
                FieldKind::Text => true,
                FieldKind::Id | FieldKind::Bool | FieldKind::Timestamp => false,
            },
        }
    }
}

/// An untyped scalar as a client wrote it, before the field's type is applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Literal {
    /// A string.
    String(String),
    /// A boolean.
    Bool(bool),
    /// A number, as written: no kind takes one yet, and a numeric kind
    /// parses it into its own range.
    Number(String),
    /// Anything else, by the name of its type (`null`, `object`, …).
    Other(&'static str),
}

/// An operand as a client wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LiteralOperand {
    /// A single value.
    Scalar(Literal),
    /// An array.
    List(Vec<Literal>),
}

/// A typed value of a field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// An id.
    Id(PointId),
    /// Text.
    Text(SearchText),
    /// A boolean.
    Bool(bool),
    /// An instant.
    Timestamp(Timestamp),
}

impl Value {
    fn typed(field: Field, op: Operator, literal: Literal) -> Result<Self, QueryError> {
        let wrong = || QueryError::WrongOperand {
            field,
            op,
            expected: field.kind().expected(),
        };
        let invalid = |error| QueryError::InvalidValue { field, error };
        if let Literal::String(s) = &literal {
            // Whatever the field's type, a NUL is named as such.
            reject_nul(s).map_err(invalid)?;
        }
        // By kind, then by what the client sent, without a catch-all: a new
        // kind must say which JSON values it takes.
        match field.kind() {
            FieldKind::Bool => match literal {
                Literal::Bool(b) => Ok(Value::Bool(b)),
                Literal::String(_) | Literal::Number(_) | Literal::Other(_) => Err(wrong()),
            },
            FieldKind::Text => match literal {
                Literal::String(s) => SearchText::new(s).map(Value::Text).map_err(invalid),
                Literal::Bool(_) | Literal::Number(_) | Literal::Other(_) => Err(wrong()),
            },
            FieldKind::Id => match literal {
                Literal::String(s) => PointId::parse(&s).map(Value::Id).map_err(invalid),
                Literal::Bool(_) | Literal::Number(_) | Literal::Other(_) => Err(wrong()),
            },
            FieldKind::Timestamp => match literal {
                Literal::String(s) => Timestamp::parse_rfc3339(&s)
                    .map(Value::Timestamp)
                    .map_err(invalid),
                Literal::Bool(_) | Literal::Number(_) | Literal::Other(_) => Err(wrong()),
            },
        }
    }
}

/// A typed operand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operand {
    /// For `eq ne lt lte gt gte`.
    One(Value),
    /// For `in nin`.
    Many(Vec<Value>),
    /// For `like ilike`: the pattern is data, never SQL.
    Pattern(SearchText),
}

/// One comparison: `field op operand`, valid for the field's type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    field: Field,
    op: Operator,
    operand: Operand,
}

impl Condition {
    /// Types and checks a comparison.
    ///
    /// # Errors
    /// [`QueryError::OperatorNotApplicable`], [`QueryError::WrongOperand`],
    /// [`QueryError::InvalidValue`] or [`QueryError::TooManyItems`].
    pub fn new(field: Field, op: Operator, operand: LiteralOperand) -> Result<Self, QueryError> {
        if !op.applies_to(field.kind()) {
            return Err(QueryError::OperatorNotApplicable { field, op });
        }
        let operand = match (op, operand) {
            (Operator::In | Operator::Nin, LiteralOperand::List(items)) => {
                if items.len() > MAX_LIST_ITEMS {
                    return Err(QueryError::TooManyItems {
                        op,
                        max: MAX_LIST_ITEMS,
                    });
                }
                let values = items
                    .into_iter()
                    .map(|item| Value::typed(field, op, item))
                    .collect::<Result<_, _>>()?;
                Operand::Many(values)
            }
            (Operator::In | Operator::Nin, LiteralOperand::Scalar(_)) => {
                return Err(QueryError::WrongOperand {
                    field,
                    op,
                    expected: "an array",
                });
            }
            (Operator::Like | Operator::Ilike, LiteralOperand::Scalar(Literal::String(p))) => {
                Operand::Pattern(
                    SearchText::new(p)
                        .map_err(|error| QueryError::InvalidValue { field, error })?,
                )
            }
            (Operator::Like | Operator::Ilike, _) => {
                return Err(QueryError::WrongOperand {
                    field,
                    op,
                    expected: "a string pattern",
                });
            }
            (_, LiteralOperand::Scalar(literal)) => Operand::One(Value::typed(field, op, literal)?),
            (_, LiteralOperand::List(_)) => {
                return Err(QueryError::WrongOperand {
                    field,
                    op,
                    expected: field.kind().expected(),
                });
            }
        };
        Ok(Self { field, op, operand })
    }

    /// The field compared.
    pub fn field(&self) -> Field {
        self.field
    }

    /// The operator.
    pub fn op(&self) -> Operator {
        self.op
    }

    /// The typed operand.
    pub fn operand(&self) -> &Operand {
        &self.operand
    }

    /// Evaluates the comparison on a point in memory, with the semantics every
    /// store must reproduce; for in-memory stores and for tests.
    pub fn matches(&self, point: &IntegrationPoint) -> bool {
        let actual = field_value(point, self.field);
        match (&self.operand, self.op) {
            (Operand::One(v), Operator::Eq) => actual == *v,
            (Operand::One(v), Operator::Ne) => actual != *v,
            (Operand::One(v), Operator::Lt) => compare(&actual, v).is_some_and(|o| o.is_lt()),
            (Operand::One(v), Operator::Lte) => compare(&actual, v).is_some_and(|o| o.is_le()),
            (Operand::One(v), Operator::Gt) => compare(&actual, v).is_some_and(|o| o.is_gt()),
            (Operand::One(v), Operator::Gte) => compare(&actual, v).is_some_and(|o| o.is_ge()),
            (Operand::Many(vs), Operator::In) => vs.contains(&actual),
            (Operand::Many(vs), Operator::Nin) => !vs.contains(&actual),
            (Operand::Pattern(p), Operator::Like) => match &actual {
                Value::Text(s) => like(s.as_str(), p.as_str(), false),
                _ => false,
            },
            (Operand::Pattern(p), Operator::Ilike) => match &actual {
                Value::Text(s) => like(s.as_str(), p.as_str(), true),
                _ => false,
            },
            _ => false,
        }
    }
}

/// The value of a field of a point.
pub fn field_value(point: &IntegrationPoint, field: Field) -> Value {
    match point.get(field) {
        FieldRef::Id(id) => Value::Id(id),
        FieldRef::Text(text) => Value::Text(SearchText::stored(text)),
        FieldRef::Bool(b) => Value::Bool(b),
        FieldRef::Timestamp(t) => Value::Timestamp(t),
    }
}

/// Orders two values of one field: text by code point (byte order of UTF-8),
/// ids by their bytes, instants in time, `false` before `true`.
pub fn compare(a: &Value, b: &Value) -> Option<std::cmp::Ordering> {
    // By the first value's kind without a catch-all, so that a new kind is
    // named here rather than silently left unordered.
    match a {
        Value::Id(a) => match b {
            Value::Id(b) => Some(a.cmp(b)),
            Value::Text(_) | Value::Bool(_) | Value::Timestamp(_) => None,
        },
        Value::Text(a) => match b {
            Value::Text(b) => Some(a.as_str().as_bytes().cmp(b.as_str().as_bytes())),
            Value::Id(_) | Value::Bool(_) | Value::Timestamp(_) => None,
        },
        Value::Bool(a) => match b {
            Value::Bool(b) => Some(a.cmp(b)),
            Value::Id(_) | Value::Text(_) | Value::Timestamp(_) => None,
        },
        Value::Timestamp(a) => match b {
            Value::Timestamp(b) => Some(a.cmp(b)),
            Value::Id(_) | Value::Text(_) | Value::Bool(_) => None,
        },
    }
}

/// SQL `LIKE` with `\` as the escape character. Case folding for `ilike` is
/// ASCII-only, as on every supported store.
fn like(text: &str, pattern: &str, fold_case: bool) -> bool {
    #[derive(Clone, Copy)]
    enum Token {
        Any,
        One,
        Char(char),
    }
    let fold = |c: char| if fold_case { c.to_ascii_lowercase() } else { c };
    let mut tokens = Vec::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        tokens.push(match c {
            '%' => Token::Any,
            '_' => Token::One,
            '\\' => Token::Char(fold(chars.next().unwrap_or('\\'))),
            c => Token::Char(fold(c)),
        });
    }
    let text: Vec<char> = text.chars().map(fold).collect();
    // Classic two-pointer wildcard match with backtracking to the last `%`.
    let (mut t, mut p) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match tokens.get(p) {
            Some(Token::Char(c)) if *c == text[t] => {
                t += 1;
                p += 1;
            }
            Some(Token::One) => {
                t += 1;
                p += 1;
            }
            Some(Token::Any) => {
                star = Some((p, t));
                p += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    tokens[p..].iter().all(|t| matches!(t, Token::Any))
}

/// A boolean combination of comparisons.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filter {
    /// One comparison.
    Condition(Condition),
    /// All of these (`$and`, or the clauses of one filter object).
    And(Vec<Filter>),
    /// Any of these (`$or`).
    Or(Vec<Filter>),
    /// Not this (`$not`).
    Not(Box<Filter>),
}

impl Filter {
    /// `$and` over a non-empty list.
    ///
    /// # Errors
    /// [`QueryError::EmptyGroup`] for an empty list.
    pub fn all(filters: Vec<Filter>) -> Result<Self, QueryError> {
        if filters.is_empty() {
            return Err(QueryError::EmptyGroup { op: "$and" });
        }
        Ok(Filter::And(filters))
    }

    /// `$or` over a non-empty list.
    ///
    /// # Errors
    /// [`QueryError::EmptyGroup`] for an empty list.
    pub fn any(filters: Vec<Filter>) -> Result<Self, QueryError> {
        if filters.is_empty() {
            return Err(QueryError::EmptyGroup { op: "$or" });
        }
        Ok(Filter::Or(filters))
    }

    /// Evaluates the filter on a point in memory.
    pub fn matches(&self, point: &IntegrationPoint) -> bool {
        match self {
            Filter::Condition(c) => c.matches(point),
            Filter::And(fs) => fs.iter().all(|f| f.matches(point)),
            Filter::Or(fs) => fs.iter().any(|f| f.matches(point)),
            Filter::Not(f) => !f.matches(point),
        }
    }
}

/// What a filter may still spend while it is built: levels of logical nodes
/// (`And`, `Or`, `Not`) and comparisons. Whoever builds a filter spends from
/// one, so the limits are counted one way: the api's parser as it walks a
/// JSON filter (a hostile one is stopped at the limit, not built in full),
/// and [`ListQuery::new`] over a filter built any other way.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FilterBudget {
    clauses: usize,
}

impl FilterBudget {
    /// The level of a logical node placed under `enclosing` others (the root
    /// is under none).
    ///
    /// # Errors
    /// [`QueryError::TooDeep`] past [`MAX_FILTER_DEPTH`].
    pub fn level_under(enclosing: usize) -> Result<usize, QueryError> {
        let level = enclosing + 1;
        if level > MAX_FILTER_DEPTH {
            return Err(QueryError::TooDeep {
                max: MAX_FILTER_DEPTH,
            });
        }
        Ok(level)
    }

    /// Spends one comparison.
    ///
    /// # Errors
    /// [`QueryError::TooManyClauses`] past [`MAX_FILTER_CLAUSES`].
    pub fn spend_clause(&mut self) -> Result<(), QueryError> {
        self.clauses += 1;
        if self.clauses > MAX_FILTER_CLAUSES {
            return Err(QueryError::TooManyClauses {
                max: MAX_FILTER_CLAUSES,
            });
        }
        Ok(())
    }

    /// Spends what `filter`, placed under `enclosing` logical nodes, costs.
    ///
    /// # Errors
    /// [`QueryError::TooDeep`] or [`QueryError::TooManyClauses`].
    pub fn spend(&mut self, filter: &Filter, enclosing: usize) -> Result<(), QueryError> {
        match filter {
            Filter::Condition(_) => self.spend_clause(),
            Filter::And(filters) | Filter::Or(filters) => {
                let level = Self::level_under(enclosing)?;
                filters.iter().try_for_each(|f| self.spend(f, level))
            }
            Filter::Not(inner) => {
                let level = Self::level_under(enclosing)?;
                self.spend(inner, level)
            }
        }
    }
}

/// A sort direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SortDirection {
    /// Ascending.
    Asc,
    /// Descending.
    Desc,
}

impl SortDirection {
    /// Parses `asc`/`desc`.
    ///
    /// # Errors
    /// [`QueryError::BadDirection`] naming the path it was given for.
    pub fn parse(value: &str, path: &str) -> Result<Self, QueryError> {
        match value {
            "asc" => Ok(SortDirection::Asc),
            "desc" => Ok(SortDirection::Desc),
            _ => Err(QueryError::BadDirection {
                path: path.to_owned(),
            }),
        }
    }
}

/// One sort key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SortKey {
    /// The field sorted on.
    pub field: Field,
    /// The direction.
    pub direction: SortDirection,
}

/// A total order of points: the client's keys, then `id` ascending, so that
/// pages never overlap or skip a point.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sort(Vec<SortKey>);

impl Sort {
    /// Whether an order of `count` keys is allowed: a parser may ask before it
    /// reads the keys, so that a huge list costs nothing more.
    ///
    /// # Errors
    /// [`QueryError::TooManySortKeys`] past [`MAX_SORT_KEYS`].
    pub fn check_key_count(count: usize) -> Result<(), QueryError> {
        if count > MAX_SORT_KEYS {
            return Err(QueryError::TooManySortKeys { max: MAX_SORT_KEYS });
        }
        Ok(())
    }

    /// Builds an order from the client's keys; no keys means the default order,
    /// `ext.ct` then `id`. A key repeated later is dropped: it cannot matter.
    ///
    /// # Errors
    /// [`QueryError::TooManySortKeys`] past [`MAX_SORT_KEYS`].
    pub fn new(keys: Vec<SortKey>) -> Result<Self, QueryError> {
        Self::check_key_count(keys.len())?;
        if keys.is_empty() {
            return Ok(Self::default());
        }
        let mut unique: Vec<SortKey> = Vec::with_capacity(keys.len() + 1);
        for key in keys {
            if !unique.iter().any(|k| k.field == key.field) {
                unique.push(key);
            }
        }
        Ok(Self(Self::with_tiebreak(unique)))
    }

    fn with_tiebreak(mut keys: Vec<SortKey>) -> Vec<SortKey> {
        // Nothing after `id` can matter: ids are unique.
        if let Some(at) = keys.iter().position(|k| k.field == Field::Id) {
            keys.truncate(at + 1);
        } else {
            keys.push(SortKey {
                field: Field::Id,
                direction: SortDirection::Asc,
            });
        }
        keys
    }

    /// The keys to sort by, always ending with `id`.
    pub fn keys(&self) -> &[SortKey] {
        &self.0
    }

    /// Orders two points by this sort; for in-memory stores and for tests.
    pub fn compare(&self, a: &IntegrationPoint, b: &IntegrationPoint) -> std::cmp::Ordering {
        for key in &self.0 {
            let ord = compare(&field_value(a, key.field), &field_value(b, key.field))
                .unwrap_or(std::cmp::Ordering::Equal);
            let ord = match key.direction {
                SortDirection::Asc => ord,
                SortDirection::Desc => ord.reverse(),
            };
            if ord.is_ne() {
                return ord;
            }
        }
        std::cmp::Ordering::Equal
    }
}

impl Default for Sort {
    fn default() -> Self {
        Self(Self::with_tiebreak(vec![SortKey {
            field: Field::ExtCt,
            direction: SortDirection::Asc,
        }]))
    }
}

/// Which slice of the ordered result to return.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    offset: u64,
    limit: u64,
}

impl Page {
    /// The largest offset any store can take (SQL `OFFSET` is a signed 64-bit integer).
    pub const MAX_OFFSET: u64 = i64::MAX as u64;

    /// A page of at most `limit` points after skipping `offset`.
    ///
    /// # Errors
    /// [`QueryError::LimitTooLarge`] above `max_limit`, [`QueryError::OffsetTooLarge`].
    pub fn new(offset: u64, limit: u64, max_limit: u64) -> Result<Self, QueryError> {
        if limit > max_limit {
            return Err(QueryError::LimitTooLarge { max: max_limit });
        }
        if offset > Self::MAX_OFFSET {
            return Err(QueryError::OffsetTooLarge {
                max: Self::MAX_OFFSET,
            });
        }
        Ok(Self { offset, limit })
    }

    /// How many points to skip.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// How many points to return at most.
    pub fn limit(&self) -> u64 {
        self.limit
    }
}

/// The default of `list.exact_count_max`: how many matching points an
/// [`Count::Estimated`] total counts one by one before it takes an estimate.
pub const DEFAULT_EXACT_COUNT_MAX: u64 = 1000;

/// How the total of a list is computed (`count`).
///
/// A true count reads every matching row, so its cost grows with the table;
/// the default bounds it, which is what keeps a list of a large collection as
/// cheap as one of a small one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Count {
    /// A true count, whatever it costs.
    Exact,
    /// Exact while at most `exact_up_to` points match (the store counts no
    /// further), else the store's own estimate.
    Estimated {
        /// The most points counted one by one.
        exact_up_to: u64,
    },
    /// No total at all.
    Skip,
}

/// The `count` a client asked for; [`Count::new`] adds the bound of
/// `estimated`, which is configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CountMode {
    /// `exact`.
    Exact,
    /// `estimated`.
    Estimated,
    /// `none`.
    None,
}

impl CountMode {
    /// Every mode.
    pub const ALL: [CountMode; 3] = [CountMode::Exact, CountMode::Estimated, CountMode::None];

    /// The name clients write.
    pub const fn name(self) -> &'static str {
        match self {
            CountMode::Exact => "exact",
            CountMode::Estimated => "estimated",
            CountMode::None => "none",
        }
    }

    /// Parses `exact`, `estimated` or `none`.
    ///
    /// # Errors
    /// [`QueryError::BadCountMode`] for anything else.
    pub fn parse(value: &str) -> Result<Self, QueryError> {
        Self::ALL
            .into_iter()
            .find(|mode| mode.name() == value)
            .ok_or(QueryError::BadCountMode)
    }
}

impl Count {
    /// The count `mode` asks for; `estimated` counts up to `exact_up_to`
    /// points exactly.
    pub const fn new(mode: CountMode, exact_up_to: u64) -> Self {
        match mode {
            CountMode::Exact => Count::Exact,
            CountMode::Estimated => Count::Estimated { exact_up_to },
            CountMode::None => Count::Skip,
        }
    }
}

impl Default for Count {
    fn default() -> Self {
        Count::Estimated {
            exact_up_to: DEFAULT_EXACT_COUNT_MAX,
        }
    }
}

/// How many points match a list's filter, as the [`Count`] asked for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Total {
    /// Counted.
    Exact(u64),
    /// The store's estimate (at least the number known to match).
    Estimated(u64),
    /// Not computed ([`Count::Skip`]).
    Skipped,
}

/// A position in an order: the sort key of the last point of a page, so that
/// the next page starts right after it whatever was inserted or deleted
/// meanwhile (keyset paging).
///
/// It carries the order it was made for: a position means nothing in another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    keys: Vec<SortKey>,
    values: Vec<Value>,
}

impl Cursor {
    /// The position right after `point` in `sort`.
    pub fn after(sort: &Sort, point: &IntegrationPoint) -> Self {
        Self {
            keys: sort.keys().to_vec(),
            values: sort
                .keys()
                .iter()
                .map(|key| field_value(point, key.field))
                .collect(),
        }
    }

    /// Rebuilds a cursor a client sent back: the order it was made for, as
    /// (path, direction) pairs, and one value per key, typed by its field.
    ///
    /// # Errors
    /// [`QueryError::MalformedCursor`] when the order is not one [`Sort::new`]
    /// makes or the values do not fit it.
    pub fn parse(order: &[(&str, &str)], values: Vec<Literal>) -> Result<Self, QueryError> {
        let malformed = |reason| QueryError::MalformedCursor { reason };
        let keys = order
            .iter()
            .map(|(path, direction)| {
                Ok(SortKey {
                    field: Field::from_path(path).ok_or(malformed("unknown field"))?,
                    direction: SortDirection::parse(direction, path)
                        .map_err(|_| malformed("unknown direction"))?,
                })
            })
            .collect::<Result<Vec<_>, QueryError>>()?;
        let sort = Sort::new(keys.clone()).map_err(|_| malformed("too many keys"))?;
        if sort.keys() != keys.as_slice() {
            return Err(malformed("not an order of this service"));
        }
        if values.len() != keys.len() {
            return Err(malformed("one value per key expected"));
        }
        let values = keys
            .iter()
            .zip(values)
            .map(|(key, literal)| {
                Value::typed(key.field, Operator::Eq, literal).map_err(|_| malformed("bad value"))
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { keys, values })
    }

    /// The order the cursor was made for, ending with `id`.
    pub fn keys(&self) -> &[SortKey] {
        &self.keys
    }

    /// The sort key of the last point seen, one value per key.
    pub fn values(&self) -> &[Value] {
        &self.values
    }

    /// Whether `point` comes after the position in the cursor's order.
    pub fn precedes(&self, point: &IntegrationPoint) -> bool {
        for (key, value) in self.keys.iter().zip(&self.values) {
            let ord =
                compare(&field_value(point, key.field), value).unwrap_or(std::cmp::Ordering::Equal);
            let ord = match key.direction {
                SortDirection::Asc => ord,
                SortDirection::Desc => ord.reverse(),
            };
            if ord.is_ne() {
                return ord.is_gt();
            }
        }
        false
    }
}

/// A list query, valid as a whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListQuery {
    filter: Option<Filter>,
    sort: Sort,
    page: Page,
    after: Option<Cursor>,
    count: Count,
}

impl ListQuery {
    /// Checks the filter's size and assembles the query, from the start of
    /// the order, with the default [`Count`].
    ///
    /// # Errors
    /// [`QueryError::TooDeep`] or [`QueryError::TooManyClauses`].
    pub fn new(filter: Option<Filter>, sort: Sort, page: Page) -> Result<Self, QueryError> {
        if let Some(filter) = &filter {
            FilterBudget::default().spend(filter, 0)?;
        }
        Ok(Self {
            filter,
            sort,
            page,
            after: None,
            count: Count::default(),
        })
    }

    /// The same query, continuing after `cursor` (keyset paging).
    ///
    /// # Errors
    /// [`QueryError::CursorOrderMismatch`] when the cursor was made for
    /// another order, [`QueryError::AfterWithOffset`] when the page skips
    /// points: the two ways of paging do not combine.
    pub fn after(mut self, cursor: Cursor) -> Result<Self, QueryError> {
        if cursor.keys() != self.sort.keys() {
            return Err(QueryError::CursorOrderMismatch);
        }
        if self.page.offset() != 0 {
            return Err(QueryError::AfterWithOffset);
        }
        self.after = Some(cursor);
        Ok(self)
    }

    /// The same query, with its total computed as `count` says.
    #[must_use]
    pub fn counted(mut self, count: Count) -> Self {
        self.count = count;
        self
    }

    /// The filter, if any.
    pub fn filter(&self) -> Option<&Filter> {
        self.filter.as_ref()
    }

    /// The order.
    pub fn sort(&self) -> &Sort {
        &self.sort
    }

    /// The page.
    pub fn page(&self) -> Page {
        self.page
    }

    /// Where the page starts, when it continues a previous one.
    pub fn after_cursor(&self) -> Option<&Cursor> {
        self.after.as_ref()
    }

    /// How the total is computed.
    pub fn count(&self) -> Count {
        self.count
    }

    /// The cursor of the page after `listing`, when it may have one: a full
    /// page (a shorter one ends the result).
    pub fn next_cursor(&self, listing: &Listing) -> Option<Cursor> {
        let full = u64::try_from(listing.items.len()).is_ok_and(|len| len == self.page.limit());
        match listing.items.last() {
            Some(last) if full => Some(Cursor::after(&self.sort, last)),
            _ => None,
        }
    }

    /// Runs the query over points in memory, with the semantics every store
    /// must reproduce (counts in memory are always exact); for in-memory
    /// stores and for tests.
    pub fn run<'a>(&self, points: impl IntoIterator<Item = &'a IntegrationPoint>) -> Listing {
        let mut matching: Vec<&IntegrationPoint> = points
            .into_iter()
            .filter(|p| self.filter.as_ref().is_none_or(|f| f.matches(p)))
            .collect();
        let total = match self.count {
            Count::Exact | Count::Estimated { .. } => {
                Total::Exact(u64::try_from(matching.len()).unwrap_or(u64::MAX))
            }
            Count::Skip => Total::Skipped,
        };
        matching.sort_by(|a, b| self.sort.compare(a, b));
        let items = matching
            .into_iter()
            .filter(|p| self.after.as_ref().is_none_or(|c| c.precedes(p)))
            .skip(usize::try_from(self.page.offset()).unwrap_or(usize::MAX))
            .take(usize::try_from(self.page.limit()).unwrap_or(usize::MAX))
            .cloned()
            .collect();
        Listing {
            items,
            total,
            revision: None,
        }
    }
}

/// One page of a list, and how many points match the filter in all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listing {
    /// The points of the page, in order.
    pub items: Vec<IntegrationPoint>,
    /// How many points match the filter, ignoring offset, limit and `after`.
    pub total: Total,
    /// The change feed's revision as of the page's snapshot: watching after
    /// it yields every change the page does not reflect, and none that it
    /// does. `None` from a store that keeps no change feed (such as
    /// [`ListQuery::run`]).
    pub revision: Option<crate::change_feed::FeedRevision>,
}

/// Which fields a representation shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Mask(u32);

impl Mask {
    /// Every field.
    pub fn all() -> Self {
        Self(Field::ALL.iter().fold(0, |bits, f| bits | Self::bit(*f)))
    }

    const fn bit(field: Field) -> u32 {
        1 << field as u32
    }

    /// Parses a comma-separated list of field paths and groups (`opts`, `ext`).
    /// Blank input means every field; spaces around items are ignored.
    ///
    /// # Errors
    /// [`QueryError::UnknownField`] listing the valid paths and groups.
    pub fn parse(value: &str) -> Result<Self, QueryError> {
        let mut bits = 0;
        for item in value.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            if let Some(field) = Field::from_path(item) {
                bits |= Self::bit(field);
            } else if let Some(group) = Group::from_name(item) {
                bits |= group.fields().fold(0, |b, f| b | Self::bit(f));
            } else {
                let groups = Group::ALL.map(Group::name).join(", ");
                return Err(QueryError::UnknownField {
                    path: item.to_owned(),
                    valid: format!("{}, {groups}", Field::all_paths()),
                });
            }
        }
        Ok(if bits == 0 { Self::all() } else { Self(bits) })
    }

    /// Whether the field is shown.
    pub fn contains(&self, field: Field) -> bool {
        self.0 & Self::bit(field) != 0
    }

    /// Whether any member of the group is shown.
    pub fn contains_any_of(&self, group: Group) -> bool {
        group.fields().any(|f| self.contains(f))
    }
}

impl Default for Mask {
    fn default() -> Self {
        Self::all()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::integration_point::model::Attributes;
    use crate::integration_point::values::{Code, Title, TokenLocal, Version};

    fn s(v: &str) -> LiteralOperand {
        LiteralOperand::Scalar(Literal::String(v.to_owned()))
    }

    fn point(code: &str, title: &str, issync: bool, ct: i64) -> IntegrationPoint {
        let mut attributes = Attributes::new(Code::new(code).expect("valid"));
        attributes.opts.title = Title::new(title).expect("valid");
        attributes.opts.issync = issync;
        let ts = Timestamp::from_millis(ct).expect("in range");
        IntegrationPoint::new(
            PointId::from_uuid(uuid::Uuid::from_u128(ct as u128)),
            TokenLocal::from_bytes([1; 16]),
            attributes,
            ts,
            ts,
            Version::INITIAL,
        )
    }

    #[test]
    fn equality_applies_to_every_kind() {
        for field in Field::ALL {
            assert!(Operator::Eq.applies_to(field.kind()), "{}", field.path());
        }
    }

    #[test]
    fn booleans_take_only_eq_and_ne() {
        for op in [Operator::Lt, Operator::In, Operator::Like] {
            assert_eq!(
                Condition::new(
                    Field::OptsIssync,
                    op,
                    LiteralOperand::Scalar(Literal::Bool(true))
                ),
                Err(QueryError::OperatorNotApplicable {
                    field: Field::OptsIssync,
                    op
                })
            );
        }
        assert!(
            Condition::new(
                Field::OptsIssync,
                Operator::Ne,
                LiteralOperand::Scalar(Literal::Bool(true))
            )
            .is_ok()
        );
    }

    #[test]
    fn like_applies_only_to_text() {
        assert!(matches!(
            Condition::new(Field::ExtCt, Operator::Like, s("2019%")),
            Err(QueryError::OperatorNotApplicable { .. })
        ));
        assert!(matches!(
            Condition::new(Field::Id, Operator::Ilike, s("b%")),
            Err(QueryError::OperatorNotApplicable { .. })
        ));
        assert!(Condition::new(Field::Code, Operator::Like, s("A%")).is_ok());
    }

    #[test]
    fn operands_must_have_the_fields_type() {
        let cases = [
            (Field::Code, LiteralOperand::Scalar(Literal::Bool(true))),
            (Field::OptsIssync, s("true")),
            (
                Field::Code,
                LiteralOperand::Scalar(Literal::Number("5".into())),
            ),
            (Field::Code, LiteralOperand::Scalar(Literal::Other("null"))),
            (Field::Code, LiteralOperand::List(vec![])),
        ];
        for (field, operand) in cases {
            assert!(
                matches!(
                    Condition::new(field, Operator::Eq, operand.clone()),
                    Err(QueryError::WrongOperand { .. })
                ),
                "{} {operand:?}",
                field.path()
            );
        }
    }

    #[test]
    fn ids_and_timestamps_are_parsed_from_strings() {
        assert!(
            Condition::new(
                Field::Id,
                Operator::Eq,
                s("b4680fbe-016c-d86f-1d6b-50e54938780c")
            )
            .is_ok()
        );
        assert!(matches!(
            Condition::new(Field::Id, Operator::Eq, s("nope")),
            Err(QueryError::InvalidValue {
                field: Field::Id,
                ..
            })
        ));
        assert!(Condition::new(Field::ExtCt, Operator::Gte, s("2019-08-28T13:34:16.42Z")).is_ok());
        assert!(matches!(
            Condition::new(Field::ExtLwt, Operator::Lt, s("yesterday")),
            Err(QueryError::InvalidValue {
                field: Field::ExtLwt,
                ..
            })
        ));
    }

    #[test]
    fn in_takes_an_array_of_at_most_1000_items() {
        let items = |n| LiteralOperand::List(vec![Literal::String("x".into()); n]);
        assert!(Condition::new(Field::Code, Operator::In, items(1000)).is_ok());
        assert_eq!(
            Condition::new(Field::Code, Operator::Nin, items(1001)),
            Err(QueryError::TooManyItems {
                op: Operator::Nin,
                max: 1000
            })
        );
        assert!(matches!(
            Condition::new(Field::Code, Operator::In, s("x")),
            Err(QueryError::WrongOperand { .. })
        ));
    }

    #[test]
    fn operands_reject_nul_as_nul_whatever_the_fields_type() {
        let id = "b4680fbe-016c-d86f-1d6b-50e54938780c";
        let cases = [
            (Field::Code, Operator::Eq, s("a\0")),
            (Field::OptsTitle, Operator::Ne, s("\0")),
            (Field::Code, Operator::Like, s("a\0%")),
            (Field::TokenLocal, Operator::Ilike, s("%\0")),
            (
                Field::Id,
                Operator::Eq,
                s("b4680fbe-016c-d86f-1d6b-50e54938780\0"),
            ),
            (Field::ExtCt, Operator::Gt, s("2019-08-28T13:34:16Z\0")),
            (
                Field::Code,
                Operator::In,
                LiteralOperand::List(vec![
                    Literal::String("x".into()),
                    Literal::String("\0".into()),
                ]),
            ),
            (
                Field::Id,
                Operator::Nin,
                LiteralOperand::List(vec![
                    Literal::String(id.into()),
                    Literal::String(format!("{id}\0")),
                ]),
            ),
        ];
        for (field, op, operand) in cases {
            let described = format!("{field:?} {op:?} {operand:?}");
            assert_eq!(
                Condition::new(field, op, operand),
                Err(QueryError::InvalidValue {
                    field,
                    error: TextError::ContainsNul
                }),
                "{described}"
            );
        }
    }

    #[test]
    fn unknown_operators_and_fields_are_named() {
        let err = Operator::from_name("regex").expect_err("unknown");
        assert!(err.to_string().contains("`regex`"));
        let err = field_from_path("tokenlocal").expect_err("unknown");
        assert!(err.to_string().contains("`tokenlocal`"));
        assert!(err.to_string().contains("token_local"));
    }

    #[test]
    fn empty_logical_groups_are_rejected() {
        assert_eq!(
            Filter::any(vec![]),
            Err(QueryError::EmptyGroup { op: "$or" })
        );
        assert_eq!(
            Filter::all(vec![]),
            Err(QueryError::EmptyGroup { op: "$and" })
        );
    }

    fn leaf() -> Filter {
        Filter::Condition(Condition::new(Field::Code, Operator::Eq, s("x")).expect("valid"))
    }

    #[test]
    fn filters_nested_deeper_than_8_are_rejected() {
        let nest = |levels: usize| (0..levels).fold(leaf(), |f, _| Filter::Not(Box::new(f)));
        assert!(
            ListQuery::new(
                Some(nest(8)),
                Sort::default(),
                Page::new(0, 1, 1).expect("ok")
            )
            .is_ok()
        );
        assert_eq!(
            ListQuery::new(
                Some(nest(9)),
                Sort::default(),
                Page::new(0, 1, 1).expect("ok")
            ),
            Err(QueryError::TooDeep { max: 8 })
        );
    }

    #[test]
    fn filters_with_more_than_100_clauses_are_rejected() {
        let page = Page::new(0, 1, 1).expect("ok");
        let many = |n| Filter::And(vec![leaf(); n]);
        assert!(ListQuery::new(Some(many(100)), Sort::default(), page).is_ok());
        assert_eq!(
            ListQuery::new(Some(many(101)), Sort::default(), page),
            Err(QueryError::TooManyClauses { max: 100 })
        );
    }

    #[test]
    fn sorts_always_end_with_the_id_tiebreak() {
        let sort = Sort::new(vec![SortKey {
            field: Field::Type,
            direction: SortDirection::Desc,
        }])
        .expect("valid");
        assert_eq!(sort.keys().last().map(|k| k.field), Some(Field::Id));
        assert_eq!(sort.keys().len(), 2);
    }

    #[test]
    fn the_default_sort_is_creation_time_then_id() {
        let fields: Vec<_> = Sort::default().keys().iter().map(|k| k.field).collect();
        assert_eq!(fields, [Field::ExtCt, Field::Id]);
        assert_eq!(Sort::new(vec![]), Ok(Sort::default()));
    }

    #[test]
    fn keys_after_id_and_repeated_keys_are_dropped() {
        let key = |field, direction| SortKey { field, direction };
        let sort = Sort::new(vec![
            key(Field::Code, SortDirection::Asc),
            key(Field::Code, SortDirection::Desc),
            key(Field::Id, SortDirection::Desc),
            key(Field::Type, SortDirection::Asc),
        ])
        .expect("valid");
        assert_eq!(
            sort.keys(),
            [
                key(Field::Code, SortDirection::Asc),
                key(Field::Id, SortDirection::Desc)
            ]
        );
    }

    #[test]
    fn more_than_8_sort_keys_are_rejected() {
        let key = SortKey {
            field: Field::Code,
            direction: SortDirection::Asc,
        };
        assert_eq!(
            Sort::new(vec![key; 9]),
            Err(QueryError::TooManySortKeys { max: 8 })
        );
    }

    #[test]
    fn directions_are_asc_or_desc() {
        assert_eq!(
            SortDirection::parse("desc", "code"),
            Ok(SortDirection::Desc)
        );
        assert!(SortDirection::parse("DESC", "code").is_err());
    }

    #[test]
    fn limits_above_the_maximum_are_rejected() {
        assert!(Page::new(0, 1000, 1000).is_ok());
        assert_eq!(
            Page::new(0, 1001, 1000),
            Err(QueryError::LimitTooLarge { max: 1000 })
        );
        assert!(Page::new(u64::MAX, 1, 1000).is_err());
    }

    #[test]
    fn masks_take_paths_and_groups() {
        let mask = Mask::parse("id, opts").expect("valid");
        assert!(mask.contains(Field::Id));
        assert!(mask.contains(Field::OptsIssync));
        assert!(!mask.contains(Field::Code));
        assert!(!mask.contains_any_of(Group::Ext));
    }

    #[test]
    fn a_blank_mask_shows_everything() {
        assert_eq!(Mask::parse(""), Ok(Mask::all()));
        assert_eq!(Mask::parse(" , "), Ok(Mask::all()));
    }

    #[test]
    fn unknown_mask_items_list_the_valid_ones() {
        let err = Mask::parse("id,tokenlocal").expect_err("unknown");
        let message = err.to_string();
        assert!(
            message.contains("`tokenlocal`") && message.contains("opts"),
            "{message}"
        );
    }

    #[test]
    fn like_matches_sql_semantics() {
        assert!(like("ABCDE", "A%", false));
        assert!(like("ABCDE", "%CD%", false));
        assert!(like("ABCDE", "A_C%E", false));
        assert!(!like("ABCDE", "a%", false));
        assert!(like("ABCDE", "a%", true));
        assert!(like("50%", "50\\%", false));
        assert!(!like("500", "50\\%", false));
        assert!(like("", "%", false));
        assert!(!like("", "_", false));
    }

    #[test]
    fn filters_evaluate_in_memory_as_stores_must() {
        let p = point("ABCDE", "hello", true, 1_000);
        let cond = |f, op, o| Filter::Condition(Condition::new(f, op, o).expect("valid"));
        let yes = cond(
            Field::OptsIssync,
            Operator::Eq,
            LiteralOperand::Scalar(Literal::Bool(true)),
        );
        let no = cond(Field::Code, Operator::Like, s("Z%"));
        assert!(yes.matches(&p));
        assert!(!no.matches(&p));
        assert!(Filter::Or(vec![yes.clone(), no.clone()]).matches(&p));
        assert!(!Filter::And(vec![yes, no.clone()]).matches(&p));
        assert!(Filter::Not(Box::new(no)).matches(&p));
        assert!(cond(Field::ExtCt, Operator::Lt, s("1970-01-01T00:00:02Z")).matches(&p));
    }

    #[test]
    fn count_modes_parse_and_anything_else_is_rejected() {
        let count = |raw| CountMode::parse(raw).map(|mode| Count::new(mode, 10));
        assert_eq!(count("exact"), Ok(Count::Exact));
        assert_eq!(count("estimated"), Ok(Count::Estimated { exact_up_to: 10 }));
        assert_eq!(count("none"), Ok(Count::Skip));
        for raw in ["", "EXACT", "planned", "true", " none"] {
            assert_eq!(count(raw), Err(QueryError::BadCountMode), "{raw:?}");
        }
    }

    #[test]
    fn the_default_count_is_estimated_exact_up_to_1000() {
        let query =
            ListQuery::new(None, Sort::default(), Page::new(0, 1, 1).expect("ok")).expect("valid");
        assert_eq!(query.count(), Count::Estimated { exact_up_to: 1000 });
    }

    fn by_code_desc() -> Sort {
        Sort::new(vec![SortKey {
            field: Field::Code,
            direction: SortDirection::Desc,
        }])
        .expect("valid")
    }

    fn code_cursor(code: &str, id: &str) -> Result<Cursor, QueryError> {
        Cursor::parse(
            &[("code", "desc"), ("id", "asc")],
            vec![Literal::String(code.into()), Literal::String(id.into())],
        )
    }

    #[test]
    fn a_cursor_round_trips_through_its_parts() {
        let p = point("B", "t", false, 5);
        let cursor = Cursor::after(&by_code_desc(), &p);
        let id = p.id().to_string();

        assert_eq!(code_cursor("B", &id), Ok(cursor));
    }

    #[test]
    fn cursors_with_values_that_do_not_fit_their_order_are_malformed() {
        let id = PointId::from_uuid(uuid::Uuid::from_u128(1)).to_string();
        let cases: [(&str, Result<Cursor, QueryError>); 6] = [
            ("an id that is not one", code_cursor("B", "nope")),
            (
                "too few values",
                Cursor::parse(
                    &[("code", "desc"), ("id", "asc")],
                    vec![Literal::String("B".into())],
                ),
            ),
            (
                "an unknown field",
                Cursor::parse(&[("nope", "asc")], vec![Literal::String("B".into())]),
            ),
            (
                "an unknown direction",
                Cursor::parse(&[("id", "up")], vec![Literal::String(id.clone())]),
            ),
            (
                "an order without the id tiebreak",
                Cursor::parse(&[("code", "asc")], vec![Literal::String("B".into())]),
            ),
            (
                "a boolean where text belongs",
                Cursor::parse(
                    &[("code", "asc"), ("id", "asc")],
                    vec![Literal::Bool(true), Literal::String(id.clone())],
                ),
            ),
        ];
        for (what, result) in cases {
            assert!(
                matches!(result, Err(QueryError::MalformedCursor { .. })),
                "{what}: {result:?}"
            );
        }
    }

    #[test]
    fn a_cursor_of_another_order_is_rejected() {
        let p = point("B", "t", false, 5);
        let cursor = Cursor::after(&Sort::default(), &p);
        let query =
            ListQuery::new(None, by_code_desc(), Page::new(0, 10, 10).expect("ok")).expect("valid");

        assert_eq!(query.after(cursor), Err(QueryError::CursorOrderMismatch));
    }

    #[test]
    fn after_does_not_combine_with_an_offset() {
        let p = point("B", "t", false, 5);
        let cursor = Cursor::after(&by_code_desc(), &p);
        let query = |offset| {
            ListQuery::new(None, by_code_desc(), Page::new(offset, 10, 10).expect("ok"))
                .expect("valid")
        };

        assert_eq!(
            query(3).after(cursor.clone()),
            Err(QueryError::AfterWithOffset)
        );
        assert!(query(0).after(cursor).is_ok());
    }

    #[test]
    fn pages_read_with_after_cursors_cover_every_point_once_in_any_direction() {
        let points: Vec<_> = (0..25)
            .map(|i| point(&format!("c{:02}", i % 7), "t", i % 2 == 0, i))
            .collect();
        let orders = [
            by_code_desc(),
            Sort::default(),
            Sort::new(vec![
                SortKey {
                    field: Field::OptsIssync,
                    direction: SortDirection::Desc,
                },
                SortKey {
                    field: Field::Code,
                    direction: SortDirection::Asc,
                },
                SortKey {
                    field: Field::Id,
                    direction: SortDirection::Desc,
                },
            ])
            .expect("valid"),
        ];
        for sort in orders {
            let first =
                ListQuery::new(None, sort.clone(), Page::new(0, 4, 4).expect("ok")).expect("valid");
            let mut seen = Vec::new();
            let mut query = first.clone();
            loop {
                let listing = query.run(&points);
                seen.extend(listing.items.iter().map(IntegrationPoint::id));
                match first.next_cursor(&listing) {
                    Some(cursor) => query = first.clone().after(cursor).expect("same order"),
                    None => break,
                }
            }
            let everything: Vec<_> = first
                .clone()
                .run(&points)
                .items
                .iter()
                .map(IntegrationPoint::id)
                .collect();
            let mut all = points.clone();
            all.sort_by(|a, b| sort.compare(a, b));
            let expected: Vec<_> = all.iter().map(IntegrationPoint::id).collect();
            assert_eq!(seen, expected, "{sort:?}");
            assert_eq!(everything.len(), 4);
        }
    }

    #[test]
    fn only_full_pages_have_a_next_cursor() {
        let points: Vec<_> = (0..3)
            .map(|i| point(&format!("c{i}"), "t", false, i))
            .collect();
        let query = |limit| {
            ListQuery::new(None, Sort::default(), Page::new(0, limit, 10).expect("ok"))
                .expect("valid")
        };

        let full = query(3).run(&points);
        let short = query(4).run(&points);

        assert_eq!(
            query(3).next_cursor(&full),
            Some(Cursor::after(&Sort::default(), &points[2]))
        );
        assert_eq!(query(4).next_cursor(&short), None);
    }

    #[test]
    fn counting_none_in_memory_skips_the_total() {
        let points = [point("A", "t", false, 1)];
        let query =
            ListQuery::new(None, Sort::default(), Page::new(0, 1, 1).expect("ok")).expect("valid");

        assert_eq!(query.clone().run(&points).total, Total::Exact(1));
        assert_eq!(
            query.counted(Count::Skip).run(&points).total,
            Total::Skipped
        );
    }

    #[test]
    fn sorting_in_memory_breaks_ties_by_id() {
        let a = point("A", "same", false, 2);
        let b = point("B", "same", false, 1);
        let sort = Sort::new(vec![SortKey {
            field: Field::OptsTitle,
            direction: SortDirection::Asc,
        }])
        .expect("valid");
        assert!(sort.compare(&b, &a).is_lt());
    }
}
