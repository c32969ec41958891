#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Controller mode in one process over real TCP: three controllers, a
//! NameServer and three brokers with `enableControllerMode=true`. The
//! first broker becomes master and the others slaves; SYNC sends are
//! acknowledged by the whole SyncStateSet; the master stops, a slave is
//! elected, becomes master without a restart, re-registers, takes sends
//! and serves every acknowledged message; the old master, given a tail
//! that nobody else has, comes back as a slave and cuts that tail. A
//! master that loses the controller quorum stops taking sends once its
//! lease runs out, and takes them again when the quorum is back.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use broker::{Broker, BrokerConfig, BrokerRole};
use controller::{BoundController, Controller, ControllerConfig, Peer};
use namesrv::{NameServer, NamesrvConfig};
use protocol::body::controller::EpochEntryCache;
use protocol::body::route::TopicRouteData;
use protocol::{RemotingCommand, RequestCode, ResponseCode};
use remoting::{ClientConfig, RemotingClient};
use testkit::readback::{pull_queue, pull_queue_until};
use testkit::requests::send_request;
use testkit::wait::{wait_async, wait_for};

const TOPIC: &str = "FailoverTopic";
const T: Duration = Duration::from_secs(5);

fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

/// Three controllers on loopback; a node's config restarts it in place.
struct Controllers {
    nodes: Vec<Option<Controller>>,
    configs: Vec<ControllerConfig>,
    addrs: String,
}

impl Controllers {
    async fn start(dir: &Path) -> Controllers {
        let mut bound = Vec::new();
        for _ in 0..3 {
            bound.push(BoundController::bind(loopback()).await.unwrap());
        }
        let peers: Vec<Peer> = bound
            .iter()
            .enumerate()
            .map(|(i, b)| Peer {
                name: format!("n{i}"),
                addr: b.local_addr().to_string(),
            })
            .collect();
        let addrs = peers
            .iter()
            .map(|p| p.addr.clone())
            .collect::<Vec<_>>()
            .join(";");
        let mut nodes = Vec::new();
        let mut configs = Vec::new();
        for (i, b) in bound.into_iter().enumerate() {
            let mut c = ControllerConfig {
                group: "group1".into(),
                peers: peers.clone(),
                self_id: peers[i].name.clone(),
                store_path: dir.join(format!("ctl{i}")),
                ..ControllerConfig::default()
            };
            c.election_timeout = Duration::from_millis(1000);
            c.scan_not_active_broker_interval = Duration::from_millis(200);
            c.scan_inactive_master_interval = Duration::from_millis(200);
            c.scan_wait = Duration::from_millis(500);
            nodes.push(Some(b.start(c.clone()).await.unwrap()));
            configs.push(c);
        }
        Controllers {
            nodes,
            configs,
            addrs,
        }
    }

    async fn stop(&mut self, i: usize) {
        if let Some(c) = self.nodes[i].take() {
            c.shutdown().await;
        }
    }

    /// Starts node `i` again on its address, over its Raft store.
    async fn restart(&mut self, i: usize) {
        let addr: SocketAddr = self.configs[i].peers[i].addr.parse().unwrap();
        let bound = BoundController::bind(addr).await.unwrap();
        self.nodes[i] = Some(bound.start(self.configs[i].clone()).await.unwrap());
    }

    async fn shutdown(mut self) {
        for i in 0..self.nodes.len() {
            self.stop(i).await;
        }
    }
}

/// A controller-mode broker config (brokerId/brokerRole are ignored).
fn config(ns: &str, controllers: &str) -> BrokerConfig {
    BrokerConfig {
        namesrv_addr: ns.into(),
        broker_name: "broker-cm".into(),
        broker_id: -1,
        broker_role: BrokerRole::Slave,
        enable_controller_mode: true,
        controller_addr: controllers.into(),
        all_ack_in_sync_state_set: true,
        sync_broker_metadata_period: 500,
        sync_controller_metadata_period: 2_000,
        check_sync_state_set_period: 300,
        broker_heartbeat_interval: 200,
        controller_heart_beat_timeout_mills: 3_000,
        ha_max_time_slave_not_catchup: 4_000,
        ha_send_heartbeat_interval: 300,
        ha_housekeeping_interval: 10_000,
        slave_timeout: 5_000,
        ..BrokerConfig::default()
    }
}

