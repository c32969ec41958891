//! LOCK_BATCH_MQ / UNLOCK_BATCH_MQ over TCP: exclusive per group, renewable,
//! released by unlock, by lease expiry and by the connection closing.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use protocol::body::lock::{LockBatchRequestBody, LockBatchResponseBody};
use protocol::body::MessageQueue;
use protocol::{RemotingCommand, RequestCode};
use remoting::{ClientConfig, RemotingClient};
use testkit::TestCluster;

fn queues(ids: &[i32]) -> Vec<MessageQueue> {
    ids.iter()
        .map(|q| MessageQueue::new("LockT", "broker-a", *q))
        .collect()
}

fn body(client: &str, ids: &[i32]) -> bytes::Bytes {
    LockBatchRequestBody {
        client_id: client.into(),
        consumer_group: "OG".into(),
        mq_set: queues(ids),
        only_this_broker: true,
    }
    .to_json_bytes()
    .unwrap()
    .into()
}

async fn lock(c: &TestCluster, via: &RemotingClient, client: &str, ids: &[i32]) -> Vec<i32> {
    let req = RemotingCommand::request(RequestCode::LOCK_BATCH_MQ).with_body(body(client, ids));
    let resp = via
        .invoke(&c.broker_addr(), req, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(resp.code, 0);
    let mut got: Vec<i32> = LockBatchResponseBody::from_json_bytes(&resp.body)
        .unwrap()
        .lock_ok_mq_set
        .iter()
        .map(|m| m.queue_id)
        .collect();
    got.sort_unstable();
    got
}

async fn unlock(c: &TestCluster, client: &str, ids: &[i32]) {
    let req = RemotingCommand::request(RequestCode::UNLOCK_BATCH_MQ).with_body(body(client, ids));
    assert_eq!(c.call(req).await.code, 0);
}

#[tokio::test]
async fn locks_are_exclusive_renewable_and_expire() {
    let c = TestCluster::start_with(|b, _| b.rebalance_lock_max_live_time = 400).await;
    let via = &c.client;
    assert_eq!(lock(&c, via, "A", &[0, 1]).await, [0, 1]);
    assert_eq!(lock(&c, via, "B", &[1, 2]).await, [2]);
    // The owner renews.
    assert_eq!(lock(&c, via, "A", &[0, 1]).await, [0, 1]);
    unlock(&c, "A", &[1]).await;
    // Unlocking someone else's queue does nothing.
    unlock(&c, "A", &[2]).await;
    assert_eq!(lock(&c, via, "B", &[1, 2]).await, [1, 2]);
    // A's lease on queue 0 runs out while B keeps renewing.
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(lock(&c, via, "B", &[1, 2]).await, [1, 2]);
    }
    assert_eq!(lock(&c, via, "B", &[0, 1, 2]).await, [0, 1, 2]);
    assert!(lock(&c, via, "A", &[0, 1, 2]).await.is_empty());
    c.shutdown().await;
}

#[tokio::test]
async fn closing_the_connection_releases_its_locks() {
    let c = TestCluster::start().await;
    let other = RemotingClient::new(ClientConfig::default(), None);
    assert_eq!(lock(&c, &other, "C", &[3]).await, [3]);
    assert!(lock(&c, &c.client, "D", &[3]).await.is_empty());
    other.shutdown().await;
    let mut got = Vec::new();
    for _ in 0..100 {
        got = lock(&c, &c.client, "D", &[3]).await;
        if !got.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(got, [3]);
    c.shutdown().await;
}
