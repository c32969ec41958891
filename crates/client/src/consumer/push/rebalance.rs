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

impl Shared {
    pub(super) async fn rebalance_loop(self: Arc<Self>) {
        loop {
            self.rebalance().await;
            tokio::select! {
                _ = self.token.cancelled() => return,
                _ = self.rebalance_now.notified() => {}
                _ = tokio::time::sleep(self.options.rebalance_interval) => {}
            }
        }
    }

    async fn rebalance(self: &Arc<Self>) {
        let topics: Vec<String> = self.subs.iter().map(|s| s.topic.clone()).collect();
        for topic in topics {
            if self.token.is_cancelled() {
                return;
            }
            if let Err(e) = self.rebalance_topic(&topic).await {
                debug!(%topic, error = %e, "rebalance skipped");
            }
        }
    }

    async fn rebalance_topic(self: &Arc<Self>, topic: &str) -> Result<()> {
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
        self.apply(topic, mine).await;
        Ok(())
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

    /// Releases queues of `topic` no longer ours and starts the new ones.
    async fn apply(self: &Arc<Self>, topic: &str, mine: Vec<MessageQueue>) {
        let wanted: HashSet<&MessageQueue> = mine.iter().collect();
        let current: Vec<MessageQueue> = self
            .queues
            .lock()
            .keys()
            .filter(|mq| mq.topic == topic)
            .cloned()
            .collect();
        for mq in current.iter().filter(|mq| !wanted.contains(mq)) {
            self.release(mq).await;
        }
        let current: HashSet<&MessageQueue> = current.iter().collect();
        for mq in mine.iter().filter(|mq| !current.contains(mq)) {
            if self.token.is_cancelled() {
                return;
            }
            if let Err(e) = self.assign(mq).await {
                debug!(topic = %mq.topic, queue = mq.queue_id, error = %e, "cannot start queue yet");
            }
        }
    }

    async fn release(&self, mq: &MessageQueue) {
        if !self.drop_queue(mq) {
            return;
        }
        info!(topic = %mq.topic, broker = %mq.broker_name, queue = mq.queue_id, "queue released");
        self.offsets.persist(std::slice::from_ref(mq), false).await;
        self.offsets.remove(mq);
        if self.is_orderly() && self.is_clustering() {
            self.unlock(std::slice::from_ref(mq)).await;
        }
    }

    async fn assign(self: &Arc<Self>, mq: &MessageQueue) -> Result<()> {
        if self.is_orderly() && self.is_clustering() && !self.lock_one(mq).await {
            debug!(topic = %mq.topic, queue = mq.queue_id, "queue locked by another member");
            return Ok(());
        }
        let offset = self.start_offset(mq).await?;
        info!(topic = %mq.topic, broker = %mq.broker_name, queue = mq.queue_id, offset, "queue assigned");
        self.spawn_queue(mq.clone(), offset);
        Ok(())
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
