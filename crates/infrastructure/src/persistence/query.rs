//! The typed list query, translated into SQL.
//!
//! Everything is evaluated by the database: WHERE from the filter tree, ORDER
//! BY from the sort keys, LIMIT/OFFSET from the page. Every value is a bound
//! parameter, never spliced into the SQL text.
//!
//! The translation reproduces the in-memory semantics of
//! [`Filter::matches`] and [`Sort::compare`](domain::integration_point::Sort::compare)
//! on both backends, which the schema makes possible: text columns compare by
//! code point (PostgreSQL's "C" collation, SQLite's BINARY), instants are
//! integers, ids are UUIDs (16 bytes compared in order on both), and SQLite
//! connections run with `case_sensitive_like` on.

use std::borrow::Cow;

use domain::integration_point::{
    Condition, Cursor, Field, Filter, ListQuery, Operand, Operator, SortDirection, SortKey, Value,
};
use sea_orm::sea_query::{
    Alias, Asterisk, Expr, ExprTrait, Func, LikeExpr, Query, SelectStatement,
};
use sea_orm::{DbBackend, EntityTrait, Order, QueryFilter, QueryOrder, QuerySelect, Select};

use super::entity::{Column, Entity};

/// The alias of the count in [`count`].
pub(crate) const TOTAL: &str = "total";

/// The `like` escape character, the same as the domain's in-memory `like`.
const ESCAPE: char = '\\';

/// The column a field is stored in: the one place that knows.
pub(crate) fn column(field: Field) -> Column {
    match field {
        Field::Id => Column::Id,
        Field::Code => Column::Code,
        Field::Type => Column::Type,
        Field::TokenLocal => Column::TokenLocal,
        Field::TokenRemote => Column::TokenRemote,
        Field::TokenRemote2 => Column::TokenRemote2,
        Field::Url => Column::Url,
        Field::RecvSvcscriptcode => Column::RecvSvcscriptcode,
        Field::RecvSvcscriptcodeWs => Column::RecvSvcscriptcodeWs,
        Field::SendSvcscriptcode => Column::SendSvcscriptcode,
        Field::SendSvcscriptcodeWs => Column::SendSvcscriptcodeWs,
        Field::OptsTitle => Column::OptsTitle,
        Field::OptsComment => Column::OptsComment,
        Field::OptsAllowFilesApi => Column::OptsAllowFilesApi,
        Field::OptsIssync => Column::OptsIssync,
        Field::ExtCt => Column::Ct,
        Field::ExtLwt => Column::Lwt,
    }
}

/// The page of points a query selects, in order, as said to `backend`.
pub(crate) fn page(query: &ListQuery, backend: DbBackend) -> Select<Entity> {
    // SQLite plans a statement without its values (no STAT4), and takes a
    // one-sided range such as "changed since" (`lwt >= ?`) to match a quarter
    // of the table; in an order another index serves (the default, `ct, id`)
    // it then walks that index filtering the range rather than read the
    // range and sort it: 300 ms at 1,000,000 rows for 215 changed points,
    // against 1 ms. A client filters on a range to narrow a list, so the
    // page tells SQLite so; a range that matches most of the table pays a
    // sort of its matches instead (0.6 s for all 1,000,000). PostgreSQL
    // plans such lists with their values (`plans_by_value`).
    let ranges = if backend == DbBackend::Sqlite {
        Ranges::Narrow
    } else {
        Ranges::AsWritten
    };
    let keys = sql_keys(query.sort().keys());
    let mut select = Entity::find();
    let mut order: Vec<SortKey> = Vec::with_capacity(keys.len() + 1);
    match (
        query.after_cursor(),
        fixed_type(query.filter(), keys, ranges),
    ) {
        (Some(cursor), Some((kind, rest))) => {
            // `filter={"type": …}&order=["code"]` after a cursor: the range
            // of ix_integration_points_type_code_id from (type, code) to the
            // last code of the type. Said as `type = ? AND code > ?`,
            // PostgreSQL prefers to start at `code` on the unique index of
            // `code` and filter `type` out of every row it passes (ten times
            // the page, with ten types); with the equality next to a row
            // comparison on (type, code) its btree starts at the type's first
            // entry instead. `(type, code) > (?, ?) AND type <= ?` says the
            // same of the rows and leaves only that range, and ordering by
            // `type` first (constant here) leaves only that index to order by.
            let direction = keys[0].direction;
            let mut columns = vec![Expr::col(column(Field::Type))];
            let mut bounds = vec![Expr::val(value(kind))];
            columns.extend(keys.iter().map(|key| Expr::col(column(key.field))));
            bounds.extend(
                cursor.values()[..keys.len()]
                    .iter()
                    .map(|v| Expr::val(value(v))),
            );
            let (row, bound) = (Expr::tuple(columns), Expr::tuple(bounds));
            let kind_col = Expr::col(column(Field::Type));
            let range = match direction {
                SortDirection::Asc => row.gt(bound).and(kind_col.lte(value(kind))),
                SortDirection::Desc => row.lt(bound).and(kind_col.gte(value(kind))),
            };
            select = select.filter(range);
            if let Some(rest) = rest {
                select = select.filter(rest);
            }
            order.push(SortKey {
                field: Field::Type,
                direction,
            });
        }
        (after, _) => {
            if let Some(filter) = query.filter() {
                select = select.filter(where_clause(filter, ranges));
            }
            if let Some(cursor) = after {
                select = select.filter(keyset(cursor));
            }
        }
    }
    order.extend_from_slice(keys);
    for key in order {
        let direction = match key.direction {
            SortDirection::Asc => Order::Asc,
            SortDirection::Desc => Order::Desc,
        };
        select = select.order_by(column(key.field), direction);
    }
    let page = query.page();
    select
        .offset(std::cmp::min(page.offset(), SQL_MAX))
        .limit(std::cmp::min(page.limit(), SQL_MAX))
}

