#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Replication between an in-process master and slave over real TCP:
//! bytes arrive verbatim, the slave rebuilds its queues and serves pulls,
//! SYNC_MASTER sends wait for the slave, and lose it gracefully.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use broker::{Broker, BrokerConfig, BrokerRole};
use namesrv::{NameServer, NamesrvConfig};
use protocol::header::pull::PullMessageResponseHeader;
use protocol::header::send::SendMessageResponseHeader;
use protocol::message::msgid::decode_offset_msg_id;
use protocol::{RemotingCommand, RequestCode, ResponseCode};
use remoting::{ClientConfig, RemotingClient};
use testkit::requests::{pull_request, send_request};

/// A test store that keeps accepting writes on a nearly full shared disk.
fn store_at(dir: &std::path::Path) -> broker::StoreConfig {
    broker::StoreConfig {
        disk_max_used_space_ratio: 97,
        disk_space_clean_forcibly_ratio: 98,
        disk_space_warning_level_ratio: 99,
        ..testkit::small_store(dir)
    }
}

fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

struct Pair {
    namesrv: NameServer,
    master: Broker,
    slave: Broker,
    client: RemotingClient,
    _dir: tempfile::TempDir,
}

async fn start_pair(role: BrokerRole, slave_read: bool) -> Pair {
    let dir = tempfile::tempdir().unwrap();
    let namesrv = NameServer::start(
        NamesrvConfig {
            kv_config_path: dir.path().join("ns/kv.json"),
            config_store_path: dir.path().join("ns/ns.properties"),
            ..NamesrvConfig::default()
        },
        loopback(),
    )
    .await
    .unwrap();
    let ns = namesrv.local_addr().to_string();
    let master_cfg = BrokerConfig {
        namesrv_addr: ns.clone(),
        broker_role: role,
        ..BrokerConfig::default()
    };
    let master = Broker::start(master_cfg, store_at(&dir.path().join("master")), loopback())
        .await
        .unwrap();
    // The slave learns its master from its first registration: let the
    // master's registration land first.
    let probe = RemotingClient::new(ClientConfig::default(), None);
    let start = Instant::now();
    loop {
        let req = RemotingCommand::request(RequestCode::GET_BROKER_CLUSTER_INFO);
        if let Ok(r) = probe.invoke(&ns, req, Duration::from_secs(3)).await {
            if String::from_utf8_lossy(&r.body).contains(master.advertised_addr()) {
                break;
            }
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "master never registered"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    probe.shutdown().await;
    let slave_cfg = BrokerConfig {
        namesrv_addr: ns,
        broker_id: 1,
        broker_role: BrokerRole::Slave,
        slave_read_enable: slave_read,
        ..BrokerConfig::default()
    };
    let slave = Broker::start(slave_cfg, store_at(&dir.path().join("slave")), loopback())
        .await
        .unwrap();
    let pair = Pair {
        namesrv,
        master,
        slave,
        client: RemotingClient::new(ClientConfig::default(), None),
        _dir: dir,
    };
    wait_until(Duration::from_secs(10), || {
        pair.master.state().ha.slave_count() == 1
    })
    .await;
    pair
}

async fn wait_until(limit: Duration, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(
            start.elapsed() < limit,
            "condition not reached in {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn send(client: &RemotingClient, addr: &str, topic: &str, body: &[u8]) -> RemotingCommand {
    let req = send_request(topic, 0, "t", body);
    client
        .invoke(addr, req, Duration::from_secs(10))
        .await
        .unwrap()
}

async fn pull(client: &RemotingClient, addr: &str, topic: &str, offset: i64) -> RemotingCommand {
    client
        .invoke(
            addr,
            pull_request(topic, 0, offset),
            Duration::from_secs(10),
        )
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_master_waits_for_the_slave_and_the_slave_serves_identical_bytes() {
    let p = start_pair(BrokerRole::SyncMaster, true).await;
    let m = p.master.advertised_addr().to_owned();
    let mut offsets = Vec::new();
    for i in 0..200 {
        let body = format!("message-{i}-{}", "y".repeat(i * 7));
        let r = send(&p.client, &m, "HaT", body.as_bytes()).await;
        assert_eq!(r.code, 0, "send {i}: {:?}", r.remark);
        let h: SendMessageResponseHeader = r.decode_header().unwrap();
        let (_, phys) = decode_offset_msg_id(&h.msg_id).unwrap();
        // SYNC_MASTER: acknowledged means the slave has it already.
        let slave_store = &p.slave.state().store;
        let master_rec = p.master.state().store.read_message_at(phys as u64).unwrap();
        assert!(slave_store.commitlog_max_offset() >= phys as u64 + master_rec.len() as u64);
        offsets.push(phys as u64);
    }
    for phys in &offsets {
        assert_eq!(
            p.slave.state().store.read_message_at(*phys),
            p.master.state().store.read_message_at(*phys)
        );
    }
    let status = broker::ha::status(p.master.state());
    assert_eq!(status.role, "SYNC_MASTER");
    assert_eq!(status.slaves.len(), 1);
    assert_eq!(status.slave_ack_offset, status.master_offset);
    let s_status = broker::ha::status(p.slave.state());
    assert_eq!(s_status.role, "SLAVE");
    assert!(s_status.connected);

    // The slave rebuilt its queue and serves the same messages.
    let slave_state = p.slave.state().clone();
    slave_state.topics.ensure("HaT", 4, 6);
    wait_until(Duration::from_secs(5), || {
        slave_state.store.max_offset("HaT", 0) == 200
    })
    .await;
    let s = p.slave.advertised_addr().to_owned();
    let r = pull(&p.client, &s, "HaT", 0).await;
    assert_eq!(r.code, 0, "{:?}", r.remark);
    let ph: PullMessageResponseHeader = r.decode_header().unwrap();
    assert_eq!(ph.next_begin_offset, 32);
    let mut expected = Vec::new();
    for phys in &offsets[..32] {
        expected.extend_from_slice(&p.master.state().store.read_message_at(*phys).unwrap());
    }
    assert_eq!(&r.body[..], &expected[..]);
    // Slaves refuse sends.
    let r = send(&p.client, &s, "HaT", b"x").await;
    assert_eq!(r.code, ResponseCode::SERVICE_NOT_AVAILABLE.code());

    // Without its slave a SYNC_MASTER still stores but says so.
    p.slave.shutdown().await;
    wait_until(Duration::from_secs(5), || {
        p.master.state().ha.slave_count() == 0
    })
    .await;
    let r = send(&p.client, &m, "HaT", b"alone").await;
    assert_eq!(r.code, ResponseCode::SLAVE_NOT_AVAILABLE.code());
    let h: SendMessageResponseHeader = r.decode_header().unwrap();
    let (_, phys) = decode_offset_msg_id(&h.msg_id).unwrap();
    assert!(p
        .master
        .state()
        .store
        .read_message_at(phys as u64)
        .is_some());
    p.client.shutdown().await;
    p.master.shutdown().await;
    p.namesrv.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_master_does_not_wait_and_a_slave_without_slave_read_refuses_pulls() {
    let p = start_pair(BrokerRole::AsyncMaster, false).await;
    let m = p.master.advertised_addr().to_owned();
    for i in 0..50 {
        let r = send(&p.client, &m, "HaA", format!("a{i}").as_bytes()).await;
        assert_eq!(r.code, 0);
    }
    let end = p.master.state().store.commitlog_max_offset();
    let slave_store = p.slave.state().store.clone();
    wait_until(Duration::from_secs(5), || {
        slave_store.commitlog_max_offset() == end
    })
    .await;
    p.slave.state().topics.ensure("HaA", 4, 6);
    let r = pull(&p.client, p.slave.advertised_addr(), "HaA", 0).await;
    assert_eq!(r.code, ResponseCode::SYSTEM_BUSY.code());
    assert!(r.remark.unwrap_or_default().contains("slaveReadEnable"));
    p.client.shutdown().await;
    p.slave.shutdown().await;
    p.master.shutdown().await;
    p.namesrv.shutdown().await;
}

/// Answers the slave's metadata requests from a master's tables (the
/// master-side handlers live with the admin requests).
struct MetadataSource {
    master: std::sync::Arc<broker::state::BrokerState>,
}

impl remoting::Processor for MetadataSource {
    fn process(
        &self,
        _conn: remoting::Connection,
        req: RemotingCommand,
    ) -> remoting::BoxFuture<Option<RemotingCommand>> {
        let s = &self.master;
        let body = match req.request_code_enum() {
            RequestCode::GET_ALL_TOPIC_CONFIG => Some(s.topics.wrapper().encode()),
            RequestCode::GET_ALL_CONSUMER_OFFSET => s.offsets.snapshot_json(true),
            RequestCode::GET_ALL_SUBSCRIPTIONGROUP_CONFIG => s.groups.snapshot_json(true),
            RequestCode::GET_ALL_DELAY_OFFSET => Some(br#"{"offsetTable":{3:120}}"#.to_vec()),
            _ => None,
        };
        let resp = match body {
            Some(b) => RemotingCommand::success().with_body(bytes::Bytes::from(b)),
            None => RemotingCommand::error(ResponseCode::REQUEST_CODE_NOT_SUPPORTED, "no"),
        }
        .answering(&req);
        Box::pin(async move { Some(resp) })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slave_copies_topics_offsets_and_groups_from_the_master() {
    let p = start_pair(BrokerRole::AsyncMaster, true).await;
    let ms = p.master.state().clone();
    ms.topics.ensure("MetaT", 3, 6);
    ms.groups.get_or_create("MetaG", true).unwrap();
    ms.offsets.commit("MetaG", "MetaT", 2, 77);
    let source = remoting::Server::bind(
        loopback(),
        remoting::ServerConfig::default(),
        std::sync::Arc::new(MetadataSource { master: ms.clone() }),
    )
    .await
    .unwrap();
    let ss = p.slave.state().clone();
    // The slave's own periodic copy from the real master may get the
    // topic, group and offset first; the delay offsets below are served
    // only by this source, so they show that this copy ran.
    assert_ne!(ss.schedule.offset(3), 120);
    broker::ha::metadata::sync_once(&ss, &source.local_addr().to_string()).await;
    assert_eq!(ss.topics.get("MetaT").unwrap().read_queue_nums, 3);
    assert!(ss.groups.get("MetaG").is_some());
    assert_eq!(ss.offsets.committed("MetaG", "MetaT", 2), Some(77));
    assert_eq!(ss.schedule.offset(3), 120);
    // Saved, so a restarted slave has them before the next copy.
    let saved = ss
        .store
        .metadata_file("topics.json")
        .load()
        .unwrap()
        .unwrap();
    assert!(saved.contains("MetaT"));
    // (Read raw: fastjson's unquoted queue ids are not strict JSON.)
    let saved =
        std::fs::read_to_string(ss.store.metadata_file("consumerOffset.json").path()).unwrap();
    assert!(saved.contains("MetaT@MetaG"));
    // An unchanged master table is not reloaded (no re-registration storm).
    let version = ss.topics.data_version();
    broker::ha::metadata::sync_once(&ss, &source.local_addr().to_string()).await;
    assert_eq!(ss.topics.data_version(), version);
    source.shutdown().await;
    p.client.shutdown().await;
    p.slave.shutdown().await;
    p.master.shutdown().await;
    p.namesrv.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runtime_info_reports_replication_and_a_slave_copies_a_real_master() {
    let p = start_pair(BrokerRole::SyncMaster, true).await;
    let m = p.master.advertised_addr().to_owned();
    for i in 0..10 {
        let r = send(&p.client, &m, "HaInfo", format!("i{i}").as_bytes()).await;
        assert_eq!(r.code, 0);
    }
    let info = |addr: String| {
        let c = p.client.clone();
        async move {
            let req = RemotingCommand::request(RequestCode::GET_BROKER_RUNTIME_INFO);
            let r = c.invoke(&addr, req, Duration::from_secs(5)).await.unwrap();
            assert_eq!(r.code, 0);
            protocol::body::kv::KvTable::decode(&r.body).unwrap().table
        }
    };
    let t = info(m.clone()).await;
    assert_eq!(t["haRole"], "SYNC_MASTER");
    assert_eq!(t["masterOffset"], t["slaveAckOffset"]);
    assert_eq!(t["haLagBytes"], "0");
    assert!(t["slaves"].contains('@'));
    let s = p.slave.advertised_addr().to_owned();
    let t = info(s.clone()).await;
    assert_eq!(t["haRole"], "SLAVE");
    assert_eq!(t["haConnected"], "true");

    // The master's own handlers feed the slave's metadata copy.
    p.master.state().offsets.commit("G1", "HaInfo", 0, 5);
    let ss = p.slave.state().clone();
    broker::ha::metadata::sync_once(&ss, &m).await;
    assert!(ss.topics.get("HaInfo").is_some());
    assert_eq!(ss.offsets.committed("G1", "HaInfo", 0), Some(5));
    // With the topic known, the slave serves the pull (no manual set-up).
    let r = pull(&p.client, &s, "HaInfo", 0).await;
    assert_eq!(r.code, 0, "{:?}", r.remark);
    p.client.shutdown().await;
    p.slave.shutdown().await;
    p.master.shutdown().await;
    p.namesrv.shutdown().await;
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// The old master wrote 30 messages the slave copied; the new master is
/// a copy of the old one taken after 10 (a promoted, lagging slave) and
/// writes 5 of its own before the slave reconnects. The slave must drop
/// messages 11..30 and hold exactly the new master's log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slave_ahead_of_a_new_master_truncates_and_follows_it() {
    let dir = tempfile::tempdir().unwrap();
    let ha_port = testkit::cluster::free_port_pair();
    let master_cfg = BrokerConfig {
        ha_listen_port: ha_port,
        ..BrokerConfig::default()
    };
    let c = RemotingClient::new(ClientConfig::default(), None);
    let send_n = |b: String, tag: &'static str, n: usize| {
        let c = c.clone();
        async move {
            let mut phys = Vec::new();
            for i in 0..n {
                let r = send(&c, &b, "Div", format!("{tag}-{i}").as_bytes()).await;
                assert_eq!(r.code, 0);
                let h: SendMessageResponseHeader = r.decode_header().unwrap();
                phys.push(decode_offset_msg_id(&h.msg_id).unwrap().1 as u64);
            }
            phys
        }
    };
    let start_master = |name: &str| {
        Broker::start(
            master_cfg.clone(),
            store_at(&dir.path().join(name)),
            loopback(),
        )
    };
    let old = start_master("old").await.unwrap();
    let slave = Broker::start(
        BrokerConfig {
            broker_id: 1,
            broker_role: BrokerRole::Slave,
            ha_master_address: format!("127.0.0.1:{ha_port}"),
            ..BrokerConfig::default()
        },
        store_at(&dir.path().join("slave")),
        loopback(),
    )
    .await
    .unwrap();
    let ss = slave.state().store.clone();
    send_n(old.advertised_addr().to_owned(), "old", 10).await;
    old.shutdown().await;
    copy_dir(&dir.path().join("old"), &dir.path().join("new"));
    let old = start_master("old").await.unwrap();
    send_n(old.advertised_addr().to_owned(), "old", 20).await;
    let old_end = old.state().store.commitlog_max_offset();
    wait_until(Duration::from_secs(10), || {
        ss.commitlog_max_offset() == old_end
    })
    .await;
    old.shutdown().await;

    let new = start_master("new").await.unwrap();
    let phys = send_n(new.advertised_addr().to_owned(), "new", 5).await;
    let ns = new.state().store.clone();
    let new_end = ns.commitlog_max_offset();
    assert!(new_end < old_end);
    wait_until(Duration::from_secs(10), || {
        ss.commitlog_max_offset() == new_end
    })
    .await;
    for p in &phys {
        let (a, b) = (ss.read_message_at(*p), ns.read_message_at(*p));
        assert!(a.is_some());
        assert_eq!(a, b, "slave and new master differ at {p}");
    }
    assert!(ss.wait_dispatched(new_end, Duration::from_secs(5)).await);
    // The queue was cut and rebuilt: exactly the new master's entries.
    assert_eq!(ss.max_offset("Div", 0), ns.max_offset("Div", 0));
    c.shutdown().await;
    slave.shutdown().await;
    new.shutdown().await;
}

/// POP state stays on the master (its journal is not replicated); what
/// slaves get is the group's settled position through the consumer-offset
/// copy, and a slave refuses pops with a code naming the reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pop_progress_reaches_the_slave_as_offsets_and_a_slave_refuses_pops() {
    use broker::pop::{FilterKind, InitMode, PopError, PopRequest};
    let p = start_pair(BrokerRole::SyncMaster, true).await;
    let m = p.master.advertised_addr().to_owned();
    for i in 0..6 {
        let r = send(&p.client, &m, "HaPopT", format!("pop-{i}").as_bytes()).await;
        assert_eq!(r.code, 0, "send {i}: {:?}", r.remark);
    }
    let req = PopRequest {
        group: "HaPopG".into(),
        topic: "HaPopT".into(),
        queue_id: Some(0),
        max_messages: 4,
        invisible_time: Duration::from_secs(60),
        expression: "*".into(),
        filter_kind: FilterKind::Tag,
        order: false,
        poll_time: Duration::ZERO,
        init_mode: InitMode::Min,
    };
    let ms = p.master.state().clone();
    // A send is answered once stored; its consume-queue entry follows.
    let end = ms.store.commitlog_max_offset();
    assert!(ms.store.wait_dispatched(end, Duration::from_secs(10)).await);
    let popped = broker::pop::pop(&ms, &req).await.unwrap();
    assert_eq!(popped.messages.len(), 4);
    // Ack the first three: the settled position is offset 3 (the fourth
    // is still in flight).
    for pm in &popped.messages[..3] {
        broker::pop::ack(&ms, "HaPopG", "HaPopT", &pm.handle).unwrap();
    }
    assert_eq!(ms.offsets.committed("HaPopG", "HaPopT", 0), Some(3));
    let ss = p.slave.state().clone();
    broker::ha::metadata::sync_once(&ss, &m).await;
    assert_eq!(ss.offsets.committed("HaPopG", "HaPopT", 0), Some(3));
    let refused = broker::pop::pop(&ss, &req).await.unwrap_err();
    assert!(matches!(refused, PopError::NoPermission(_)), "{refused:?}");
    assert_eq!(refused.code(), ResponseCode::NO_PERMISSION);
    assert!(refused.to_string().contains("slave"), "{refused}");
    p.client.shutdown().await;
    p.slave.shutdown().await;
    p.master.shutdown().await;
    p.namesrv.shutdown().await;
}
