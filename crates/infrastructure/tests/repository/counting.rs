//! `count`: what each mode costs and answers on each database.

use domain::integration_point::{
    Condition, Count, Field, Filter, IntegrationPointRepository, ListQuery, Literal,
    LiteralOperand, Operator, Page, PointType, Sort, Total,
};
use sea_orm::ConnectionTrait;

use crate::support::{Backend, TestDb, point, spec};

const POINTS: u64 = 30;

async fn fill(db: &TestDb) {
    for i in 0..POINTS {
        db.repository
            .insert(&point(&format!("p{i:02}")))
            .await
            .expect("insert");
    }
    if db.backend == Backend::Postgres {
        // The planner's estimate comes from the table's statistics.
        db.database
            .connection()
            .execute_unprepared("ANALYZE integration_points")
            .await
            .expect("analyze");
    }
}

async fn total(db: &TestDb, count: Count) -> Total {
    // A full page, so the page alone does not tell the total.
    let query = ListQuery::new(None, Sort::default(), Page::new(0, 5, 1000).expect("page"))
        .expect("query")
        .counted(count);
    db.repository.list(&query).await.expect("list").total
}

on_both_backends!(exact_counts_every_match);
async fn exact_counts_every_match(db: TestDb) {
    fill(&db).await;

    assert_eq!(total(&db, Count::Exact).await, Total::Exact(POINTS));
}

on_both_backends!(none_skips_the_total);
async fn none_skips_the_total(db: TestDb) {
    fill(&db).await;

    assert_eq!(total(&db, Count::Skip).await, Total::Skipped);
}

on_both_backends!(estimated_is_exact_up_to_its_bound);
async fn estimated_is_exact_up_to_its_bound(db: TestDb) {
    fill(&db).await;

    for exact_up_to in [POINTS, POINTS + 1, 1000] {
        assert_eq!(
            total(&db, Count::Estimated { exact_up_to }).await,
            Total::Exact(POINTS),
            "bound {exact_up_to}"
        );
    }
}

on_both_backends!(estimated_above_its_bound_is_the_planners_estimate_on_postgres_only);
async fn estimated_above_its_bound_is_the_planners_estimate_on_postgres_only(db: TestDb) {
    fill(&db).await;

    let total = total(&db, Count::Estimated { exact_up_to: 10 }).await;

    match db.backend {
        // Fresh statistics of 30 rows estimate 30.
        Backend::Postgres => assert_eq!(total, Total::Estimated(POINTS)),
        Backend::Sqlite => assert_eq!(total, Total::Exact(POINTS)),
    }
}

on_both_backends!(a_filtered_estimate_is_the_planners_estimate_of_the_filter);
async fn a_filtered_estimate_is_the_planners_estimate_of_the_filter(db: TestDb) {
    // Arrange: 30 points, 20 of them telegram.
    for i in 0..POINTS {
        let kind = if i % 3 == 0 { "public" } else { "telegram" };
        let point = spec(&format!("p{i:02}"))
            .with(|a| a.kind = PointType::new(kind).expect("valid type"))
            .build();
        db.repository.insert(&point).await.expect("insert");
    }
    if db.backend == Backend::Postgres {
        db.database
            .connection()
            .execute_unprepared("ANALYZE integration_points")
            .await
            .expect("analyze");
    }
    let telegram = Filter::Condition(
        Condition::new(
            Field::Type,
            Operator::Eq,
            LiteralOperand::Scalar(Literal::String("telegram".into())),
        )
        .expect("valid"),
    );
    let query = ListQuery::new(
        Some(telegram),
        Sort::default(),
        Page::new(0, 5, 1000).expect("page"),
    )
    .expect("query")
    .counted(Count::Estimated { exact_up_to: 10 });

    // Act
    let total = db.repository.list(&query).await.expect("list").total;

    // Assert
    match db.backend {
        Backend::Postgres => assert_eq!(total, Total::Estimated(20)),
        Backend::Sqlite => assert_eq!(total, Total::Exact(20)),
    }
}