/// The keys of an order that SQL needs: up to its first unique field.
///
/// The same order as the full list (nothing can follow a unique key), but
/// `ORDER BY code` is served by either index that starts with `code` as it
/// stands, while `ORDER BY code, id` needs an index ending in `id` or an
/// incremental sort, and the keyset comparison gets one column shorter.
fn sql_keys(keys: &[SortKey]) -> &[SortKey] {
    let end = keys
        .iter()
        .position(|key| key.field.is_unique())
        .map_or(keys.len(), |at| at + 1);
    &keys[..end]
}

/// The points after a cursor's position in its order.
///
/// One direction throughout is one row-value comparison, `(a, b) > (?, ?)`,
/// which both databases turn into the start of an index range. Mixed
/// directions have no row-value form: they are the chain `a > ? OR (a = ?
/// AND b < ?)`, led by the bound of the first key (`a >= ?`), which is
/// implied by the chain and gives the index on `a` its starting point.
fn keyset(cursor: &Cursor) -> Expr {
    let keys = sql_keys(cursor.keys());
    let values = &cursor.values()[..keys.len()];
    let (Some(first), Some(first_value)) = (keys.first(), values.first()) else {
        return constant(true);
    };
    if keys.iter().all(|key| key.direction == first.direction) {
        if keys.len() == 1 {
            return beyond(first, first_value, false);
        }
        let row = Expr::tuple(keys.iter().map(|key| Expr::col(column(key.field))));
        let bound = Expr::tuple(values.iter().map(|v| Expr::val(value(v))));
        return match first.direction {
            SortDirection::Asc => row.gt(bound),
            SortDirection::Desc => row.lt(bound),
        };
    }
    let chain = keys
        .iter()
        .zip(values)
        .rev()
        .fold(None, |rest: Option<Expr>, (key, v)| {
            let past = beyond(key, v, false);
            Some(match rest {
                None => past,
                Some(rest) => past.or(Expr::col(column(key.field)).eq(value(v)).and(rest)),
            })
        })
        .unwrap_or_else(|| constant(true));
    beyond(first, first_value, true).and(chain)
}

/// `key > v` (or `<` for a descending key; `>=`/`<=` when `or_equal`).
fn beyond(key: &SortKey, v: &Value, or_equal: bool) -> Expr {
    let col = Expr::col(column(key.field));
    match (key.direction, or_equal) {
        (SortDirection::Asc, false) => col.gt(value(v)),
        (SortDirection::Asc, true) => col.gte(value(v)),
        (SortDirection::Desc, false) => col.lt(value(v)),
        (SortDirection::Desc, true) => col.lte(value(v)),
    }
}

