//! The producer: sends to the queues of a topic's route, retrying on
//! another broker after a failure; ordered sends through a queue selector;
//! batches; oneway and non-waiting sends.

pub mod batch;
mod json_text;
mod lanes;
mod request;
pub mod selector;
pub mod transaction;
mod wire;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use protocol::body::MessageQueue;
use tokio::task::JoinHandle;
use tokio_util::task::TaskTracker;
use tracing::debug;

pub use batch::split_batches;
pub use request::{SendResult, SendStatus};
pub use selector::select_by_key;

use crate::consumer::subscription::now_ms;
use crate::error::{ClientError, Result};
use crate::instance::{Client, ClientOptions};
use crate::message::{Message, COMPRESS_OVER};
use lanes::Lanes;
use protocol::SerializeType;
use request::Prepared;
use selector::{choose_queue, FaultTracker};
use wire::SendTo;

/// Settings of a producer.
#[derive(Debug, Clone)]
pub struct ProducerOptions {
    /// Producer group (also the transaction-check address book on brokers).
    pub group: String,
    /// Time budget of one `send`, retries included.
    pub send_timeout: Duration,
    /// Extra attempts on another broker after a failure.
    pub retries: usize,
    /// Bodies larger than this are zlib-compressed.
    pub compress_over: usize,
    /// Queues per broker for topics auto-created on first send.
    pub default_topic_queue_nums: i32,
    /// Header serialization of send requests. JSON (the default) is what
    /// every broker reads; the ROCKETMQ binary header is cheaper to write
    /// and to read on both sides (Java and Apogee brokers read it, and
    /// Apogee answers in it).
    pub header: SerializeType,
    /// Connections to each broker that sends are spread over (default 1:
    /// the client instance's own, as Java's producer does). A broker
    /// stores one connection's sends on one core at a time, so a producer
    /// with many sends in flight goes faster with a few (see
    /// [`ProducerBuilder::send_connections`]).
    pub send_connections: usize,
}

impl Default for ProducerOptions {
    fn default() -> Self {
        ProducerOptions {
            group: protocol::message::topics::DEFAULT_PRODUCER_GROUP.to_string(),
            send_timeout: Duration::from_secs(3),
            retries: 2,
            compress_over: COMPRESS_OVER,
            default_topic_queue_nums: 4,
            header: SerializeType::Json,
            send_connections: 1,
        }
    }
}

/// Builds a [`Producer`].
#[derive(Default)]
pub struct ProducerBuilder {
    client_options: ClientOptions,
    client: Option<Client>,
    options: ProducerOptions,
}

impl ProducerBuilder {
    /// NameServer address(es), `;`-separated (ignored with [`ProducerBuilder::client`]).
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

    /// Shares an existing client instance instead of starting one.
    pub fn client(mut self, client: &Client) -> Self {
        self.client = Some(client.clone());
        self
    }

    /// Producer group.
    pub fn group(mut self, group: impl Into<String>) -> Self {
        self.options.group = group.into();
        self
    }

    /// Time budget of one send (default 3 s).
    pub fn send_timeout(mut self, timeout: Duration) -> Self {
        self.options.send_timeout = timeout;
        self
    }

    /// Extra attempts after a failed send (default 2).
    pub fn retries(mut self, retries: usize) -> Self {
        self.options.retries = retries;
        self
    }

    /// Compression threshold in bytes (default 4 KiB).
    pub fn compress_over(mut self, bytes: usize) -> Self {
        self.options.compress_over = bytes;
        self
    }

    /// Header serialization of send requests (default JSON).
    pub fn header(mut self, header: SerializeType) -> Self {
        self.options.header = header;
        self
    }

    /// Connections to each broker that sends are spread over, taken in
    /// turn (default 1; 0 counts as 1). The first is the client
    /// instance's own; the others carry only this producer's sends, and
    /// pay off with many sends in flight: a broker reads each connection
    /// with one task, so one connection's sends are stored one core at a
    /// time.
    pub fn send_connections(mut self, n: usize) -> Self {
        self.options.send_connections = n;
        self
    }

    /// Queues per broker for auto-created topics (default 4).
    pub fn default_topic_queue_nums(mut self, n: i32) -> Self {
        self.options.default_topic_queue_nums = n;
        self
    }

