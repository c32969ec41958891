//! CONSUMER_SEND_MSG_BACK over TCP: retry copies with growing reconsume
//! counts, then the dead-letter queue; the send path's DLQ rule.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "delivery_common/mod.rs"]
mod common;

use std::time::Duration;

use common::{send, send_request, wait_messages};
use protocol::header::consumer::ConsumerSendMsgBackRequestHeader;
use protocol::message::{decode_offset_msg_id, keys, MessageRecord};
use protocol::{RemotingCommand, RequestCode};
use testkit::TestCluster;

/// Every delay level is one second, so retries come back quickly.
async fn cluster() -> TestCluster {
    TestCluster::start_with(|_, store| {
        store.message_delay_level = ["1s"; 18].join(" ");
    })
    .await
}

async fn send_back(c: &TestCluster, offset: i64, delay_level: i32, max: i32) {
    let h = ConsumerSendMsgBackRequestHeader {
        offset,
        group: "G".into(),
        delay_level,
        origin_msg_id: None,
        origin_topic: None,
        unit_mode: Some(false),
        max_reconsume_times: Some(max),
    };
    let resp = c
        .call(RemotingCommand::request_with_header(
            RequestCode::CONSUMER_SEND_MSG_BACK,
            &h,
        ))
        .await;
    assert_eq!(resp.code, 0, "send back failed: {:?}", resp.remark);
}

async fn next_retry(c: &TestCluster, offset: i64) -> MessageRecord {
    let got = wait_messages(c, "%RETRY%G", 0, offset, 1, Duration::from_secs(5)).await;
    assert_eq!(got.len(), 1, "no retry message at offset {offset}");
    got.into_iter().next().unwrap().0
}

#[tokio::test]
async fn retries_grow_then_dead_letter() {
    let c = cluster().await;
    let sent = send(&c, "RetryT", &[("TAGS", "a"), ("KEYS", "k1")], 0, "payload").await;
    let (_, phys) = decode_offset_msg_id(&sent.msg_id).unwrap();
    let original: Vec<MessageRecord> = wait_messages(&c, "RetryT", 0, 0, 1, Duration::from_secs(2))
        .await
        .into_iter()
        .map(|(m, _)| m)
        .collect();
    let uniq = original[0].properties.uniq_key().unwrap().to_owned();

    send_back(&c, phys, 0, 2).await;
    let first = next_retry(&c, 0).await;
    assert_eq!(first.reconsume_times, 1);
    assert_eq!(&first.body[..], b"payload");
    assert_eq!(first.properties.get(keys::RETRY_TOPIC), Some("RetryT"));
    assert_eq!(
        first.properties.get(keys::ORIGIN_MESSAGE_ID),
        Some(uniq.as_str())
    );
    assert_eq!(first.properties.get(keys::DELAY), None);
    assert_eq!(first.born_timestamp, original[0].born_timestamp);

    send_back(&c, first.physical_offset, 0, 2).await;
    let second = next_retry(&c, 1).await;
    assert_eq!(second.reconsume_times, 2);
    assert_eq!(second.properties.get(keys::RETRY_TOPIC), Some("RetryT"));
    assert_eq!(
        second.properties.get(keys::ORIGIN_MESSAGE_ID),
        Some(uniq.as_str())
    );

    // reconsumeTimes (2) has reached the maximum (2): dead letter, no delay.
    send_back(&c, second.physical_offset, 0, 2).await;
    let dlq = wait_messages(&c, "%DLQ%G", 0, 0, 1, Duration::from_secs(3)).await;
    assert_eq!(dlq.len(), 1);
    let dead = &dlq[0].0;
    assert_eq!(dead.reconsume_times, 3);
    assert_eq!(&dead.body[..], b"payload");
    assert_eq!(dead.properties.get(keys::RETRY_TOPIC), Some("RetryT"));
    assert!(common::pull(&c, "G", "%RETRY%G", 0, 2).await.is_empty());
    let dlq_config = c.broker.state().topics.get("%DLQ%G").unwrap();
    assert_eq!((dlq_config.read_queue_nums, dlq_config.perm), (1, 6));
    c.shutdown().await;
}

#[tokio::test]
async fn negative_delay_level_goes_straight_to_dlq() {
    let c = cluster().await;
    let sent = send(&c, "RetryT2", &[], 0, "x").await;
    let (_, phys) = decode_offset_msg_id(&sent.msg_id).unwrap();
    send_back(&c, phys, -1, 16).await;
    let dlq = wait_messages(&c, "%DLQ%G", 0, 0, 1, Duration::from_secs(3)).await;
    assert_eq!(dlq.len(), 1);
    assert_eq!(dlq[0].0.reconsume_times, 1);
    assert!(common::pull(&c, "G", "%RETRY%G", 0, 0).await.is_empty());
    c.shutdown().await;
}

#[tokio::test]
async fn send_back_of_unknown_offset_fails() {
    let c = cluster().await;
    let h = ConsumerSendMsgBackRequestHeader {
        offset: 1 << 40,
        group: "G".into(),
        delay_level: 0,
        origin_msg_id: None,
        origin_topic: None,
        unit_mode: None,
        max_reconsume_times: None,
    };
    let resp = c
        .call(RemotingCommand::request_with_header(
            RequestCode::CONSUMER_SEND_MSG_BACK,
            &h,
        ))
        .await;
    assert_eq!(resp.code, 1, "SYSTEM_ERROR expected");
    c.shutdown().await;
}

#[tokio::test]
async fn client_side_retry_past_max_goes_to_dlq() {
    let c = cluster().await;
    let props = [(keys::RETRY_TOPIC, "T"), (keys::DELAY, "3")];
    // Below the maximum: delayed onto the retry topic.
    let mut below = send_request("%RETRY%G", -1, &props, 0, "again");
    below.ext_fields.insert("reconsumeTimes".into(), "1".into());
    below
        .ext_fields
        .insert("maxReconsumeTimes".into(), "3".into());
    assert_eq!(c.call(below).await.code, 0);
    // At the maximum: dead letter.
    let mut at = send_request("%RETRY%G", -1, &props, 0, "dead");
    at.ext_fields.insert("reconsumeTimes".into(), "3".into());
    at.ext_fields.insert("maxReconsumeTimes".into(), "3".into());
    assert_eq!(c.call(at).await.code, 0);
    let dlq = wait_messages(&c, "%DLQ%G", 0, 0, 1, Duration::from_secs(3)).await;
    assert_eq!(dlq.len(), 1);
    assert_eq!(&dlq[0].0.body[..], b"dead");
    let retry = wait_messages(&c, "%RETRY%G", 0, 0, 1, Duration::from_secs(5)).await;
    assert_eq!(retry.len(), 1);
    assert_eq!(&retry[0].0.body[..], b"again");
    c.shutdown().await;
}