/// When the order starts with `code` and one of the filter's top-level
/// clauses is `type = ?`: that type, and the WHERE of the other clauses.
fn fixed_type<'a>(
    filter: Option<&'a Filter>,
    keys: &[SortKey],
    ranges: Ranges,
) -> Option<(&'a Value, Option<Expr>)> {
    fn equality(filter: &Filter) -> Option<&Value> {
        match filter {
            Filter::Condition(c) if c.field() == Field::Type && c.op() == Operator::Eq => {
                match c.operand() {
                    Operand::One(v) => Some(v),
                    Operand::Many(_) | Operand::Pattern(_) => None,
                }
            }
            Filter::Condition(_) | Filter::And(_) | Filter::Or(_) | Filter::Not(_) => None,
        }
    }
    if keys.first().map(|key| key.field) != Some(Field::Code) {
        return None;
    }
    match filter? {
        Filter::And(filters) => {
            let at = filters.iter().position(|f| equality(f).is_some())?;
            let kind = equality(&filters[at])?;
            let rest = filters
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != at)
                .map(|(_, f)| where_clause(f, ranges))
                .reduce(ExprTrait::and);
            Some((kind, rest))
        }
        other => equality(other).map(|kind| (kind, None)),
    }
}

/// Whether the right plan of a query's statements depends on the values of
/// its filter: a range of `ext.lwt` (or any field) may select ten rows or all
/// of them, and only a plan made with its values knows which. Equality and
/// `in` select about as many rows whatever their values, as far as the
/// statistics tell, so a plan made without them is as good.
pub(crate) fn plans_by_value(query: &ListQuery) -> bool {
    fn ranges(filter: &Filter) -> bool {
        match filter {
            Filter::Condition(c) => match c.op() {
                Operator::Lt | Operator::Lte | Operator::Gt | Operator::Gte => true,
                Operator::Eq
                | Operator::Ne
                | Operator::In
                | Operator::Nin
                | Operator::Like
                | Operator::Ilike => false,
            },
            Filter::And(filters) | Filter::Or(filters) => filters.iter().any(ranges),
            Filter::Not(filter) => ranges(filter),
        }
    }
    query.filter().is_some_and(ranges)
}

/// SQL takes LIMIT and OFFSET as signed 64-bit integers; beyond that, every
/// count is the same.
const SQL_MAX: u64 = i64::MAX as u64;

/// `SELECT COUNT(*) AS total` of the points a filter matches.
pub(crate) fn count(filter: Option<&Filter>) -> SelectStatement {
    let mut select = Query::select();
    select
        .expr_as(Expr::col(Asterisk).count(), TOTAL)
        .from(Entity);
    if let Some(filter) = filter {
        select.and_where(predicate(filter));
    }
    select
}

/// `SELECT COUNT(*) AS total` of the points a filter matches, counting no
/// further than `max + 1`: a total above `max` reads `max + 1` rows.
pub(crate) fn count_up_to(filter: Option<&Filter>, max: u64) -> SelectStatement {
    let mut select = Query::select();
    select
        .expr_as(Expr::col(Asterisk).count(), TOTAL)
        .from_subquery(
            matching(filter)
                .limit(std::cmp::min(max.saturating_add(1), SQL_MAX))
                .to_owned(),
            Alias::new("matching"),
        );
    select
}

/// `SELECT 1` of every point a filter matches: what [`count_up_to`] limits,
/// and what the planner estimates.
pub(crate) fn matching(filter: Option<&Filter>) -> SelectStatement {
    let mut select = Query::select();
    select.expr(Expr::val(1)).from(Entity);
    if let Some(filter) = filter {
        select.and_where(predicate(filter));
    }
    select
}

/// How a filter's range comparisons (`<`, `<=`, `>`, `>=`) are said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ranges {
    AsWritten,
    /// Each in SQLite's `likelihood(…, 0.001)`: true of few rows, so the
    /// planner reads it through the field's index, if it has one (see
    /// [`page`]). The term still bounds that index: SQLite looks through
    /// `likelihood` when it picks one.
    Narrow,
}

/// The WHERE expression of a filter.
///
/// Empty groups cannot be built through the domain's constructors, but the
/// enum allows them; they mean what [`Filter::matches`] says: an empty `$and`
/// holds, an empty `$or` does not.
pub(crate) fn predicate(filter: &Filter) -> Expr {
    where_clause(filter, Ranges::AsWritten)
}

