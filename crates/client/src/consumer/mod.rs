//! Consumers: the push consumer, the lite pull consumer, and what they
//! share (subscriptions, allocation, offsets, pulling).

pub mod allocate;
pub mod lite;
pub mod offset_store;
mod process_queue;
pub mod pull;
pub mod push;
pub mod subscription;

use std::time::Duration;

use protocol::body::heartbeat::{ConsumeFromWhere, MessageModel as WireModel};
use protocol::header::consumer::ConsumerSendMsgBackRequestHeader;
use protocol::{RemotingCommand, RequestCode};

pub use allocate::AllocateStrategy;
pub use lite::{LitePullConsumer, LitePullConsumerBuilder};
pub use pull::{PullResult, PullStatus};
pub use push::{PushConsumer, PushConsumerBuilder};
pub use subscription::Expression;

use protocol::message::{keys, topics};

use crate::error::Result;
use crate::instance::Client;
use crate::message::{Message, MessageExt};

/// How the members of a consumer group share messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MessageModel {
    /// Members share the queues; each message goes to one member; offsets
    /// live on the brokers.
    #[default]
    Clustering,
    /// Every member reads every queue; offsets live in a local file.
    Broadcasting,
}

impl MessageModel {
    /// The heartbeat form.
    pub(crate) fn wire(self) -> WireModel {
        match self {
            MessageModel::Clustering => WireModel::Clustering,
            MessageModel::Broadcasting => WireModel::Broadcasting,
        }
    }
}

/// Where a group with no stored offset starts reading a queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ConsumeFrom {
    /// Only messages arriving from now on (retry queues: from the start).
    #[default]
    LastOffset,
    /// From the oldest stored message.
    FirstOffset,
    /// From the first message stored at or after this time (ms since epoch).
    Timestamp(i64),
}

impl ConsumeFrom {
    /// The heartbeat name.
    pub(crate) fn wire(self) -> ConsumeFromWhere {
        match self {
            ConsumeFrom::LastOffset => ConsumeFromWhere::LastOffset,
            ConsumeFrom::FirstOffset => ConsumeFromWhere::FirstOffset,
            ConsumeFrom::Timestamp(_) => ConsumeFromWhere::Timestamp,
        }
    }
}

/// What a listener reports for a batch of messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsumeResult {
    /// Consumed; the offset may move past them.
    Success,
    /// Failed. Concurrent listeners: redeliver later through the group's
    /// retry topic (clustering; broadcasting drops them). Orderly
    /// listeners: pause the queue a moment and redeliver the same batch.
    Retry,
}

/// Sends a message that failed consumption back to its broker
/// (CONSUMER_SEND_MSG_BACK): `delay_level` 0 lets the broker pick the
/// next retry delay, a negative one sends it straight to the DLQ. If the
/// broker refuses, the message is re-sent to the group's retry topic as a
/// new message carrying the retry properties, as Java clients do.
///
/// # Errors
/// The CONSUMER_SEND_MSG_BACK error when the re-send fails too.
pub(crate) async fn send_back(
    client: &Client,
    group: &str,
    msg: &MessageExt,
    delay_level: i32,
    max_reconsume_times: i32,
) -> Result<()> {
    let Err(e) = send_back_to_broker(client, group, msg, delay_level, max_reconsume_times).await
    else {
        return Ok(());
    };
    tracing::debug!(msg_id = %msg.msg_id, error = %e, "send back refused; re-sending to the retry topic");
    let retry = retry_message(group, msg, delay_level, max_reconsume_times);
    match crate::producer::send_direct(client, retry).await {
        Ok(_) => Ok(()),
        Err(_) => Err(e),
    }
}

async fn send_back_to_broker(
    client: &Client,
    group: &str,
    msg: &MessageExt,
    delay_level: i32,
    max_reconsume_times: i32,
) -> Result<()> {
    let addr = match client.master_addr(&msg.broker_name, &msg.topic).await {
        Ok(a) => a,
        Err(_) => msg.store_host.to_string(),
    };
    let header = ConsumerSendMsgBackRequestHeader {
        offset: msg.commit_log_offset,
        group: group.to_string(),
        delay_level,
        origin_msg_id: Some(msg.msg_id.clone()),
        origin_topic: Some(msg.topic.clone()),
        unit_mode: Some(false),
        max_reconsume_times: Some(max_reconsume_times),
    };
    let req = RemotingCommand::request_with_header(RequestCode::CONSUMER_SEND_MSG_BACK, &header);
    client.invoke_ok(&addr, req, Duration::from_secs(3)).await?;
    Ok(())
}

