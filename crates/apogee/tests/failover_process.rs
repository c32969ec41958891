//! Automatic failover as processes (issue 19): three `apogee controller`s,
//! a NameServer and one broker group of three brokers in controller mode
//! (`brokerId=-1`, `brokerRole=SLAVE`: the controller picks the master).
//! Each round kills the current master with SIGKILL while a producer sends;
//! writes must resume on a new master, every acknowledged message must be
//! readable there, and the old master must rejoin the SyncStateSet as a
//! slave. Another test freezes a slave (SIGSTOP): sends stay acknowledged
//! while it is out, and it rejoins after SIGCONT. Figures (RTO) come from
//! `scripts/bench-failover`; nothing here asserts on time.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use client::{Message, Producer, SendStatus};
use protocol::body::controller::{BrokerReplicasInfo, ReplicasInfo};
use protocol::header::admin::CreateTopicRequestHeader;
use protocol::header::controller::GetMetaDataResponseHeader;
use protocol::{RemotingCommand, RequestCode};
use remoting::{ClientConfig, RemotingClient};
use testkit::cluster::{BrokerSpec, Proc, ProcessCluster};
use testkit::controllers::Peers;
use testkit::readback::pull_queue;

const TOPIC: &str = "FailoverTopic";
const QUEUES: i32 = 4;
const T: Duration = Duration::from_secs(5);
/// Bounds on waits, so a broken build fails instead of hanging; they are
/// liveness limits, not figures.
const LIMIT: Duration = Duration::from_secs(90);

/// Three controllers, a NameServer and three controller-mode brokers.
struct Group {
    ctls: Vec<Proc>,
    ctl_addrs: Vec<String>,
    cluster: ProcessCluster,
    remoting: RemotingClient,
    _dir: tempfile::TempDir,
}

