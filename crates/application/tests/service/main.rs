//! Use-case tests over in-memory ports: every rule of the service, no database.

mod cache;
mod feed;
mod transfer;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use application::Service;
use application::testing::{FixedClock, InMemoryRepository, SequentialIds, SequentialTokens};
use domain::integration_point::{
    Attributes, Code, Comment, Condition, CreatePointError, CreatePointRequest, DeletePointError,
    Field, Filter, GetPointError, IfMatch, IntegrationPoint, IntegrationPointRepository,
    IntegrationPointService, ListQuery, Listing, Literal, LiteralOperand, LookupError, LookupKey,
    Operator, Page, PatchPointError, PatchPointRequest, PointId, RotateTokenError, Sort,
    StoreError, Title, TokenLocal, Total, UniqueField, Version, WriteError, WriteOutcome,
};

type TestService<R = InMemoryRepository> = Service<R, FixedClock, SequentialIds, SequentialTokens>;

fn service() -> (TestService, InMemoryRepository, FixedClock) {
    let repository = InMemoryRepository::default();
    let clock = FixedClock::at(1_000);
    let service = Service::new(
        repository.clone(),
        clock.clone(),
        SequentialIds::default(),
        SequentialTokens::default(),
    );
    (service, repository, clock)
}

fn code(value: &str) -> Code {
    Code::new(value).expect("valid code")
}

fn request(value: &str) -> CreatePointRequest {
    CreatePointRequest::new(Attributes::new(code(value)))
}

async fn create(service: &impl IntegrationPointService, value: &str) -> IntegrationPoint {
    service.create(request(value)).await.expect("created")
}

fn title_patch(title: &str) -> PatchPointRequest {
    PatchPointRequest {
        title: Some(Title::new(title).expect("valid")),
        ..PatchPointRequest::EMPTY
    }
}

#[tokio::test]
async fn create_fills_in_id_token_timestamps_and_version() {
    let (service, _, _) = service();

    let point = create(&service, "ABCDE").await;

    assert_eq!(point.attributes().code.as_str(), "ABCDE");
    assert_eq!(point.attributes().kind.as_str(), "public");
    assert_eq!(point.created_at(), point.updated_at());
    assert_eq!(point.created_at().as_millis(), 1_000);
    assert_eq!(point.version(), Version::INITIAL);
    assert!(TokenLocal::new(point.token_local().as_str()).is_ok());
}

#[tokio::test]
async fn create_keeps_a_given_id_and_token() {
    let (service, _, _) = service();
    let id = PointId::parse("b4680fbe-016c-d86f-1d6b-50e54938780c").expect("valid");
    let token = TokenLocal::new("82ddc7c68623726346a78371173e2f8d").expect("valid");

    let point = service
        .create(CreatePointRequest {
            id: Some(id),
            token_local: Some(token.clone()),
            ..request("ABCDE")
        })
        .await
        .expect("created");

    assert_eq!(point.id(), id);
    assert_eq!(point.token_local(), &token);
}

#[tokio::test]
async fn create_with_a_taken_code_is_a_conflict_on_code() {
    let (service, _, _) = service();
    create(&service, "ABCDE").await;

    let result = service.create(request("ABCDE")).await;

    assert!(matches!(
        result,
        Err(CreatePointError::Conflict(UniqueField::Code))
    ));
}

#[tokio::test]
async fn create_with_a_taken_id_or_token_is_a_conflict_on_that_field() {
    let (service, _, _) = service();
    let first = create(&service, "A").await;

    let same_id = service
        .create(CreatePointRequest {
            id: Some(first.id()),
            ..request("B")
        })
        .await;
    let same_token = service
        .create(CreatePointRequest {
            token_local: Some(first.token_local().clone()),
            ..request("C")
        })
        .await;

    assert!(matches!(
        same_id,
        Err(CreatePointError::Conflict(UniqueField::Id))
    ));
    assert!(matches!(
        same_token,
        Err(CreatePointError::Conflict(UniqueField::TokenLocal))
    ));
}