/// The message a consumer sends to `%RETRY%{group}` itself (remoting-protocol
/// §9.6 step 4): same body, flag and properties, plus RETRY_TOPIC,
/// RECONSUME_TIME, MAX_RECONSUME_TIMES, ORIGIN_MESSAGE_ID and DELAY
/// (3 + reconsume times). A negative `delay_level` asks for the DLQ by
/// marking the message as out of retries.
pub(crate) fn retry_message(group: &str, msg: &MessageExt, delay_level: i32, max: i32) -> Message {
    let mut m = Message::new(topics::retry_topic(group), msg.body.clone()).with_flag(msg.flag);
    for (k, v) in msg.properties.iter() {
        if k != keys::MIN_OFFSET && k != keys::MAX_OFFSET {
            m = m.with_property(k, v);
        }
    }
    if msg.property(keys::RETRY_TOPIC).is_none() {
        m = m.with_property(keys::RETRY_TOPIC, msg.topic.clone());
    }
    if msg.property(keys::ORIGIN_MESSAGE_ID).is_none() {
        m = m.with_property(keys::ORIGIN_MESSAGE_ID, msg.msg_id.clone());
    }
    let times = if delay_level < 0 {
        max.max(msg.reconsume_times + 1)
    } else {
        msg.reconsume_times + 1
    };
    let level = u8::try_from((3 + msg.reconsume_times).clamp(1, 18)).unwrap_or(18);
    m.with_property(keys::RECONSUME_TIME, times.to_string())
        .with_property(keys::MAX_RECONSUME_TIMES, max.to_string())
        .with_delay_level(level)
}

/// Sleeps `d` unless `token` is cancelled first; returns true if cancelled.
pub(crate) async fn sleep_or_cancel(
    token: &tokio_util::sync::CancellationToken,
    d: Duration,
) -> bool {
    tokio::select! {
        _ = token.cancelled() => true,
        _ = tokio::time::sleep(d) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::message::Properties;

    fn failed(reconsume_times: i32) -> MessageExt {
        let mut properties = Properties::new();
        properties.insert(keys::UNIQ_KEY, "ID1");
        properties.insert(keys::TAGS, "A");
        properties.insert(keys::MIN_OFFSET, "0");
        MessageExt {
            topic: "T".into(),
            body: bytes::Bytes::from_static(b"x"),
            flag: 3,
            properties,
            broker_name: "b".into(),
            queue_id: 0,
            queue_offset: 7,
            commit_log_offset: 100,
            sys_flag: 0,
            born_timestamp: 0,
            born_host: "127.0.0.1:1".parse().unwrap(),
            store_timestamp: 0,
            store_host: "127.0.0.1:2".parse().unwrap(),
            reconsume_times,
            prepared_transaction_offset: 0,
            msg_id: "ID1".into(),
            offset_msg_id: String::new(),
            store_size: 0,
        }
    }

    #[test]
    fn retry_message_carries_the_retry_properties() {
        let m = retry_message("G", &failed(2), 0, 16);
        assert_eq!(m.topic(), "%RETRY%G");
        assert_eq!(m.flag(), 3);
        assert_eq!(m.property(keys::RETRY_TOPIC), Some("T"));
        assert_eq!(m.property(keys::RECONSUME_TIME), Some("3"));
        assert_eq!(m.property(keys::MAX_RECONSUME_TIMES), Some("16"));
        assert_eq!(m.property(keys::ORIGIN_MESSAGE_ID), Some("ID1"));
        assert_eq!(m.delay_level(), Some(5));
        assert_eq!(m.uniq_key(), Some("ID1"));
        assert_eq!(m.tags(), Some("A"));
        assert_eq!(m.property(keys::MIN_OFFSET), None);
        // To the DLQ: out of retries.
        let d = retry_message("G", &failed(2), -1, 16);
        assert_eq!(d.property(keys::RECONSUME_TIME), Some("16"));
        // Delay levels stop at the last one.
        assert_eq!(
            retry_message("G", &failed(40), 0, 50).delay_level(),
            Some(18)
        );
    }
}
