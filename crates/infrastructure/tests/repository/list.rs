//! Listing: order, pages, totals and the operators whose semantics differ
//! between databases unless the adapter makes them agree.

use domain::integration_point::{
    Condition, Field, Filter, IntegrationPointRepository, ListQuery, Listing, Literal,
    LiteralOperand, Operator, Page, Sort, SortDirection, SortKey, Total,
};

use crate::support::{TestDb, point, spec};

fn query(filter: Option<Filter>, keys: Vec<SortKey>, offset: u64, limit: u64) -> ListQuery {
    ListQuery::new(
        filter,
        Sort::new(keys).expect("valid sort"),
        Page::new(offset, limit, 1000).expect("valid page"),
    )
    .expect("valid query")
}

fn text(field: Field, op: Operator, value: &str) -> Filter {
    let operand = LiteralOperand::Scalar(Literal::String(value.to_owned()));
    Filter::Condition(Condition::new(field, op, operand).expect("valid condition"))
}

fn codes(listing: &Listing) -> Vec<&str> {
    listing
        .items
        .iter()
        .map(|p| p.attributes().code.as_str())
        .collect()
}

fn by(field: Field, direction: SortDirection) -> Vec<SortKey> {
    vec![SortKey { field, direction }]
}

on_both_backends!(points_sort_by_instant_not_by_the_text_of_the_instant);
async fn points_sort_by_instant_not_by_the_text_of_the_instant(db: TestDb) {
    // Arrange: as text, 100 would sort before 9 and -5 after 10.
    for (code, created) in [
        ("ct=100", 100),
        ("ct=9", 9),
        ("ct=-5", -5),
        ("ct=10", 10),
        ("ct=1e12", 1_000_000_000_000),
    ] {
        db.repository
            .insert(&spec(code).created(created).build())
            .await
            .expect("insert");
    }

    // Act
    let oldest_first = db
        .repository
        .list(&query(None, vec![], 0, 10))
        .await
        .expect("list");
    let newest_first = db
        .repository
        .list(&query(None, by(Field::ExtLwt, SortDirection::Desc), 0, 10))
        .await
        .expect("list");
    let after_nine = db
        .repository
        .list(&query(
            Some(text(Field::ExtCt, Operator::Gt, "1970-01-01T00:00:00.009Z")),
            vec![],
            0,
            10,
        ))
        .await
        .expect("list");

    // Assert
    assert_eq!(
        codes(&oldest_first),
        ["ct=-5", "ct=9", "ct=10", "ct=100", "ct=1e12"]
    );
    assert_eq!(
        codes(&newest_first),
        ["ct=1e12", "ct=100", "ct=10", "ct=9", "ct=-5"]
    );
    assert_eq!(codes(&after_nine), ["ct=10", "ct=100", "ct=1e12"]);
}

on_both_backends!(text_compares_and_sorts_by_code_point);
async fn text_compares_and_sorts_by_code_point(db: TestDb) {
    for code in ["é", "a", "Z", "😀", "B", "aa"] {
        db.repository.insert(&point(code)).await.expect("insert");
    }

    let sorted = db
        .repository
        .list(&query(None, by(Field::Code, SortDirection::Asc), 0, 10))
        .await
        .expect("list");
    let below_a = db
        .repository
        .list(&query(
            Some(text(Field::Code, Operator::Lt, "a")),
            by(Field::Code, SortDirection::Asc),
            0,
            10,
        ))
        .await
        .expect("list");

    assert_eq!(codes(&sorted), ["B", "Z", "a", "aa", "é", "😀"]);
    assert_eq!(codes(&below_a), ["B", "Z"]);
}

on_both_backends!(the_total_counts_every_match_whatever_the_page);
async fn the_total_counts_every_match_whatever_the_page(db: TestDb) {
    // Arrange
    for (i, code) in ["a1", "a2", "a3", "a4", "a5", "b1"].into_iter().enumerate() {
        let created = i64::try_from(i).expect("small");
        db.repository
            .insert(&spec(code).created(created).build())
            .await
            .expect("insert");
    }
    let starts_with_a = || Some(text(Field::Code, Operator::Like, "a%"));
    let cases = [
        ("first page", 0, 2, vec!["a1", "a2"]),
        ("last, partial page", 4, 2, vec!["a5"]),
        ("page past the end", 10, 2, vec![]),
        ("empty page", 0, 0, vec![]),
        (
            "everything at once",
            0,
            10,
            vec!["a1", "a2", "a3", "a4", "a5"],
        ),
    ];

    for (what, offset, limit, expected) in cases {
        // Act
        let listing = db
            .repository
            .list(&query(starts_with_a(), vec![], offset, limit))
            .await
            .expect("list");

        // Assert
        assert_eq!(codes(&listing), expected, "{what}");
        assert_eq!(listing.total, Total::Exact(5), "{what}");
    }
}