#[tokio::test]
async fn create_retries_when_a_generated_token_collides() {
    let repository = InMemoryRepository::default();
    let tokens = SequentialTokens::default();
    let service = Service::new(
        repository,
        FixedClock::at(1),
        SequentialIds::default(),
        tokens.clone(),
    );
    let first = create(&service, "A").await;
    tokens.repeat_next(first.token_local().clone());

    let second = create(&service, "B").await;

    assert_ne!(second.token_local(), first.token_local());
}

#[tokio::test]
async fn get_of_an_unknown_id_is_not_found() {
    let (service, _, _) = service();

    let result = service.get(SequentialIds::default().peek()).await;

    assert!(matches!(result, Err(GetPointError::NotFound)));
}

#[tokio::test]
async fn patch_sets_only_the_fields_sent_and_moves_version_and_lwt() {
    let (service, _, clock) = service();
    let point = create(&service, "ABCDE").await;
    clock.set(5_000);

    let patched = service
        .patch(point.id(), title_patch("hello"), None)
        .await
        .expect("patched");

    assert_eq!(patched.attributes().opts.title.as_str(), "hello");
    assert_eq!(patched.attributes().code.as_str(), "ABCDE");
    assert_eq!(patched.version(), Version::INITIAL.next());
    assert_eq!(patched.updated_at().as_millis(), 5_000);
    assert_eq!(patched.created_at().as_millis(), 1_000);
}

#[tokio::test]
async fn a_patch_that_changes_nothing_keeps_version_and_lwt() {
    let (service, _, clock) = service();
    let point = create(&service, "ABCDE").await;
    clock.set(5_000);

    let same = service
        .patch(
            point.id(),
            PatchPointRequest {
                code: Some(code("ABCDE")),
                token_local: Some(point.token_local().clone()),
                ..PatchPointRequest::EMPTY
            },
            None,
        )
        .await
        .expect("no-op");

    assert_eq!(same, point);
}

#[tokio::test]
async fn patch_may_not_change_read_only_fields() {
    let (service, repository, _) = service();
    let point = create(&service, "ABCDE").await;

    let result = service
        .patch(
            point.id(),
            PatchPointRequest {
                token_local: Some(TokenLocal::from_bytes([0xee; 16])),
                ..title_patch("changed")
            },
            None,
        )
        .await;

    assert!(matches!(result, Err(PatchPointError::Rejected(r)) if r.field == Field::TokenLocal));
    assert_eq!(
        repository.get(point.id()),
        Some(point),
        "nothing was written"
    );
}

#[tokio::test]
async fn patch_to_a_taken_code_is_a_conflict() {
    let (service, _, _) = service();
    create(&service, "A").await;
    let b = create(&service, "B").await;

    let result = service
        .patch(
            b.id(),
            PatchPointRequest {
                code: Some(code("A")),
                ..PatchPointRequest::EMPTY
            },
            None,
        )
        .await;

    assert!(matches!(
        result,
        Err(PatchPointError::Conflict(UniqueField::Code))
    ));
}

#[tokio::test]
async fn patch_with_a_stale_if_match_fails_and_changes_nothing() {
    let (service, repository, _) = service();
    let point = create(&service, "A").await;
    let stale = point.revision();
    service
        .patch(point.id(), title_patch("one"), None)
        .await
        .expect("patched");
    let before = repository.get(point.id());

    let result = service
        .patch(
            point.id(),
            title_patch("two"),
            Some(IfMatch::OneOf(vec![stale])),
        )
        .await;

    assert!(matches!(result, Err(PatchPointError::PreconditionFailed)));
    assert_eq!(repository.get(point.id()), before);
}

#[tokio::test]
async fn patch_with_a_current_if_match_or_star_succeeds() {
    let (service, _, _) = service();
    let point = create(&service, "A").await;

    let first = service
        .patch(
            point.id(),
            title_patch("one"),
            Some(IfMatch::OneOf(vec![point.revision()])),
        )
        .await
        .expect("current tag");
    let second = service
        .patch(point.id(), title_patch("two"), Some(IfMatch::Any))
        .await
        .expect("star");

    assert_eq!(first.attributes().opts.title.as_str(), "one");
    assert_eq!(second.attributes().opts.title.as_str(), "two");
}

