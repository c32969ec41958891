//! Timed messages (TIMER_DELIVER_MS absolute, TIMER_DELAY_MS relative)
//! across SIGKILLs of the broker: once right after the sends were
//! acknowledged, staying down past the earliest delivery time, and once
//! while the timer is delivering. Every acknowledged message arrives
//! (duplicates allowed), none before its time, nothing else arrives.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use client::{Message, Producer};
use protocol::message::keys;

use crate::support::{
    bodies, client, now_ms, producer, recording_consumer, start, text, wait_exactly, wait_for, Env,
    Seen, ASYNC, SYNC,
};

const TOPIC: &str = "Kill9Timer";
const ABSOLUTE: usize = 30;
const RELATIVE: usize = 10;

/// How a message asked to wait.
#[derive(Debug, Clone, Copy)]
enum When {
    /// Deliver at this time (ms since the epoch).
    At(i64),
    /// Deliver this many ms after the broker stored it.
    After(i64),
}

/// Body → (message id, when).
type Sent = BTreeMap<String, (String, When)>;

async fn send_all(producer: &Producer) -> Sent {
    let base = now_ms();
    let mut sent = Sent::new();
    for i in 0..ABSOLUTE + RELATIVE {
        // Spread over 1.5–4.5 s from now.
        let wait = 1500 + (i as i64 % 10) * 300;
        let (body, msg, when) = if i < ABSOLUTE {
            let body = format!("at-{i}");
            let msg = Message::new(TOPIC, body.clone()).with_deliver_time_ms(base + wait);
            (body, msg, When::At(base + wait))
        } else {
            let body = format!("after-{i}");
            let msg = Message::new(TOPIC, body.clone())
                .with_property(keys::TIMER_DELAY_MS, wait.to_string());
            (body, msg, When::After(wait))
        };
        let r = producer.send(msg).await.unwrap();
        sent.insert(body, (r.msg_id, when));
    }
    for i in 0..5 {
        let body = format!("now-{i}");
        let r = producer
            .send(Message::new(TOPIC, body.clone()))
            .await
            .unwrap();
        sent.insert(body, (r.msg_id, When::After(0)));
    }
    sent
}

async fn timed_messages_survive_kills(flush: &str) {
    let Some(mut env) = start(flush, &[]).await else {
        return;
    };
    env.create_topic(TOPIC, 2).await;
    let seen: Seen = Arc::default();
    let cc = client(&env.ns);
    let consumer = recording_consumer(&cc, "Kill9TimerCG", TOPIC, &seen).await;
    let pc = client(&env.ns);
    let producer = producer(&pc, "Kill9TimerPG").await;
    let first_due = now_ms() + 1500;
    let sent = send_all(&producer).await;

    // Down while the first messages fall due: they are delivered late,
    // after the restart, not lost.
    env.kill_broker();
    let late = first_due + 300 - now_ms();
    if late > 0 {
        tokio::time::sleep(Duration::from_millis(late as u64)).await;
    }
    env.restart_broker();

    let timed = |s: &Seen| {
        bodies(&s.lock())
            .iter()
            .filter(|b| !b.starts_with("now-"))
            .count()
    };
    let some = wait_for(20, || timed(&seen) >= (ABSOLUTE + RELATIVE) / 3).await;
    assert!(some, "no timed message arrived\n{}", env.log());
    env.crash_and_restart();

    check(&env, &seen, &sent).await;
    eprintln!(
        "timer, {flush}: {} deliveries of {} messages",
        seen.lock().len(),
        sent.len()
    );
    consumer.shutdown().await;
    producer.shutdown().await;
    cc.shutdown().await;
    pc.shutdown().await;
}

async fn check(env: &Env, seen: &Seen, sent: &Sent) {
    let expected: BTreeSet<String> = sent.keys().cloned().collect();
    wait_exactly(env, seen, &expected).await;
    for m in seen.lock().iter() {
        let body = text(m);
        let (id, when) = sent.get(&body).expect("only sent messages arrive");
        assert_eq!(&m.msg_id, id, "{body}: same message id");
        assert_eq!(m.topic, TOPIC, "{body}: real topic restored");
        // The delivered copy is stored at or after the delivery time; a
        // relative delay counts from the original's storing, which is
        // after the producer made it.
        let due = match *when {
            When::At(at) => at,
            When::After(ms) => m.born_timestamp + ms,
        };
        assert!(
            m.store_timestamp >= due,
            "{body} stored for delivery {} ms before its time",
            due - m.store_timestamp
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timed_messages_survive_kills_sync_flush() {
    timed_messages_survive_kills(SYNC).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timed_messages_survive_kills_async_flush() {
    timed_messages_survive_kills(ASYNC).await;
}
