//! The lite pull consumer: the application polls. Queues come from
//! `assign` (explicit) or from subscriptions (the group shares queues by
//! rebalancing, as push consumers do). Background tasks pull each queue
//! into a bounded buffer; `poll` takes from it; `seek` moves a queue;
//! `commit` stores what was polled.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use parking_lot::Mutex;
use protocol::body::consumer::ConsumerList;
use protocol::body::heartbeat::{ConsumeType, ConsumerData, SubscriptionData};
use protocol::body::MessageQueue;
use protocol::header::consumer::GetConsumerListByGroupRequestHeader;
use protocol::{RemotingCommand, RequestCode};
use tokio::sync::{mpsc, Notify};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::debug;

use super::allocate::AllocateStrategy;
use super::offset_store::{max_offset, min_offset, search_offset, Backing, OffsetStore};
use super::pull::{pull, restore_retry_topic, BrokerSuggestions, PullSpec, PullStatus};
use super::subscription::{subscription_data, Expression};
use super::{sleep_or_cancel, ConsumeFrom, MessageModel};
use crate::error::{ClientError, Result};
use crate::instance::{Client, ClientOptions, ConsumerHook};
use crate::message::MessageExt;
use crate::producer::validate_group;

/// Batches buffered between the pull tasks and `poll`.
const BUFFERED_BATCHES: usize = 64;

/// Builds a [`LitePullConsumer`].
#[derive(Default)]
pub struct LitePullConsumerBuilder {
    client_options: ClientOptions,
    client: Option<Client>,
    group: String,
    consume_from: ConsumeFrom,
    allocate: AllocateStrategy,
    auto_commit: bool,
    pull_batch_size: i32,
    subscriptions: Vec<(String, Expression)>,
}

impl LitePullConsumerBuilder {
    /// NameServer address(es).
    pub fn namesrv(mut self, addrs: &str) -> Self {
        self.client_options.add_namesrv(addrs);
        self
    }

    /// Shares an existing client instance.
    pub fn client(mut self, client: &Client) -> Self {
        self.client = Some(client.clone());
        self
    }

    /// Consumer group (offsets are stored under it).
    pub fn group(mut self, group: impl Into<String>) -> Self {
        self.group = group.into();
        self
    }

    /// Subscribes (the group's members share the queues).
    pub fn subscribe(mut self, topic: impl Into<String>, tags: impl Into<String>) -> Self {
        self.subscriptions
            .push((topic.into(), Expression::Tag(tags.into())));
        self
    }

    /// Start position for queues without a committed offset.
    pub fn consume_from(mut self, from: ConsumeFrom) -> Self {
        self.consume_from = from;
        self
    }

    /// Allocation strategy of subscribe mode.
    pub fn allocate_strategy(mut self, s: AllocateStrategy) -> Self {
        self.allocate = s;
        self
    }

    /// Commit polled offsets automatically every 5 s (default off:
    /// call [`LitePullConsumer::commit`]).
    pub fn auto_commit(mut self, on: bool) -> Self {
        self.auto_commit = on;
        self
    }

    /// Messages per pull (default 32).
    pub fn pull_batch_size(mut self, n: i32) -> Self {
        self.pull_batch_size = n;
        self
    }

    /// Starts the consumer (no queue is pulled until `assign` or, with
    /// subscriptions, the first rebalance).
    ///
    /// # Errors
    /// [`ClientError::InvalidArgument`] for a bad group; client start errors.
    pub async fn build(self) -> Result<LitePullConsumer> {
        validate_group(&self.group)?;
        for (t, _) in &self.subscriptions {
            crate::message::validate_topic(t)?;
        }
        let (client, owns_client) = match self.client {
            Some(c) => (c, false),
            None => (Client::start(self.client_options)?, true),
        };
        let subs: Vec<SubscriptionData> = self
            .subscriptions
            .iter()
            .map(|(t, e)| subscription_data(t, e))
            .collect();
        let (tx, rx) = mpsc::channel(BUFFERED_BATCHES);
        let offsets = OffsetStore::new(client.clone(), &self.group, Backing::Broker)?;
        let shared = Arc::new(LiteShared {
            client: client.clone(),
            owns_client,
            group: self.group,
            consume_from: self.consume_from,
            allocate: self.allocate,
            auto_commit: self.auto_commit,
            pull_batch_size: if self.pull_batch_size > 0 {
                self.pull_batch_size
            } else {
                32
            },
            subs,
            offsets,
            queues: Mutex::new(HashMap::new()),
            generation: AtomicU64::new(0),
            tx,
            token: CancellationToken::new(),
            tracker: TaskTracker::new(),
            suggestions: BrokerSuggestions::default(),
            rebalance_now: Notify::new(),
            closed: AtomicBool::new(false),
        });
        let hook: Arc<dyn ConsumerHook> = Arc::new(LiteHook(Arc::downgrade(&shared)));
        if let Err(e) = client.register_consumer(&shared.group, hook) {
            if owns_client {
                client.shutdown().await;
            }
            return Err(e);
        }
        shared.spawn_background();
        Ok(LitePullConsumer {
            shared,
            rx: tokio::sync::Mutex::new(rx),
        })
    }
}

