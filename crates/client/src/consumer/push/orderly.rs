//! Orderly consumption (remoting-protocol §9.5): in clustering mode a queue
//! is locked on its broker (LOCK_BATCH_MQ) before it is pulled, locks are
//! renewed every 20 s and count as lost after 30 s without renewal; each
//! queue's messages go to the listener one batch at a time, in order.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use protocol::body::lock::{LockBatchRequestBody, LockBatchResponseBody};
use protocol::body::MessageQueue;
use protocol::{RemotingCommand, RequestCode};
use tracing::{debug, warn};

use super::concurrent::PULL_ERROR_BACKOFF;
use super::{QueueHandle, Shared};
use crate::consumer::pull::{restore_retry_topic, PullStatus};
use crate::consumer::{send_back, sleep_or_cancel, ConsumeResult};
use crate::message::MessageExt;

/// A lock not renewed for this long is treated as lost.
const LOCK_EXPIRY: Duration = Duration::from_secs(30);
/// How often held locks are renewed.
const LOCK_RENEW_INTERVAL: Duration = Duration::from_secs(20);
/// Pause of a queue whose batch asked for a retry.
const SUSPEND_PAUSE: Duration = Duration::from_secs(1);

pub(super) async fn run_queue(
    shared: Arc<Shared>,
    mq: MessageQueue,
    mut offset: i64,
    handle: QueueHandle,
) {
    let Some(sub) = shared.sub_for(&mq.topic) else {
        warn!(topic = %mq.topic, "assigned a queue of a topic not subscribed");
        return;
    };
    loop {
        if handle.token.is_cancelled() {
            return;
        }
        if shared.is_clustering() && !shared.is_locked(&mq) && !shared.lock_one(&mq).await {
            if sleep_or_cancel(&handle.token, PULL_ERROR_BACKOFF).await {
                return;
            }
            continue;
        }
        let Some(result) = shared.pull_once(&handle, &mq, &sub, offset).await else {
            return;
        };
        let r = match result {
            Ok(r) => r,
            Err(e) => {
                debug!(topic = %mq.topic, queue = mq.queue_id, error = %e, "pull failed");
                if sleep_or_cancel(&handle.token, PULL_ERROR_BACKOFF).await {
                    return;
                }
                continue;
            }
        };
        offset = match r.status {
            PullStatus::Found(msgs) if !msgs.is_empty() => {
                consume_in_order(&shared, &mq, &handle, msgs, r.next_begin_offset).await
            }
            PullStatus::OffsetIllegal => {
                shared.offsets.update(&mq, r.next_begin_offset, false);
                r.next_begin_offset
            }
            _ => {
                shared.offsets.update(&mq, r.next_begin_offset, true);
                r.next_begin_offset
            }
        };
    }
}

/// Consumes `msgs` batch by batch; returns where the next pull starts:
/// `next` when all were consumed, else the first unconsumed offset (the
/// queue was released or its lock lost meanwhile).
async fn consume_in_order(
    shared: &Shared,
    mq: &MessageQueue,
    handle: &QueueHandle,
    msgs: Vec<MessageExt>,
    next: i64,
) -> i64 {
    for chunk in msgs.chunks(shared.options.consume_batch_size) {
        let mut batch: Vec<MessageExt> = chunk.to_vec();
        for m in &mut batch {
            restore_retry_topic(m, shared.group());
        }
        let first = batch.first().map_or(next, |m| m.queue_offset);
        let last = batch.last().map_or(next, |m| m.queue_offset);
        let mut attempts = 0;
        let _consuming = handle.pq.consume_lock.lock().await;
        loop {
            let lost = shared.is_clustering() && !shared.is_locked(mq);
            if handle.token.is_cancelled() || lost {
                return first;
            }
            if shared.call_listener(batch.clone()).await == ConsumeResult::Success {
                break;
            }
            attempts += 1;
            if shared.is_clustering()
                && attempts > shared.options.max_reconsume_times
                && dead_letter(shared, &batch).await
            {
                break;
            }
            if sleep_or_cancel(&handle.token, SUSPEND_PAUSE).await {
                return first;
            }
            for m in &mut batch {
                m.reconsume_times += 1;
            }
        }
        // Still ours: a release waits for this batch (consume lock) before
        // it persists the offset and unlocks the queue.
        shared.offsets.update(mq, last + 1, true);
        if handle.pq.is_dropped() {
            return last + 1;
        }
    }
    shared.offsets.update(mq, next, true);
    next
}