#[tokio::test]
async fn patch_of_an_unknown_id_is_not_found_even_with_star() {
    let (service, _, _) = service();

    let result = service
        .patch(
            SequentialIds::default().peek(),
            title_patch("x"),
            Some(IfMatch::Any),
        )
        .await;

    assert!(matches!(result, Err(PatchPointError::NotFound)));
}

#[tokio::test]
async fn concurrent_patches_of_different_fields_both_land() {
    let inner = InMemoryRepository::default();
    // Another writer changes the comment between our read and our write.
    let racing = RacingRepository {
        inner: inner.clone(),
        raced: Arc::new(AtomicBool::new(false)),
    };
    let service = Service::new(
        racing,
        FixedClock::at(1),
        SequentialIds::default(),
        SequentialTokens::default(),
    );
    let point = create(&service, "A").await;

    let patched = service
        .patch(point.id(), title_patch("mine"), None)
        .await
        .expect("patched after a retry");

    assert_eq!(patched.attributes().opts.title.as_str(), "mine");
    assert_eq!(patched.attributes().opts.comment.as_str(), "theirs");
    assert_eq!(inner.get(point.id()), Some(patched));
}

#[tokio::test]
async fn a_lost_race_under_if_match_is_a_precondition_failure() {
    let inner = InMemoryRepository::default();
    let racing = RacingRepository {
        inner: inner.clone(),
        raced: Arc::new(AtomicBool::new(false)),
    };
    let service = Service::new(
        racing,
        FixedClock::at(1),
        SequentialIds::default(),
        SequentialTokens::default(),
    );
    let point = create(&service, "A").await;

    let result = service
        .patch(
            point.id(),
            title_patch("mine"),
            Some(IfMatch::OneOf(vec![point.revision()])),
        )
        .await;

    assert!(matches!(result, Err(PatchPointError::PreconditionFailed)));
    assert_eq!(
        inner
            .get(point.id())
            .map(|p| p.attributes().opts.title.as_str().to_owned()),
        Some(String::new())
    );
}

#[tokio::test]
async fn delete_removes_the_point_and_a_second_delete_is_not_found() {
    let (service, repository, _) = service();
    let point = create(&service, "A").await;

    service.delete(point.id(), None).await.expect("deleted");
    let again = service.delete(point.id(), None).await;

    assert_eq!(repository.get(point.id()), None);
    assert!(matches!(again, Err(DeletePointError::NotFound)));
}

#[tokio::test]
async fn delete_with_a_stale_if_match_fails_and_keeps_the_point() {
    let (service, repository, _) = service();
    let point = create(&service, "A").await;
    service
        .patch(point.id(), title_patch("one"), None)
        .await
        .expect("patched");

    let result = service
        .delete(point.id(), Some(IfMatch::OneOf(vec![point.revision()])))
        .await;

    assert!(matches!(result, Err(DeletePointError::PreconditionFailed)));
    assert!(repository.get(point.id()).is_some());
}

#[tokio::test]
async fn delete_with_the_current_if_match_succeeds() {
    let (service, repository, _) = service();
    let point = create(&service, "A").await;

    service
        .delete(point.id(), Some(IfMatch::OneOf(vec![point.revision()])))
        .await
        .expect("deleted");

    assert_eq!(repository.get(point.id()), None);
}

#[tokio::test]
async fn lookup_finds_by_code_token_or_id_and_reports_no_match() {
    let (service, _, _) = service();
    let point = create(&service, "ABCDE").await;

    for key in [
        LookupKey::any("ABCDE").expect("no NUL"),
        LookupKey::any(point.token_local().as_str()).expect("no NUL"),
        LookupKey::Any(point.id().into()),
        LookupKey::for_field(Field::Code, "ABCDE").expect("a key field"),
        LookupKey::for_field(Field::TokenLocal, point.token_local().as_str()).expect("a key field"),
        LookupKey::Id(Some(point.id())),
    ] {
        let found = service.lookup(key.clone()).await.expect("found");
        assert_eq!(found, vec![point.id()], "{key:?}");
    }
    for key in [
        LookupKey::any("").expect("no NUL"),
        LookupKey::for_field(Field::Code, point.token_local().as_str()).expect("a key field"),
        LookupKey::Id(None),
    ] {
        let result = service.lookup(key.clone()).await;
        assert!(matches!(result, Err(LookupError::NoMatch)), "{key:?}");
    }
}

