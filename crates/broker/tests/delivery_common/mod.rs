//! Helpers shared by the delivery integration tests: send, pull and wait
//! over real TCP against a `TestCluster`.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use bytes::Bytes;
use protocol::header::pull::PullMessageRequestHeader;
use protocol::header::send::{SendMessageRequestHeader, SendMessageResponseHeader};
use protocol::message::sysflag::pull as pullflag;
use protocol::message::{records, MessageRecord, Properties};
use protocol::{RemotingCommand, RequestCode};
use testkit::TestCluster;

pub use protocol::clock::now_ms;

/// A SEND_MESSAGE request for queue `queue_id` of `topic` (created with one
/// queue on first use).
pub fn send_request(
    topic: &str,
    queue_id: i32,
    props: &[(&str, &str)],
    sys_flag: i32,
    body: &str,
) -> RemotingCommand {
    let mut p = Properties::new();
    for (k, v) in props {
        p.insert(*k, *v);
    }
    let h = SendMessageRequestHeader {
        producer_group: "PG".into(),
        topic: topic.into(),
        default_topic: "TBW102".into(),
        default_topic_queue_nums: 1,
        queue_id,
        sys_flag,
        born_timestamp: now_ms(),
        flag: 0,
        properties: Some(p.encode()),
        reconsume_times: None,
        unit_mode: None,
        max_reconsume_times: None,
        batch: None,
        broker_name: None,
    };
    RemotingCommand::request_with_header(RequestCode::SEND_MESSAGE, &h)
        .with_body(Bytes::from(body.to_owned()))
}

/// Sends and expects SUCCESS.
pub async fn send(
    c: &TestCluster,
    topic: &str,
    props: &[(&str, &str)],
    sys_flag: i32,
    body: &str,
) -> SendMessageResponseHeader {
    let resp = c.call(send_request(topic, 0, props, sys_flag, body)).await;
    assert_eq!(resp.code, 0, "send failed: {:?}", resp.remark);
    resp.decode_header().unwrap()
}

/// One pull without waiting: the messages found (possibly none).
pub async fn pull(
    c: &TestCluster,
    group: &str,
    topic: &str,
    queue_id: i32,
    offset: i64,
) -> Vec<MessageRecord> {
    let h = PullMessageRequestHeader {
        consumer_group: group.into(),
        topic: topic.into(),
        queue_id,
        queue_offset: offset,
        max_msg_nums: 32,
        sys_flag: pullflag::SUBSCRIPTION,
        commit_offset: 0,
        suspend_timeout_millis: 0,
        subscription: Some("*".into()),
        sub_version: 0,
        expression_type: Some("TAG".into()),
        max_msg_bytes: None,
        request_source: None,
        proxy_forward_client_id: None,
        broker_name: None,
    };
    let resp = c
        .call(RemotingCommand::request_with_header(
            RequestCode::PULL_MESSAGE,
            &h,
        ))
        .await;
    if resp.code != 0 {
        return Vec::new();
    }
    records(&resp.body)
        .map(|r| r.unwrap().to_record())
        .collect()
}

/// Polls queue `queue_id` of `topic` from `offset` until `n` messages
/// arrived or `timeout` passed; each with the instant it was first seen.
pub async fn wait_messages(
    c: &TestCluster,
    topic: &str,
    queue_id: i32,
    offset: i64,
    n: usize,
    timeout: Duration,
) -> Vec<(MessageRecord, Instant)> {
    let deadline = Instant::now() + timeout;
    let mut got = Vec::new();
    let mut next = offset;
    while got.len() < n && Instant::now() < deadline {
        let batch = pull(c, "TEST_READER", topic, queue_id, next).await;
        let seen = Instant::now();
        for m in batch {
            next = m.queue_offset + 1;
            got.push((m, seen));
        }
        if got.len() < n {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    got
}
