//! The broker's own caps: sends and pulls queued across connections
//! (answered SYSTEM_BUSY when full), and a heartbeat naming a thousand new
//! groups answered with each metadata file written once.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use bytes::BytesMut;
use common::*;
use protocol::body::heartbeat::{ConsumerData, HeartbeatData, SubscriptionData};
use protocol::message::sysflag::pull as pullflag;
use protocol::{frame, RemotingCommand, RequestCode, ResponseCode};
use testkit::TestCluster;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

#[tokio::test]
async fn a_pull_past_the_pull_queue_capacity_is_answered_system_busy() {
    let c = TestCluster::start_with(|b, _| b.pull_thread_pool_queue_capacity = 1).await;
    send_ok(&c, send_v1("T_BUSY", 0, b"m0", "")).await;
    wait_queue(&c, "T_BUSY", 0, 1).await;
    // One pull parked on the empty end of the queue takes the only place.
    let mut sock = TcpStream::connect(c.broker_addr()).await.unwrap();
    let mut h = pull_req("T_BUSY", 0, 1, pullflag::SUSPEND);
    h.suspend_timeout_millis = 20_000;
    let mut out = BytesMut::new();
    frame::encode(&pull_cmd(&h), &mut out);
    sock.write_all(&out).await.unwrap();

    let mut busy = c.call(pull_cmd(&pull_req("T_BUSY", 0, 0, 0))).await;
    for _ in 0..200 {
        // The parked pull may not have been taken yet.
        if busy.code == ResponseCode::SYSTEM_BUSY.code() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        busy = c.call(pull_cmd(&pull_req("T_BUSY", 0, 0, 0))).await;
    }
    assert_error(
        &busy,
        ResponseCode::SYSTEM_BUSY,
        "pullThreadPoolQueueCapacity",
    );
    assert!(busy
        .remark
        .as_deref()
        .unwrap_or_default()
        .starts_with("[REJECTREQUEST]system busy"));
    // Sends have their own queue.
    send_ok(&c, send_v1("T_BUSY", 0, b"m1", "")).await;
    // The send wakes the parked pull, which gives its place back.
    drop(sock);
    let mut answered = c.call(pull_cmd(&pull_req("T_BUSY", 0, 0, 0))).await;
    for _ in 0..200 {
        if answered.code == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        answered = c.call(pull_cmd(&pull_req("T_BUSY", 0, 0, 0))).await;
    }
    assert_eq!(answered.code, 0, "{:?}", answered.remark);
    assert_eq!(bodies(&answered.body).len(), 2);
    c.shutdown().await;
}

#[tokio::test]
async fn a_heartbeat_naming_a_thousand_new_groups_saves_each_file_once() {
    let c = TestCluster::start().await;
    let consumers = (0..1000)
        .map(|i| ConsumerData {
            group_name: format!("G_MANY_{i}"),
            subscription_data_set: vec![SubscriptionData {
                topic: "T_MANY".into(),
                sub_string: "*".into(),
                sub_version: 1,
                ..SubscriptionData::default()
            }],
            ..ConsumerData::default()
        })
        .collect();
    let data = HeartbeatData {
        client_id: "many@1".into(),
        consumer_data_set: consumers,
        ..HeartbeatData::default()
    };
    let before = c.broker.state().groups.saves();
    let r = c
        .call(
            RemotingCommand::request(RequestCode::HEART_BEAT)
                .with_body(data.to_json_bytes().unwrap()),
        )
        .await;
    assert_eq!(r.code, 0, "{:?}", r.remark);
    let groups = &c.broker.state().groups;
    assert_eq!(groups.saves() - before, 1);
    assert!(groups.get("G_MANY_999").is_some());
    c.shutdown().await;
}