    /// Starts the producer (and its client instance unless one was given).
    ///
    /// # Errors
    /// [`ClientError::InvalidArgument`] for a bad group or a group already
    /// running on the client; [`ClientError::NoNameServer`].
    pub async fn build(self) -> Result<Producer> {
        Producer::start(self.client, self.client_options, self.options, None).await
    }
}

pub(crate) struct ProducerInner {
    pub(crate) client: Client,
    owns_client: bool,
    pub(crate) options: ProducerOptions,
    faults: Mutex<FaultTracker>,
    lanes: Lanes,
    round_robin: AtomicUsize,
    tracker: TaskTracker,
    closed: AtomicBool,
}

/// Sends `msg` once to one queue of its topic on behalf of the client
/// itself (group `CLIENT_INNER_PRODUCER`), e.g. a consumer re-sending a
/// failed message to its retry topic.
///
/// # Errors
/// Routing, transport and broker errors.
pub(crate) async fn send_direct(client: &Client, msg: Message) -> Result<SendResult> {
    let p = Prepared::single(msg, COMPRESS_OVER, || client.next_uniq_id())?;
    let route = client.publish_route(&p.topic, 1).await?;
    let n = route.write_queues.len();
    let idx =
        usize::try_from(protocol::message::java_string_hash(&p.msg_id).unsigned_abs()).unwrap_or(0);
    let mq = route
        .write_queues
        .get(idx % n.max(1))
        .cloned()
        .ok_or_else(|| ClientError::NoRoute {
            topic: p.topic.clone(),
            reason: "no writable queue".into(),
        })?;
    let addr = client.master_addr(&mq.broker_name, &p.topic).await?;
    let req = p.request(
        protocol::message::topics::CLIENT_INNER_PRODUCER_GROUP,
        &mq,
        1,
    );
    let resp = client
        .remoting()
        .invoke(&addr, req, client.options().request_timeout)
        .await?;
    p.result(&addr, &mq, &resp)
}

/// A producer. Cheap to clone; clones share one producer.
#[derive(Clone)]
pub struct Producer {
    pub(crate) inner: Arc<ProducerInner>,
}

pub(crate) fn validate_group(group: &str) -> Result<()> {
    if group.is_empty()
        || group.len() > protocol::message::topics::MAX_GROUP_LEN
        || !protocol::message::topics::is_valid_topic_chars(group)
    {
        return Err(ClientError::InvalidArgument {
            field: "group",
            reason: format!("{group:?} must be 1..=120 chars of [%|a-zA-Z0-9_-]"),
        });
    }
    Ok(())
}

impl Producer {
    /// A builder.
    pub fn builder() -> ProducerBuilder {
        ProducerBuilder::default()
    }

    pub(crate) async fn start(
        client: Option<Client>,
        client_options: ClientOptions,
        options: ProducerOptions,
        check: Option<Arc<dyn crate::instance::CheckHook>>,
    ) -> Result<Producer> {
        validate_group(&options.group)?;
        let (client, owns_client) = match client {
            Some(c) => (c, false),
            None => (Client::start(client_options)?, true),
        };
        let registered = Lanes::new(&client, options.send_connections).and_then(|lanes| {
            client.register_producer(&options.group, check)?;
            Ok(lanes)
        });
        let lanes = match registered {
            Ok(lanes) => lanes,
            Err(e) => {
                if owns_client {
                    client.shutdown().await;
                }
                return Err(e);
            }
        };
        let start = usize::try_from(std::process::id()).unwrap_or(0);
        Ok(Producer {
            inner: Arc::new(ProducerInner {
                client,
                owns_client,
                options,
                faults: Mutex::new(FaultTracker::default()),
                lanes,
                round_robin: AtomicUsize::new(start),
                tracker: TaskTracker::new(),
                closed: AtomicBool::new(false),
            }),
        })
    }

    /// The client instance this producer uses.
    pub fn client(&self) -> &Client {
        &self.inner.client
    }

    /// The producer group.
    pub fn group(&self) -> &str {
        &self.inner.options.group
    }

