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
    Condition, Field, Filter, ListQuery, Operand, Operator, SortDirection, Value,
};
use sea_orm::sea_query::{Asterisk, Expr, ExprTrait, Func, LikeExpr, Query, SelectStatement};
use sea_orm::{EntityTrait, Order, QueryFilter, QueryOrder, QuerySelect, Select};

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

/// The page of points a query selects, in order.
pub(crate) fn page(query: &ListQuery) -> Select<Entity> {
    let mut select = Entity::find();
    if let Some(filter) = query.filter() {
        select = select.filter(predicate(filter));
    }
    for key in query.sort().keys() {
        let order = match key.direction {
            SortDirection::Asc => Order::Asc,
            SortDirection::Desc => Order::Desc,
        };
        select = select.order_by(column(key.field), order);
    }
    let page = query.page();
    select
        .offset(std::cmp::min(page.offset(), SQL_MAX))
        .limit(std::cmp::min(page.limit(), SQL_MAX))
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

/// The WHERE expression of a filter.
///
/// Empty groups cannot be built through the domain's constructors, but the
/// enum allows them; they mean what [`Filter::matches`] says: an empty `$and`
/// holds, an empty `$or` does not.
pub(crate) fn predicate(filter: &Filter) -> Expr {
    match filter {
        Filter::Condition(condition) => comparison(condition),
        Filter::And(filters) => combine(filters, true, ExprTrait::and),
        Filter::Or(filters) => combine(filters, false, ExprTrait::or),
        Filter::Not(filter) => predicate(filter).not(),
    }
}

fn combine(filters: &[Filter], when_empty: bool, join: fn(Expr, Expr) -> Expr) -> Expr {
    filters
        .iter()
        .map(predicate)
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
            col.like(LikeExpr::new(sql_pattern(p)).escape(ESCAPE))
        }
        // LOWER folds ASCII only on both backends (PostgreSQL's under the "C"
        // collation, SQLite's without ICU), as the domain's `ilike` does. The
        // pattern is folded here rather than with LOWER(?): a bound parameter
        // carries the database's default collation, whose LOWER may fold more.
        (Operator::Ilike, Operand::Pattern(p)) => Expr::expr(Func::lower(col))
            .like(LikeExpr::new(sql_pattern(p).to_ascii_lowercase()).escape(ESCAPE)),
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
    use domain::integration_point::{Literal, LiteralOperand, Page, Sort, SortKey};
    use sea_orm::sea_query::{PostgresQueryBuilder, SqliteQueryBuilder};
    use sea_orm::{DbBackend, QueryTrait};

    use super::*;

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

        assert!(
            postgres.ends_with(r#""code" LIKE 'a%' ESCAPE E'\\'"#),
            "{postgres}"
        );
        assert!(
            sqlite.ends_with(r#""code" LIKE 'a%' ESCAPE '\'"#),
            "{sqlite}"
        );
    }

    #[test]
    fn ilike_lowers_the_column_and_folds_the_pattern_to_ascii_lowercase() {
        let (_, sqlite) = sql(&text(Field::Code, Operator::Ilike, "AbÉ%"));

        assert!(
            sqlite.ends_with(r#"LOWER("code") LIKE 'abÉ%' ESCAPE '\'"#),
            "{sqlite}"
        );
    }

    #[test]
    fn empty_in_matches_nothing_and_empty_nin_matches_everything() {
        let (_, in_empty) = sql(&list(Field::Code, Operator::In, &[]));
        let (_, nin_empty) = sql(&list(Field::Code, Operator::Nin, &[]));

        assert!(in_empty.ends_with("WHERE FALSE"), "{in_empty}");
        assert!(nin_empty.ends_with("WHERE TRUE"), "{nin_empty}");
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

        assert!(
            sqlite.ends_with(
                r#"WHERE ("code" = 'a' OR "code" = 'b') AND (NOT ("type" = 'c' AND "code" = 'a'))"#
            ),
            "{sqlite}"
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
        let query = ListQuery::new(None, sort, Page::new(20, 10, 1000).expect("valid page"))
            .expect("valid query");

        let sql = page(&query).build(DbBackend::Sqlite).to_string();

        assert!(
            sql.ends_with(
                r#"ORDER BY "integration_points"."lwt" DESC, "integration_points"."id" ASC LIMIT 10 OFFSET 20"#
            ),
            "{sql}"
        );
    }
}
