//! lite_pull example: assigned and subscribed lite pull consumers, poll,
//! commit, and seeks (to an offset, a time, the beginning and the end).

use std::time::Duration;

use client::{ConsumeFrom, LitePullConsumer, Message, MessageExt};
use testkit::TestCluster;

use crate::support::{create_topic, producer, sorted};

/// Polls until `n` messages arrived (or 10 s passed).
async fn poll_n(lite: &LitePullConsumer, n: usize) -> Vec<MessageExt> {
    let mut got = Vec::new();
    for _ in 0..50 {
        got.extend(lite.poll(Duration::from_millis(200)).await.unwrap());
        if got.len() >= n {
            break;
        }
    }
    got
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn assigned_lite_pull_commits_and_seeks() {
    let cluster = TestCluster::start().await;
    let ns = cluster.namesrv_addr();
    create_topic(&ns, "Lite", 2).await;
    let producer = producer(&ns, "LitePG").await;
    let mut sent = Vec::new();
    for i in 0..10 {
        let r = producer
            .send(Message::new("Lite", format!("l{i}")))
            .await
            .unwrap();
        sent.push(r);
    }
    let lite = LitePullConsumer::builder()
        .namesrv(&ns)
        .group("LiteCG")
        .consume_from(ConsumeFrom::FirstOffset)
        .auto_commit(false)
        .build()
        .await
        .unwrap();
    let queues = lite.fetch_queues("Lite").await.unwrap();
    assert_eq!(queues.len(), 2);
    lite.assign(queues.clone()).await.unwrap();
    let got = poll_n(&lite, 10).await;
    let ids: Vec<String> = got.iter().map(|m| m.msg_id.clone()).collect();
    let want: Vec<String> = sent.iter().map(|r| r.msg_id.clone()).collect();
    assert_eq!(sorted(&ids), sorted(&want), "each message once");
    assert!(lite
        .poll(Duration::from_millis(300))
        .await
        .unwrap()
        .is_empty());

    let mq = queues
        .iter()
        .find(|q| q.queue_id == sent[0].queue.queue_id)
        .unwrap()
        .clone();
    let in_mq = sent.iter().filter(|r| r.queue == mq).count() as i64;
    assert_eq!(lite.committed(&mq).await.unwrap().unwrap_or(-1).max(0), 0);
    lite.commit().await.unwrap();
    assert_eq!(lite.committed(&mq).await.unwrap(), Some(in_mq));

    // Back to offset 1 of one queue: exactly its later messages again.
    lite.seek(&mq, 1).await.unwrap();
    let again = poll_n(&lite, (in_mq - 1) as usize).await;
    let offsets: Vec<i64> = again.iter().map(|m| m.queue_offset).collect();
    assert_eq!(offsets, (1..in_mq).collect::<Vec<_>>());
    assert!(again.iter().all(|m| m.queue_id == mq.queue_id));

    // To the beginning by time, to the end, and to the beginning.
    let first_store = got
        .iter()
        .filter(|m| m.queue_id == mq.queue_id)
        .map(|m| m.store_timestamp)
        .min()
        .unwrap();
    lite.seek_to_timestamp(&mq, first_store - 1000)
        .await
        .unwrap();
    let by_time = poll_n(&lite, in_mq as usize).await;
    assert_eq!(by_time.first().map(|m| m.queue_offset), Some(0));
    lite.seek_to_end(&mq).await.unwrap();
    assert!(lite
        .poll(Duration::from_millis(300))
        .await
        .unwrap()
        .is_empty());
    let late = producer
        .send_to_queue(Message::new("Lite", "late"), &mq)
        .await
        .unwrap();
    let after_end = poll_n(&lite, 1).await;
    assert_eq!(after_end.len(), 1);
    assert_eq!(after_end[0].msg_id, late.msg_id);
    lite.seek_to_begin(&mq).await.unwrap();
    let from_begin = poll_n(&lite, in_mq as usize + 1).await;
    assert_eq!(from_begin.len() as i64, in_mq + 1);
    lite.shutdown().await;
    producer.shutdown().await;
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribed_lite_pull_gets_every_matching_message() {
    let cluster = TestCluster::start().await;
    let ns = cluster.namesrv_addr();
    // Subscribed before the topic exists: its queues come once it does.
    let lite = LitePullConsumer::builder()
        .namesrv(&ns)
        .group("LiteSubCG")
        .subscribe("LiteSub", "keep")
        .consume_from(ConsumeFrom::FirstOffset)
        .build()
        .await
        .unwrap();
    create_topic(&ns, "LiteSub", 4).await;
    let producer = producer(&ns, "LiteSubPG").await;
    let mut want = Vec::new();
    for i in 0..12 {
        let tag = if i % 3 == 0 { "skip" } else { "keep" };
        let r = producer
            .send(Message::new("LiteSub", format!("s{i}")).with_tags(tag))
            .await
            .unwrap();
        if tag == "keep" {
            want.push(r.msg_id);
        }
    }
    let got = poll_n(&lite, want.len()).await;
    assert!(lite
        .poll(Duration::from_millis(300))
        .await
        .unwrap()
        .is_empty());
    let ids: Vec<String> = got.iter().map(|m| m.msg_id.clone()).collect();
    assert_eq!(sorted(&ids), sorted(&want));
    assert_eq!(lite.assignment().len(), 4);
    lite.shutdown().await;
    producer.shutdown().await;
    cluster.shutdown().await;
}