fn store_at(dir: &Path) -> broker::StoreConfig {
    broker::StoreConfig {
        disk_max_used_space_ratio: 97,
        disk_space_clean_forcibly_ratio: 98,
        disk_space_warning_level_ratio: 99,
        ..testkit::small_store(dir)
    }
}

async fn send(c: &RemotingClient, addr: &str, body: &str) -> RemotingCommand {
    c.invoke(addr, send_request(TOPIC, 0, "t", body.as_bytes()), T)
        .await
        .unwrap()
}

async fn route_master(c: &RemotingClient, ns: &str) -> Option<String> {
    let req = RemotingCommand::request_with_header(
        RequestCode::GET_ROUTEINFO_BY_TOPIC,
        &protocol::header::namesrv::GetRouteInfoRequestHeader {
            topic: TOPIC.into(),
            accept_standard_json_only: None,
        },
    );
    let r = c.invoke(ns, req, T).await.ok()?;
    if r.code != ResponseCode::SUCCESS.code() {
        return None;
    }
    let route = TopicRouteData::decode(&r.body).ok()?;
    route
        .broker_datas
        .iter()
        .find_map(|b| b.master_addr().map(str::to_owned))
}

fn is_master(b: &Broker) -> bool {
    b.state().broker_role() == BrokerRole::SyncMaster
}

fn in_sync(b: &Broker) -> usize {
    b.state().role.replicas().sync_state_set.len()
}