    fn check_open(&self) -> Result<()> {
        if self.inner.closed.load(Ordering::Acquire) || self.inner.client.is_shutdown() {
            return Err(ClientError::Shutdown);
        }
        Ok(())
    }

    fn prepare(&self, msg: Message) -> Result<Prepared> {
        let client = &self.inner.client;
        Prepared::single(msg, self.inner.options.compress_over, || {
            client.next_uniq_id()
        })
    }

    /// Sends and waits for the broker's answer, retrying up to `retries`
    /// times on another broker after transport failures and retryable codes.
    ///
    /// # Errors
    /// [`ClientError::InvalidMessage`] before sending; [`ClientError::NoRoute`];
    /// [`ClientError::SendFailed`] with the last failure after all attempts.
    pub async fn send(&self, msg: Message) -> Result<SendResult> {
        self.check_open()?;
        let prepared = self.prepare(msg)?;
        self.send_prepared(&prepared).await
    }

    pub(crate) async fn send_prepared(&self, p: &Prepared) -> Result<SendResult> {
        let opts = &self.inner.options;
        let mut now = Instant::now();
        let deadline = now + opts.send_timeout;
        let attempts = 1 + opts.retries;
        let mut avoid: Option<String> = None;
        let mut last: Option<ClientError> = None;
        for attempt in 0..attempts {
            if attempt > 0 {
                now = Instant::now();
            }
            let left = deadline.saturating_duration_since(now);
            if left.is_zero() {
                break;
            }
            let route = self
                .inner
                .client
                .publish_route(&p.topic, opts.default_topic_queue_nums)
                .await?;
            let start = self.inner.round_robin.fetch_add(1, Ordering::Relaxed);
            // Borrowed from the route (kept alive by `route`), not cloned:
            // the guard only lives for the choice.
            let mq = choose_queue(
                &route.write_queues,
                start,
                avoid.as_deref(),
                &self.inner.faults.lock(),
                now,
            );
            let Some(mq) = mq else {
                return Err(ClientError::NoRoute {
                    topic: p.topic.clone(),
                    reason: "no writable queue".into(),
                });
            };
            match self.send_to(p, mq, left).await {
                Ok(r) => return Ok(r),
                Err(e) if e.is_retryable_send() => {
                    debug!(topic = %p.topic, broker = %mq.broker_name, attempt, error = %e, "send failed, retrying");
                    self.inner.client.forget_route(&p.topic);
                    avoid = Some(mq.broker_name.clone());
                    last = Some(e);
                }
                Err(e) => return Err(e),
            }
        }
        Err(ClientError::SendFailed {
            topic: p.topic.clone(),
            attempts,
            last: Box::new(last.unwrap_or(ClientError::Remoting(
                remoting::RemotingError::Timeout {
                    addr: p.topic.clone(),
                    millis: u64::try_from(opts.send_timeout.as_millis()).unwrap_or(u64::MAX),
                },
            ))),
        })
    }

    /// One attempt to `mq`, recording the broker's latency or failure.
    async fn send_to(
        &self,
        p: &Prepared,
        mq: &MessageQueue,
        timeout: Duration,
    ) -> Result<SendResult> {
        let started = Instant::now();
        let result = async {
            let addr = self
                .inner
                .client
                .master_addr(&mq.broker_name, &p.topic)
                .await?;
            let opts = &self.inner.options;
            let remoting = self.inner.lanes.pick(self.inner.client.remoting());
            let to = SendTo {
                group: &opts.group,
                mq,
                default_queue_nums: opts.default_topic_queue_nums,
                born_ms: now_ms(),
                header: opts.header,
                signer: remoting.signer(),
            };
            let encode = |opaque| p.encode_frame(&to, opaque);
            let resp = remoting.invoke_encoded(&addr, encode, timeout).await?;
            p.result(&addr, mq, &resp)
        }
        .await;
        let failed = result.as_ref().is_err_and(ClientError::is_retryable_send);
        let done = Instant::now();
        self.inner.faults.lock().record(
            &mq.broker_name,
            done.saturating_duration_since(started),
            failed,
            done,
        );
        result
    }