impl Group {
    async fn start() -> Option<Group> {
        // The process cluster runs the binary this test was built with.
        std::env::set_var("APOGEE_BIN", env!("CARGO_BIN_EXE_apogee"));
        let dir = tempfile::tempdir().unwrap();
        let peers = Peers::free(3);
        let ctl_addrs = peers.addrs.clone();
        let ctls = peers.start_controllers(
            Path::new(env!("CARGO_BIN_EXE_apogee")),
            dir.path(),
            "scanNotActiveBrokerInterval = 1000\nscanInactiveMasterInterval = 1000\n\
             jRaftScanWaitTimeoutMs = 2000\n",
        );
        let extra: Vec<(String, String)> = [
            ("enableControllerMode", "true"),
            ("controllerAddr", &ctl_addrs.join(";")),
            ("allAckInSyncStateSet", "true"),
            ("slaveReadEnable", "true"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        let spec = BrokerSpec {
            extra,
            ..BrokerSpec::new(-1, "SLAVE", "ASYNC_FLUSH")
        };
        let cluster = tokio::task::spawn_blocking(move || {
            ProcessCluster::start(1, &[spec.clone(), spec.clone(), spec])
        })
        .await
        .unwrap()?;
        Some(Group {
            ctls,
            ctl_addrs,
            cluster,
            remoting: RemotingClient::new(ClientConfig::default(), None),
            _dir: dir,
        })
    }

    /// The Raft leader's address, if some controller names one.
    async fn raft_leader(&self) -> Option<String> {
        for addr in &self.ctl_addrs {
            let req = RemotingCommand::request(RequestCode::CONTROLLER_GET_METADATA_INFO);
            if let Ok(r) = self.remoting.invoke(addr, req, T).await {
                if let Ok(h) = r.decode_header::<GetMetaDataResponseHeader>() {
                    if let Some(lead) = h.controller_leader_address.filter(|l| !l.is_empty()) {
                        return Some(lead);
                    }
                }
            }
        }
        None
    }

    /// broker-a's replica info from the Raft leader, if it answers.
    async fn replicas(&self) -> Option<ReplicasInfo> {
        let lead = self.raft_leader().await?;
        let req = RemotingCommand::request(RequestCode::CONTROLLER_GET_SYNC_STATE_DATA)
            .with_body(serde_json::to_vec(&["broker-a"]).unwrap());
        let r = self.remoting.invoke(&lead, req, T).await.ok()?;
        if r.code != 0 {
            return None;
        }
        BrokerReplicasInfo::decode(&r.body)
            .ok()?
            .replicas_info_table
            .remove("broker-a")
    }

    /// Waits for a master with `alive_in_sync` alive members in its
    /// SyncStateSet; the replica info then.
    async fn wait_group(&self, alive_in_sync: usize, what: &str) -> ReplicasInfo {
        let start = Instant::now();
        let mut last = None;
        while start.elapsed() < LIMIT {
            if let Some(info) = self.replicas().await {
                let alive = info.in_sync_replicas.iter().filter(|r| r.alive).count();
                if info.master_address.is_some() && alive >= alive_in_sync {
                    return info;
                }
                last = Some(info);
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        panic!(
            "{what}: no master with {alive_in_sync} alive in-sync replicas: {last:?}\n{}",
            self.logs()
        );
    }

    /// Index into `cluster.brokers` of the broker at `addr`.
    fn broker_at(&self, addr: &str) -> usize {
        self.cluster
            .brokers
            .iter()
            .position(|b| b.addr == addr)
            .unwrap_or_else(|| panic!("no broker at {addr}"))
    }

    fn logs(&self) -> String {
        self.cluster
            .brokers
            .iter()
            .map(|b| format!("--- {}:\n{}", b.name, b.log_tail(15)))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The topic on every broker (a slave promoted before its next
    /// metadata sync knows it too); a broker may refuse as a slave.
    async fn create_topic(&self) {
        let header = CreateTopicRequestHeader {
            topic: TOPIC.into(),
            default_topic: Some("TBW102".into()),
            read_queue_nums: QUEUES,
            write_queue_nums: QUEUES,
            perm: 6,
            ..CreateTopicRequestHeader::default()
        };
        let mut created = 0;
        for b in &self.cluster.brokers {
            let req =
                RemotingCommand::request_with_header(RequestCode::UPDATE_AND_CREATE_TOPIC, &header);
            if let Ok(r) = self.remoting.invoke(&b.addr, req, T).await {
                created += usize::from(r.code == 0);
            }
        }
        assert!(created > 0, "no broker created the topic");
    }

    /// Every message body of the topic on `addr`.
    async fn bodies(&self, addr: &str) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        for q in 0..QUEUES {
            match pull_queue(&self.remoting, addr, TOPIC, q).await {
                Ok(got) => out.extend(got.into_iter().map(|(_, b)| b)),
                Err(e) => eprintln!("reading queue {q} of {addr}: {e}"),
            }
        }
        out
    }

    /// Acknowledged bodies not (yet) readable on `addr`, re-read for a
    /// while (a consume queue still being rebuilt); and the duplicates.
    async fn lost_on(&self, addr: &str, acked: &BTreeSet<Vec<u8>>) -> (usize, usize) {
        let start = Instant::now();
        loop {
            let seen = self.bodies(addr).await;
            let distinct: BTreeSet<Vec<u8>> = seen.iter().cloned().collect();
            let lost = acked.difference(&distinct).count();
            if lost == 0 || start.elapsed() > Duration::from_secs(20) {
                return (lost, seen.len() - distinct.len());
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// Sends numbered messages one after another until stopped, keeping the
/// bodies the broker acknowledged (SEND_OK).
struct Sender {
    acked: Arc<Mutex<Vec<Vec<u8>>>>,
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Sender {
    fn start(producer: Producer, prefix: String) -> Sender {
        let acked = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (a, s) = (acked.clone(), stop.clone());
        let task = tokio::spawn(async move {
            let mut i = 0u64;
            while !s.load(Ordering::Relaxed) {
                let body = format!("{prefix}-{i}").into_bytes();
                i += 1;
                match producer.send(Message::new(TOPIC, body.clone())).await {
                    Ok(r) if r.status == SendStatus::Ok => a.lock().unwrap().push(body),
                    Ok(_) => {}
                    // No master yet: the next send resolves the route again.
                    Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
                }
            }
        });
        Sender { acked, stop, task }
    }

    fn count(&self) -> usize {
        self.acked.lock().unwrap().len()
    }

    async fn wait_for(&self, n: usize, what: &str) {
        let start = Instant::now();
        while self.count() < n {
            assert!(
                start.elapsed() < LIMIT,
                "{what}: only {} acknowledged",
                self.count()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn finish(self) -> Vec<Vec<u8>> {
        self.stop.store(true, Ordering::Relaxed);
        self.task.await.unwrap();
        let acked = self.acked.lock().unwrap().clone();
        acked
    }
}

async fn producer(group: &Group) -> Producer {
    Producer::builder()
        .namesrv(&group.cluster.namesrv_list())
        .group("FailoverPG")
        .send_timeout(Duration::from_secs(3))
        .retries(1)
        .build()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_masters_fail_over_without_losing_acknowledged_messages() {
    let Some(mut g) = Group::start().await else {
        eprintln!("skipped: no apogee binary (cargo build -p apogee, or set APOGEE_BIN)");
        return;
    };
    g.wait_group(3, "start").await;
    g.create_topic().await;
    let producer = producer(&g).await;
    let mut all_acked = BTreeSet::new();

    for round in 0..3 {
        let before = g.wait_group(3, "before the kill").await;
        let old = before.master_address.clone().unwrap();
        let victim = g.broker_at(&old);
        let sender = Sender::start(producer.clone(), format!("r{round}"));
        sender.wait_for(30, "before the kill").await;
        g.cluster.brokers[victim].kill();
        let at_kill = sender.count();
        // Writes resume on a new master.
        sender.wait_for(at_kill + 30, "after the kill").await;
        let acked: BTreeSet<Vec<u8>> = sender.finish().await.into_iter().collect();
        let after = g.wait_group(2, "after the kill").await;
        let new = after.master_address.clone().unwrap();
        assert_ne!(new, old, "round {round}: the dead master is still master");
        assert!(after.master_epoch > before.master_epoch);
        all_acked.extend(acked.iter().cloned());
        let (lost, dups) = g.lost_on(&new, &all_acked).await;
        eprintln!(
            "round {round}: {old} -> {new} (epoch {}), {} acknowledged, {lost} lost, {dups} duplicates",
            after.master_epoch,
            acked.len()
        );
        assert_eq!(
            lost, 0,
            "round {round}: acknowledged messages lost on {new}"
        );
        // The old master comes back as a slave and rejoins the SyncStateSet.
        g.cluster.brokers[victim].restart();
        let back = g.wait_group(3, "the old master rejoining").await;
        assert_eq!(back.master_address.as_deref(), Some(new.as_str()));
    }

    // The Raft leader killed: the other two controllers still fail over.
    let lead = g.raft_leader().await.unwrap();
    let ctl = g.ctl_addrs.iter().position(|a| *a == lead).unwrap();
    g.ctls[ctl].kill();
    let before = g.wait_group(3, "after the Raft leader died").await;
    let old = before.master_address.clone().unwrap();
    let victim = g.broker_at(&old);
    let sender = Sender::start(producer.clone(), "raft".into());
    sender.wait_for(30, "before the kill").await;
    g.cluster.brokers[victim].kill();
    let at_kill = sender.count();
    sender
        .wait_for(at_kill + 30, "after the kill, two controllers")
        .await;
    all_acked.extend(sender.finish().await);
    let after = g.wait_group(2, "failover with two controllers").await;
    let new = after.master_address.clone().unwrap();
    assert_ne!(new, old);
    let (lost, _) = g.lost_on(&new, &all_acked).await;
    assert_eq!(lost, 0, "acknowledged messages lost with two controllers");
    g.ctls[ctl].restart();
    g.cluster.brokers[victim].restart();
    g.wait_group(3, "everyone back").await;

    // Every acknowledged message of every round is on every broker.
    for b in 0..g.cluster.brokers.len() {
        let addr = g.cluster.brokers[b].addr.clone();
        let (lost, _) = g.lost_on(&addr, &all_acked).await;
        assert_eq!(lost, 0, "acknowledged messages missing on {addr}");
    }
    producer.shutdown().await;
    g.remoting.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_slave_leaves_the_sync_state_set_and_rejoins() {
    let Some(g) = Group::start().await else {
        eprintln!("skipped: no apogee binary (cargo build -p apogee, or set APOGEE_BIN)");
        return;
    };
    let info = g.wait_group(3, "start").await;
    g.create_topic().await;
    let master = info.master_address.clone().unwrap();
    let slave = g
        .cluster
        .brokers
        .iter()
        .position(|b| b.addr != master)
        .unwrap();
    let slave_addr = g.cluster.brokers[slave].addr.clone();
    let producer = producer(&g).await;
    let sender = Sender::start(producer.clone(), "stop".into());
    sender.wait_for(20, "before SIGSTOP").await;
    g.cluster.brokers[slave].pause();
    // It leaves the SyncStateSet...
    let start = Instant::now();
    loop {
        let info = g.replicas().await;
        let in_set = info.as_ref().is_some_and(|i| {
            i.in_sync_replicas
                .iter()
                .any(|r| r.broker_address == slave_addr)
        });
        if info.is_some() && !in_set {
            break;
        }
        assert!(
            start.elapsed() < LIMIT,
            "the frozen slave stayed in the SyncStateSet: {info:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // ...and sends are acknowledged without it.
    let out = sender.count();
    sender.wait_for(out + 20, "without the frozen slave").await;
    g.cluster.brokers[slave].resume();
    let back = g.wait_group(3, "the slave rejoining after SIGCONT").await;
    assert!(back
        .in_sync_replicas
        .iter()
        .any(|r| r.broker_address == slave_addr));
    let acked: BTreeSet<Vec<u8>> = sender.finish().await.into_iter().collect();
    let (lost, _) = g.lost_on(&slave_addr, &acked).await;
    assert_eq!(lost, 0, "the rejoined slave caught up");
    producer.shutdown().await;
    g.remoting.shutdown().await;
}
