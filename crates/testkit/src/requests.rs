//! Remoting requests as a plain client sends them, for tests that talk to
//! a broker below the client library (replication, failures, limits).

use protocol::header::pull::PullMessageRequestHeader;
use protocol::header::send::SendMessageRequestHeader;
use protocol::{RemotingCommand, RequestCode};

/// SEND_MESSAGE of `body` tagged `tag` to `topic` (queue -1: the broker
/// picks one), from producer group `PG`, creating the topic from TBW102.
pub fn send_request(topic: &str, queue_id: i32, tag: &str, body: &[u8]) -> RemotingCommand {
    let header = SendMessageRequestHeader {
        producer_group: "PG".into(),
        topic: topic.into(),
        default_topic: "TBW102".into(),
        default_topic_queue_nums: 4,
        queue_id,
        sys_flag: 0,
        born_timestamp: 1,
        flag: 0,
        properties: Some(format!("TAGS\u{1}{tag}\u{2}")),
        ..SendMessageRequestHeader::default()
    };
    RemotingCommand::request_with_header(RequestCode::SEND_MESSAGE, &header)
        .with_body(bytes::Bytes::copy_from_slice(body))
}

/// PULL_MESSAGE of up to 32 messages of `topic`/`queue_id` from `offset`,
/// for consumer group `CG` subscribed to `*`, without long polling.
pub fn pull_request(topic: &str, queue_id: i32, offset: i64) -> RemotingCommand {
    let header = PullMessageRequestHeader {
        consumer_group: "CG".into(),
        topic: topic.into(),
        queue_id,
        queue_offset: offset,
        max_msg_nums: 32,
        sys_flag: 1 << 2,
        commit_offset: 0,
        suspend_timeout_millis: 0,
        subscription: Some("*".into()),
        sub_version: 0,
        ..PullMessageRequestHeader::default()
    };
    RemotingCommand::request_with_header(RequestCode::PULL_MESSAGE, &header)
}
