//! Rebalancing (remoting-protocol §9.4): every 20 s and on membership
//! notices, each member computes its share of every subscribed topic's
//! queues and starts or stops pulling accordingly.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use protocol::body::consumer::ConsumerList;
use protocol::body::MessageQueue;
use protocol::header::consumer::GetConsumerListByGroupRequestHeader;
use protocol::message::topics;
use protocol::{RemotingCommand, RequestCode};
use tracing::{debug, info, warn};

use super::Shared;
use crate::consumer::offset_store::{max_offset, search_offset, update_consumer_offset};
use crate::consumer::ConsumeFrom;
use crate::error::{ClientError, Result};
use crate::instance::route::{TopicRoute, MASTER_ID};

/// How soon an incomplete rebalance (a topic without route, a queue still
/// locked by another member or busy) is tried again (Java: 500 ms).
const INCOMPLETE_RETRY: Duration = Duration::from_millis(500);
/// How long a release waits for an orderly batch in progress.
const RELEASE_WAIT: Duration = Duration::from_secs(1);

impl Shared {
    pub(super) async fn rebalance_loop(self: Arc<Self>) {
        loop {
            // A topic without a route yet (typically the group's retry
            // topic, which the broker creates on the first heartbeat and
            // registers moments later) is retried soon, not a period later.
            let wait = if self.rebalance().await {
                self.options.rebalance_interval
            } else {
                self.options.rebalance_interval.min(INCOMPLETE_RETRY)
            };
            tokio::select! {
                _ = self.token.cancelled() => return,
                _ = self.rebalance_now.notified() => {}
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// Rebalances every subscribed topic; false if some could not be.
    async fn rebalance(self: &Arc<Self>) -> bool {
        let topics: Vec<String> = self.subs.iter().map(|s| s.topic.clone()).collect();
        let mut complete = true;
        for topic in topics {
            if self.token.is_cancelled() {
                return true;
            }
            match self.rebalance_topic(&topic).await {
                Ok(done) => complete &= done,
                Err(e) => {
                    debug!(%topic, error = %e, "rebalance skipped");
                    complete = false;
                }
            }
        }
        complete
    }

    /// Ok(false) when some queue could not be released or started yet.
    async fn rebalance_topic(self: &Arc<Self>, topic: &str) -> Result<bool> {
        let route = match self.client.route(topic).await {
            Ok(r) if !r.read_queues.is_empty() => r,
            _ => self.client.update_route(topic).await?,
        };
        let mine = if self.is_clustering() {
            let cids = self.consumer_ids(&route).await?;
            self.options
                .allocate
                .allocate(self.client.client_id(), &route.read_queues, &cids)
        } else {
            route.read_queues.clone()
        };
        Ok(self.apply(topic, mine).await)
    }

    /// The group's members, as one broker of the topic knows them, sorted.
    async fn consumer_ids(&self, route: &TopicRoute) -> Result<Vec<String>> {
        let header = GetConsumerListByGroupRequestHeader {
            consumer_group: self.group().to_string(),
        };
        let mut last = ClientError::NoRoute {
            topic: route.topic.clone(),
            reason: "no broker to ask for the group's members".into(),
        };
        for bd in &route.data.broker_datas {
            let Some(addr) = bd
                .broker_addrs
                .get(&MASTER_ID)
                .or_else(|| bd.broker_addrs.values().next())
            else {
                continue;
            };
            let req = RemotingCommand::request_with_header(
                RequestCode::GET_CONSUMER_LIST_BY_GROUP,
                &header,
            );
            match self
                .client
                .invoke_ok(addr, req, Duration::from_secs(3))
                .await
            {
                Ok(resp) => {
                    let mut ids = ConsumerList::from_json_bytes(&resp.body)?.consumer_id_list;
                    ids.sort();
                    ids.dedup();
                    return Ok(ids);
                }
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    /// Releases queues of `topic` no longer ours and starts the new ones;
    /// false if some could not be (yet).
    async fn apply(self: &Arc<Self>, topic: &str, mine: Vec<MessageQueue>) -> bool {
        let wanted: HashSet<&MessageQueue> = mine.iter().collect();
        let current: Vec<MessageQueue> = self
            .queues
            .lock()
            .keys()
            .filter(|mq| mq.topic == topic)
            .cloned()
            .collect();
        let mut complete = true;
        for mq in current.iter().filter(|mq| !wanted.contains(mq)) {
            complete &= self.release(mq).await;
        }
        let current: HashSet<&MessageQueue> = current.iter().collect();
        for mq in mine.iter().filter(|mq| !current.contains(mq)) {
            if self.token.is_cancelled() {
                return true;
            }
            match self.assign(mq).await {
                Ok(started) => complete &= started,
                Err(e) => {
                    debug!(topic = %mq.topic, queue = mq.queue_id, error = %e, "cannot start queue yet");
                    complete = false;
                }
            }
        }
        complete
    }

    /// Stops pulling `mq`, stores its offset and (orderly) unlocks it.
    /// False if an orderly batch of it kept running for a whole
    /// [`RELEASE_WAIT`]: the queue stays ours until the next try.
    async fn release(&self, mq: &MessageQueue) -> bool {
        let orderly = self.is_orderly() && self.is_clustering();
        let Some(pq) = self.queues.lock().get(mq).map(|h| Arc::clone(&h.pq)) else {
            return true;
        };
        // Wait for an orderly batch in progress, so its offset is stored
        // before another member can lock the queue and read that offset.
        let _consuming = if orderly {
            match tokio::time::timeout(RELEASE_WAIT, pq.consume_lock.lock()).await {
                Ok(guard) => Some(guard),
                Err(_) => {
                    debug!(topic = %mq.topic, queue = mq.queue_id, "queue busy, released later");
                    return false;
                }
            }
        } else {
            None
        };
        if !self.drop_queue(mq) {
            return true;
        }
        info!(topic = %mq.topic, broker = %mq.broker_name, queue = mq.queue_id, "queue released");
        self.offsets.persist(std::slice::from_ref(mq), false).await;
        self.offsets.remove(mq);
        if orderly {
            self.unlock(std::slice::from_ref(mq)).await;
        }
        true
    }

    /// Starts pulling `mq`; Ok(false) when (orderly) another member still
    /// holds its lock.
    async fn assign(self: &Arc<Self>, mq: &MessageQueue) -> Result<bool> {
        if self.is_orderly() && self.is_clustering() && !self.lock_one(mq).await {
            debug!(topic = %mq.topic, queue = mq.queue_id, "queue locked by another member");
            return Ok(false);
        }
        let offset = self.start_offset(mq).await?;
        info!(topic = %mq.topic, broker = %mq.broker_name, queue = mq.queue_id, offset, "queue assigned");
        self.spawn_queue(mq.clone(), offset);
        Ok(true)
    }

    /// Where pulling `mq` starts: an admin reset, the stored offset, or
    /// the `consume_from` position.
    async fn start_offset(&self, mq: &MessageQueue) -> Result<i64> {
        if let Some(o) = self.resets.lock().remove(mq) {
            return Ok(o);
        }
        if let Some(o) = self.offsets.fetch(mq).await? {
            return Ok(o);
        }
        let retry = topics::is_retry_topic(&mq.topic);
        match self.options.consume_from {
            ConsumeFrom::FirstOffset => Ok(0),
            ConsumeFrom::LastOffset if retry => Ok(0),
            ConsumeFrom::LastOffset => max_offset(&self.client, mq).await,
            ConsumeFrom::Timestamp(_) if retry => max_offset(&self.client, mq).await,
            ConsumeFrom::Timestamp(ts) => search_offset(&self.client, mq, ts).await,
        }
    }

    /// An admin reset the group's offsets of `topic`: store them, restart
    /// the affected queues from them.
    pub(super) async fn apply_reset(
        self: Arc<Self>,
        topic: &str,
        table: BTreeMap<MessageQueue, i64>,
    ) {
        for (mq, offset) in table.into_iter().filter(|(mq, _)| mq.topic == topic) {
            info!(%topic, queue = mq.queue_id, offset, "offset reset by admin");
            self.drop_queue(&mq);
            self.offsets.update(&mq, offset, false);
            if self.is_clustering() {
                if let Err(e) =
                    update_consumer_offset(&self.client, self.group(), &mq, offset, false).await
                {
                    warn!(error = %e, "cannot store the reset offset");
                }
            }
            self.resets.lock().insert(mq, offset);
        }
        self.offsets.persist(&[], false).await;
        self.rebalance_now.notify_one();
    }
}