    /// Sends to one given queue, once (no retry: ordered sends must not
    /// move to another queue).
    ///
    /// # Errors
    /// As [`Producer::send`], without retries.
    pub async fn send_to_queue(&self, msg: Message, mq: &MessageQueue) -> Result<SendResult> {
        self.check_open()?;
        if msg.topic() != mq.topic {
            return Err(ClientError::InvalidArgument {
                field: "mq",
                reason: format!(
                    "queue of topic {} for a message to {}",
                    mq.topic,
                    msg.topic()
                ),
            });
        }
        let prepared = self.prepare(msg)?;
        self.send_to(&prepared, mq, self.inner.options.send_timeout)
            .await
    }

    /// Sends to the queue `selector` picks among the topic's writable
    /// queues (an index, taken modulo the count), e.g.
    /// `|qs, _| select_by_key(qs, order_id)` for per-order ordering.
    ///
    /// # Errors
    /// As [`Producer::send_to_queue`].
    pub async fn send_with_selector<F>(&self, msg: Message, selector: F) -> Result<SendResult>
    where
        F: FnOnce(&[MessageQueue], &Message) -> usize,
    {
        self.check_open()?;
        let route = self
            .inner
            .client
            .publish_route(msg.topic(), self.inner.options.default_topic_queue_nums)
            .await?;
        if route.write_queues.is_empty() {
            return Err(ClientError::NoRoute {
                topic: msg.topic().to_string(),
                reason: "no writable queue".into(),
            });
        }
        let idx = selector(&route.write_queues, &msg) % route.write_queues.len();
        let mq = route.write_queues[idx].clone();
        self.send_to_queue(msg, &mq).await
    }

    /// Sends without waiting for (or getting) an answer; one attempt.
    ///
    /// # Errors
    /// Validation, routing and transport errors of the attempt.
    pub async fn send_oneway(&self, msg: Message) -> Result<()> {
        self.check_open()?;
        let p = self.prepare(msg)?;
        let route = self
            .inner
            .client
            .publish_route(&p.topic, self.inner.options.default_topic_queue_nums)
            .await?;
        let start = self.inner.round_robin.fetch_add(1, Ordering::Relaxed);
        let mq = {
            let faults = self.inner.faults.lock();
            choose_queue(&route.write_queues, start, None, &faults, Instant::now()).cloned()
        }
        .ok_or_else(|| ClientError::NoRoute {
            topic: p.topic.clone(),
            reason: "no writable queue".into(),
        })?;
        let addr = self
            .inner
            .client
            .master_addr(&mq.broker_name, &p.topic)
            .await?;
        let req = p.request(
            &self.inner.options.group,
            &mq,
            self.inner.options.default_topic_queue_nums,
        );
        self.inner
            .client
            .remoting()
            .invoke_oneway(&addr, req)
            .await?;
        Ok(())
    }

    /// Starts a send and returns at once; await the handle for the result.
    /// [`Producer::shutdown`] waits for sends started this way.
    pub fn send_async(&self, msg: Message) -> JoinHandle<Result<SendResult>> {
        let this = self.clone();
        self.inner
            .tracker
            .spawn(async move { this.send(msg).await })
    }

    /// Sends several messages of one topic as one SEND_BATCH_MESSAGE (at
    /// most 4 MiB encoded; see [`split_batches`]). `msg_id` of the result
    /// lists every message's id, comma-separated.
    ///
    /// # Errors
    /// [`ClientError::InvalidMessage`] when the batch rules are broken; else as [`Producer::send`].
    pub async fn send_batch(&self, msgs: Vec<Message>) -> Result<SendResult> {
        self.check_open()?;
        let client = &self.inner.client;
        let encoded = batch::encode(msgs, || client.next_uniq_id())?;
        self.send_prepared(&Prepared::batch(encoded)).await
    }

    /// Waits for non-waiting sends, unregisters the group from the brokers
    /// and, if the producer started its own client, shuts it down.
    pub async fn shutdown(&self) {
        if self.inner.closed.swap(true, Ordering::AcqRel) {
            return;
        }
        self.inner.tracker.close();
        self.inner.tracker.wait().await;
        self.inner.lanes.shutdown().await;
        self.inner
            .client
            .unregister_producer(&self.inner.options.group)
            .await;
        if self.inner.owns_client {
            self.inner.client.shutdown().await;
        }
    }
}