fn where_clause(filter: &Filter, ranges: Ranges) -> Expr {
    match filter {
        Filter::Condition(condition) => {
            let expr = comparison(condition);
            match (ranges, condition.op()) {
                (Ranges::Narrow, Operator::Lt | Operator::Lte | Operator::Gt | Operator::Gte) => {
                    // `?` is where SQLite's builder puts `expr`.
                    Expr::cust_with_expr("likelihood(?, 0.001)", expr)
                }
                (Ranges::AsWritten, _)
                | (
                    Ranges::Narrow,
                    Operator::Eq
                    | Operator::Ne
                    | Operator::In
                    | Operator::Nin
                    | Operator::Like
                    | Operator::Ilike,
                ) => expr,
            }
        }
        Filter::And(filters) => combine(filters, true, ExprTrait::and, ranges),
        Filter::Or(filters) => combine(filters, false, ExprTrait::or, ranges),
        Filter::Not(filter) => where_clause(filter, ranges).not(),
    }
}

fn combine(
    filters: &[Filter],
    when_empty: bool,
    join: fn(Expr, Expr) -> Expr,
    ranges: Ranges,
) -> Expr {
    filters
        .iter()
        .map(|filter| where_clause(filter, ranges))
        .reduce(join)
        .unwrap_or_else(|| constant(when_empty))
}

fn constant(holds: bool) -> Expr {
    Expr::Constant(holds.into())
}

fn comparison(condition: &Condition) -> Expr {
    let col = Expr::col(column(condition.field()));
    match (condition.op(), condition.operand()) {
        (Operator::Eq, Operand::One(v)) => col.eq(value(v)),
        (Operator::Ne, Operand::One(v)) => col.ne(value(v)),
        (Operator::Lt, Operand::One(v)) => col.lt(value(v)),
        (Operator::Lte, Operand::One(v)) => col.lte(value(v)),
        (Operator::Gt, Operand::One(v)) => col.gt(value(v)),
        (Operator::Gte, Operand::One(v)) => col.gte(value(v)),
        // Spelled out rather than left to the SQL builder: `IN ()` is not SQL,
        // and an empty list must select nothing (`in`) or everything (`nin`).
        (Operator::In, Operand::Many(vs)) if vs.is_empty() => constant(false),
        (Operator::Nin, Operand::Many(vs)) if vs.is_empty() => constant(true),
        (Operator::In, Operand::Many(vs)) => col.is_in(vs.iter().map(value)),
        (Operator::Nin, Operand::Many(vs)) => col.is_not_in(vs.iter().map(value)),
        (Operator::Like, Operand::Pattern(p)) => {
            let like = col
                .clone()
                .like(LikeExpr::new(sql_pattern(p.as_str())).escape(ESCAPE));
            // The range of the pattern's fixed prefix, which the LIKE implies,
            // spelled out for the index: SQLite never reads a LIKE with an
            // ESCAPE clause through an index, and PostgreSQL derives the
            // range only when it plans with the pattern's value at hand,
            // which a prepared statement's generic plan does not.
            let prefix = literal_prefix(p.as_str());
            if prefix.is_empty() {
                return like;
            }
            let range = match successor(&prefix) {
                Some(end) => col.clone().gte(prefix.as_str()).and(col.lt(end.as_str())),
                None => col.gte(prefix.as_str()),
            };
            range.and(like)
        }
        // LOWER folds ASCII only on both backends (PostgreSQL's under the "C"
        // collation, SQLite's without ICU), as the domain's `ilike` does. The
        // pattern is folded here rather than with LOWER(?): a bound parameter
        // carries the database's default collation, whose LOWER may fold more.
        (Operator::Ilike, Operand::Pattern(p)) => Expr::expr(Func::lower(col))
            .like(LikeExpr::new(sql_pattern(p.as_str()).to_ascii_lowercase()).escape(ESCAPE)),
        // A condition whose operand does not fit its operator cannot be built
        // through `Condition::new`; like `Condition::matches`, it matches nothing.
        _ => constant(false),
    }
}

fn value(value: &Value) -> sea_orm::Value {
    match value {
        Value::Id(id) => id.as_uuid().into(),
        Value::Text(text) => text.as_str().into(),
        Value::Bool(b) => (*b).into(),
        Value::Timestamp(t) => t.as_millis().into(),
    }
}