#[tokio::test]
async fn rotate_token_replaces_the_token_and_the_old_one_stops_matching() {
    let (service, _, clock) = service();
    let point = create(&service, "A").await;
    let old = point.token_local().as_str().to_owned();
    clock.set(7_000);

    let rotated = service
        .rotate_token(point.id(), None)
        .await
        .expect("rotated");

    assert_ne!(rotated.token_local().as_str(), old);
    assert_eq!(rotated.version(), Version::INITIAL.next());
    assert_eq!(rotated.updated_at().as_millis(), 7_000);
    assert!(matches!(
        service
            .lookup(LookupKey::for_field(Field::TokenLocal, old).expect("a key field"))
            .await,
        Err(LookupError::NoMatch)
    ));
    assert_eq!(
        service
            .lookup(
                LookupKey::for_field(Field::TokenLocal, rotated.token_local().as_str())
                    .expect("a key field")
            )
            .await
            .expect("new token found"),
        vec![point.id()]
    );
}

#[tokio::test]
async fn rotate_token_honours_if_match() {
    let (service, _, _) = service();
    let point = create(&service, "A").await;
    service
        .rotate_token(point.id(), None)
        .await
        .expect("rotated");

    let result = service
        .rotate_token(point.id(), Some(IfMatch::OneOf(vec![point.revision()])))
        .await;

    assert!(matches!(result, Err(RotateTokenError::PreconditionFailed)));
}

#[tokio::test]
async fn list_passes_the_query_to_the_store() {
    let (service, _, _) = service();
    for c in ["b", "a", "c"] {
        create(&service, c).await;
    }
    let filter = Filter::Condition(
        Condition::new(
            Field::Code,
            Operator::Ne,
            LiteralOperand::Scalar(Literal::String("c".into())),
        )
        .expect("valid"),
    );
    let query = ListQuery::new(
        Some(filter),
        Sort::default(),
        Page::new(0, 1, 10).expect("valid"),
    )
    .expect("valid");

    let listing = service.list(query).await.expect("listed");

    assert_eq!(listing.total, Total::Exact(2));
    assert_eq!(listing.items.len(), 1);
    assert_eq!(
        listing.items[0].attributes().code.as_str(),
        "b",
        "creation order"
    );
}

/// A repository that lets another writer change the comment of a point just
/// before our first update, so that update finds the version moved.
#[derive(Clone)]
struct RacingRepository {
    inner: InMemoryRepository,
    raced: Arc<AtomicBool>,
}

impl IntegrationPointRepository for RacingRepository {
    async fn insert(&self, point: &IntegrationPoint) -> Result<(), WriteError> {
        self.inner.insert(point).await
    }

    async fn find(&self, id: PointId) -> Result<Option<IntegrationPoint>, StoreError> {
        self.inner.find(id).await
    }

    async fn list(&self, query: &ListQuery) -> Result<Listing, StoreError> {
        self.inner.list(query).await
    }

    async fn update(
        &self,
        point: &IntegrationPoint,
        expected: Version,
    ) -> Result<WriteOutcome, WriteError> {
        if !self.raced.swap(true, Ordering::SeqCst) {
            let current = self.inner.get(point.id()).expect("point exists");
            let theirs = PatchPointRequest {
                comment: Some(Comment::new("theirs").expect("valid")),
                ..PatchPointRequest::EMPTY
            };
            let changed = current
                .patched(&theirs, current.updated_at())
                .expect("accepted")
                .expect("changed");
            self.inner.update(&changed, current.version()).await?;
        }
        self.inner.update(point, expected).await
    }

    async fn delete(
        &self,
        id: PointId,
        expected: Option<Version>,
    ) -> Result<WriteOutcome, StoreError> {
        self.inner.delete(id, expected).await
    }

    async fn lookup(&self, key: &LookupKey) -> Result<Vec<PointId>, StoreError> {
        self.inner.lookup(key).await
    }
}
