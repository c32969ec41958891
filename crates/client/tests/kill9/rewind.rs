//! Rewinding a group to a timestamp (INVOKE_BROKER_TO_RESET_OFFSET), then
//! a SIGKILL of the broker right after the answer: the reset still holds
//! after the restart. The group consumed everything; the reset moves it
//! back to the first message stored at or after `t`; after the restart
//! the group gets every message from `t` on again and nothing older.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use client::{Admin, ConsumeFrom, ConsumeResult, Message, Producer, PushConsumer};
use protocol::ResponseCode;

use crate::support::{client, now_ms, recorder, start, text, wait_for, Env, Seen, SYNC};

const TOPIC: &str = "Kill9Rewind";
const GROUP: &str = "Kill9RewindCG";
const PER_BATCH: usize = 20;

/// Sends batch `a`, then batch `b` strictly later; returns the time
/// between them (ms since the epoch, the broker's clock: same host).
async fn send_batches(env: &Env) -> i64 {
    let pc = client(&env.ns);
    let producer = Producer::builder()
        .client(&pc)
        .group("Kill9RewindPG")
        .build()
        .await
        .unwrap();
    for i in 0..PER_BATCH {
        producer
            .send(Message::new(TOPIC, format!("a-{i}")))
            .await
            .unwrap();
    }
    // Store timestamps are milliseconds: keep `t` clear of both batches.
    tokio::time::sleep(Duration::from_millis(20)).await;
    let t = now_ms();
    tokio::time::sleep(Duration::from_millis(20)).await;
    for i in 0..PER_BATCH {
        producer
            .send(Message::new(TOPIC, format!("b-{i}")))
            .await
            .unwrap();
    }
    producer.shutdown().await;
    pc.shutdown().await;
    t
}

async fn member(env: &Env, seen: &Seen) -> (PushConsumer, client::Client) {
    let cc = client(&env.ns);
    let consumer = PushConsumer::builder()
        .client(&cc)
        .group(GROUP)
        .subscribe(TOPIC, "*")
        .consume_from(ConsumeFrom::FirstOffset)
        .listener(recorder(seen, ConsumeResult::Success))
        .build()
        .await
        .unwrap();
    (consumer, cc)
}

fn batch(prefix: &str) -> BTreeSet<String> {
    (0..PER_BATCH).map(|i| format!("{prefix}-{i}")).collect()
}

fn bodies(seen: &Seen, from: usize) -> BTreeSet<String> {
    seen.lock()[from..].iter().map(text).collect()
}

/// Starts a cluster, sends both batches and lets the group consume them.
async fn consumed_everything() -> Option<(Env, Seen, PushConsumer, client::Client, i64)> {
    let env = start(SYNC, &[]).await?;
    env.create_topic(TOPIC, 2).await;
    let t = send_batches(&env).await;
    let seen: Seen = Arc::default();
    let (consumer, cc) = member(&env, &seen).await;
    let all: BTreeSet<String> = batch("a").union(&batch("b")).cloned().collect();
    assert!(
        wait_for(15, || bodies(&seen, 0) == all).await,
        "first pass incomplete\n{}",
        env.log()
    );
    Some((env, seen, consumer, cc, t))
}

/// Waits until everything from `from` on in `seen` is exactly batch b
/// (no message of batch a once b is complete).
async fn expect_batch_b(env: &Env, seen: &Seen, from: usize) {
    assert!(
        wait_for(20, || bodies(seen, from).is_superset(&batch("b"))).await,
        "batch b not consumed again after the reset: {:?}\n{}",
        bodies(seen, from),
        env.log()
    );
    // Batch a precedes batch b in every queue: had the group gone back
    // further, it would have been pulled with or before batch b.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        bodies(seen, from),
        batch("b"),
        "only messages stored after the reset time"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_of_an_offline_group_survives_a_kill() {
    let Some((mut env, seen, consumer, cc, t)) = consumed_everything().await else {
        return;
    };
    // Shutdown stores the group's offsets (the end of both batches).
    consumer.shutdown().await;
    cc.shutdown().await;
    let admin = Admin::connect(&env.ns).unwrap();
    match admin.reset_offset_by_time(GROUP, TOPIC, t, true).await {
        Ok(_) => {}
        // The broker stores the new offsets all the same; they apply when
        // the group pulls.
        Err(e) if e.response_code() == Some(ResponseCode::CONSUMER_NOT_ONLINE.code()) => {}
        Err(e) => panic!("reset failed: {e}"),
    }
    env.crash_and_restart();
    admin.shutdown().await;

    let from = seen.lock().len();
    let (consumer, cc) = member(&env, &seen).await;
    expect_batch_b(&env, &seen, from).await;
    consumer.shutdown().await;
    cc.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_of_an_online_group_survives_a_kill() {
    let Some((mut env, seen, consumer, cc, t)) = consumed_everything().await else {
        return;
    };
    let admin = Admin::connect(&env.ns).unwrap();
    let from = seen.lock().len();
    let moved = admin
        .reset_offset_by_time(GROUP, TOPIC, t, true)
        .await
        .unwrap();
    assert_eq!(moved.len(), 2, "both queues reset: {moved:?}");
    env.crash_and_restart();
    admin.shutdown().await;
    expect_batch_b(&env, &seen, from).await;
    consumer.shutdown().await;
    cc.shutdown().await;
}
