//! The archive port: keyset pages for export, atomic multi-row stores for
//! import.

use domain::integration_point::{
    ExistingPoints, IntegrationPointRepository, PointArchive, PointId, UniqueField, WriteError,
};
use uuid::Uuid;

use crate::support::{TestDb, point, spec};

fn id(n: u128) -> PointId {
    PointId::from_uuid(Uuid::from_u128(n))
}

on_both_backends!(pages_follow_the_id_order_from_where_the_last_ended);
async fn pages_follow_the_id_order_from_where_the_last_ended(db: TestDb) {
    // Arrange: ids whose byte order differs from their insertion order.
    for n in [5_u128, 1, 1 << 120, 3, 2] {
        db.repository
            .insert(&spec(&format!("c{n}")).id(id(n)).build())
            .await
            .expect("insert");
    }

    // Act
    let first = db.repository.page_after(None, 2).await.expect("a page");
    let second = db
        .repository
        .page_after(Some(id(2)), 2)
        .await
        .expect("a page");
    let last = db
        .repository
        .page_after(Some(id(5)), 2)
        .await
        .expect("a page");
    let past = db
        .repository
        .page_after(Some(id(1 << 120)), 2)
        .await
        .expect("a page");

    // Assert
    let ids = |page: &[domain::integration_point::IntegrationPoint]| {
        page.iter().map(|p| p.id()).collect::<Vec<_>>()
    };
    assert_eq!(ids(&first), [id(1), id(2)]);
    assert_eq!(ids(&second), [id(3), id(5)]);
    assert_eq!(ids(&last), [id(1 << 120)]);
    assert!(past.is_empty());
}

on_both_backends!(stored_points_come_back_exactly_version_and_times_included);
async fn stored_points_come_back_exactly_version_and_times_included(db: TestDb) {
    let points = [
        spec("a").created(1_000).updated(9_000).version(7).build(),
        spec("b").created(-5).version(1).build(),
    ];

    db.repository
        .store_all(&points, ExistingPoints::Skip)
        .await
        .expect("stored");

    for point in &points {
        let found = db.repository.find(point.id()).await.expect("find");
        assert_eq!(found.as_ref(), Some(point));
    }
}

on_both_backends!(only_the_stored_ids_are_reported_stored);
async fn only_the_stored_ids_are_reported_stored(db: TestDb) {
    let stored = point("stored");
    db.repository.insert(&stored).await.expect("insert");

    let found = db
        .repository
        .stored_ids(&[point("absent").id(), stored.id()])
        .await
        .expect("ids");

    assert_eq!(found, [stored.id()]);
}

on_both_backends!(a_batch_with_a_taken_code_stores_nothing_and_names_the_field);
async fn a_batch_with_a_taken_code_stores_nothing_and_names_the_field(db: TestDb) {
    // Arrange
    db.repository.insert(&point("taken")).await.expect("insert");
    let fresh = point("fresh");
    let batch = [fresh.clone(), point("taken")];

    // Act
    let result = db.repository.store_all(&batch, ExistingPoints::Skip).await;

    // Assert
    assert!(
        matches!(result, Err(WriteError::Duplicate(UniqueField::Code))),
        "{result:?}"
    );
    assert_eq!(db.repository.find(fresh.id()).await.expect("find"), None);
}

on_both_backends!(replacing_overwrites_the_point_with_the_same_id_and_skipping_refuses_it);
async fn replacing_overwrites_the_point_with_the_same_id_and_skipping_refuses_it(db: TestDb) {
    // Arrange
    let original = spec("original").version(3).build();
    db.repository.insert(&original).await.expect("insert");
    let newer = spec("newer")
        .id(original.id())
        .created(2_000)
        .updated(3_000)
        .version(1)
        .build();

    // Act
    let skipped = db
        .repository
        .store_all(std::slice::from_ref(&newer), ExistingPoints::Skip)
        .await;
    let replaced = db
        .repository
        .store_all(std::slice::from_ref(&newer), ExistingPoints::Replace)
        .await;

    // Assert
    assert!(
        matches!(skipped, Err(WriteError::Duplicate(UniqueField::Id))),
        "{skipped:?}"
    );
    assert!(replaced.is_ok(), "{replaced:?}");
    assert_eq!(
        db.repository.find(original.id()).await.expect("find"),
        Some(newer)
    );
}