struct Node {
    dir: PathBuf,
    broker: Option<Broker>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn failover_keeps_every_acknowledged_message_and_the_old_master_truncates() {
    testkit::wait::trace();
    let dir = tempfile::tempdir().unwrap();
    let ctls = Controllers::start(dir.path()).await;
    let ctl_addrs = ctls.addrs.clone();
    let namesrv = start_namesrv(dir.path()).await;
    let ns = namesrv.local_addr().to_string();
    let c = RemotingClient::new(ClientConfig::default(), None);
    let cfg = config(&ns, &ctl_addrs);

    // The first broker becomes master on its own.
    let mut nodes: Vec<Node> = (0..3)
        .map(|i| Node {
            dir: dir.path().join(format!("b{i}")),
            broker: None,
        })
        .collect();
    nodes[0].broker = Some(
        Broker::start(cfg.clone(), store_at(&nodes[0].dir), loopback())
            .await
            .unwrap(),
    );
    let first = nodes[0].broker.as_ref().unwrap();
    assert!(wait_for(30, || is_master(first)).await, "no master elected");
    assert_eq!(first.state().broker_id(), 0);
    for n in &mut nodes[1..] {
        n.broker = Some(
            Broker::start(cfg.clone(), store_at(&n.dir), loopback())
                .await
                .unwrap(),
        );
    }
    for n in &nodes[1..] {
        let b = n.broker.as_ref().unwrap();
        assert!(wait_for(30, || b.state().is_slave() && b.state().broker_id() > 0).await);
    }
    let first = nodes[0].broker.as_ref().unwrap();
    let master_addr = first.advertised_addr().to_owned();
    assert!(
        wait_for(30, || in_sync(first) == 3).await,
        "the slaves never joined the SyncStateSet: {:?}",
        first.state().role.replicas()
    );

    // SYNC sends are acknowledged by all three.
    let mut acked = Vec::new();
    for i in 0..50 {
        let body = format!("epoch1-{i}");
        let r = send(&c, &master_addr, &body).await;
        assert_eq!(r.code, ResponseCode::SUCCESS.code(), "{:?}", r.remark);
        acked.push(body);
    }
    // The slaves hold the topic config before the master goes.
    for n in &nodes[1..] {
        let b = n.broker.as_ref().unwrap();
        assert!(wait_for(30, || b.state().topics.contains(TOPIC)).await);
    }

    // GET_BROKER_EPOCH_CACHE on the master.
    let r = c
        .invoke(
            &master_addr,
            RemotingCommand::request(RequestCode::GET_BROKER_EPOCH_CACHE),
            T,
        )
        .await
        .unwrap();
    assert_eq!(r.code, 0);
    let cache = EpochEntryCache::decode(&r.body).unwrap();
    assert_eq!(cache.broker_id, 0);
    assert_eq!(cache.epoch_list.len(), 1);
    let first_epoch = cache.epoch_list[0].epoch;

    // Stop the master: a slave is elected and takes over.
    let old = nodes[0].broker.take().unwrap();
    old.shutdown().await;
    let picked = {
        let mut picked = None;
        let found = wait_for(30, || {
            picked = (1..3).find(|i| is_master(nodes[*i].broker.as_ref().unwrap()));
            picked.is_some()
        })
        .await;
        assert!(
            found,
            "no slave became master: {:?}",
            nodes[1..]
                .iter()
                .map(|n| n.broker.as_ref().unwrap().state().role.replicas())
                .collect::<Vec<_>>()
        );
        picked.unwrap()
    };
    let new_master = nodes[picked].broker.as_ref().unwrap();
    let new_addr = new_master.advertised_addr().to_owned();
    assert!(new_master.state().role.master_epoch() > first_epoch);
    // The NameServer serves the new master.
    assert!(
        wait_async(30, || {
            let (c, ns, want) = (c.clone(), ns.clone(), new_addr.clone());
            async move { route_master(&c, &ns).await.as_deref() == Some(want.as_str()) }
        })
        .await,
        "the NameServer never served the new master"
    );
    // Sends succeed again, and the other slave rejoins the set.
    for i in 0..30 {
        let body = format!("epoch2-{i}");
        let r = send(&c, &new_addr, &body).await;
        assert_eq!(r.code, ResponseCode::SUCCESS.code(), "{:?}", r.remark);
        acked.push(body);
    }
    assert!(
        wait_for(30, || in_sync(new_master) == 2).await,
        "the other slave never joined: {:?}",
        new_master.state().role.replicas()
    );
    // Every acknowledged message is readable on the new master.
    let read: Vec<String> = pull_queue_until(&c, &new_addr, TOPIC, 0, acked.len())
        .await
        .unwrap()
        .into_iter()
        .map(|(_, b)| String::from_utf8(b).unwrap())
        .collect();
    assert_eq!(read, acked);

    // The old master wrote a tail nobody has (as if it had taken a send
    // its slaves never got): start it alone, as a classic master.
    let alone = BrokerConfig {
        enable_controller_mode: false,
        broker_id: 0,
        broker_role: BrokerRole::AsyncMaster,
        namesrv_addr: String::new(),
        ..cfg.clone()
    };
    let lone = Broker::start(alone, store_at(&nodes[0].dir), loopback())
        .await
        .unwrap();
    let lone_addr = lone.advertised_addr().to_owned();
    for i in 0..5 {
        let r = send(&c, &lone_addr, &format!("divergent-{i}")).await;
        assert_eq!(r.code, 0, "{:?}", r.remark);
    }
    lone.shutdown().await;

    // Back in controller mode it rejoins as a slave and cuts that tail.
    nodes[0].broker = Some(
        Broker::start(cfg.clone(), store_at(&nodes[0].dir), loopback())
            .await
            .unwrap(),
    );
    let back = nodes[0].broker.as_ref().unwrap();
    assert!(
        wait_for(30, || back.state().is_slave()
            && back.state().broker_id() > 0)
        .await
    );
    let new_master = nodes[picked].broker.as_ref().unwrap();
    assert!(
        wait_for(30, || {
            back.state().store.commitlog_max_offset()
                == new_master.state().store.commitlog_max_offset()
        })
        .await,
        "the old master never caught up"
    );
    assert!(
        wait_for(30, || in_sync(new_master) == 3).await,
        "the old master never rejoined the SyncStateSet: {:?}",
        new_master.state().role.replicas()
    );
    let r = send(&c, &new_addr, "after-rejoin").await;
    assert_eq!(r.code, 0, "{:?}", r.remark);
    acked.push("after-rejoin".into());
    // Its queue is the new master's: the divergent tail is gone.
    let back_state = back.state().clone();
    assert!(
        wait_for(30, || back_state.store.max_offset(TOPIC, 0)
            == new_master.state().store.max_offset(TOPIC, 0))
        .await
    );
    // Byte for byte the same commit log (the tail was cut, not kept).
    let (a, b) = (&back.state().store, &new_master.state().store);
    let mut at = a.commitlog_min_offset().max(b.commitlog_min_offset());
    let end = b.commitlog_max_offset();
    while at < end {
        let ours = a.read_commitlog(at, 64 * 1024).unwrap();
        let theirs = b.read_commitlog(at, ours.len()).unwrap();
        assert_eq!(ours, theirs, "the logs differ at {at}");
        at += ours.len() as u64;
    }
    let epochs = back.state().epochs.as_ref().unwrap().entries();
    assert_eq!(
        epochs.last().map(|e| e.epoch),
        Some(new_master.state().role.master_epoch()),
        "the old master took the new master's epochs"
    );

    for n in nodes {
        if let Some(b) = n.broker {
            b.shutdown().await;
        }
    }
    namesrv.shutdown().await;
    ctls.shutdown().await;
}

async fn start_namesrv(dir: &Path) -> NameServer {
    NameServer::start(
        NamesrvConfig {
            kv_config_path: dir.join("ns/kv.json"),
            config_store_path: dir.join("ns/ns.properties"),
            ..NamesrvConfig::default()
        },
        loopback(),
    )
    .await
    .unwrap()
}

/// The master's lease: with two of three controllers gone no leader can
/// confirm it, so it refuses sends (SYSTEM_ERROR naming the lost quorum)
/// and stores nothing; with them back it takes sends again, still master
/// at the same epoch (nobody else was elected meanwhile).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_master_stops_writing_without_a_controller_quorum_and_resumes_with_one() {
    testkit::wait::trace();
    let dir = tempfile::tempdir().unwrap();
    let mut ctls = Controllers::start(dir.path()).await;
    let namesrv = start_namesrv(dir.path()).await;
    let ns = namesrv.local_addr().to_string();
    let c = RemotingClient::new(ClientConfig::default(), None);
    let cfg = config(&ns, &ctls.addrs);
    let master = Broker::start(cfg, store_at(&dir.path().join("b0")), loopback())
        .await
        .unwrap();
    assert!(
        wait_for(30, || is_master(&master)).await,
        "no master elected"
    );
    let addr = master.advertised_addr().to_owned();
    let epoch = master.state().role.master_epoch();
    let r = send(&c, &addr, "before").await;
    assert_eq!(r.code, ResponseCode::SUCCESS.code(), "{:?}", r.remark);

