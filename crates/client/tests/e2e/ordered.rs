//! ordered example: keyed sends to the key's queue and an orderly listener
//! keep each key's order, also while a second member joins mid-stream and
//! takes over queues (locks move through LOCK/UNLOCK_BATCH_MQ).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use client::producer::select_by_key;
use client::{ConsumeFrom, ConsumeResult, Message, MessageExt, Producer, PushConsumer};
use parking_lot::Mutex;
use testkit::TestCluster;

use crate::support::{create_topic, producer, wait_for};

const KEYS: usize = 8;
const STEPS: usize = 12;

/// Which member consumed what, in the global order of consumption.
type Log = Arc<Mutex<Vec<(&'static str, String)>>>;

async fn member(ns: &str, name: &'static str, log: &Log) -> PushConsumer {
    let log = Arc::clone(log);
    PushConsumer::builder()
        .namesrv(ns)
        .group("OrderCG")
        .subscribe("Order", "*")
        .consume_from(ConsumeFrom::FirstOffset)
        .orderly_listener(move |msgs: Vec<MessageExt>| {
            let log = Arc::clone(&log);
            async move {
                for m in msgs {
                    log.lock()
                        .push((name, String::from_utf8_lossy(&m.body).into_owned()));
                    // Slow enough that queues are mid-stream at the rebalance.
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                ConsumeResult::Success
            }
        })
        .build()
        .await
        .unwrap()
}

async fn send_steps(producer: &Producer, steps: std::ops::Range<usize>) {
    for step in steps {
        for key in 0..KEYS {
            let id = format!("key{key}");
            let msg = Message::new("Order", format!("{id}:{step}")).with_keys([id.clone()]);
            producer
                .send_with_selector(msg, move |qs, _| select_by_key(qs, &id))
                .await
                .unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_key_order_survives_a_rebalance() {
    let cluster = TestCluster::start().await;
    let ns = cluster.namesrv_addr();
    create_topic(&ns, "Order", 4).await;
    let producer = producer(&ns, "OrderPG").await;
    let log: Log = Arc::default();
    let first = member(&ns, "first", &log).await;
    send_steps(&producer, 0..STEPS / 2).await;
    assert!(
        wait_for(10, || !log.lock().is_empty()).await,
        "first consumes"
    );
    let second = member(&ns, "second", &log).await;
    // The second member takes queues over (after the first lets go of them).
    assert!(
        wait_for(10, || !second.assigned_queues().is_empty()).await,
        "the second member got no queue"
    );
    send_steps(&producer, STEPS / 2..STEPS).await;
    let total = KEYS * STEPS;
    assert!(
        wait_for(12, || log.lock().len() >= total).await,
        "got {} of {total}",
        log.lock().len()
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let log = log.lock().clone();
    assert!(
        log.iter().any(|(who, _)| *who == "second"),
        "second consumed nothing"
    );
    let mut per_key: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (_, body) in &log {
        let (key, step) = body.split_once(':').unwrap();
        per_key
            .entry(key.to_string())
            .or_default()
            .push(step.parse().unwrap());
    }
    assert_eq!(per_key.len(), KEYS);
    for (key, steps) in per_key {
        assert_eq!(steps, (0..STEPS).collect::<Vec<_>>(), "order of {key}");
    }
    second.shutdown().await;
    first.shutdown().await;
    producer.shutdown().await;
    cluster.shutdown().await;
}
