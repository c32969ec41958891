//! Delayed messages by level across SIGKILLs of the broker: once right
//! after the sends were acknowledged (every delay pending), once while the
//! levels are delivering. Every acknowledged message arrives (duplicates
//! allowed), none before its level's delay, and nothing else arrives.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use client::{Message, Producer};

use crate::support::{
    bodies, client, producer, recording_consumer, start, text, wait_exactly, wait_for, Env, Seen,
    ASYNC, SYNC,
};

const TOPIC: &str = "Kill9Delay";
/// Level n waits n seconds.
const LEVELS: &str = "1s 2s 3s 4s";
const DELAYED: usize = 40;
const PLAIN: usize = 10;

/// Body → (message id, delay in ms).
type Sent = BTreeMap<String, (String, i64)>;

async fn send_all(producer: &Producer) -> Sent {
    let mut sent = Sent::new();
    for i in 0..DELAYED + PLAIN {
        let (body, level) = if i < DELAYED {
            (format!("delayed-{i}"), (i % 4) as u8 + 1)
        } else {
            (format!("plain-{i}"), 0)
        };
        let msg = Message::new(TOPIC, body.clone()).with_delay_level(level);
        let r = producer.send(msg).await.unwrap();
        sent.insert(body, (r.msg_id, i64::from(level) * 1000));
    }
    sent
}

async fn delayed_messages_survive_kills(flush: &str) {
    let Some(mut env) = start(flush, &[("messageDelayLevel", LEVELS)]).await else {
        return;
    };
    env.create_topic(TOPIC, 2).await;
    let seen: Seen = Arc::default();
    let cc = client(&env.ns);
    let consumer = recording_consumer(&cc, "Kill9DelayCG", TOPIC, &seen).await;
    let pc = client(&env.ns);
    let producer = producer(&pc, "Kill9DelayPG").await;
    let sent = send_all(&producer).await;
    env.crash_and_restart();

    // Some levels delivered, others still waiting.
    let some = wait_for(20, || {
        bodies(&seen.lock())
            .iter()
            .filter(|b| b.starts_with("delayed-"))
            .count()
            >= DELAYED / 4
    })
    .await;
    assert!(some, "no delayed message arrived\n{}", env.log());
    env.crash_and_restart();

    check(&env, &seen, &sent).await;
    eprintln!(
        "delay, {flush}: {} deliveries of {} messages",
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
        let (id, delay) = sent.get(&body).expect("only sent messages arrive");
        assert_eq!(&m.msg_id, id, "{body}: same message id");
        assert_eq!(m.topic, TOPIC, "{body}: real topic restored");
        assert_eq!(m.queue().topic, TOPIC);
        // The delivered copy is stored once the delay has passed since the
        // original was stored, which is after the producer made it.
        assert!(
            m.store_timestamp >= m.born_timestamp + delay,
            "{body} delivered {} ms after it was made, before its {delay} ms delay",
            m.store_timestamp - m.born_timestamp
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delayed_messages_survive_kills_async_flush() {
    delayed_messages_survive_kills(ASYNC).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delayed_messages_survive_kills_sync_flush() {
    delayed_messages_survive_kills(SYNC).await;
}
