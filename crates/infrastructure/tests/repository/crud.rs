//! Insert, find, update and delete.

use domain::integration_point::{
    Attributes, Code, Comment, Field, IntegrationPointRepository, LookupKey, PatchPointRequest,
    PointType, ScriptCode, Title, TokenRemote, UniqueField, Url, Version, WriteError, WriteOutcome,
};

use crate::support::{TestDb, point, spec, token, ts};

/// `count` characters cycling through `alphabet`.
fn text_of(alphabet: &str, count: usize) -> String {
    alphabet.chars().cycle().take(count).collect()
}

/// Sets every attribute but the code, each to its longest, in non-ASCII text
/// with quotes, backslashes and LIKE wildcards.
fn every_field_at_its_longest(a: &mut Attributes) {
    a.kind = PointType::new(format!("t{}", text_of("x_9", 31))).expect("valid type");
    a.token_remote =
        TokenRemote::new(text_of("секрет🔑'\"\\", TokenRemote::MAX_CHARS)).expect("valid");
    a.token_remote2 = TokenRemote::new(text_of("второй", TokenRemote::MAX_CHARS)).expect("valid");
    let origin = "https://пример.рф/";
    let path = text_of("ю", Url::MAX_CHARS - origin.chars().count());
    a.url = Url::new(format!("{origin}{path}")).expect("valid url");
    a.recv_svcscriptcode = ScriptCode::new(text_of("r€", ScriptCode::MAX_CHARS)).expect("valid");
    a.recv_svcscriptcode_ws = ScriptCode::new(text_of("rw", ScriptCode::MAX_CHARS)).expect("valid");
    a.send_svcscriptcode = ScriptCode::new(text_of("s日本", ScriptCode::MAX_CHARS)).expect("valid");
    a.send_svcscriptcode_ws = ScriptCode::new(text_of("sw", ScriptCode::MAX_CHARS)).expect("valid");
    a.opts.title = Title::new(text_of("Заголовок ", Title::MAX_CHARS)).expect("valid");
    a.opts.comment =
        Comment::new(text_of("line\nbreak\t%_\\'\"", Comment::MAX_CHARS)).expect("valid");
    a.opts.allow_files_api = true;
    a.opts.issync = true;
}

on_both_backends!(every_field_survives_insert_and_find_unchanged);
async fn every_field_survives_insert_and_find_unchanged(db: TestDb) {
    // Arrange: every field set, at its longest, with non-ASCII text.
    let code = format!("Z{}", text_of("Код-😀ß", Code::MAX_CHARS - 1));
    let point = spec(&code)
        .with(every_field_at_its_longest)
        .created(-1)
        .updated(253_402_300_799_999)
        .version(42)
        .build();

    // Act
    db.repository.insert(&point).await.expect("insert");
    let found = db.repository.find(point.id()).await.expect("find");

    // Assert
    assert_eq!(found, Some(point));
}

on_both_backends!(finding_an_unknown_id_gives_nothing);
async fn finding_an_unknown_id_gives_nothing(db: TestDb) {
    db.repository.insert(&point("A")).await.expect("insert");

    let found = db.repository.find(point("B").id()).await.expect("find");

    assert_eq!(found, None);
}

on_both_backends!(inserting_a_taken_id_code_or_local_token_is_a_duplicate_naming_the_field);
async fn inserting_a_taken_id_code_or_local_token_is_a_duplicate_naming_the_field(db: TestDb) {
    // Arrange
    let existing = point("TAKEN");
    db.repository.insert(&existing).await.expect("insert");
    let cases = [
        (spec("other-1").id(existing.id()).build(), UniqueField::Id),
        (point("TAKEN"), UniqueField::Code),
        (
            spec("other-2")
                .token(existing.token_local().clone())
                .build(),
            UniqueField::TokenLocal,
        ),
    ];

    for (candidate, field) in cases {
        // Act
        let result = db.repository.insert(&candidate).await;

        // Assert
        assert!(
            matches!(result, Err(WriteError::Duplicate(f)) if f == field),
            "{field:?}: {result:?}"
        );
    }
    let listed = db
        .repository
        .lookup(&LookupKey::for_field(Field::Code, "TAKEN").expect("a key field"))
        .await
        .expect("lookup");
    assert_eq!(listed, [existing.id()], "nothing else was stored");
}

on_both_backends!(an_update_at_the_expected_version_is_applied_and_stored);
async fn an_update_at_the_expected_version_is_applied_and_stored(db: TestDb) {
    // Arrange
    let original = point("A");
    db.repository.insert(&original).await.expect("insert");
    let patch = PatchPointRequest {
        title: Some(Title::new("new title").expect("valid")),
        issync: Some(true),
        ..PatchPointRequest::EMPTY
    };
    let changed = original
        .patched(&patch, ts(1_600_000_000_000))
        .expect("accepted")
        .expect("changed");

    // Act
    let outcome = db
        .repository
        .update(&changed, original.version())
        .await
        .expect("update");

    // Assert
    assert_eq!(outcome, WriteOutcome::Applied);
    let stored = db.repository.find(original.id()).await.expect("find");
    assert_eq!(stored, Some(changed));
}

