//! A broker restart keeps messages and the group's committed offsets: a
//! member of the group after the restart gets only what it had not consumed.

use std::sync::Arc;
use std::time::Duration;

use client::{ConsumeFrom, ConsumeResult, Message, PushConsumer};
use testkit::TestCluster;

use crate::support::{create_topic, producer, recorder, sorted, wait_for, Seen};

async fn member(ns: &str, seen: &Seen) -> PushConsumer {
    PushConsumer::builder()
        .namesrv(ns)
        .group("RestartCG")
        .subscribe("Restart", "*")
        .consume_from(ConsumeFrom::FirstOffset)
        .listener(recorder(seen, ConsumeResult::Success))
        .build()
        .await
        .unwrap()
}

async fn send(ns: &str, range: std::ops::Range<i32>) -> Vec<String> {
    let producer = producer(ns, "RestartPG").await;
    let mut ids = Vec::new();
    for i in range {
        let r = producer
            .send(Message::new("Restart", format!("r{i}")))
            .await
            .unwrap();
        ids.push(r.msg_id);
    }
    producer.shutdown().await;
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offsets_and_messages_survive_a_broker_restart() {
    let cluster = TestCluster::start().await;
    let ns = cluster.namesrv_addr();
    create_topic(&ns, "Restart", 2).await;
    let before = send(&ns, 0..6).await;
    let seen: Seen = Arc::default();
    let first = member(&ns, &seen).await;
    assert!(
        wait_for(10, || seen.lock().len() >= 6).await,
        "got {}",
        seen.lock().len()
    );
    // Shutdown stores the group's offsets on the broker.
    first.shutdown().await;

    let cluster = cluster.restart_broker().await;
    let after = send(&ns, 6..10).await;
    let again: Seen = Arc::default();
    let second = member(&ns, &again).await;
    assert!(
        wait_for(10, || again.lock().len() >= 4).await,
        "got {}",
        again.lock().len()
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let ids: Vec<String> = again.lock().iter().map(|m| m.msg_id.clone()).collect();
    assert_eq!(
        sorted(&ids),
        sorted(&after),
        "only the messages sent after the restart"
    );
    let old: Vec<String> = seen.lock().iter().map(|m| m.msg_id.clone()).collect();
    assert_eq!(sorted(&old), sorted(&before));
    second.shutdown().await;
    cluster.shutdown().await;
}
