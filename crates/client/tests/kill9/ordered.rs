//! Ordered consumption across SIGKILLs of the broker while an orderly
//! consumer holds its queue locks mid-stream (the broker's lock table is
//! lost with the process). Each key's messages are consumed in send order:
//! a redelivery may replay an earlier stretch, but a key never skips ahead,
//! and every acknowledged message is consumed.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use client::producer::select_by_key;
use client::{ConsumeFrom, ConsumeResult, Message, MessageExt, Producer, PushConsumer};
use parking_lot::Mutex;

use crate::support::{client, start, text, wait_for, Env, ASYNC};

const TOPIC: &str = "Kill9Order";
const KEYS: usize = 8;
const STEPS: usize = 30;

/// Bodies in the order the listener saw them.
type Log = Arc<Mutex<Vec<String>>>;

async fn send_steps(producer: &Producer, steps: std::ops::Range<usize>) {
    for step in steps {
        for key in 0..KEYS {
            let id = format!("key{key}");
            let msg = Message::new(TOPIC, format!("{id}:{step}")).with_keys([id.clone()]);
            producer
                .send_with_selector(msg, move |qs, _| select_by_key(qs, &id))
                .await
                .unwrap();
        }
    }
}

/// Each key's steps in consumption order.
fn per_key(log: &[String]) -> BTreeMap<String, Vec<usize>> {
    let mut out: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for body in log {
        let (key, step) = body.split_once(':').unwrap();
        out.entry(key.to_string())
            .or_default()
            .push(step.parse().unwrap());
    }
    out
}

fn complete(log: &[String], steps: usize) -> bool {
    let keys = per_key(log);
    keys.len() == KEYS
        && keys
            .values()
            .all(|s| s.iter().max().is_some_and(|m| *m + 1 >= steps))
}

fn check_order(env: &Env, log: &[String]) {
    for (key, steps) in per_key(log) {
        assert_eq!(steps.first(), Some(&0), "{key} starts at step 0");
        for w in steps.windows(2) {
            assert!(
                w[1] <= w[0] + 1,
                "{key} skipped from step {} to {}: {steps:?}\n{}",
                w[0],
                w[1],
                env.log()
            );
        }
        let mut distinct = steps.clone();
        distinct.sort_unstable();
        distinct.dedup();
        assert_eq!(distinct, (0..STEPS).collect::<Vec<_>>(), "{key}");
    }
}

async fn member(env: &Env, log: &Log) -> (PushConsumer, client::Client) {
    let l = Arc::clone(log);
    let cc = client(&env.ns);
    let consumer = PushConsumer::builder()
        .client(&cc)
        .group("Kill9OrderCG")
        .subscribe(TOPIC, "*")
        .consume_from(ConsumeFrom::FirstOffset)
        .orderly_listener(move |msgs: Vec<MessageExt>| {
            let l = Arc::clone(&l);
            async move {
                for m in msgs {
                    l.lock().push(text(&m));
                    // Slow enough that queues are mid-stream at the kill.
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                ConsumeResult::Success
            }
        })
        .build()
        .await
        .unwrap();
    (consumer, cc)
}

async fn per_key_order_survives_broker_kills(members: usize) {
    let Some(mut env) = start(ASYNC, &[]).await else {
        return;
    };
    env.create_topic(TOPIC, 4).await;
    let log: Log = Arc::default();
    let mut consumers = Vec::new();
    for _ in 0..members {
        consumers.push(member(&env, &log).await);
    }
    let pc = client(&env.ns);
    let producer = Producer::builder()
        .client(&pc)
        .group("Kill9OrderPG")
        .build()
        .await
        .unwrap();

    send_steps(&producer, 0..STEPS / 2).await;
    assert!(
        wait_for(15, || log.lock().len() >= KEYS * 3).await,
        "nothing consumed\n{}",
        env.log()
    );
    env.crash_and_restart();
    send_steps(&producer, STEPS / 2..STEPS).await;
    let mid = log.lock().len() + KEYS * 3;
    assert!(
        wait_for(15, || log.lock().len() >= mid).await,
        "nothing consumed after the restart\n{}",
        env.log()
    );
    env.crash_and_restart();

    assert!(
        wait_for(30, || complete(&log.lock(), STEPS)).await,
        "not everything consumed: {:?}\n{}",
        per_key(&log.lock())
            .iter()
            .map(|(k, s)| (k.clone(), s.len()))
            .collect::<Vec<_>>(),
        env.log()
    );
    let log = log.lock().clone();
    check_order(&env, &log);
    eprintln!(
        "ordered, {members} member(s): {} deliveries of {} messages",
        log.len(),
        KEYS * STEPS
    );
    for (consumer, cc) in consumers {
        consumer.shutdown().await;
        cc.shutdown().await;
    }
    producer.shutdown().await;
    pc.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_key_order_survives_broker_kills_one_member() {
    per_key_order_survives_broker_kills(1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_key_order_survives_broker_kills_two_members() {
    per_key_order_survives_broker_kills(2).await;
}