/// Moves messages that failed too often to the DLQ (delay level −1).
async fn dead_letter(shared: &Shared, batch: &[MessageExt]) -> bool {
    for m in batch {
        let max = shared.options.max_reconsume_times;
        if let Err(e) = send_back(&shared.client, shared.group(), m, -1, max).await {
            warn!(msg_id = %m.msg_id, error = %e, "cannot move message to the DLQ; retrying it");
            return false;
        }
    }
    true
}

impl Shared {
    pub(crate) fn is_locked(&self, mq: &MessageQueue) -> bool {
        self.locks
            .lock()
            .get(mq)
            .is_some_and(|t| t.elapsed() < LOCK_EXPIRY)
    }

    pub(crate) async fn lock_one(&self, mq: &MessageQueue) -> bool {
        self.lock_batch(&mq.broker_name, std::slice::from_ref(mq))
            .await
            .contains(mq)
    }

    /// LOCK_BATCH_MQ for queues of one broker; returns those now ours.
    async fn lock_batch(&self, broker: &str, mqs: &[MessageQueue]) -> Vec<MessageQueue> {
        let Some(topic) = mqs.first().map(|m| m.topic.clone()) else {
            return Vec::new();
        };
        let result = async {
            let addr = self.client.master_addr(broker, &topic).await?;
            let body = LockBatchRequestBody {
                client_id: self.client.client_id().to_string(),
                consumer_group: self.group().to_string(),
                mq_set: mqs.to_vec(),
                only_this_broker: false,
            };
            let req = RemotingCommand::request(RequestCode::LOCK_BATCH_MQ)
                .with_body(body.to_json_bytes()?);
            let resp = self
                .client
                .invoke_ok(&addr, req, Duration::from_secs(3))
                .await?;
            Ok::<_, crate::ClientError>(
                LockBatchResponseBody::from_json_bytes(&resp.body)?.lock_ok_mq_set,
            )
        }
        .await;
        let ok = result.unwrap_or_else(|e| {
            debug!(%broker, error = %e, "lock failed");
            Vec::new()
        });
        let now = Instant::now();
        let mut locks = self.locks.lock();
        for mq in mqs {
            if ok.contains(mq) {
                locks.insert(mq.clone(), now);
            } else {
                locks.remove(mq);
            }
        }
        ok
    }

    /// UNLOCK_BATCH_MQ for released queues.
    pub(crate) async fn unlock(&self, mqs: &[MessageQueue]) {
        for (broker, group) in by_broker(mqs) {
            for mq in &group {
                self.locks.lock().remove(mq);
            }
            let body = LockBatchRequestBody {
                client_id: self.client.client_id().to_string(),
                consumer_group: self.group().to_string(),
                mq_set: group.clone(),
                only_this_broker: false,
            };
            let r = async {
                let addr = self.client.master_addr(&broker, &group[0].topic).await?;
                let req = RemotingCommand::request(RequestCode::UNLOCK_BATCH_MQ)
                    .with_body(body.to_json_bytes()?);
                self.client
                    .invoke_ok(&addr, req, Duration::from_secs(1))
                    .await
            }
            .await;
            if let Err(e) = r {
                debug!(%broker, error = %e, "unlock failed (the lease expires on its own)");
            }
        }
    }

    pub(super) async fn lock_renew_loop(self: Arc<Self>) {
        loop {
            if sleep_or_cancel(&self.token, LOCK_RENEW_INTERVAL).await {
                return;
            }
            let mqs: Vec<MessageQueue> = self.queues.lock().keys().cloned().collect();
            for (broker, group) in by_broker(&mqs) {
                self.lock_batch(&broker, &group).await;
            }
        }
    }
}

fn by_broker(mqs: &[MessageQueue]) -> BTreeMap<String, Vec<MessageQueue>> {
    let mut map: BTreeMap<String, Vec<MessageQueue>> = BTreeMap::new();
    for mq in mqs {
        map.entry(mq.broker_name.clone())
            .or_default()
            .push(mq.clone());
    }
    map
}