struct Pulled {
    mq: MessageQueue,
    generation: u64,
    msgs: Vec<MessageExt>,
    next: i64,
}

struct LiteQueue {
    token: CancellationToken,
    generation: u64,
    /// One past the last polled message: what `commit` stores.
    consumed: Option<i64>,
}

struct LiteShared {
    client: Client,
    owns_client: bool,
    group: String,
    consume_from: ConsumeFrom,
    allocate: AllocateStrategy,
    auto_commit: bool,
    pull_batch_size: i32,
    subs: Vec<SubscriptionData>,
    offsets: OffsetStore,
    queues: Mutex<HashMap<MessageQueue, LiteQueue>>,
    generation: AtomicU64,
    tx: mpsc::Sender<Pulled>,
    token: CancellationToken,
    tracker: TaskTracker,
    suggestions: BrokerSuggestions,
    rebalance_now: Notify,
    closed: AtomicBool,
}

/// A consumer the application polls.
pub struct LitePullConsumer {
    shared: Arc<LiteShared>,
    rx: tokio::sync::Mutex<mpsc::Receiver<Pulled>>,
}

impl LitePullConsumer {
    /// A builder.
    pub fn builder() -> LitePullConsumerBuilder {
        LitePullConsumerBuilder {
            pull_batch_size: 32,
            ..LitePullConsumerBuilder::default()
        }
    }

    /// The readable queues of `topic`.
    ///
    /// # Errors
    /// Routing errors.
    pub async fn fetch_queues(&self, topic: &str) -> Result<Vec<MessageQueue>> {
        Ok(self
            .shared
            .client
            .update_route(topic)
            .await?
            .read_queues
            .clone())
    }

    /// Pulls exactly these queues from now on (their committed offsets, or
    /// the `consume_from` position).
    ///
    /// # Errors
    /// [`ClientError::IllegalState`] with subscriptions; offset lookup errors.
    pub async fn assign(&self, mqs: Vec<MessageQueue>) -> Result<()> {
        if !self.shared.subs.is_empty() {
            return Err(ClientError::IllegalState(
                "assign cannot be mixed with subscribe".into(),
            ));
        }
        self.shared.apply(mqs).await
    }

    /// The queues being pulled.
    pub fn assignment(&self) -> Vec<MessageQueue> {
        let mut v: Vec<_> = self.shared.queues.lock().keys().cloned().collect();
        v.sort();
        v
    }

    /// Waits up to `timeout` for messages; returns an empty list on timeout.
    ///
    /// # Errors
    /// [`ClientError::Shutdown`] after shutdown.
    pub async fn poll(&self, timeout: Duration) -> Result<Vec<MessageExt>> {
        let mut rx = self.rx.lock().await;
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let got = tokio::select! {
                _ = self.shared.token.cancelled() => return Err(ClientError::Shutdown),
                r = tokio::time::timeout_at(deadline, rx.recv()) => r,
            };
            let batch = match got {
                Err(_) => return Ok(Vec::new()),
                Ok(None) => return Err(ClientError::Shutdown),
                Ok(Some(b)) => b,
            };
            if let Some(msgs) = self.shared.accept(batch) {
                return Ok(msgs);
            }
        }
    }

    /// Moves `mq` to `offset`: the next poll returns messages from there.
    ///
    /// # Errors
    /// [`ClientError::IllegalState`] if `mq` is not assigned.
    pub async fn seek(&self, mq: &MessageQueue, offset: i64) -> Result<()> {
        self.shared.restart(mq, offset)
    }

    /// Moves `mq` to the first message stored at or after `timestamp_ms`.
    ///
    /// # Errors
    /// As [`LitePullConsumer::seek`]; broker errors of the offset search.
    pub async fn seek_to_timestamp(&self, mq: &MessageQueue, timestamp_ms: i64) -> Result<()> {
        let offset = search_offset(&self.shared.client, mq, timestamp_ms).await?;
        self.seek(mq, offset).await
    }

    /// Moves `mq` to its oldest stored message.
    ///
    /// # Errors
    /// As [`LitePullConsumer::seek`].
    pub async fn seek_to_begin(&self, mq: &MessageQueue) -> Result<()> {
        let offset = min_offset(&self.shared.client, mq).await?;
        self.seek(mq, offset).await
    }

    /// Moves `mq` past its newest message.
    ///
    /// # Errors
    /// As [`LitePullConsumer::seek`].
    pub async fn seek_to_end(&self, mq: &MessageQueue) -> Result<()> {
        let offset = max_offset(&self.shared.client, mq).await?;
        self.seek(mq, offset).await
    }

    /// Stores the offsets of everything polled so far on the brokers.
    ///
    /// # Errors
    /// The first broker error.
    pub async fn commit(&self) -> Result<()> {
        self.shared.commit(false).await
    }

    /// The group's committed offset of `mq` on the broker.
    ///
    /// # Errors
    /// Broker errors.
    pub async fn committed(&self, mq: &MessageQueue) -> Result<Option<i64>> {
        super::offset_store::query_consumer_offset(&self.shared.client, &self.shared.group, mq)
            .await
    }

    /// Stops pulling, commits (with auto-commit), unregisters the group.
    pub async fn shutdown(&self) {
        let s = &self.shared;
        if s.closed.swap(true, Ordering::AcqRel) {
            return;
        }
        s.token.cancel();
        s.tracker.close();
        s.tracker.wait().await;
        if s.auto_commit {
            if let Err(e) = s.commit(false).await {
                debug!(error = %e, "final commit failed");
            }
        }
        s.client.unregister_consumer(&s.group).await;
        if s.owns_client {
            s.client.shutdown().await;
        }
    }
}

