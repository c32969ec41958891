//! Delay levels over TCP: a DELAY message waits in SCHEDULE_TOPIC_XXXX and
//! reaches its topic not early and about on time, once, across a restart.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "delivery_common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::{send, wait_messages};
use protocol::body::group::DelayOffsetSerializeWrapper;
use protocol::message::{keys, topics};
use protocol::{RemotingCommand, RequestCode};
use testkit::TestCluster;

/// The messages staged in a schedule queue (waiting for the dispatcher).
async fn staged(c: &TestCluster, queue_id: i32) -> Vec<protocol::message::MessageRecord> {
    wait_messages(
        c,
        topics::SCHEDULE_TOPIC,
        queue_id,
        0,
        1,
        Duration::from_secs(2),
    )
    .await
    .into_iter()
    .map(|(m, _)| m)
    .collect()
}

#[tokio::test]
async fn level_one_is_delivered_after_one_second() {
    let c = TestCluster::start().await;
    let started = Instant::now();
    let sent = send(
        &c,
        "DelayT",
        &[(keys::DELAY, "1"), (keys::TAGS, "tagA")],
        0,
        "later",
    )
    .await;
    // Stored in the schedule topic, queue level - 1.
    assert_eq!(sent.queue_offset, 0);
    let staged = staged(&c, 0).await;
    assert_eq!(staged.len(), 1);
    assert_eq!(staged[0].properties.get(keys::REAL_TOPIC), Some("DelayT"));
    assert_eq!(staged[0].properties.get(keys::REAL_QID), Some("0"));
    assert!(common::pull(&c, "X", "DelayT", 0, 0).await.is_empty());

    let got = wait_messages(&c, "DelayT", 0, 0, 1, Duration::from_secs(5)).await;
    assert_eq!(got.len(), 1, "the delayed message never arrived");
    let (msg, seen) = &got[0];
    let waited = seen.duration_since(started);
    assert!(
        msg.store_timestamp - staged[0].store_timestamp >= 1000,
        "delivered early: {} ms after staging",
        msg.store_timestamp - staged[0].store_timestamp
    );
    assert!(
        waited <= Duration::from_secs(2),
        "delivered late: {waited:?}"
    );
    assert_eq!(&msg.body[..], b"later");
    assert_eq!(msg.properties.get(keys::DELAY), None);
    assert_eq!(msg.properties.tags(), Some("tagA"));
    // The tag hash was recomputed from TAGS: a tag filter finds it.
    let entry = c.broker.state().store.cq_entry("DelayT", 0, 0).unwrap();
    assert_eq!(entry.tag_hash, protocol::message::tag_hash("tagA"));

    let resp = c
        .call(RemotingCommand::request(RequestCode::GET_ALL_DELAY_OFFSET))
        .await;
    assert_eq!(resp.code, 0);
    let offsets = DelayOffsetSerializeWrapper::from_json_bytes(&resp.body).unwrap();
    assert_eq!(offsets.offset_table.get(&1), Some(&1));
    c.shutdown().await;
}

#[tokio::test]
async fn level_above_max_is_clamped() {
    let c = TestCluster::start_with(|_, store| store.message_delay_level = "1s 1s".into()).await;
    send(&c, "DelayClamp", &[(keys::DELAY, "99")], 0, "x").await;
    let staged = staged(&c, 1).await;
    assert_eq!(staged.len(), 1);
    assert_eq!(staged[0].properties.get(keys::DELAY), Some("2"));
    let got = wait_messages(&c, "DelayClamp", 0, 0, 1, Duration::from_secs(5)).await;
    assert_eq!(got.len(), 1);
    c.shutdown().await;
}

#[tokio::test]
async fn restart_neither_loses_nor_repeats() {
    let c = TestCluster::start_with(|_, store| store.message_delay_level = "1s 2s".into()).await;
    send(&c, "DelayR", &[(keys::DELAY, "1")], 0, "first").await;
    let got = wait_messages(&c, "DelayR", 0, 0, 1, Duration::from_secs(5)).await;
    assert_eq!(got.len(), 1);
    send(&c, "DelayR", &[(keys::DELAY, "2")], 0, "second").await;
    let staged = staged(&c, 1).await;
    assert_eq!(staged.len(), 1);

    let c = c.restart_broker().await;
    let got = wait_messages(&c, "DelayR", 0, 1, 1, Duration::from_secs(6)).await;
    assert_eq!(got.len(), 1, "the level-2 message was lost in the restart");
    assert_eq!(&got[0].0.body[..], b"second");
    assert!(got[0].0.store_timestamp - staged[0].store_timestamp >= 2000);
    // Nothing delivered twice.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(common::pull(&c, "X", "DelayR", 0, 2).await.is_empty());
    c.shutdown().await;
}