on_both_backends!(like_is_case_sensitive);
async fn like_is_case_sensitive(db: TestDb) {
    for code in ["abc", "ABC", "aBc", "xabc"] {
        db.repository.insert(&point(code)).await.expect("insert");
    }

    let listing = db
        .repository
        .list(&query(
            Some(text(Field::Code, Operator::Like, "a%")),
            by(Field::Code, SortDirection::Asc),
            0,
            10,
        ))
        .await
        .expect("list");

    assert_eq!(codes(&listing), ["aBc", "abc"]);
}

on_both_backends!(like_escapes_percent_underscore_and_backslash_with_a_backslash);
async fn like_escapes_percent_underscore_and_backslash_with_a_backslash(db: TestDb) {
    // Arrange
    for code in ["50%", "500", "a_b", "axb", r"a\b", r"end\", "end"] {
        db.repository.insert(&point(code)).await.expect("insert");
    }
    let cases = [
        (r"50\%", vec!["50%"]),
        (r"a\_b", vec!["a_b"]),
        ("a_b", vec![r"a\b", "a_b", "axb"]),
        (r"a\\b", vec![r"a\b"]),
        (r"end\", vec![r"end\"]),
        (r"\e\n\d", vec!["end"]),
    ];

    for (pattern, expected) in cases {
        // Act
        let listing = db
            .repository
            .list(&query(
                Some(text(Field::Code, Operator::Like, pattern)),
                by(Field::Code, SortDirection::Asc),
                0,
                10,
            ))
            .await
            .expect("list");

        // Assert
        assert_eq!(codes(&listing), expected, "pattern {pattern:?}");
    }
}

on_both_backends!(ilike_ignores_the_case_of_ascii_letters_only);
async fn ilike_ignores_the_case_of_ascii_letters_only(db: TestDb) {
    for code in ["abc", "ABC", "Ébc", "ébc", "xyz"] {
        db.repository.insert(&point(code)).await.expect("insert");
    }
    let cases = [
        ("AB%", vec!["ABC", "abc"]),
        ("é%", vec!["ébc"]),
        ("%BC", vec!["ABC", "abc", "Ébc", "ébc"]),
    ];

    for (pattern, expected) in cases {
        let listing = db
            .repository
            .list(&query(
                Some(text(Field::Code, Operator::Ilike, pattern)),
                by(Field::Code, SortDirection::Asc),
                0,
                10,
            ))
            .await
            .expect("list");

        assert_eq!(codes(&listing), expected, "pattern {pattern:?}");
    }
}

on_both_backends!(in_with_no_items_matches_nothing_and_nin_with_none_matches_everything);
async fn in_with_no_items_matches_nothing_and_nin_with_none_matches_everything(db: TestDb) {
    for code in ["a", "b"] {
        db.repository.insert(&point(code)).await.expect("insert");
    }
    let empty = |op| {
        Filter::Condition(
            Condition::new(Field::Code, op, LiteralOperand::List(vec![])).expect("valid"),
        )
    };

    let none = db
        .repository
        .list(&query(Some(empty(Operator::In)), vec![], 0, 10))
        .await
        .expect("list");
    let all = db
        .repository
        .list(&query(Some(empty(Operator::Nin)), vec![], 0, 10))
        .await
        .expect("list");
    let not_none = db
        .repository
        .list(&query(
            Some(Filter::Not(Box::new(empty(Operator::In)))),
            vec![],
            0,
            10,
        ))
        .await
        .expect("list");

    assert_eq!((none.items.len(), none.total), (0, Total::Exact(0)));
    assert_eq!((all.items.len(), all.total), (2, Total::Exact(2)));
    assert_eq!((not_none.items.len(), not_none.total), (2, Total::Exact(2)));
}