impl Drop for LitePullConsumer {
    /// Dropping without [`LitePullConsumer::shutdown`] still stops the
    /// background pulls.
    fn drop(&mut self) {
        self.shared.token.cancel();
    }
}

impl LiteShared {
    fn spawn_background(self: &Arc<Self>) {
        if !self.subs.is_empty() {
            let me = Arc::clone(self);
            self.tracker.spawn(async move { me.rebalance_loop().await });
        }
        if self.auto_commit {
            let me = Arc::clone(self);
            self.tracker.spawn(async move {
                while !sleep_or_cancel(&me.token, Duration::from_secs(5)).await {
                    if let Err(e) = me.commit(true).await {
                        debug!(error = %e, "auto commit failed");
                    }
                }
            });
        }
    }

    /// Takes a pulled batch unless it predates a seek or a release.
    fn accept(&self, b: Pulled) -> Option<Vec<MessageExt>> {
        let mut queues = self.queues.lock();
        let q = queues
            .get_mut(&b.mq)
            .filter(|q| q.generation == b.generation)?;
        q.consumed = Some(b.next);
        drop(queues);
        let mut msgs = b.msgs;
        for m in &mut msgs {
            restore_retry_topic(m, &self.group);
        }
        (!msgs.is_empty()).then_some(msgs)
    }

    async fn commit(&self, oneway: bool) -> Result<()> {
        let consumed: Vec<(MessageQueue, i64)> = self
            .queues
            .lock()
            .iter()
            .filter_map(|(mq, q)| q.consumed.map(|o| (mq.clone(), o)))
            .collect();
        for (mq, off) in &consumed {
            self.offsets.update(mq, *off, false);
            if !oneway {
                super::offset_store::update_consumer_offset(
                    &self.client,
                    &self.group,
                    mq,
                    *off,
                    false,
                )
                .await?;
            }
        }
        if oneway {
            let mqs: Vec<MessageQueue> = consumed.into_iter().map(|(mq, _)| mq).collect();
            self.offsets.persist(&mqs, true).await;
        }
        Ok(())
    }

    /// Starts the queues of `mine` not running, stops the others.
    async fn apply(self: &Arc<Self>, mine: Vec<MessageQueue>) -> Result<()> {
        let wanted: HashSet<&MessageQueue> = mine.iter().collect();
        let current: Vec<MessageQueue> = self.queues.lock().keys().cloned().collect();
        for mq in current.iter().filter(|mq| !wanted.contains(mq)) {
            if let Some(q) = self.queues.lock().remove(mq) {
                q.token.cancel();
            }
        }
        for mq in mine {
            if self.queues.lock().contains_key(&mq) {
                continue;
            }
            let offset = self.start_offset(&mq).await?;
            self.restart_unchecked(&mq, offset);
        }
        Ok(())
    }

    async fn start_offset(&self, mq: &MessageQueue) -> Result<i64> {
        if let Some(o) = self.offsets.fetch(mq).await? {
            return Ok(o);
        }
        match self.consume_from {
            ConsumeFrom::FirstOffset => min_offset(&self.client, mq).await,
            ConsumeFrom::LastOffset => max_offset(&self.client, mq).await,
            ConsumeFrom::Timestamp(ts) => search_offset(&self.client, mq, ts).await,
        }
    }

