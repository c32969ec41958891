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

use crate::error::Result;
use crate::instance::Client;
use crate::message::MessageExt;

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
/// next retry delay, a negative one sends it straight to the DLQ.
///
/// # Errors
/// Transport errors and error codes.
pub(crate) async fn send_back(
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
