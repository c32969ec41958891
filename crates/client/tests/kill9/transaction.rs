//! Transactions across SIGKILLs of the broker: between a half message and
//! its commit (or rollback), while check-backs of undecided halves are
//! due, and right after commits and rollbacks were sent. The producer's
//! checker answers from the application's decisions, as a real one reads
//! its database. Committed messages are all delivered (duplicates
//! allowed), rolled-back and undecided ones never, and the broker ends
//! with every half message resolved.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use client::{Admin, Message, MessageExt, TransactionProducer, TransactionState};
use parking_lot::Mutex;
use protocol::message::topics;

use crate::support::{
    bodies, client, read_topic, recording_consumer, start, text, wait_async, wait_for, Env, Seen,
    ASYNC, SYNC,
};

const TOPIC: &str = "Kill9Tx";

/// The application's decisions, by body; what the checker answers.
type Decisions = Arc<Mutex<BTreeMap<String, TransactionState>>>;

/// Messages committed or rolled back by the local transaction itself.
const DIRECT: usize = 10;
/// Messages left undecided, settled by check-backs.
const CHECKED: usize = 5;

/// Whether every half message the broker stored is resolved: the check
/// service's lowest unresolved offset reached the half queue's end.
async fn all_halves_resolved(admin: &Admin) -> bool {
    let Ok(stats) = admin
        .consume_stats(topics::TRANS_CHECK_GROUP, Some(topics::TRANS_HALF_TOPIC))
        .await
    else {
        return false;
    };
    !stats.offset_table.is_empty()
        && stats
            .offset_table
            .values()
            .all(|o| o.broker_offset > 0 && o.consumer_offset == o.broker_offset)
}

async fn transactions_survive_kills(flush: &str) {
    // Undecided halves are checked every 300 ms once a second old.
    let Some(mut env) = start(
        flush,
        &[
            ("transactionCheckInterval", "300"),
            ("transactionTimeOut", "1000"),
        ],
    )
    .await
    else {
        return;
    };
    env.create_topic(TOPIC, 2).await;
    let seen: Seen = Arc::default();
    let cc = client(&env.ns);
    let consumer = recording_consumer(&cc, "Kill9TxCG", TOPIC, &seen).await;
    let decisions: Decisions = Arc::default();
    let checks = Arc::new(AtomicUsize::new(0));
    let (d, c) = (Arc::clone(&decisions), Arc::clone(&checks));
    let pc = client(&env.ns);
    let producer = TransactionProducer::builder()
        .client(&pc)
        .group("Kill9TxPG")
        .checker(move |m: MessageExt| {
            c.fetch_add(1, Ordering::SeqCst);
            let state = d
                .lock()
                .get(&text(&m))
                .copied()
                .unwrap_or(TransactionState::Unknown);
            async move { state }
        })
        .build()
        .await
        .unwrap();

    let mut committed = BTreeSet::new();
    // Local transactions that decide at once, and undecided ones.
    for i in 0..DIRECT + CHECKED {
        for (kind, state) in [
            ("commit", TransactionState::Commit),
            ("rollback", TransactionState::Rollback),
        ] {
            let (body, local) = if i < DIRECT {
                (format!("{kind}-{i}"), state)
            } else {
                (format!("check-{kind}-{i}"), TransactionState::Unknown)
            };
            decisions.lock().insert(body.clone(), local);
            if kind == "commit" {
                committed.insert(body.clone());
            }
            let r = producer
                .send_in_transaction(Message::new(TOPIC, body), move |_, _| async move { local })
                .await
                .unwrap();
            assert_eq!(r.state, local);
        }
    }

    // Kill 1: check-backs of the undecided halves are due (and answered
    // "unknown" so far).
    assert!(
        wait_for(15, || checks.load(Ordering::SeqCst) >= CHECKED).await,
        "no check-back came\n{}",
        env.log()
    );
    env.crash_and_restart();
    let checks_before = checks.load(Ordering::SeqCst);
    assert!(
        wait_for(15, || checks.load(Ordering::SeqCst) > checks_before).await,
        "no check-back after the restart\n{}",
        env.log()
    );

    // Kills 2 and 3: between a half message and its end.
    for (body, state) in [
        ("in-flight-commit", TransactionState::Commit),
        ("in-flight-rollback", TransactionState::Rollback),
    ] {
        decisions.lock().insert(body.into(), state);
        if state == TransactionState::Commit {
            committed.insert(body.into());
        }
        let env_ref = &mut env;
        let r = producer
            .send_in_transaction(Message::new(TOPIC, body), |_, _| async move {
                // The half is stored; the broker dies before the end arrives.
                env_ref.kill_broker();
                state
            })
            .await
            .unwrap();
        assert_eq!(r.state, state);
        env.restart_broker();
    }

    // Nothing undecided or rolled back became visible meanwhile.
    let early: Vec<String> = bodies(&seen.lock())
        .into_iter()
        .filter(|b| b.starts_with("check-") || b.contains("rollback"))
        .collect();
    assert!(early.is_empty(), "visible without a commit: {early:?}");

    // The application decides the undecided ones now; check-backs settle them.
    for (body, state) in decisions.lock().iter_mut() {
        if body.starts_with("check-") {
            *state = if body.starts_with("check-commit") {
                TransactionState::Commit
            } else {
                TransactionState::Rollback
            };
        }
    }
    check(&env, &seen, &committed).await;
    consumer.shutdown().await;
    producer.shutdown().await;
    cc.shutdown().await;
    pc.shutdown().await;
}

async fn check(env: &Env, seen: &Seen, committed: &BTreeSet<String>) {
    assert!(
        wait_for(30, || bodies(&seen.lock()).is_superset(committed)).await,
        "committed but not delivered: {:?}\n{}",
        committed
            .difference(&bodies(&seen.lock()))
            .collect::<Vec<_>>(),
        env.log()
    );
    let admin = Admin::connect(&env.ns).unwrap();
    assert!(
        wait_async(30, || all_halves_resolved(&admin)).await,
        "half messages left unresolved\n{}",
        env.log()
    );
    // Everything is resolved: the topic holds all it will ever hold.
    let total = crate::support::stored_count(&admin, TOPIC).await;
    admin.shutdown().await;
    let read = read_topic(&env.ns, TOPIC, "Kill9TxReader", 20, |r| r.len() >= total).await;
    assert_eq!(read.len(), total, "the whole topic read");
    assert_eq!(
        &bodies(&read),
        committed,
        "exactly the committed messages are on the topic"
    );
    assert_eq!(
        &bodies(&seen.lock()),
        committed,
        "the consumer got nothing else"
    );
    eprintln!(
        "transactions: {} committed, {} deliveries, {} stored copies",
        committed.len(),
        seen.lock().len(),
        total
    );
    for m in seen.lock().iter() {
        assert_eq!(m.topic, TOPIC, "real topic restored");
        assert!(m.transaction_id().is_some(), "{m:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transactions_survive_kills_sync_flush() {
    transactions_survive_kills(SYNC).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transactions_survive_kills_async_flush() {
    transactions_survive_kills(ASYNC).await;
}