/// The characters every match of a `like` pattern starts with: those before
/// its first unescaped wildcard.
fn literal_prefix(pattern: &str) -> String {
    let mut prefix = String::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '%' | '_' => break,
            ESCAPE => prefix.push(chars.next().unwrap_or(ESCAPE)),
            c => prefix.push(c),
        }
    }
    prefix
}

/// The least string above every string that starts with `prefix`, in code
/// point order (the columns' order): the prefix with its last character
/// raised by one, dropping characters that cannot be raised; `None` when
/// nothing can be (no upper bound).
fn successor(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let next = match u32::from(last) + 1 {
            // Surrogates are not characters: the next one is U+E000.
            0xD800 => Some('\u{E000}'),
            code => char::from_u32(code),
        };
        if let Some(next) = next {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

/// The pattern as SQL must see it.
///
/// The domain reads a lone `\` at the very end of a pattern as a literal
/// backslash; PostgreSQL rejects such a pattern and SQLite matches nothing
/// with it, so it is doubled. Every other `\` already escapes the character
/// after it, identically in SQL (with `ESCAPE '\'`) and in the domain.
fn sql_pattern(pattern: &str) -> Cow<'_, str> {
    let ends_escaping = pattern
        .chars()
        .fold(false, |escaping, c| !escaping && c == ESCAPE);
    if ends_escaping {
        Cow::Owned(format!("{pattern}{ESCAPE}"))
    } else {
        Cow::Borrowed(pattern)
    }
}

#[cfg(test)]
mod tests {
    use domain::integration_point::{Cursor, Literal, LiteralOperand, Page, Sort, SortKey};
    use sea_orm::sea_query::{PostgresQueryBuilder, SqliteQueryBuilder};
    use sea_orm::{ConnectionTrait, DbBackend, QueryTrait};

    use super::*;

    /// Asserts that `sql` ends with `tail`, showing the whole statement when
    /// it does not.
    #[track_caller]
    fn assert_ends_with(sql: &str, tail: &str) {
        assert!(sql.ends_with(tail), "{sql}\ndoes not end with\n{tail}");
    }

    #[test]
    fn every_column_but_the_version_stores_exactly_one_field_of_its_kind() {
        use domain::integration_point::FieldKind;
        use sea_orm::{ColumnTrait, ColumnType, Iterable};

        let name = |column: Column| sea_orm::IdenStatic::as_str(&column).to_owned();
        let mut stored: Vec<String> = Field::ALL.into_iter().map(|f| name(column(f))).collect();
        stored.push(name(Column::Version));
        let all: Vec<String> = Column::iter().map(name).collect();
        assert_eq!(
            stored.len(),
            all.len(),
            "one column per field, and the version"
        );
        for column in &all {
            assert!(stored.contains(column), "{column} stores no field");
        }
        for field in Field::ALL {
            let column_type = column(field).def().get_column_type().clone();
            let fits = match field.kind() {
                FieldKind::Id => matches!(column_type, ColumnType::Uuid),
                FieldKind::Text => matches!(column_type, ColumnType::String(_) | ColumnType::Text),
                FieldKind::Bool => matches!(column_type, ColumnType::Boolean),
                FieldKind::Timestamp => matches!(column_type, ColumnType::BigInteger),
            };
            assert!(fits, "{}: {column_type:?}", field.path());
        }
    }

    fn text(field: Field, op: Operator, operand: &str) -> Filter {
        let operand = LiteralOperand::Scalar(Literal::String(operand.to_owned()));
        Filter::Condition(Condition::new(field, op, operand).expect("valid condition"))
    }

    fn list(field: Field, op: Operator, items: &[&str]) -> Filter {
        let items = items
            .iter()
            .map(|s| Literal::String((*s).to_owned()))
            .collect();
        Filter::Condition(
            Condition::new(field, op, LiteralOperand::List(items)).expect("valid condition"),
        )
    }

    fn sql(filter: &Filter) -> (String, String) {
        let statement = count(Some(filter));
        (
            statement.to_string(PostgresQueryBuilder),
            statement.to_string(SqliteQueryBuilder),
        )
    }

    #[test]
    fn a_lone_trailing_backslash_is_doubled_and_nothing_else_changes() {
        let cases = [
            ("abc", "abc"),
            (r"abc\", r"abc\\"),
            (r"abc\\", r"abc\\"),
            (r"abc\\\", r"abc\\\\"),
            (r"\%", r"\%"),
            (r"\", r"\\"),
            ("", ""),
        ];
        for (pattern, expected) in cases {
            assert_eq!(sql_pattern(pattern), expected, "pattern {pattern:?}");
        }
    }

    #[test]
    fn like_escapes_with_a_backslash_on_both_backends() {
        let (postgres, sqlite) = sql(&text(Field::Code, Operator::Like, "a%"));

        assert_ends_with(&postgres, r#""code" LIKE 'a%' ESCAPE E'\\'"#);
        assert_ends_with(&sqlite, r#""code" LIKE 'a%' ESCAPE '\'"#);
    }

    #[test]
    fn ilike_lowers_the_column_and_folds_the_pattern_to_ascii_lowercase() {
        let (_, sqlite) = sql(&text(Field::Code, Operator::Ilike, "AbÉ%"));

        assert_ends_with(&sqlite, r#"LOWER("code") LIKE 'abÉ%' ESCAPE '\'"#);
    }

    #[test]
    fn empty_in_matches_nothing_and_empty_nin_matches_everything() {
        let (_, in_empty) = sql(&list(Field::Code, Operator::In, &[]));
        let (_, nin_empty) = sql(&list(Field::Code, Operator::Nin, &[]));

        assert_ends_with(&in_empty, "WHERE FALSE");
        assert_ends_with(&nin_empty, "WHERE TRUE");
    }

    #[test]
    fn nested_groups_keep_their_meaning() {
        let a = text(Field::Code, Operator::Eq, "a");
        let b = text(Field::Code, Operator::Eq, "b");
        let c = text(Field::Type, Operator::Eq, "c");
        let filter = Filter::And(vec![
            Filter::Or(vec![a.clone(), b.clone()]),
            Filter::Not(Box::new(Filter::And(vec![c, a]))),
        ]);

        let (_, sqlite) = sql(&filter);

        assert_ends_with(
            &sqlite,
            r#"WHERE ("code" = 'a' OR "code" = 'b') AND (NOT ("type" = 'c' AND "code" = 'a'))"#,
        );
    }

    #[test]
    fn values_are_bound_as_parameters() {
        let filter = text(
            Field::Code,
            Operator::Eq,
            "x'; DROP TABLE integration_points; --",
        );

        let statement = DbBackend::Postgres.build(&count(Some(&filter)));

        assert!(
            statement.sql.ends_with(r#"WHERE "code" = $1"#),
            "{}",
            statement.sql
        );
    }

    #[test]
    fn pages_order_by_the_sort_keys_then_slice() {
        let sort = Sort::new(vec![SortKey {
            field: Field::ExtLwt,
            direction: SortDirection::Desc,
        }])
        .expect("valid sort");

        let sql = page_sql(None, sort, 20);

        assert_ends_with(
            &sql,
            r#"ORDER BY "integration_points"."lwt" DESC, "integration_points"."id" ASC LIMIT 10 OFFSET 20"#,
        );
    }

    fn key(field: Field, direction: SortDirection) -> SortKey {
        SortKey { field, direction }
    }

    /// The SQLite text of the page of `query` continued after `cursor`'s
    /// values (as literals).
    fn page_after(filter: Option<Filter>, keys: Vec<SortKey>, after: Vec<Literal>) -> String {
        let sort = Sort::new(keys).expect("valid sort");
        let order: Vec<(&str, &str)> = sort
            .keys()
            .iter()
            .map(|k| {
                let direction = match k.direction {
                    SortDirection::Asc => "asc",
                    SortDirection::Desc => "desc",
                };
                (k.field.path(), direction)
            })
            .collect();
        let cursor = Cursor::parse(&order, after).expect("valid cursor");
        let query = ListQuery::new(filter, sort, Page::new(0, 10, 1000).expect("valid page"))
            .expect("valid query")
            .after(cursor)
            .expect("same order");
        sqlite_text(&query)
    }

    /// The SQLite text of a page of 10 points from `offset` of `filter` in
    /// the order `sort`.
    fn page_sql(filter: Option<Filter>, sort: Sort, offset: u64) -> String {
        let page = Page::new(offset, 10, 1000).expect("valid page");
        sqlite_text(&ListQuery::new(filter, sort, page).expect("valid query"))
    }

    /// The SQLite text of the page of `query`.
    fn sqlite_text(query: &ListQuery) -> String {
        page(query, DbBackend::Sqlite)
            .build(DbBackend::Sqlite)
            .to_string()
    }

    const ID: &str = "00000000-0000-0000-0000-000000000007";

    fn lit(value: &str) -> Literal {
        Literal::String(value.to_owned())
    }

    #[test]
    fn an_order_stops_at_its_first_unique_key() {
        let sort = Sort::new(vec![
            key(Field::Type, SortDirection::Asc),
            key(Field::Code, SortDirection::Desc),
            key(Field::OptsTitle, SortDirection::Asc),
        ])
        .expect("valid sort");

        let sql = page_sql(None, sort, 0);

        assert_ends_with(
            &sql,
            r#"ORDER BY "integration_points"."type" ASC, "integration_points"."code" DESC LIMIT 10 OFFSET 0"#,
        );
    }

    #[test]
    fn after_in_one_direction_is_one_row_comparison() {
        let sql = page_after(
            None,
            vec![
                key(Field::ExtCt, SortDirection::Desc),
                key(Field::Id, SortDirection::Desc),
            ],
            vec![lit("1970-01-01T00:00:00.005Z"), lit(ID)],
        );

        assert!(
            sql.contains(r#"WHERE ("ct", "id") < (5, '00000000-0000-0000-0000-000000000007')"#),
            "{sql}"
        );
    }

    #[test]
    fn after_in_mixed_directions_is_a_chain_led_by_the_first_keys_bound() {
        let sql = page_after(
            None,
            vec![key(Field::ExtCt, SortDirection::Desc)],
            vec![lit("1970-01-01T00:00:00.005Z"), lit(ID)],
        );

        assert!(
            sql.contains(r#"WHERE "ct" <= 5 AND ("ct" < 5 OR ("ct" = 5 AND "id" > "#),
            "{sql}"
        );
    }

    #[test]
    fn one_type_by_code_after_a_cursor_reads_the_type_code_range() {
        let filter = Filter::And(vec![
            text(Field::Url, Operator::Ne, ""),
            text(Field::Type, Operator::Eq, "telegram"),
        ]);

        let sql = page_after(
            Some(filter),
            vec![key(Field::Code, SortDirection::Desc)],
            vec![lit("ip-9"), lit(ID)],
        );

        assert!(
            sql.contains(
                r#"WHERE ("type", "code") < ('telegram', 'ip-9') AND "type" >= 'telegram' AND "url" <> ''"#
            ),
            "{sql}"
        );
        assert!(!sql.contains(r#""type" = "#), "{sql}");
        assert!(
            sql.contains(
                r#"ORDER BY "integration_points"."type" DESC, "integration_points"."code" DESC"#
            ),
            "{sql}"
        );
    }

    #[test]
    fn like_with_a_fixed_prefix_also_bounds_the_range_of_the_prefix() {
        let (_, sqlite) = sql(&text(Field::Code, Operator::Like, r"a\%b%c"));

        assert_ends_with(
            &sqlite,
            r#"WHERE "code" >= 'a%b' AND "code" < 'a%c' AND "code" LIKE 'a\%b%c' ESCAPE '\'"#,
        );
        let (_, open) = sql(&text(Field::Code, Operator::Like, "%b"));
        assert_ends_with(&open, r#"WHERE "code" LIKE '%b' ESCAPE '\'"#);
    }

    #[test]
    fn the_successor_of_a_prefix_is_the_least_string_above_its_extensions() {
        let cases = [
            ("a", Some("b")),
            ("ab", Some("ac")),
            ("a\u{10FFFF}", Some("b")),
            ("\u{D7FF}", Some("\u{E000}")),
            ("\u{10FFFF}", None),
            ("", None),
        ];
        for (prefix, expected) in cases {
            assert_eq!(successor(prefix).as_deref(), expected, "{prefix:?}");
        }
    }

    #[test]
    fn the_literal_prefix_ends_at_the_first_unescaped_wildcard() {
        let cases = [
            ("ab%c", "ab"),
            (r"a\%b%", "a%b"),
            ("%x", ""),
            ("a_b", "a"),
            (r"a\", r"a\"),
            ("abc", "abc"),
        ];
        for (pattern, expected) in cases {
            assert_eq!(literal_prefix(pattern), expected, "{pattern:?}");
        }
    }

    #[test]
    fn a_bounded_count_reads_one_row_past_its_bound() {
        let filter = text(Field::Type, Operator::Eq, "telegram");

        let sql = count_up_to(Some(&filter), 1000).to_string(SqliteQueryBuilder);

        assert_eq!(
            sql,
            r#"SELECT COUNT(*) AS "total" FROM (SELECT 1 FROM "integration_points" WHERE "type" = 'telegram' LIMIT 1001) AS "matching""#
        );
    }

    fn changed_since(instant: &str) -> ListQuery {
        let since = text(Field::ExtLwt, Operator::Gte, instant);
        ListQuery::new(
            Some(since),
            Sort::default(),
            Page::new(0, 100, 1000).expect("page"),
        )
        .expect("valid query")
    }

    #[test]
    fn ranges_of_a_page_are_said_to_be_narrow_to_sqlite_only() {
        let query = changed_since("1970-01-01T00:00:00.005Z");

        let sqlite = page(&query, DbBackend::Sqlite)
            .build(DbBackend::Sqlite)
            .to_string();
        let postgres = page(&query, DbBackend::Postgres)
            .build(DbBackend::Postgres)
            .to_string();

        assert!(
            sqlite.contains(r#"WHERE likelihood("lwt" >= 5, 0.001) ORDER BY"#),
            "{sqlite}"
        );
        assert!(
            postgres.contains(r#"WHERE "lwt" >= 5 ORDER BY"#),
            "{postgres}"
        );
    }

    #[tokio::test]
    async fn sqlite_reads_changed_since_in_the_default_order_through_the_lwt_index() {
        let dir =
            std::env::temp_dir().join(format!("query_plan_{}", uuid::Uuid::now_v7().simple()));
        let settings = crate::persistence::connect::DatabaseSettings {
            url: format!("sqlite://{}?mode=rwc", dir.join("points.db").display()),
            max_connections: 1,
            min_connections: 1,
            connect_timeout: std::time::Duration::from_secs(10),
            acquire_timeout: std::time::Duration::from_secs(10),
            statement_timeout: std::time::Duration::from_secs(10),
            schema: None,
            prepared_statements: true,
            sqlite_synchronous: crate::persistence::connect::SqliteSynchronous::Full,
        };
        let db = crate::persistence::connect::connect(&settings)
            .await
            .expect("connect");
        crate::persistence::connect::migrate(&db)
            .await
            .expect("migrate");
        let mut statement = page(&changed_since("2026-01-01T00:00:00Z"), DbBackend::Sqlite)
            .build(DbBackend::Sqlite);
        statement.sql = format!("EXPLAIN QUERY PLAN {}", statement.sql);

        let plan: Vec<String> = db
            .connection()
            .query_all_raw(statement)
            .await
            .expect("explain")
            .iter()
            .map(|row| row.try_get::<String>("", "detail").expect("detail"))
            .collect();
        db.close().await;
        let _ = std::fs::remove_dir_all(&dir);

        assert!(
            plan.iter()
                .any(|step| step.contains("USING INDEX ix_integration_points_lwt_id (lwt>?)")),
            "{plan:?}"
        );
    }

    #[test]
    fn only_queries_with_a_range_are_planned_by_value() {
        let query = |filter| {
            ListQuery::new(
                filter,
                Sort::default(),
                Page::new(0, 10, 1000).expect("page"),
            )
            .expect("valid query")
        };
        let since = text(Field::ExtLwt, Operator::Gt, "2024-01-01T00:00:00Z");
        let kind = text(Field::Type, Operator::Eq, "telegram");
        let cases = [
            ("no filter", None, false),
            ("equality", Some(kind.clone()), false),
            ("like", Some(text(Field::Code, Operator::Like, "a%")), false),
            (
                "in",
                Some(list(Field::Code, Operator::In, &["a", "b"])),
                false,
            ),
            ("a range", Some(since.clone()), true),
            (
                "a range inside $not inside $or",
                Some(Filter::Or(vec![kind, Filter::Not(Box::new(since))])),
                true,
            ),
        ];
        for (what, filter, expected) in cases {
            assert_eq!(plans_by_value(&query(filter)), expected, "{what}");
        }
    }
}