on_both_backends!(an_update_at_another_version_is_stale_and_changes_nothing);
async fn an_update_at_another_version_is_stale_and_changes_nothing(db: TestDb) {
    let original = spec("A").version(3).build();
    db.repository.insert(&original).await.expect("insert");
    let changed = original.with_token_local(token(), ts(1_600_000_000_000));

    let outcome = db
        .repository
        .update(&changed, Version::new(2).expect("positive"))
        .await
        .expect("update");

    assert_eq!(outcome, WriteOutcome::Stale);
    assert_eq!(
        db.repository.find(original.id()).await.expect("find"),
        Some(original)
    );
}

on_both_backends!(an_update_of_a_deleted_point_is_stale);
async fn an_update_of_a_deleted_point_is_stale(db: TestDb) {
    let original = point("A");
    db.repository.insert(&original).await.expect("insert");
    db.repository
        .delete(original.id(), None)
        .await
        .expect("delete");
    let changed = original.with_token_local(token(), ts(1_600_000_000_000));

    let outcome = db
        .repository
        .update(&changed, original.version())
        .await
        .expect("update");

    assert_eq!(outcome, WriteOutcome::Stale);
    assert_eq!(db.repository.find(original.id()).await.expect("find"), None);
}

on_both_backends!(an_update_meant_for_an_earlier_life_of_the_id_is_stale);
async fn an_update_meant_for_an_earlier_life_of_the_id_is_stale(db: TestDb) {
    // Arrange: the point is deleted and created again with the same id,
    // so its version is 1 again, but its creation time differs.
    let first_life = spec("A").created(1_000).build();
    db.repository.insert(&first_life).await.expect("insert");
    db.repository
        .delete(first_life.id(), None)
        .await
        .expect("delete");
    let second_life = spec("A").id(first_life.id()).created(2_000).build();
    db.repository
        .insert(&second_life)
        .await
        .expect("insert again");
    let changed = first_life.with_token_local(token(), ts(3_000));

    // Act
    let outcome = db
        .repository
        .update(&changed, first_life.version())
        .await
        .expect("update");

    // Assert
    assert_eq!(outcome, WriteOutcome::Stale);
    assert_eq!(
        db.repository.find(first_life.id()).await.expect("find"),
        Some(second_life)
    );
}

on_both_backends!(an_update_to_a_taken_code_or_token_is_a_duplicate);
async fn an_update_to_a_taken_code_or_token_is_a_duplicate(db: TestDb) {
    // Arrange
    let a = point("A");
    let b = point("B");
    db.repository.insert(&a).await.expect("insert a");
    db.repository.insert(&b).await.expect("insert b");
    let patch = PatchPointRequest {
        code: Some(Code::new("A").expect("valid")),
        ..PatchPointRequest::EMPTY
    };
    let b_as_a = b
        .patched(&patch, ts(9_000))
        .expect("accepted")
        .expect("changed");
    let b_with_a_token = b.with_token_local(a.token_local().clone(), ts(9_000));

    // Act
    let code_taken = db.repository.update(&b_as_a, b.version()).await;
    let token_taken = db.repository.update(&b_with_a_token, b.version()).await;

    // Assert
    assert!(
        matches!(code_taken, Err(WriteError::Duplicate(UniqueField::Code))),
        "{code_taken:?}"
    );
    assert!(
        matches!(
            token_taken,
            Err(WriteError::Duplicate(UniqueField::TokenLocal))
        ),
        "{token_taken:?}"
    );
    assert_eq!(db.repository.find(b.id()).await.expect("find"), Some(b));
}

on_both_backends!(a_delete_without_an_expected_version_removes_the_point_once);
async fn a_delete_without_an_expected_version_removes_the_point_once(db: TestDb) {
    let original = point("A");
    db.repository.insert(&original).await.expect("insert");

    let first = db
        .repository
        .delete(original.id(), None)
        .await
        .expect("delete");
    let second = db
        .repository
        .delete(original.id(), None)
        .await
        .expect("delete again");

    assert_eq!(
        (first, second),
        (WriteOutcome::Applied, WriteOutcome::Stale)
    );
    assert_eq!(db.repository.find(original.id()).await.expect("find"), None);
}

on_both_backends!(a_delete_at_another_version_is_stale_and_at_the_expected_one_applies);
async fn a_delete_at_another_version_is_stale_and_at_the_expected_one_applies(db: TestDb) {
    let original = spec("A").version(5).build();
    db.repository.insert(&original).await.expect("insert");

    let stale = db
        .repository
        .delete(original.id(), Some(Version::new(4).expect("positive")))
        .await
        .expect("delete");
    let still_there = db.repository.find(original.id()).await.expect("find");
    let applied = db
        .repository
        .delete(original.id(), Some(original.version()))
        .await
        .expect("delete");

    assert_eq!(stale, WriteOutcome::Stale);
    assert_eq!(still_there, Some(original.clone()));
    assert_eq!(applied, WriteOutcome::Applied);
    assert_eq!(db.repository.find(original.id()).await.expect("find"), None);
}
