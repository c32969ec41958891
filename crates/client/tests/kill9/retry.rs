//! Retries and the dead-letter queue across SIGKILLs of the broker: once
//! while retries wait in the schedule topic, once right after the last
//! failures moved their messages to the DLQ. Every message is consumed,
//! reconsume counts grow one step at a time, retried ones stop at their
//! first success, and exactly the always-failing ones end in the DLQ.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use client::{ConsumeFrom, ConsumeResult, Message, MessageExt, Producer, PushConsumer};

use crate::support::{client, fast_delay_levels, read_topic, start, text, wait_for, Seen, SYNC};

const TOPIC: &str = "Kill9Retry";
const GROUP: &str = "Kill9RetryCG";
const MAX_RECONSUME: i32 = 2;
const OK: usize = 10;
const RETRY: usize = 10;
const DEAD: usize = 6;

/// ok-* succeed at once, retry-* fail once, dead-* always fail.
fn verdict(m: &MessageExt) -> ConsumeResult {
    let body = text(m);
    if body.starts_with("ok-") || (body.starts_with("retry-") && m.reconsume_times > 0) {
        ConsumeResult::Success
    } else {
        ConsumeResult::Retry
    }
}

/// Reconsume counts seen per body.
fn counts_by_body(seen: &[MessageExt]) -> BTreeMap<String, BTreeSet<i32>> {
    let mut out: BTreeMap<String, BTreeSet<i32>> = BTreeMap::new();
    for m in seen {
        out.entry(text(m)).or_default().insert(m.reconsume_times);
    }
    out
}

/// Whether every message reached its final reconsume count.
fn finished(seen: &[MessageExt]) -> bool {
    let c = counts_by_body(seen);
    let has = |prefix: &str, n: usize, count: i32| {
        (0..n).all(|i| {
            c.get(&format!("{prefix}-{i}"))
                .is_some_and(|s| s.contains(&count))
        })
    };
    has("ok", OK, 0) && has("retry", RETRY, 1) && has("dead", DEAD, MAX_RECONSUME)
}

async fn send_all(producer: &Producer) -> BTreeMap<String, String> {
    let mut ids = BTreeMap::new();
    for (prefix, n) in [("ok", OK), ("retry", RETRY), ("dead", DEAD)] {
        for i in 0..n {
            let body = format!("{prefix}-{i}");
            let r = producer
                .send(Message::new(TOPIC, body.clone()))
                .await
                .unwrap();
            ids.insert(body, r.msg_id);
        }
    }
    ids
}

fn dlq_bodies(read: &[MessageExt]) -> BTreeSet<String> {
    read.iter().map(text).collect()
}

fn all_dead_in(read: &[MessageExt]) -> bool {
    dlq_bodies(read).len() >= DEAD
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_and_dead_letters_survive_broker_kills() {
    crate::support::trace();
    let levels = fast_delay_levels();
    let Some(mut env) = start(SYNC, &[("messageDelayLevel", &levels)]).await else {
        return;
    };
    let ns = env.ns.clone();
    env.create_topic(TOPIC, 2).await;
    let pc = client(&ns);
    let producer = Producer::builder()
        .client(&pc)
        .group("Kill9RetryPG")
        .build()
        .await
        .unwrap();
    let ids = send_all(&producer).await;

    let seen: Seen = Arc::default();
    let s = Arc::clone(&seen);
    let cc = client(&ns);
    let consumer = PushConsumer::builder()
        .client(&cc)
        .group(GROUP)
        .subscribe(TOPIC, "*")
        .consume_from(ConsumeFrom::FirstOffset)
        .max_reconsume_times(MAX_RECONSUME)
        .listener(move |msgs: Vec<MessageExt>| {
            let result = if msgs.iter().all(|m| verdict(m) == ConsumeResult::Success) {
                ConsumeResult::Success
            } else {
                ConsumeResult::Retry
            };
            s.lock().extend(msgs);
            async move { result }
        })
        .build()
        .await
        .unwrap();

    // Kill 1: every first delivery seen, their retries wait in the
    // schedule topic (one-second levels).
    let total = OK + RETRY + DEAD;
    assert!(
        wait_for(20, || counts_by_body(&seen.lock()).len() >= total).await,
        "first deliveries: {} of {total}\n{}",
        counts_by_body(&seen.lock()).len(),
        env.log()
    );
    env.crash_and_restart();

    // Kill 2: right after the last failures moved their messages to the
    // dead-letter topic (created on demand moments before).
    let dlq = protocol::message::topics::dlq_topic(GROUP);
    let read = read_topic(&ns, &dlq, "Kill9DlqBefore", 40, all_dead_in).await;
    assert!(
        all_dead_in(&read),
        "DLQ before the second kill: {:?}\nseen: {:?}\n{}",
        dlq_bodies(&read),
        counts_by_body(&seen.lock()),
        env.log()
    );
    env.crash_and_restart();

    assert!(
        wait_for(30, || finished(&seen.lock())).await,
        "after the restarts: {:?}\n{}",
        counts_by_body(&seen.lock()),
        env.log()
    );
    let read = read_topic(&ns, &dlq, "Kill9DlqAfter", 20, all_dead_in).await;
    let expected_dead: BTreeSet<String> = (0..DEAD).map(|i| format!("dead-{i}")).collect();
    assert_eq!(
        dlq_bodies(&read),
        expected_dead,
        "exactly the always-failing messages are in the DLQ after the restart\n{}",
        env.log()
    );
    for m in &read {
        assert_eq!(
            Some(&m.msg_id),
            ids.get(&text(m)),
            "DLQ keeps the message id"
        );
        assert!(m.reconsume_times >= MAX_RECONSUME, "{m:?}");
    }

    let seen = seen.lock().clone();
    for (body, counts) in counts_by_body(&seen) {
        let max = *counts.iter().next_back().unwrap();
        // Counts grow one step at a time: no attempt is skipped.
        assert_eq!(
            counts,
            (0..=max).collect::<BTreeSet<i32>>(),
            "reconsume counts of {body}"
        );
        let allowed = match body.split('-').next() {
            Some("ok") => 0,
            Some("retry") => 1,
            // A failed send-back while the broker was down is retried
            // locally with the count raised once more.
            Some("dead") => MAX_RECONSUME + 1,
            _ => panic!("unexpected message {body}"),
        };
        assert!(max <= allowed, "{body} reached reconsume count {max}");
    }
    for m in &seen {
        assert_eq!(m.topic, TOPIC, "original topic restored");
        assert_eq!(Some(&m.msg_id), ids.get(&text(m)), "same message id");
    }
    eprintln!(
        "retry: {} deliveries of {} messages, {} dead letters",
        seen.len(),
        ids.len(),
        read.len()
    );
    consumer.shutdown().await;
    producer.shutdown().await;
    cc.shutdown().await;
    pc.shutdown().await;
}
