//! The export and import use cases over the in-memory archive.

use application::TransferService;
use application::transfer::EXPORT_PAGE_SIZE;
use domain::integration_point::{
    Attributes, Code, ExistingPoints, ImportOutcome, IntegrationPoint, IntegrationPointRepository,
    PointId, PointTransferService, Timestamp, TokenLocal, UniqueField, Version,
};

use application::testing::InMemoryRepository;

fn transfer() -> (TransferService<InMemoryRepository>, InMemoryRepository) {
    let archive = InMemoryRepository::default();
    (TransferService::new(archive.clone()), archive)
}

/// A point numbered `n`: id, token and code all derived from `n`, written
/// `version` times, created and last written at different instants.
fn point(n: u128, code: &str, version: i64) -> IntegrationPoint {
    IntegrationPoint::new(
        PointId::from_uuid(uuid::Uuid::from_u128(n)),
        TokenLocal::from_bytes(n.to_be_bytes()),
        Attributes::new(Code::new(code).expect("valid code")),
        Timestamp::from_millis(1_000).expect("in range"),
        Timestamp::from_millis(2_000).expect("in range"),
        Version::new(version).expect("positive"),
    )
}

#[tokio::test]
async fn export_pages_through_every_point_in_id_order() {
    // Arrange
    let (transfer, archive) = transfer();
    let count = EXPORT_PAGE_SIZE * 2 + 1;
    for n in (1..=u128::from(count)).rev() {
        archive
            .insert(&point(n, &format!("c{n}"), 1))
            .await
            .expect("stored");
    }

    // Act
    let mut exported = Vec::new();
    let mut after = None;
    loop {
        let page = transfer.export_page(after).await.expect("a page");
        let Some(last) = page.last() else { break };
        assert!(page.len() as u64 <= EXPORT_PAGE_SIZE);
        after = Some(last.id());
        exported.extend(page);
    }

    // Assert
    let ids: Vec<u128> = exported
        .iter()
        .map(|p| p.id().as_uuid().as_u128())
        .collect();
    assert_eq!(ids, (1..=u128::from(count)).collect::<Vec<_>>());
}

#[tokio::test]
async fn import_stores_points_as_they_are_version_and_times_included() {
    let (transfer, archive) = transfer();
    let original = point(7, "seven", 5);

    let outcomes = transfer
        .import_batch(std::slice::from_ref(&original), ExistingPoints::Skip)
        .await
        .expect("imported");

    assert_eq!(outcomes, [ImportOutcome::Created]);
    assert_eq!(archive.get(original.id()), Some(original));
}

#[tokio::test]
async fn import_skips_stored_ids_unless_told_to_replace_them() {
    // Arrange
    let (transfer, archive) = transfer();
    archive.insert(&point(1, "old", 1)).await.expect("stored");
    let batch = [point(1, "new", 3), point(2, "two", 1)];

    // Act
    let skipped = transfer
        .import_batch(&batch, ExistingPoints::Skip)
        .await
        .expect("imported");
    let kept = archive.get(batch[0].id()).expect("stored");
    let replaced = transfer
        .import_batch(&batch, ExistingPoints::Replace)
        .await
        .expect("imported");

    // Assert
    assert_eq!(skipped, [ImportOutcome::Skipped, ImportOutcome::Created]);
    assert_eq!(kept.attributes().code.as_str(), "old");
    assert_eq!(replaced, [ImportOutcome::Replaced, ImportOutcome::Replaced]);
    assert_eq!(archive.get(batch[0].id()), Some(batch[0].clone()));
}

#[tokio::test]
async fn a_point_whose_code_is_taken_is_rejected_and_its_neighbours_still_stored() {
    // Arrange
    let (transfer, archive) = transfer();
    archive.insert(&point(1, "taken", 1)).await.expect("stored");
    let batch = [
        point(2, "two", 1),
        point(3, "taken", 1),
        point(4, "four", 1),
    ];

    // Act
    let outcomes = transfer
        .import_batch(&batch, ExistingPoints::Skip)
        .await
        .expect("imported");

    // Assert
    assert_eq!(
        outcomes,
        [
            ImportOutcome::Created,
            ImportOutcome::Rejected(UniqueField::Code),
            ImportOutcome::Created,
        ]
    );
    assert!(archive.get(batch[2].id()).is_some());
    assert!(archive.get(batch[1].id()).is_none());
}

#[tokio::test]
async fn a_repeated_id_within_a_batch_is_skipped_after_its_first_line() {
    // Arrange
    let (transfer, archive) = transfer();
    archive
        .insert(&point(9, "stored", 1))
        .await
        .expect("stored");
    let batch = [point(9, "again", 1), point(2, "two", 1), point(2, "two", 1)];

    // Act
    let outcomes = transfer
        .import_batch(&batch, ExistingPoints::Skip)
        .await
        .expect("imported");

    // Assert
    assert_eq!(
        outcomes,
        [
            ImportOutcome::Skipped,
            ImportOutcome::Created,
            ImportOutcome::Skipped,
        ]
    );
}

#[tokio::test]
async fn a_repeated_id_replaces_in_line_order_when_replacing() {
    let (transfer, archive) = transfer();
    let batch = [point(2, "first", 1), point(2, "second", 1)];

    let outcomes = transfer
        .import_batch(&batch, ExistingPoints::Replace)
        .await
        .expect("imported");

    assert_eq!(outcomes, [ImportOutcome::Created, ImportOutcome::Replaced]);
    assert_eq!(archive.get(batch[1].id()), Some(batch[1].clone()));
}

#[tokio::test]
async fn a_batch_larger_than_one_statement_gets_an_outcome_per_point() {
    let (transfer, archive) = transfer();
    let count = application::transfer::IMPORT_BATCH_SIZE * 2 + 3;
    let batch: Vec<_> = (1..=count as u128)
        .map(|n| point(n, &format!("c{n}"), 1))
        .collect();

    let outcomes = transfer
        .import_batch(&batch, ExistingPoints::Skip)
        .await
        .expect("imported");

    assert_eq!(outcomes.len(), count);
    assert!(outcomes.iter().all(|o| *o == ImportOutcome::Created));
    assert!(archive.get(batch[count - 1].id()).is_some());
}
