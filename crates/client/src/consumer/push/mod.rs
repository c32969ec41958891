//! The push consumer: the client pulls (long polling) the queues the group
//! assigned it and calls a listener; offsets follow consumption.

mod concurrent;
mod orderly;
mod rebalance;
mod running_info;

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use protocol::body::check_client::CheckClientRequestBody;
use protocol::body::heartbeat::{ConsumeType, ConsumerData, SubscriptionData};
use protocol::body::MessageQueue;
use protocol::message::topics;
use protocol::{RemotingCommand, RequestCode};
use remoting::BoxFuture;
use tokio::sync::{Notify, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::debug;

use super::allocate::AllocateStrategy;
use super::offset_store::{Backing, OffsetStore};
use super::process_queue::ProcessQueue;
use super::pull::{pull, BrokerSuggestions, PullResult, PullSpec};
use super::subscription::{subscription_data, Expression};
use super::{ConsumeFrom, ConsumeResult, MessageModel};
use crate::error::{ClientError, Result};
use crate::instance::{Client, ClientOptions, ConsumerHook};
use crate::message::MessageExt;
use crate::producer::validate_group;

pub(crate) type ListenerFn = Arc<dyn Fn(Vec<MessageExt>) -> BoxFuture<ConsumeResult> + Send + Sync>;

#[derive(Clone)]
enum Listener {
    Concurrent(ListenerFn),
    Orderly(ListenerFn),
}

/// Settings of a push consumer.
#[derive(Debug, Clone)]
pub struct PushOptions {
    /// Consumer group.
    pub group: String,
    /// Clustering (share queues, offsets on brokers) or broadcasting.
    pub model: MessageModel,
    /// Start position for queues without a stored offset.
    pub consume_from: ConsumeFrom,
    /// Queue allocation among group members.
    pub allocate: AllocateStrategy,
    /// Listener calls running at once (concurrent listeners).
    pub consume_concurrency: usize,
    /// Messages per listener call.
    pub consume_batch_size: usize,
    /// Messages per pull.
    pub pull_batch_size: i32,
    /// Pulling a queue pauses while this many of its messages are unconsumed.
    pub cached_messages_per_queue: usize,
    /// Redeliveries before a message goes to the DLQ.
    pub max_reconsume_times: i32,
    /// Broker long-poll hold time.
    pub suspend: Duration,
    /// Rebalance period (also on membership-change notices).
    pub rebalance_interval: Duration,
    /// Offset persist period.
    pub persist_interval: Duration,
    /// Directory of broadcasting offset files (default `$HOME/.apogee_offsets`).
    pub offset_dir: Option<PathBuf>,
}

impl Default for PushOptions {
    fn default() -> Self {
        PushOptions {
            group: String::new(),
            model: MessageModel::Clustering,
            consume_from: ConsumeFrom::LastOffset,
            allocate: AllocateStrategy::Averagely,
            consume_concurrency: 20,
            consume_batch_size: 1,
            pull_batch_size: 32,
            cached_messages_per_queue: 1000,
            max_reconsume_times: 16,
            suspend: Duration::from_secs(15),
            rebalance_interval: Duration::from_secs(20),
            persist_interval: Duration::from_secs(5),
            offset_dir: None,
        }
    }
}

/// Builds a [`PushConsumer`].
#[derive(Default)]
pub struct PushConsumerBuilder {
    client_options: ClientOptions,
    client: Option<Client>,
    options: PushOptions,
    subscriptions: Vec<(String, Expression)>,
    listener: Option<Listener>,
}

fn boxed<F, Fut>(f: F) -> ListenerFn
where
    F: Fn(Vec<MessageExt>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ConsumeResult> + Send + 'static,
{
    Arc::new(move |msgs| Box::pin(f(msgs)))
}

impl PushConsumerBuilder {
    /// NameServer address(es), `;`-separated.
    pub fn namesrv(mut self, addrs: &str) -> Self {
        self.client_options.add_namesrv(addrs);
        self
    }

    /// ACL account every request is signed with (ignored with `client`).
    pub fn credentials(mut self, access_key: &str, secret_key: &str) -> Self {
        self.client_options.access_key = Some(access_key.into());
        self.client_options.secret_key = Some(secret_key.into());
        self
    }

    /// Talks TLS to NameServers and brokers (see [`crate::TlsClientSettings`]).
    pub fn tls(mut self, settings: crate::TlsClientSettings) -> Self {
        self.client_options.tls = Some(settings);
        self
    }

    /// Shares an existing client instance.
    pub fn client(mut self, client: &Client) -> Self {
        self.client = Some(client.clone());
        self
    }

    /// Consumer group.
    pub fn group(mut self, group: impl Into<String>) -> Self {
        self.options.group = group.into();
        self
    }

    /// Subscribes to `topic` with a tag expression (`*`, `TagA || TagB`).
    pub fn subscribe(mut self, topic: impl Into<String>, tags: impl Into<String>) -> Self {
        self.subscriptions
            .push((topic.into(), Expression::Tag(tags.into())));
        self
    }

    /// Subscribes to `topic` with a SQL92 expression over properties.
    pub fn subscribe_sql(mut self, topic: impl Into<String>, sql: impl Into<String>) -> Self {
        self.subscriptions
            .push((topic.into(), Expression::Sql92(sql.into())));
        self
    }

    /// Every member receives every message; offsets kept in a local file.
    pub fn broadcasting(mut self) -> Self {
        self.options.model = MessageModel::Broadcasting;
        self
    }

    /// Clustering or broadcasting.
    pub fn message_model(mut self, model: MessageModel) -> Self {
        self.options.model = model;
        self
    }

    /// Where to start without a stored offset.
    pub fn consume_from(mut self, from: ConsumeFrom) -> Self {
        self.options.consume_from = from;
        self
    }

    /// Queue allocation strategy.
    pub fn allocate_strategy(mut self, s: AllocateStrategy) -> Self {
        self.options.allocate = s;
        self
    }

    /// Concurrent listener calls at most (default 20).
    pub fn consume_concurrency(mut self, n: usize) -> Self {
        self.options.consume_concurrency = n;
        self
    }

    /// Messages per listener call (default 1).
    pub fn consume_batch_size(mut self, n: usize) -> Self {
        self.options.consume_batch_size = n;
        self
    }

    /// Messages per pull (default 32).
    pub fn pull_batch_size(mut self, n: i32) -> Self {
        self.options.pull_batch_size = n;
        self
    }

    /// Per-queue cache limit for flow control (default 1000).
    pub fn cached_messages_per_queue(mut self, n: usize) -> Self {
        self.options.cached_messages_per_queue = n;
        self
    }

    /// Redeliveries before the DLQ (default 16).
    pub fn max_reconsume_times(mut self, n: i32) -> Self {
        self.options.max_reconsume_times = n;
        self
    }

    /// Directory of broadcasting offset files.
    pub fn offset_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.options.offset_dir = Some(dir.into());
        self
    }

    /// Replaces all options at once (subscriptions and listener stay).
    pub fn options(mut self, options: PushOptions) -> Self {
        self.options = options;
        self
    }

    /// A listener called concurrently (up to `consume_concurrency` calls)
    /// with batches of messages.
    pub fn listener<F, Fut>(mut self, f: F) -> Self
    where
        F: Fn(Vec<MessageExt>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ConsumeResult> + Send + 'static,
    {
        self.listener = Some(Listener::Concurrent(boxed(f)));
        self
    }

    /// A listener called for one queue at a time, in queue order; in
    /// clustering mode queues are locked on the broker first.
    pub fn orderly_listener<F, Fut>(mut self, f: F) -> Self
    where
        F: Fn(Vec<MessageExt>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ConsumeResult> + Send + 'static,
    {
        self.listener = Some(Listener::Orderly(boxed(f)));
        self
    }

    fn validate(&self) -> Result<()> {
        validate_group(&self.options.group)?;
        let bad = |field, reason: &str| {
            Err(ClientError::InvalidArgument {
                field,
                reason: reason.to_string(),
            })
        };
        if self.subscriptions.is_empty() {
            return bad("subscriptions", "subscribe to at least one topic");
        }
        for (topic, _) in &self.subscriptions {
            crate::message::validate_topic(topic)?;
        }
        if self.listener.is_none() {
            return bad("listener", "set a listener or an orderly listener");
        }
        let o = &self.options;
        if o.consume_concurrency == 0 || o.consume_batch_size == 0 || o.pull_batch_size <= 0 {
            return bad("options", "concurrency and batch sizes must be positive");
        }
        if o.cached_messages_per_queue == 0 {
            return bad("cached_messages_per_queue", "must be positive");
        }
        Ok(())
    }

    /// Starts consuming: registers the group, heartbeats, rebalances, and
    /// pulls the assigned queues in the background.
    ///
    /// # Errors
    /// [`ClientError::InvalidArgument`] for missing subscriptions or
    /// listener, a bad group, or a group already running on the client;
    /// [`ClientError::OffsetFile`] for an unreadable broadcasting offset file.
    pub async fn build(self) -> Result<PushConsumer> {
        self.validate()?;
        let (client, owns_client) = match self.client {
            Some(c) => (c, false),
            None => (Client::start(self.client_options)?, true),
        };
        match start(
            client.clone(),
            owns_client,
            self.options,
            self.subscriptions,
            self.listener,
        )
        .await
        {
            Ok(c) => Ok(c),
            Err(e) => {
                if owns_client {
                    client.shutdown().await;
                }
                Err(e)
            }
        }
    }
}

async fn start(
    client: Client,
    owns_client: bool,
    options: PushOptions,
    subscriptions: Vec<(String, Expression)>,
    listener: Option<Listener>,
) -> Result<PushConsumer> {
    let listener = listener.ok_or(ClientError::InvalidArgument {
        field: "listener",
        reason: "missing".into(),
    })?;
    let mut subs: Vec<SubscriptionData> = subscriptions
        .iter()
        .map(|(t, e)| subscription_data(t, e))
        .collect();
    if options.model == MessageModel::Clustering {
        subs.push(subscription_data(
            &topics::retry_topic(&options.group),
            &Expression::Tag("*".into()),
        ));
    }
    let backing = match options.model {
        MessageModel::Clustering => Backing::Broker,
        MessageModel::Broadcasting => Backing::File(offset_file(&options, client.client_id())),
    };
    let offsets = OffsetStore::new(client.clone(), &options.group, backing)?;
    let shared = Arc::new(Shared {
        permits: Arc::new(Semaphore::new(options.consume_concurrency)),
        client: client.clone(),
        owns_client,
        subs,
        listener,
        offsets,
        queues: Mutex::new(HashMap::new()),
        resets: Mutex::new(HashMap::new()),
        rebalance_now: Notify::new(),
        token: CancellationToken::new(),
        tracker: TaskTracker::new(),
        suggestions: BrokerSuggestions::default(),
        locks: Mutex::new(HashMap::new()),
        closed: AtomicBool::new(false),
        started_ms: super::subscription::now_ms(),
        options,
    });
    let hook: Arc<dyn ConsumerHook> = Arc::new(Hook(Arc::downgrade(&shared)));
    client.register_consumer(&shared.options.group, hook)?;
    for sub in &shared.subs {
        if let Err(e) = client.route(&sub.topic).await {
            debug!(topic = %sub.topic, error = %e, "no route yet");
        }
    }
    if let Err(e) = check_sql_subscriptions(&shared).await {
        client.unregister_consumer(&shared.options.group).await;
        return Err(e);
    }
    client.send_heartbeat_to_all().await;
    shared.spawn_background();
    Ok(PushConsumer { shared })
}

/// Asks the brokers of every SQL92-subscribed topic whether they can
/// evaluate the expression (CHECK_CLIENT_CONFIG), so a broker without
/// property filtering or a bad expression fails `build` instead of every pull.
async fn check_sql_subscriptions(shared: &Shared) -> Result<()> {
    let sql = shared
        .subs
        .iter()
        .filter(|s| s.expression_type == super::subscription::EXPRESSION_TYPE_SQL92);
    for sub in sql {
        // Without a route there is no broker to ask yet (as in Java).
        let Ok(route) = shared.client.route(&sub.topic).await else {
            continue;
        };
        let body = CheckClientRequestBody {
            client_id: shared.client.client_id().to_string(),
            group: shared.group().to_string(),
            namespace: None,
            subscription_data: Some(sub.clone()),
        };
        let body = bytes::Bytes::from(body.to_json_bytes()?);
        for addr in route
            .data
            .broker_datas
            .iter()
            .filter_map(|b| b.master_addr())
        {
            let req =
                RemotingCommand::request(RequestCode::CHECK_CLIENT_CONFIG).with_body(body.clone());
            shared
                .client
                .invoke_ok(addr, req, Duration::from_secs(3))
                .await?;
        }
    }
    Ok(())
}

fn offset_file(options: &PushOptions, client_id: &str) -> PathBuf {
    let dir = options.offset_dir.clone().unwrap_or_else(|| {
        std::env::var_os("HOME")
            .map_or_else(|| PathBuf::from("."), PathBuf::from)
            .join(".apogee_offsets")
    });
    // Java's layout: one directory per client id, then per group.
    dir.join(client_id.replace(['/', '\\', ':'], "_"))
        .join(&options.group)
        .join("offsets.json")
}

/// One assigned queue.
#[derive(Clone)]
pub(crate) struct QueueHandle {
    pub(crate) pq: Arc<ProcessQueue>,
    pub(crate) token: CancellationToken,
}

pub(crate) struct Shared {
    pub(crate) client: Client,
    owns_client: bool,
    pub(crate) options: PushOptions,
    pub(crate) subs: Vec<SubscriptionData>,
    listener: Listener,
    pub(crate) offsets: OffsetStore,
    pub(crate) queues: Mutex<HashMap<MessageQueue, QueueHandle>>,
    /// Offsets an admin reset, applied when the queue is next assigned.
    pub(crate) resets: Mutex<HashMap<MessageQueue, i64>>,
    pub(crate) rebalance_now: Notify,
    pub(crate) permits: Arc<Semaphore>,
    pub(crate) token: CancellationToken,
    pub(crate) tracker: TaskTracker,
    pub(crate) suggestions: BrokerSuggestions,
    /// Orderly: when each queue was last locked on its broker.
    pub(crate) locks: Mutex<HashMap<MessageQueue, Instant>>,
    closed: AtomicBool,
    started_ms: i64,
}

impl Shared {
    pub(crate) fn group(&self) -> &str {
        &self.options.group
    }

    pub(crate) fn is_orderly(&self) -> bool {
        matches!(self.listener, Listener::Orderly(_))
    }

    pub(crate) fn is_clustering(&self) -> bool {
        self.options.model == MessageModel::Clustering
    }

    pub(crate) fn sub_for(&self, topic: &str) -> Option<SubscriptionData> {
        self.subs.iter().find(|s| s.topic == topic).cloned()
    }

    /// One long-polling pull of `mq` from `offset`, storing the consumer's
    /// offset with it in clustering mode; `None` when the queue's token is
    /// cancelled first.
    pub(crate) async fn pull_once(
        &self,
        handle: &QueueHandle,
        mq: &MessageQueue,
        sub: &SubscriptionData,
        offset: i64,
    ) -> Option<Result<PullResult>> {
        let spec = PullSpec {
            group: self.group(),
            mq,
            offset,
            max_nums: self.options.pull_batch_size,
            sub,
            commit_offset: self.is_clustering().then(|| self.offsets.get(mq)).flatten(),
            suspend: Some(self.options.suspend),
            lite: false,
        };
        tokio::select! {
            _ = handle.token.cancelled() => None,
            r = pull(&self.client, &self.suggestions, &spec) => Some(r),
        }
    }

    /// Runs the listener in its own task so a panic becomes a Retry
    /// instead of a lost queue.
    pub(crate) async fn call_listener(&self, msgs: Vec<MessageExt>) -> ConsumeResult {
        let f = match &self.listener {
            Listener::Concurrent(f) | Listener::Orderly(f) => Arc::clone(f),
        };
        match self.tracker.spawn(f(msgs)).await {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(error = %e, "consume listener panicked; retrying the messages");
                ConsumeResult::Retry
            }
        }
    }

    fn spawn_background(self: &Arc<Self>) {
        let me = Arc::clone(self);
        self.tracker.spawn(async move { me.rebalance_loop().await });
        let me = Arc::clone(self);
        self.tracker.spawn(async move { me.persist_loop().await });
        if self.is_orderly() && self.is_clustering() {
            let me = Arc::clone(self);
            self.tracker
                .spawn(async move { me.lock_renew_loop().await });
        }
    }

    async fn persist_loop(self: Arc<Self>) {
        loop {
            if super::sleep_or_cancel(&self.token, self.options.persist_interval).await {
                return;
            }
            let mqs: Vec<MessageQueue> = self.queues.lock().keys().cloned().collect();
            self.offsets.persist(&mqs, true).await;
        }
    }

    /// Starts pulling `mq` from `offset`.
    pub(crate) fn spawn_queue(self: &Arc<Self>, mq: MessageQueue, offset: i64) {
        let handle = QueueHandle {
            pq: Arc::new(ProcessQueue::default()),
            token: self.token.child_token(),
        };
        self.queues.lock().insert(mq.clone(), handle.clone());
        let me = Arc::clone(self);
        if self.is_orderly() {
            self.tracker
                .spawn(async move { orderly::run_queue(me, mq, offset, handle).await });
        } else {
            self.tracker
                .spawn(async move { concurrent::run_queue(me, mq, offset, handle).await });
        }
    }

    /// After sending messages back: if no queue of the group's retry topic
    /// is assigned yet (the topic may have just been created), rebalance
    /// now rather than at the next period.
    pub(crate) fn watch_retry_topic(&self) {
        let retry = topics::retry_topic(self.group());
        if !self.queues.lock().keys().any(|q| q.topic == retry) {
            self.rebalance_now.notify_one();
        }
    }

    /// Stops pulling `mq` and forgets it.
    pub(crate) fn drop_queue(&self, mq: &MessageQueue) -> bool {
        match self.queues.lock().remove(mq) {
            Some(h) => {
                h.pq.set_dropped();
                h.token.cancel();
                true
            }
            None => false,
        }
    }
}

struct Hook(Weak<Shared>);

impl ConsumerHook for Hook {
    fn consumer_data(&self) -> ConsumerData {
        let Some(s) = self.0.upgrade() else {
            return ConsumerData::default();
        };
        ConsumerData {
            consume_from_where: s.options.consume_from.wire(),
            consume_type: ConsumeType::Passively,
            group_name: s.options.group.clone(),
            message_model: s.options.model.wire(),
            subscription_data_set: s.subs.clone(),
            unit_mode: false,
        }
    }

    fn on_ids_changed(&self) {
        if let Some(s) = self.0.upgrade() {
            s.rebalance_now.notify_one();
        }
    }

    fn reset_offsets(&self, topic: &str, table: BTreeMap<MessageQueue, i64>) {
        let Some(s) = self.0.upgrade() else { return };
        if s.token.is_cancelled() {
            return;
        }
        let topic = topic.to_string();
        let me = Arc::clone(&s);
        s.tracker
            .spawn(async move { me.apply_reset(&topic, table).await });
    }

    fn running_info(&self) -> Option<Vec<u8>> {
        let s = self.0.upgrade()?;
        match s.running_info_json(s.started_ms) {
            Ok(body) => Some(body),
            Err(e) => {
                tracing::warn!(error = %e, "cannot encode running info");
                None
            }
        }
    }
}

/// A running push consumer.
pub struct PushConsumer {
    shared: Arc<Shared>,
}

impl PushConsumer {
    /// A builder.
    pub fn builder() -> PushConsumerBuilder {
        PushConsumerBuilder::default()
    }

    /// The client instance in use.
    pub fn client(&self) -> &Client {
        &self.shared.client
    }

    /// The queues currently assigned to this member.
    pub fn assigned_queues(&self) -> Vec<MessageQueue> {
        let mut v: Vec<_> = self.shared.queues.lock().keys().cloned().collect();
        v.sort();
        v
    }

    /// Asks for a rebalance now (e.g. after creating a topic).
    pub fn rebalance_now(&self) {
        self.shared.rebalance_now.notify_one();
    }

    /// Stops pulling, waits for running listener calls, persists offsets,
    /// unlocks orderly queues, unregisters the group and, if the consumer
    /// started its own client, shuts it down.
    pub async fn shutdown(&self) {
        let s = &self.shared;
        if s.closed.swap(true, Ordering::AcqRel) {
            return;
        }
        s.token.cancel();
        s.tracker.close();
        s.tracker.wait().await;
        let mqs: Vec<MessageQueue> = s.queues.lock().drain().map(|(mq, _)| mq).collect();
        s.offsets.persist(&mqs, false).await;
        if s.is_orderly() && s.is_clustering() {
            s.unlock(&mqs).await;
        }
        s.client.unregister_consumer(s.group()).await;
        if s.owns_client {
            s.client.shutdown().await;
        }
    }
}

impl Drop for PushConsumer {
    /// Dropping without [`PushConsumer::shutdown`] still stops the
    /// background pulls (offsets since the last persist are not stored).
    fn drop(&mut self) {
        self.shared.token.cancel();
    }
}
