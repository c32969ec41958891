//! POP state across a kill -9: a consumer pops and acks continuously while
//! the broker process is SIGKILLed and restarted on the same data. Nothing
//! is lost, nothing whose ack was answered comes back, and messages whose
//! delivery was in flight come back after their invisible time. The test
//! prints how many messages were delivered more than once (the figure in
//! docs/grpc.md, section POP).
//!
//! Skipped (with a note) when no `apogee` binary is built:
//! `cargo build -p apogee` (or set `APOGEE_BIN`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
mod pop_common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use pop_common::*;
use protocol::RemotingCommand;
use remoting::{ClientConfig, RemotingClient};
use testkit::cluster::{BrokerSpec, ProcessCluster};

const TOPIC: &str = "T_POP_KILL9";
const MESSAGES: usize = 400;
/// Invisible time of every pop: short, so in-flight messages come back
/// quickly after the restart.
const INVISIBLE_MS: i64 = 2_000;

struct Consumer {
    client: RemotingClient,
    addr: String,
    broker: String,
    /// Deliveries per body.
    delivered: BTreeMap<String, usize>,
    /// Bodies whose ack was answered with success.
    acked: BTreeSet<String>,
    /// Bodies whose ack was sent but never answered (the kill came before
    /// the answer). The broker may have settled them before it died, and
    /// then they rightly never come back: consumed, not lost.
    ack_unanswered: BTreeSet<String>,
    /// Acked bodies delivered again (must stay empty).
    acked_then_redelivered: Vec<String>,
    /// `acked.len()`, readable while the consumer runs in its own task.
    progress: Arc<AtomicUsize>,
}

impl Consumer {
    async fn call(&self, cmd: RemotingCommand, timeout: Duration) -> Option<RemotingCommand> {
        self.client.invoke(&self.addr, cmd, timeout).await.ok()
    }

    /// Bodies acked, or whose ack was sent and never answered.
    fn settled(&self) -> usize {
        self.acked.len() + self.ack_unanswered.difference(&self.acked).count()
    }

    /// One pop and the acks of what it returned; false when the broker
    /// did not answer.
    async fn round(&mut self) -> bool {
        let mut h = pop_req(TOPIC, -1, 16, INVISIBLE_MS);
        h.poll_time = 1_000;
        let Some(r) = self.call(pop_cmd(&h), Duration::from_secs(5)).await else {
            return false;
        };
        for m in read_answer(&r, &self.broker, &h) {
            let body = String::from_utf8_lossy(&m.body).into_owned();
            *self.delivered.entry(body.clone()).or_default() += 1;
            self.ack_unanswered.remove(&body);
            if self.acked.contains(&body) {
                self.acked_then_redelivered.push(body.clone());
            }
            match self.call(ack_cmd(&m), Duration::from_secs(3)).await {
                Some(a) if a.code == 0 => {
                    self.acked.insert(body);
                    self.progress.store(self.acked.len(), Ordering::Relaxed);
                }
                Some(_) => {}
                None => {
                    self.ack_unanswered.insert(body);
                    return false;
                }
            }
        }
        true
    }
}

/// One NameServer and one broker as processes (`None`: no binary built).
fn start_cluster() -> Option<ProcessCluster> {
    let mut spec = BrokerSpec::new(0, "ASYNC_MASTER", "ASYNC_FLUSH");
    for k in [
        "diskMaxUsedSpaceRatio",
        "diskSpaceCleanForciblyRatio",
        "diskSpaceWarningLevelRatio",
    ] {
        spec.extra.push((k.into(), "100".into()));
    }
    tokio::task::block_in_place(|| ProcessCluster::start(1, &[spec]))
}

/// Sends the test's messages over four queues.
async fn fill(addr: &str) -> RemotingClient {
    let producer = RemotingClient::new(ClientConfig::default(), None);
    for i in 0..MESSAGES {
        let cmd = send_v1(TOPIC, (i % 4) as i32, format!("m{i}").as_bytes(), "");
        let r = producer
            .invoke(addr, cmd, Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(r.code, 0, "send: {:?}", r.remark);
    }
    producer
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acked_stay_acked_and_unacked_come_back_after_a_kill_9() {
    let Some(mut cluster) = start_cluster() else {
        eprintln!("skipped: no apogee binary (cargo build -p apogee, or set APOGEE_BIN)");
        return;
    };
    let addr = cluster.brokers[0].addr.clone();
    let producer = fill(&addr).await;
    let mut consumer = Consumer {
        client: RemotingClient::new(ClientConfig::default(), None),
        addr: addr.clone(),
        broker: "broker-a".into(),
        delivered: BTreeMap::new(),
        acked: BTreeSet::new(),
        ack_unanswered: BTreeSet::new(),
        acked_then_redelivered: Vec::new(),
        progress: Arc::new(AtomicUsize::new(0)),
    };
    // Consume about a third, then kill the broker while a pop batch is out
    // and unacked (popped, answered, its acks never sent).
    while consumer.acked.len() < MESSAGES / 3 {
        assert!(consumer.round().await, "the broker stopped answering");
    }
    let h = pop_req(TOPIC, -1, 16, INVISIBLE_MS);
    let r = consumer
        .call(pop_cmd(&h), Duration::from_secs(5))
        .await
        .unwrap();
    let in_flight = read_answer(&r, "broker-a", &h);
    assert!(!in_flight.is_empty(), "{:?}", r.remark);
    for m in &in_flight {
        *consumer
            .delivered
            .entry(String::from_utf8_lossy(&m.body).into_owned())
            .or_default() += 1;
    }
    // Keep consuming in a task and kill the broker while it pops and acks.
    let progress = consumer.progress.clone();
    let before = progress.load(Ordering::Relaxed);
    let running = tokio::spawn(async move {
        let deadline = Instant::now() + Duration::from_secs(60);
        while consumer.settled() < MESSAGES && Instant::now() < deadline {
            if !consumer.round().await {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        consumer
    });
    while progress.load(Ordering::Relaxed) < before + 40 {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    tokio::task::block_in_place(|| {
        let b = &mut cluster.brokers[0];
        b.restart(); // SIGKILL, then start on the same data
        assert!(
            b.wait_listening(Duration::from_secs(20)),
            "the broker did not come back:\n{}",
            b.log_tail(40)
        );
    });
    let consumer = running.await.unwrap();
    let missing: Vec<String> = (0..MESSAGES)
        .map(|i| format!("m{i}"))
        .filter(|b| !consumer.acked.contains(b) && !consumer.ack_unanswered.contains(b))
        .collect();
    assert!(
        missing.is_empty(),
        "lost after kill -9 (body, deliveries): {:?}\n{}",
        missing
            .iter()
            .map(|b| (b, consumer.delivered.get(b).copied().unwrap_or(0)))
            .collect::<Vec<_>>(),
        cluster.brokers[0].log_tail(40)
    );
    assert!(
        consumer.acked_then_redelivered.is_empty(),
        "acked messages came back: {:?}",
        consumer.acked_then_redelivered
    );
    for m in &in_flight {
        let body = String::from_utf8_lossy(&m.body).into_owned();
        assert!(
            consumer.delivered[&body] >= 2,
            "{body} in flight at the kill did not come back"
        );
    }
    let duplicates: usize = consumer.delivered.values().map(|n| n - 1).sum();
    eprintln!(
        "pop kill -9: {MESSAGES} messages, {} in flight at the kill, {duplicates} delivered more than once, \
         {} acked by a request the kill left unanswered and not delivered again",
        in_flight.len(),
        consumer.ack_unanswered.len()
    );
    producer.shutdown().await;
    consumer.client.shutdown().await;
}
