//! delay example and consumer retries: delayed messages are not delivered
//! early; failed messages come back through the retry topic with growing
//! reconsume counts.

use std::sync::Arc;
use std::time::{Duration, Instant};

use client::{ConsumeFrom, ConsumeResult, Message, MessageExt, PushConsumer};
use parking_lot::Mutex;
use testkit::TestCluster;

use crate::support::{create_topic, producer, wait_for, Seen};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delay_level_one_is_not_delivered_early() {
    let cluster = TestCluster::start().await;
    let ns = cluster.namesrv_addr();
    create_topic(&ns, "Delay", 2).await;
    let arrivals: Arc<Mutex<Vec<(MessageExt, Instant)>>> = Arc::default();
    let a = Arc::clone(&arrivals);
    let consumer = PushConsumer::builder()
        .namesrv(&ns)
        .group("DelayCG")
        .subscribe("Delay", "*")
        .consume_from(ConsumeFrom::FirstOffset)
        .listener(move |msgs: Vec<MessageExt>| {
            let now = Instant::now();
            a.lock().extend(msgs.into_iter().map(|m| (m, now)));
            async { ConsumeResult::Success }
        })
        .build()
        .await
        .unwrap();
    let producer = producer(&ns, "DelayPG").await;
    let sent_at = Instant::now();
    let delayed = producer
        .send(Message::new("Delay", "later").with_delay_level(1))
        .await
        .unwrap();
    let plain = producer.send(Message::new("Delay", "now")).await.unwrap();
    assert!(
        wait_for(10, || arrivals.lock().len() >= 2).await,
        "got {}",
        arrivals.lock().len()
    );
    let got = arrivals.lock().clone();
    assert_eq!(got.len(), 2);
    assert!(got.iter().any(|(m, _)| m.msg_id == plain.msg_id));
    let (m, at) = got
        .iter()
        .find(|(m, _)| m.msg_id == delayed.msg_id)
        .expect("the delayed message arrived");
    assert_eq!(m.topic, "Delay", "real topic restored");
    assert_eq!(m.body.as_ref(), b"later");
    // Level 1 is 1 s after storing, which is after `sent_at`; the broker's
    // millisecond clock may round down by a little.
    assert!(
        at.duration_since(sent_at) >= Duration::from_millis(990),
        "delivered after {:?}",
        at.duration_since(sent_at)
    );
    assert!(m.store_timestamp - m.born_timestamp >= 0);
    consumer.shutdown().await;
    producer.shutdown().await;
    cluster.shutdown().await;
}

/// 18 one-second levels: retries (level 3 + reconsume count) take 1 s.
fn fast_delays() -> String {
    vec!["1s"; 18].join(" ")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_messages_come_back_with_growing_reconsume_counts() {
    crate::support::trace();
    let cluster =
        TestCluster::start_with(|_, store| store.message_delay_level = fast_delays()).await;
    let ns = cluster.namesrv_addr();
    create_topic(&ns, "Retry", 1).await;
    let producer = producer(&ns, "RetryPG").await;
    let sent = producer
        .send(Message::new("Retry", "fail twice").with_tags("R"))
        .await
        .unwrap();
    let seen: Seen = Arc::default();
    let s = Arc::clone(&seen);
    let consumer = PushConsumer::builder()
        .namesrv(&ns)
        .group("RetryCG")
        .subscribe("Retry", "*")
        .consume_from(ConsumeFrom::FirstOffset)
        .listener(move |msgs: Vec<MessageExt>| {
            let fail = msgs[0].reconsume_times < 2;
            s.lock().extend(msgs);
            async move {
                if fail {
                    ConsumeResult::Retry
                } else {
                    ConsumeResult::Success
                }
            }
        })
        .build()
        .await
        .unwrap();
    assert!(
        wait_for(12, || seen.lock().len() >= 3).await,
        "got {}",
        seen.lock().len()
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let got = seen.lock().clone();
    assert_eq!(got.len(), 3, "two failures, then success, then nothing");
    let counts: Vec<i32> = got.iter().map(|m| m.reconsume_times).collect();
    assert_eq!(counts, vec![0, 1, 2]);
    for m in &got {
        assert_eq!(m.msg_id, sent.msg_id, "same UNIQ_KEY");
        assert_eq!(m.topic, "Retry", "original topic restored");
        assert_eq!(m.tags(), Some("R"));
        assert_eq!(m.body.as_ref(), b"fail twice");
    }
    assert!(!got[0].is_retry());
    assert!(got[1].is_retry() && got[2].is_retry());
    consumer.shutdown().await;
    producer.shutdown().await;
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exhausted_retries_end_in_the_dead_letter_queue() {
    crate::support::trace();
    let cluster =
        TestCluster::start_with(|_, store| store.message_delay_level = fast_delays()).await;
    let ns = cluster.namesrv_addr();
    create_topic(&ns, "Dead", 1).await;
    let producer = producer(&ns, "DeadPG").await;
    let sent = producer
        .send(Message::new("Dead", "always fails"))
        .await
        .unwrap();
    let seen: Seen = Arc::default();
    let consumer = PushConsumer::builder()
        .namesrv(&ns)
        .group("DeadCG")
        .subscribe("Dead", "*")
        .consume_from(ConsumeFrom::FirstOffset)
        .max_reconsume_times(1)
        .listener(crate::support::recorder(&seen, ConsumeResult::Retry))
        .build()
        .await
        .unwrap();
    assert!(
        wait_for(10, || seen.lock().len() >= 2).await,
        "got {}",
        seen.lock().len()
    );
    // The DLQ topic of the group holds it after the last failure.
    let dlq: Seen = Arc::default();
    let lite = client::LitePullConsumer::builder()
        .namesrv(&ns)
        .group("DeadReader")
        .consume_from(ConsumeFrom::FirstOffset)
        .build()
        .await
        .unwrap();
    let found = crate::support::wait_async(10, || async {
        if let Ok(qs) = lite.fetch_queues("%DLQ%DeadCG").await {
            if lite.assignment().is_empty() {
                lite.assign(qs).await.unwrap();
            }
            let polled = lite.poll(Duration::from_millis(200)).await.unwrap();
            dlq.lock().extend(polled);
        }
        !dlq.lock().is_empty()
    })
    .await;
    assert!(found, "nothing in %DLQ%DeadCG");
    assert_eq!(dlq.lock()[0].msg_id, sent.msg_id);
    assert_eq!(seen.lock().len(), 2, "one delivery plus one retry");
    lite.shutdown().await;
    consumer.shutdown().await;
    producer.shutdown().await;
    cluster.shutdown().await;
}
