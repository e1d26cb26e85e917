//! Uniqueness under concurrency: the database, not a check before the insert,
//! decides the winner.

use domain::integration_point::{IntegrationPointRepository, UniqueField, WriteError};

use crate::support::{TestDb, point};

const RACERS: usize = 20;

on_both_backends!(of_concurrent_inserts_with_one_code_exactly_one_wins);
async fn of_concurrent_inserts_with_one_code_exactly_one_wins(db: TestDb) {
    // Arrange: distinct ids and tokens, one code.
    let racers: Vec<_> = (0..RACERS).map(|_| point("CONTESTED")).collect();

    // Act: all at once, over a pool of several connections.
    let tasks: Vec<_> = racers
        .into_iter()
        .map(|racer| {
            let repository = db.repository.clone();
            tokio::spawn(async move { repository.insert(&racer).await })
        })
        .collect();
    let mut results = Vec::with_capacity(RACERS);
    for task in tasks {
        results.push(task.await.expect("insert task"));
    }

    // Assert
    let winners = results.iter().filter(|r| r.is_ok()).count();
    let duplicates = results
        .iter()
        .filter(|r| matches!(r, Err(WriteError::Duplicate(UniqueField::Code))))
        .count();
    assert_eq!((winners, duplicates), (1, RACERS - 1), "{results:?}");
}
