//! Shared helpers: a one-NameServer, one-broker process cluster whose
//! broker can be SIGKILLed and restarted, clients with fast heartbeats,
//! topic creation, recording listeners and polling waits.

use std::sync::Arc;
use std::time::Duration;

use client::{Admin, Client, ClientOptions, MessageExt, TopicSpec};
use parking_lot::Mutex;
use testkit::cluster::{BrokerSpec, ProcessCluster};
pub use testkit::wait::{trace, wait_async, wait_for};

pub const SYNC: &str = "SYNC_FLUSH";
pub const ASYNC: &str = "ASYNC_FLUSH";

/// Every test starts two processes; on a 2-core machine they run one at a
/// time.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

pub type Seen = Arc<Mutex<Vec<MessageExt>>>;

/// A running cluster plus the serialisation guard of the test.
pub struct Env {
    pub cluster: ProcessCluster,
    pub ns: String,
    _serial: tokio::sync::MutexGuard<'static, ()>,
}

/// 18 one-second levels: delayed messages and retries (level 3 + attempts)
/// wait one second.
pub fn fast_delay_levels() -> String {
    vec!["1s"; 18].join(" ")
}

/// Starts a NameServer and a broker with `flush` and the extra broker.conf
/// keys; `None` (the test skips) when no `apogee` binary is built.
pub async fn start(flush: &str, extra: &[(&str, &str)]) -> Option<Env> {
    let serial = SERIAL.lock().await;
    let mut spec = BrokerSpec::new(0, "ASYNC_MASTER", flush);
    // The host disk may be nearly full: never refuse puts or delete
    // segments because of it during a test.
    for (k, v) in [
        ("diskMaxUsedSpaceRatio", "100"),
        ("diskSpaceCleanForciblyRatio", "100"),
        ("diskSpaceWarningLevelRatio", "100"),
    ]
    .iter()
    .chain(extra.iter())
    {
        spec.extra.push(((*k).into(), (*v).into()));
    }
    let cluster = tokio::task::block_in_place(|| ProcessCluster::start(1, &[spec]));
    let Some(cluster) = cluster else {
        eprintln!("skipped: no apogee binary (cargo build -p apogee, or set APOGEE_BIN)");
        return None;
    };
    let ns = cluster.namesrv_list();
    Some(Env {
        cluster,
        ns,
        _serial: serial,
    })
}

impl Env {
    /// SIGKILL of the broker (no shutdown hook runs, nothing is flushed
    /// beyond what the store already handed to the kernel).
    pub fn kill_broker(&mut self) {
        self.cluster.brokers[0].kill();
    }

    /// Starts the killed broker again on the same data and port, and waits
    /// until it listens (the store is recovered by then).
    pub fn restart_broker(&mut self) {
        let b = &mut self.cluster.brokers[0];
        tokio::task::block_in_place(|| {
            b.restart();
            assert!(
                b.wait_listening(Duration::from_secs(20)),
                "the broker did not come back:\n{}",
                b.log_tail(40)
            );
        });
    }

    /// SIGKILL, then restart.
    pub fn crash_and_restart(&mut self) {
        self.kill_broker();
        self.restart_broker();
    }

    /// The broker's recent log lines (for failure messages).
    pub fn log(&self) -> String {
        self.cluster.brokers[0].log_tail(40)
    }
}

/// A client instance with heartbeats and route refreshes every 500 ms, so
/// that a restarted broker learns the groups (consumer lists, producers to
/// check transactions with) quickly.
pub fn client(ns: &str) -> Client {
    let mut options = ClientOptions {
        heartbeat_interval: Duration::from_millis(500),
        route_refresh_interval: Duration::from_secs(1),
        ..ClientOptions::default()
    };
    options.add_namesrv(ns);
    Client::start(options).unwrap()
}

impl Env {
    /// Creates `topic` with `queues` queues and waits until the NameServer
    /// routes it.
    pub async fn create_topic(&self, topic: &str, queues: i32) {
        let admin = Admin::connect(&self.ns).unwrap();
        // The broker listens before it registers with the NameServer.
        let registered = wait_async(15, || async {
            admin.masters(None).await.is_ok_and(|m| !m.is_empty())
        })
        .await;
        assert!(registered, "the broker never registered\n{}", self.log());
        let brokers = admin
            .create_topic(None, &TopicSpec::new(topic, queues))
            .await
            .unwrap();
        assert_eq!(brokers.len(), 1, "one broker in the test cluster");
        assert!(
            wait_routed(&admin, topic, queues, 15).await,
            "{topic} is not routed with {queues} queues\n{}",
            self.log()
        );
        admin.shutdown().await;
    }
}

