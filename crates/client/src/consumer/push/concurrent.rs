//! Concurrent consumption: one pull loop per assigned queue feeds listener
//! calls that run in parallel (bounded by a semaphore); the committed
//! offset is the oldest message still in flight.

use std::sync::Arc;
use std::time::Duration;

use protocol::body::MessageQueue;
use tokio::sync::OwnedSemaphorePermit;
use tracing::{debug, warn};

use super::{QueueHandle, Shared};
use crate::consumer::pull::{restore_retry_topic, PullResult, PullStatus};
use crate::consumer::{send_back, sleep_or_cancel, ConsumeResult};
use crate::message::MessageExt;

/// Pause after a failed pull.
pub(super) const PULL_ERROR_BACKOFF: Duration = Duration::from_secs(3);
/// Pause before consuming again messages whose send-back failed.
const LOCAL_RETRY_DELAY: Duration = Duration::from_secs(5);
/// Re-check period of a pull paused by flow control.
const FLOW_CONTROL_RECHECK: Duration = Duration::from_millis(50);

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
        if handle.pq.len() >= shared.options.cached_messages_per_queue {
            let drained = handle.pq.drained.notified();
            tokio::select! {
                _ = handle.token.cancelled() => return,
                _ = drained => {}
                _ = tokio::time::sleep(FLOW_CONTROL_RECHECK) => {}
            }
            continue;
        }
        let Some(result) = shared.pull_once(&handle, &mq, &sub, offset).await else {
            return;
        };
        match result {
            Ok(r) => match on_pulled(&shared, &mq, &handle, r).await {
                Some(next) => offset = next,
                None => return,
            },
            Err(e) => {
                debug!(topic = %mq.topic, queue = mq.queue_id, error = %e, "pull failed");
                if sleep_or_cancel(&handle.token, PULL_ERROR_BACKOFF).await {
                    return;
                }
            }
        }
    }
}

/// Hands found messages to listener tasks and returns the next offset to
/// pull (None once the queue is stopped).
async fn on_pulled(
    shared: &Arc<Shared>,
    mq: &MessageQueue,
    handle: &QueueHandle,
    r: PullResult,
) -> Option<i64> {
    match r.status {
        PullStatus::Found(msgs) if !msgs.is_empty() => {
            handle.pq.put(msgs.iter().map(|m| m.queue_offset));
            let batch = shared.options.consume_batch_size;
            let mut msgs = msgs.into_iter().peekable();
            while msgs.peek().is_some() {
                let chunk: Vec<MessageExt> = msgs.by_ref().take(batch).collect();
                let permit = tokio::select! {
                    _ = handle.token.cancelled() => return None,
                    p = Arc::clone(&shared.permits).acquire_owned() => p.ok()?,
                };
                let (me, mq, h) = (Arc::clone(shared), mq.clone(), handle.clone());
                shared
                    .tracker
                    .spawn(async move { consume(me, mq, h, chunk, permit).await });
            }
        }
        PullStatus::OffsetIllegal => {
            warn!(topic = %mq.topic, queue = mq.queue_id, next = r.next_begin_offset, "pull offset moved");
            shared.offsets.update(mq, r.next_begin_offset, false);
        }
        // Nothing to consume: with nothing in flight the next offset is
        // committable as it is (filtered entries are skipped for good).
        _ => {
            if handle.pq.len() == 0 && !handle.pq.is_dropped() {
                shared.offsets.update(mq, r.next_begin_offset, true);
            }
        }
    }
    Some(r.next_begin_offset)
}

/// One listener call (repeated for messages that could not be sent back),
/// then the offset moves past what is done.
async fn consume(
    shared: Arc<Shared>,
    mq: MessageQueue,
    handle: QueueHandle,
    mut msgs: Vec<MessageExt>,
    _permit: OwnedSemaphorePermit,
) {
    for m in &mut msgs {
        restore_retry_topic(m, shared.group());
    }
    let mut done: Vec<i64> = Vec::with_capacity(msgs.len());
    loop {
        let result = shared.call_listener(msgs.clone()).await;
        let failed = match result {
            ConsumeResult::Success => Vec::new(),
            ConsumeResult::Retry if !shared.is_clustering() => {
                warn!(
                    count = msgs.len(),
                    "broadcast consumption failed; messages dropped"
                );
                Vec::new()
            }
            ConsumeResult::Retry => {
                let failed = send_back_all(&shared, &msgs).await;
                shared.watch_retry_topic();
                failed
            }
        };
        done.extend(
            msgs.iter()
                .filter(|m| !failed.iter().any(|f| f.queue_offset == m.queue_offset))
                .map(|m| m.queue_offset),
        );
        if failed.is_empty() || handle.pq.is_dropped() {
            break;
        }
        // The broker did not take them back: consume them again here; they
        // stay in flight meanwhile, so the committed offset waits for them.
        if sleep_or_cancel(&shared.token, LOCAL_RETRY_DELAY).await {
            break;
        }
        msgs = failed;
        for m in &mut msgs {
            m.reconsume_times += 1;
        }
    }
    let next = handle.pq.remove(done);
    if let Some(next) = next.filter(|_| !handle.pq.is_dropped()) {
        shared.offsets.update(&mq, next, true);
    }
}

/// Sends failed messages back for redelivery; returns those the broker
/// did not accept.
async fn send_back_all(shared: &Shared, msgs: &[MessageExt]) -> Vec<MessageExt> {
    let mut failed = Vec::new();
    for m in msgs {
        let r = send_back(
            &shared.client,
            shared.group(),
            m,
            0,
            shared.options.max_reconsume_times,
        )
        .await;
        if let Err(e) = r {
            debug!(msg_id = %m.msg_id, error = %e, "send back failed");
            failed.push(m.clone());
        }
    }
    failed
}
