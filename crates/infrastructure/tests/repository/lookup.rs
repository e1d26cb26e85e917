//! LOOKUP: ids by id, code or local token.

use domain::integration_point::{Field, IntegrationPointRepository, LookupKey, PointId};

use crate::support::{TestDb, point, spec};

on_both_backends!(a_bare_key_finds_a_point_by_its_id_code_or_local_token);
async fn a_bare_key_finds_a_point_by_its_id_code_or_local_token(db: TestDb) {
    // Arrange
    let target = point("ABCDE");
    db.repository.insert(&target).await.expect("insert");
    db.repository.insert(&point("other")).await.expect("insert");
    let keys = [
        ("id", target.id().to_string()),
        ("uppercase id", target.id().to_string().to_uppercase()),
        ("code", "ABCDE".to_owned()),
        ("token_local", target.token_local().as_str().to_owned()),
    ];

    for (what, key) in keys {
        // Act
        let ids = db
            .repository
            .lookup(&LookupKey::any(key).expect("no NUL"))
            .await
            .expect("lookup");

        // Assert
        assert_eq!(ids, [target.id()], "by {what}");
    }
}

on_both_backends!(a_bare_key_matching_several_points_gives_each_id_once_in_id_order);
async fn a_bare_key_matching_several_points_gives_each_id_once_in_id_order(db: TestDb) {
    // Arrange: the key is one point's code and another's id.
    let by_id = point("first");
    let by_code = point(&by_id.id().to_string());
    db.repository.insert(&by_id).await.expect("insert");
    db.repository.insert(&by_code).await.expect("insert");
    db.repository
        .insert(&point("unrelated"))
        .await
        .expect("insert");

    // Act
    let ids = db
        .repository
        .lookup(&LookupKey::Any(by_id.id().into()))
        .await
        .expect("lookup");

    // Assert
    let mut expected = vec![by_id.id(), by_code.id()];
    expected.sort();
    assert_eq!(ids, expected);
}

on_both_backends!(a_key_for_one_field_ignores_the_others);
async fn a_key_for_one_field_ignores_the_others(db: TestDb) {
    // Arrange: one point's code is another point's token.
    let holder = point("holder");
    let lookalike = point(holder.token_local().as_str());
    db.repository.insert(&holder).await.expect("insert");
    db.repository.insert(&lookalike).await.expect("insert");
    let token = holder.token_local().as_str().to_owned();

    // Act
    let by_token = db
        .repository
        .lookup(&LookupKey::for_field(Field::TokenLocal, token.clone()).expect("a key field"))
        .await;
    let by_code = db
        .repository
        .lookup(&LookupKey::for_field(Field::Code, token).expect("a key field"))
        .await;
    let by_id = db
        .repository
        .lookup(&LookupKey::Id(Some(holder.id())))
        .await;

    // Assert
    assert_eq!(by_token.expect("lookup"), [holder.id()]);
    assert_eq!(by_code.expect("lookup"), [lookalike.id()]);
    assert_eq!(by_id.expect("lookup"), [holder.id()]);
}

on_both_backends!(keys_that_match_nothing_give_no_ids);
async fn keys_that_match_nothing_give_no_ids(db: TestDb) {
    db.repository
        .insert(&spec("ABCDE").build())
        .await
        .expect("insert");
    let unknown_id = PointId::parse("b4680fbe-016c-d86f-1d6b-50e54938780c").expect("valid");
    let keys = [
        LookupKey::any("abcde").expect("no NUL"),
        LookupKey::any("").expect("no NUL"),
        LookupKey::Any(unknown_id.into()),
        LookupKey::Id(None),
        LookupKey::Id(Some(unknown_id)),
        LookupKey::for_field(Field::Code, "ABCD").expect("a key field"),
        LookupKey::for_field(Field::TokenLocal, "ABCDE").expect("a key field"),
    ];

    for key in keys {
        let ids = db.repository.lookup(&key).await.expect("lookup");

        assert_eq!(ids, [], "{key:?}");
    }
}