/// Whether the NameServer routes `topic` with `queues` read queues within
/// `secs` seconds.
pub async fn wait_routed(admin: &Admin, topic: &str, queues: i32, secs: u64) -> bool {
    wait_async(secs, || async {
        match admin.topic_route(topic).await {
            Ok(r) => r.queue_datas.iter().any(|q| q.read_queue_nums == queues),
            Err(_) => false,
        }
    })
    .await
}

/// Body text of a message.
pub fn text(m: &MessageExt) -> String {
    String::from_utf8_lossy(&m.body).into_owned()
}

/// The clock the broker stamps with (same host).
pub use protocol::clock::now_ms;

/// Reads `topic` from its first offset with a fresh lite-pull group until
/// `done` holds for what was read (or `secs` pass); returns what was read.
pub async fn read_topic(
    ns: &str,
    topic: &str,
    group: &str,
    secs: u64,
    done: impl Fn(&[MessageExt]) -> bool,
) -> Vec<MessageExt> {
    let lite = client::LitePullConsumer::builder()
        .namesrv(ns)
        .group(group)
        .consume_from(client::ConsumeFrom::FirstOffset)
        .auto_commit(false)
        .build()
        .await
        .unwrap();
    let read: Seen = Arc::default();
    wait_async(secs, || async {
        if lite.assignment().is_empty() {
            if let Ok(qs) = lite.fetch_queues(topic).await {
                if !qs.is_empty() {
                    lite.assign(qs).await.unwrap();
                }
            }
        }
        if !lite.assignment().is_empty() {
            let polled = lite.poll(Duration::from_millis(100)).await.unwrap();
            read.lock().extend(polled);
        }
        done(&read.lock())
    })
    .await;
    lite.shutdown().await;
    let out = read.lock().clone();
    out
}

/// A listener that records every message and answers `result`.
pub fn recorder(
    seen: &Seen,
    result: client::ConsumeResult,
) -> impl Fn(Vec<MessageExt>) -> std::future::Ready<client::ConsumeResult> + Send + Sync + 'static {
    let seen = Arc::clone(seen);
    move |msgs| {
        seen.lock().extend(msgs);
        std::future::ready(result)
    }
}

/// The distinct bodies (as text) of `seen`.
pub fn bodies(seen: &[MessageExt]) -> std::collections::BTreeSet<String> {
    seen.iter().map(text).collect()
}

/// Waits up to 30 s until the bodies seen are exactly `expected`; fails
/// naming what is missing.
pub async fn wait_exactly(env: &Env, seen: &Seen, expected: &std::collections::BTreeSet<String>) {
    assert!(
        wait_for(30, || bodies(&seen.lock()) == *expected).await,
        "missing: {:?}\n{}",
        expected
            .difference(&bodies(&seen.lock()))
            .collect::<Vec<_>>(),
        env.log()
    );
}

/// A push consumer of `topic` from its first offset that records every
/// message into `seen` and acknowledges it.
pub async fn recording_consumer(
    cc: &Client,
    group: &str,
    topic: &str,
    seen: &Seen,
) -> client::PushConsumer {
    client::PushConsumer::builder()
        .client(cc)
        .group(group)
        .subscribe(topic, "*")
        .consume_from(client::ConsumeFrom::FirstOffset)
        .listener(recorder(seen, client::ConsumeResult::Success))
        .build()
        .await
        .unwrap()
}

/// A plain producer in `group`.
pub async fn producer(pc: &Client, group: &str) -> client::Producer {
    client::Producer::builder()
        .client(pc)
        .group(group)
        .build()
        .await
        .unwrap()
}

/// How many messages `topic` stores (sum over its queues).
pub async fn stored_count(admin: &Admin, topic: &str) -> usize {
    let stats = admin.topic_stats(topic).await.unwrap();
    stats
        .offset_table
        .values()
        .map(|o| (o.max_offset - o.min_offset).max(0) as usize)
        .sum()
}
