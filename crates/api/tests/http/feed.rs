//! The change feed the HTTP tests run: the real use cases
//! (`application::FeedService`) over the change log of the test service's
//! in-memory repository, so that what the API writes is what the feed
//! answers, and a record of what the handlers asked of it.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use application::change_feed::Watch;
use application::testing::{FixedClock, InMemoryChangeLog};
use application::{ChangeHub, FeedService, HubSettings};
use domain::change_feed::{
    ChangeFeedService, ChangesRequest, FeedPage, FeedRevision, ReadChangesError,
};

use crate::service::TestService;

/// What the handlers asked the feed last.
#[derive(Default)]
struct Record {
    request: Option<ChangesRequest>,
    watch: Option<Option<FeedRevision>>,
}

/// The feed under test. Clones share it.
#[derive(Clone)]
pub struct TestFeed {
    feed: FeedService<InMemoryChangeLog>,
    hub: ChangeHub,
    record: Arc<Mutex<Record>>,
}

impl TestFeed {
    /// The feed of what `service` writes. Needs a tokio runtime.
    pub fn of(service: &TestService) -> Self {
        let log = service.changes();
        let settings = HubSettings::default();
        let hub = ChangeHub::start(log.clone(), log.wakeups(), FixedClock::at(0), settings);
        Self {
            feed: FeedService::new(log, hub.clone(), settings.batch),
            hub,
            record: Arc::default(),
        }
    }

    /// Stops the feed's hub once it has read the log, as a replica that
    /// shuts down: a watch then ends after the changes it caught up with, so
    /// that a test can read a whole event stream.
    pub async fn stop(&self) {
        self.hub.ready().await;
        self.hub.stop();
    }

    /// The last request `changes` received.
    pub fn last_request(&self) -> Option<ChangesRequest> {
        self.record().request.clone()
    }

    /// The `since` of the last watch.
    pub fn last_watch(&self) -> Option<Option<FeedRevision>> {
        self.record().watch.clone()
    }

    fn record(&self) -> MutexGuard<'_, Record> {
        self.record.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl ChangeFeedService for TestFeed {
    type Watch = Watch<InMemoryChangeLog>;

    async fn changes(&self, request: ChangesRequest) -> Result<FeedPage, ReadChangesError> {
        self.record().request = Some(request.clone());
        self.feed.changes(request).await
    }

    async fn watch(&self, since: Option<FeedRevision>) -> Result<Self::Watch, ReadChangesError> {
        self.record().watch = Some(since.clone());
        self.feed.watch(since).await
    }

    fn listening(&self) -> bool {
        self.feed.listening()
    }
}