    fn restart(self: &Arc<Self>, mq: &MessageQueue, offset: i64) -> Result<()> {
        if !self.queues.lock().contains_key(mq) {
            return Err(ClientError::IllegalState(format!(
                "queue {}/{}/{} is not assigned",
                mq.topic, mq.broker_name, mq.queue_id
            )));
        }
        self.restart_unchecked(mq, offset);
        Ok(())
    }

    /// (Re)starts the pull task of `mq` at `offset` under a new generation.
    fn restart_unchecked(self: &Arc<Self>, mq: &MessageQueue, offset: i64) {
        let generation = self.generation.fetch_add(1, Ordering::Relaxed) + 1;
        let token = self.token.child_token();
        let old = self.queues.lock().insert(
            mq.clone(),
            LiteQueue {
                token: token.clone(),
                generation,
                consumed: Some(offset),
            },
        );
        if let Some(old) = old {
            old.token.cancel();
        }
        let me = Arc::clone(self);
        let mq = mq.clone();
        self.tracker
            .spawn(async move { me.pull_loop(mq, offset, generation, token).await });
    }

    async fn pull_loop(
        self: Arc<Self>,
        mq: MessageQueue,
        mut offset: i64,
        generation: u64,
        token: CancellationToken,
    ) {
        let sub = self
            .subs
            .iter()
            .find(|s| s.topic == mq.topic)
            .cloned()
            .unwrap_or_else(|| subscription_data(&mq.topic, &Expression::Tag("*".into())));
        loop {
            let spec = PullSpec {
                group: &self.group,
                mq: &mq,
                offset,
                max_nums: self.pull_batch_size,
                sub: &sub,
                commit_offset: None,
                suspend: Some(Duration::from_secs(15)),
                lite: true,
            };
            let r = tokio::select! {
                _ = token.cancelled() => return,
                r = pull(&self.client, &self.suggestions, &spec) => r,
            };
            match r {
                Ok(r) => {
                    if let PullStatus::Found(msgs) = r.status {
                        let batch = Pulled {
                            mq: mq.clone(),
                            generation,
                            msgs,
                            next: r.next_begin_offset,
                        };
                        tokio::select! {
                            _ = token.cancelled() => return,
                            sent = self.tx.send(batch) => if sent.is_err() { return },
                        }
                    }
                    offset = r.next_begin_offset;
                }
                Err(e) => {
                    debug!(topic = %mq.topic, queue = mq.queue_id, error = %e, "pull failed");
                    if sleep_or_cancel(&token, Duration::from_secs(3)).await {
                        return;
                    }
                }
            }
        }
    }

    async fn rebalance_loop(self: Arc<Self>) {
        loop {
            if let Err(e) = self.rebalance().await {
                debug!(error = %e, "lite rebalance failed");
            }
            tokio::select! {
                _ = self.token.cancelled() => return,
                _ = self.rebalance_now.notified() => {}
                _ = tokio::time::sleep(Duration::from_secs(20)) => {}
            }
        }
    }

    async fn rebalance(self: &Arc<Self>) -> Result<()> {
        let mut mine = Vec::new();
        for sub in &self.subs {
            let route = self.client.update_route(&sub.topic).await?;
            let header = GetConsumerListByGroupRequestHeader {
                consumer_group: self.group.clone(),
            };
            let addr = route
                .data
                .broker_datas
                .iter()
                .find_map(|b| b.master_addr().map(str::to_string))
                .ok_or_else(|| ClientError::NoBrokerAddr {
                    broker: sub.topic.clone(),
                })?;
            let req = RemotingCommand::request_with_header(
                RequestCode::GET_CONSUMER_LIST_BY_GROUP,
                &header,
            );
            let resp = self
                .client
                .invoke_ok(&addr, req, Duration::from_secs(3))
                .await?;
            let mut cids = ConsumerList::from_json_bytes(&resp.body)?.consumer_id_list;
            cids.sort();
            mine.extend(
                self.allocate
                    .allocate(self.client.client_id(), &route.read_queues, &cids),
            );
        }
        self.apply(mine).await
    }
}

struct LiteHook(Weak<LiteShared>);

impl ConsumerHook for LiteHook {
    fn consumer_data(&self) -> ConsumerData {
        let Some(s) = self.0.upgrade() else {
            return ConsumerData::default();
        };
        ConsumerData {
            consume_from_where: s.consume_from.wire(),
            consume_type: ConsumeType::Actively,
            group_name: s.group.clone(),
            message_model: MessageModel::Clustering.wire(),
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
        for (mq, off) in table.into_iter().filter(|(mq, _)| mq.topic == topic) {
            let _ = s.restart(&mq, off);
        }
    }
}