    ctls.stop(1).await;
    ctls.stop(2).await;
    // Sends still succeed within the lease, then stop.
    let mut refusal = None;
    for _ in 0..600 {
        let r = send(&c, &addr, "within-lease").await;
        if r.code != ResponseCode::SUCCESS.code() {
            refusal = Some((r.code, r.remark.unwrap_or_default()));
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (code, remark) = refusal.expect("the master kept taking sends without a controller quorum");
    assert_eq!(code, ResponseCode::SYSTEM_ERROR.code(), "{remark}");
    assert!(
        remark.starts_with("controller quorum lost: no controller leader answered for ")
            && remark.ends_with("ms; writes stop until a quorum is back"),
        "{remark}"
    );
    // Refused sends are not stored.
    let end = master.state().store.commitlog_max_offset();
    let r = send(&c, &addr, "refused").await;
    assert_eq!(r.code, ResponseCode::SYSTEM_ERROR.code(), "{:?}", r.remark);
    assert_eq!(master.state().store.commitlog_max_offset(), end);
    assert!(is_master(&master), "a lapsed lease is not a role change");

    ctls.restart(1).await;
    ctls.restart(2).await;
    assert!(
        wait_async(60, || {
            let (c, addr) = (c.clone(), addr.clone());
            async move { send(&c, &addr, "after").await.code == ResponseCode::SUCCESS.code() }
        })
        .await,
        "sends never resumed with the quorum back"
    );
    assert!(is_master(&master));
    assert_eq!(master.state().role.master_epoch(), epoch);
    // The answer comes once stored; the consume queue is written just after.
    let mut read: Vec<String> = Vec::new();
    for _ in 0..200 {
        read = pull_queue(&c, &addr, TOPIC, 0)
            .await
            .unwrap()
            .into_iter()
            .map(|(_, b)| String::from_utf8(b).unwrap())
            .collect();
        if read.last().map(String::as_str) == Some("after") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(read.first().map(String::as_str), Some("before"));
    assert_eq!(read.last().map(String::as_str), Some("after"));
    assert!(
        read[1..read.len() - 1].iter().all(|b| b == "within-lease"),
        "{read:?}"
    );

    master.shutdown().await;
    namesrv.shutdown().await;
    ctls.shutdown().await;
}
