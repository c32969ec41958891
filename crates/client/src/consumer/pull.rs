//! One PULL_MESSAGE exchange (remoting-protocol §4.2, §9.3): which broker
//! node to ask, the request, and the decoded, re-filtered result.

use std::collections::HashMap;
use std::time::Duration;

use parking_lot::Mutex;
use protocol::body::heartbeat::SubscriptionData;
use protocol::body::MessageQueue;
use protocol::header::pull::{PullMessageRequestHeader, PullMessageResponseHeader};
use protocol::message::sysflag::pull as pullflag;
use protocol::message::{keys, topics};
use protocol::{RemotingCommand, RequestCode, ResponseCode};

use super::subscription::tag_matches;
use crate::error::{ClientError, Result};
use crate::instance::route::MASTER_ID;
use crate::instance::Client;
use crate::message::MessageExt;

/// What a pull found.
#[derive(Debug, Clone, PartialEq)]
pub enum PullStatus {
    /// Messages (possibly none left after the client-side tag check).
    Found(Vec<MessageExt>),
    /// Nothing new (after the long-poll hold, if any).
    NoNewMsg,
    /// Entries were there but none matched the subscription.
    NoMatchedMsg,
    /// The requested offset was out of range; continue at `next_begin_offset`.
    OffsetIllegal,
}

/// The result of one pull.
#[derive(Debug, Clone, PartialEq)]
pub struct PullResult {
    /// What was found.
    pub status: PullStatus,
    /// Where the next pull of the queue starts.
    pub next_begin_offset: i64,
    /// The queue's oldest stored offset.
    pub min_offset: i64,
    /// The queue's next offset to be written.
    pub max_offset: i64,
}

/// How to pull.
#[derive(Debug, Clone)]
pub(crate) struct PullSpec<'a> {
    pub group: &'a str,
    pub mq: &'a MessageQueue,
    pub offset: i64,
    pub max_nums: i32,
    pub sub: &'a SubscriptionData,
    /// The consumer's offset to store on the broker with this pull.
    pub commit_offset: Option<i64>,
    /// Long-poll hold time; None for an immediate answer.
    pub suspend: Option<Duration>,
    pub lite: bool,
}

/// Per-queue broker node the broker suggested for the next pull.
#[derive(Default)]
pub(crate) struct BrokerSuggestions {
    map: Mutex<HashMap<MessageQueue, i64>>,
}

impl BrokerSuggestions {
    fn get(&self, mq: &MessageQueue) -> i64 {
        self.map.lock().get(mq).copied().unwrap_or(MASTER_ID)
    }

    fn set(&self, mq: &MessageQueue, id: i64) {
        self.map.lock().insert(mq.clone(), id);
    }
}

/// The address to pull `mq` from: the suggested node, else any node of
/// the broker (master down → slave).
async fn pull_addr(client: &Client, mq: &MessageQueue, suggested: i64) -> Result<(String, bool)> {
    let find = || {
        client
            .broker_addr(&mq.broker_name, suggested, true)
            .map(|a| {
                let is_master = client
                    .broker_addr(&mq.broker_name, MASTER_ID, false)
                    .as_deref()
                    == Some(a.as_str());
                (a, is_master)
            })
    };
    if let Some(found) = find() {
        return Ok(found);
    }
    client.update_route(&mq.topic).await?;
    find().ok_or_else(|| ClientError::NoBrokerAddr {
        broker: mq.broker_name.clone(),
    })
}

/// Pulls once.
///
/// # Errors
/// Transport errors; error codes other than the four pull outcomes.
pub(crate) async fn pull(
    client: &Client,
    suggestions: &BrokerSuggestions,
    spec: &PullSpec<'_>,
) -> Result<PullResult> {
    let (addr, is_master) = pull_addr(client, spec.mq, suggestions.get(spec.mq)).await?;
    let mut sys_flag = pullflag::SUBSCRIPTION;
    // Slaves do not store offsets: never ask them to.
    let commit = spec.commit_offset.filter(|o| *o > 0 && is_master);
    if commit.is_some() {
        sys_flag |= pullflag::COMMIT_OFFSET;
    }
    if spec.suspend.is_some() {
        sys_flag |= pullflag::SUSPEND;
    }
    if spec.lite {
        sys_flag |= pullflag::LITE_PULL;
    }
    let suspend_ms = spec
        .suspend
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    let header = PullMessageRequestHeader {
        consumer_group: spec.group.to_string(),
        topic: spec.mq.topic.clone(),
        queue_id: spec.mq.queue_id,
        queue_offset: spec.offset,
        max_msg_nums: spec.max_nums,
        sys_flag,
        commit_offset: commit.unwrap_or(0),
        suspend_timeout_millis: suspend_ms,
        subscription: Some(spec.sub.sub_string.clone()),
        sub_version: spec.sub.sub_version,
        expression_type: Some(spec.sub.expression_type.clone()),
        max_msg_bytes: None,
        request_source: None,
        proxy_forward_client_id: None,
        broker_name: Some(spec.mq.broker_name.clone()),
    };
    let req = RemotingCommand::request_with_header(RequestCode::PULL_MESSAGE, &header);
    // The RPC must outlive the broker's hold time.
    let timeout = spec.suspend.unwrap_or_default() + Duration::from_secs(15);
    let resp = client.remoting().invoke(&addr, req, timeout).await?;
    let status = match ResponseCode::from_code(resp.code) {
        ResponseCode::SUCCESS => PullStatus::Found(Vec::new()),
        ResponseCode::PULL_NOT_FOUND => PullStatus::NoNewMsg,
        ResponseCode::PULL_RETRY_IMMEDIATELY => PullStatus::NoMatchedMsg,
        ResponseCode::PULL_OFFSET_MOVED => PullStatus::OffsetIllegal,
        _ => {
            return Err(ClientError::response(
                &addr,
                resp.code,
                resp.remark.as_deref(),
            ))
        }
    };
    let h: PullMessageResponseHeader = resp.decode_header()?;
    suggestions.set(spec.mq, h.suggest_which_broker_id);
    let status = match status {
        PullStatus::Found(_) => {
            PullStatus::Found(decode_found(&resp.body, spec, h.min_offset, h.max_offset)?)
        }
        other => other,
    };
    Ok(PullResult {
        status,
        next_begin_offset: h.next_begin_offset,
        min_offset: h.min_offset,
        max_offset: h.max_offset,
    })
}

/// Decodes the pulled records, drops tag-hash collisions, notes the
/// queue's bounds on each message.
fn decode_found(body: &[u8], spec: &PullSpec<'_>, min: i64, max: i64) -> Result<Vec<MessageExt>> {
    let mut msgs = MessageExt::decode_all(body, &spec.mq.broker_name)?;
    msgs.retain(|m| tag_matches(spec.sub, m));
    for m in &mut msgs {
        m.properties.insert(keys::MIN_OFFSET, min.to_string());
        m.properties.insert(keys::MAX_OFFSET, max.to_string());
    }
    Ok(msgs)
}

/// Gives a message read from the group's retry topic its original topic
/// back (the `RETRY_TOPIC` property).
pub(crate) fn restore_retry_topic(msg: &mut MessageExt, group: &str) {
    if msg.topic == topics::retry_topic(group) {
        if let Some(original) = msg.property(keys::RETRY_TOPIC).map(str::to_string) {
            msg.topic = original;
        }
    }
}
