//! Three controllers in one process over real TCP on port 0: id
//! assignment, registration, elections, SyncStateSet changes, followers
//! pointing at the leader, failover of a dead master, loss of the Raft
//! leader, quorum loss and a restart from disk.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use controller::{BoundController, Controller, ControllerConfig, Peer};
use protocol::body::controller::{BrokerReplicasInfo, SyncStateSet};
use protocol::header::controller::{
    AlterSyncStateSetRequestHeader, ApplyBrokerIdRequestHeader, BrokerHeartbeatRequestHeader,
    ElectMasterRequestHeader, GetMetaDataResponseHeader, GetNextBrokerIdRequestHeader,
    GetNextBrokerIdResponseHeader, GetReplicaInfoRequestHeader, MasterInfoHeader,
    RegisterBrokerToControllerRequestHeader,
};
use protocol::{RemotingCommand, RequestCode, ResponseCode};
use remoting::{ClientConfig, RemotingClient};

const T: Duration = Duration::from_secs(8);

fn config_with(
    peers: &[Peer],
    me: usize,
    dir: PathBuf,
    snapshot_log_count: u64,
    election_timeout: Duration,
) -> ControllerConfig {
    let mut c = ControllerConfig {
        group: "group1".into(),
        peers: peers.to_vec(),
        self_id: peers[me].name.clone(),
        store_path: dir,
        ..ControllerConfig::default()
    };
    c.election_timeout = election_timeout;
    c.scan_not_active_broker_interval = Duration::from_millis(200);
    c.scan_inactive_master_interval = Duration::from_millis(200);
    c.scan_wait = Duration::from_millis(500);
    c.snapshot_log_count = snapshot_log_count;
    c
}

struct Group {
    snapshot_log_count: u64,
    election_timeout: Duration,
    peers: Vec<Peer>,
    dirs: Vec<tempfile::TempDir>,
    nodes: Vec<Option<Controller>>,
}

impl Group {
    async fn start() -> Group {
        Group::start_with(1000, Duration::from_millis(1000)).await
    }

    async fn start_with(snapshot_log_count: u64, election_timeout: Duration) -> Group {
        let mut bound = Vec::new();
        for _ in 0..3 {
            bound.push(
                BoundController::bind("127.0.0.1:0".parse().unwrap())
                    .await
                    .unwrap(),
            );
        }
        let peers: Vec<Peer> = bound
            .iter()
            .enumerate()
            .map(|(i, b)| Peer {
                name: format!("n{i}"),
                addr: b.local_addr().to_string(),
            })
            .collect();
        let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
        let mut nodes = Vec::new();
        for (i, b) in bound.into_iter().enumerate() {
            let c = config_with(
                &peers,
                i,
                dirs[i].path().to_path_buf(),
                snapshot_log_count,
                election_timeout,
            );
            nodes.push(Some(b.start(c).await.unwrap()));
        }
        Group {
            snapshot_log_count,
            election_timeout,
            peers,
            dirs,
            nodes,
        }
    }

    async fn stop(&mut self, i: usize) {
        if let Some(c) = self.nodes[i].take() {
            c.shutdown().await;
        }
    }

    async fn restart(&mut self, i: usize) {
        let addr = self.peers[i].addr.parse().unwrap();
        let mut bound = None;
        for _ in 0..50 {
            match BoundController::bind(addr).await {
                Ok(b) => {
                    bound = Some(b);
                    break;
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
        let c = bound
            .unwrap()
            .start(config_with(
                &self.peers,
                i,
                self.dirs[i].path().to_path_buf(),
                self.snapshot_log_count,
                self.election_timeout,
            ))
            .await
            .unwrap();
        self.nodes[i] = Some(c);
    }
}

async fn call(client: &RemotingClient, addr: &str, req: RemotingCommand) -> RemotingCommand {
    client.invoke(addr, req, T).await.unwrap()
}

/// Sends to the leader, following CONTROLLER_NOT_LEADER as a broker does.
async fn call_leader(client: &RemotingClient, g: &Group, req: RemotingCommand) -> RemotingCommand {
    for _ in 0..50 {
        let lead = leader(client, g).await;
        let r = call(client, &lead, req.clone()).await;
        if r.code != ResponseCode::CONTROLLER_NOT_LEADER.code() {
            return r;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the leader kept changing");
}

/// Asks live node `i` for the leader until one is known.
async fn leader(client: &RemotingClient, g: &Group) -> String {
    for _ in 0..200 {
        for (i, n) in g.nodes.iter().enumerate() {
            if n.is_none() {
                continue;
            }
            let r = client
                .invoke(
                    &g.peers[i].addr,
                    RemotingCommand::request(RequestCode::CONTROLLER_GET_METADATA_INFO),
                    T,
                )
                .await;
            if let Ok(r) = r {
                let h: GetMetaDataResponseHeader = r.decode_header().unwrap();
                if h.is_leader {
                    return h.controller_leader_address.unwrap();
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no leader elected");
}

fn apply(id: i64, code: &str) -> RemotingCommand {
    RemotingCommand::request_with_header(
        RequestCode::CONTROLLER_APPLY_BROKER_ID,
        &ApplyBrokerIdRequestHeader {
            cluster_name: "c".into(),
            broker_name: "broker-a".into(),
            applied_broker_id: id,
            register_check_code: code.into(),
        },
    )
}

fn heartbeat(id: i64, max_offset: i64) -> RemotingCommand {
    heartbeat_within(id, max_offset, 60_000)
}

fn heartbeat_within(id: i64, max_offset: i64, timeout_ms: i64) -> RemotingCommand {
    let mut r = RemotingCommand::request_with_header(
        RequestCode::BROKER_HEARTBEAT,
        &BrokerHeartbeatRequestHeader {
            cluster_name: "c".into(),
            broker_addr: format!("127.0.0.1:{}", 30910 + id),
            broker_name: "broker-a".into(),
            broker_id: Some(id),
            epoch: Some(0),
            max_offset: Some(max_offset),
            confirm_offset: Some(0),
            heartbeat_timeout_mills: Some(timeout_ms),
            election_priority: None,
        },
    );
    r.set_oneway();
    r
}

async fn replica_info(client: &RemotingClient, g: &Group) -> (RemotingCommand, MasterInfoHeader) {
    let r = call_leader(
        client,
        g,
        RemotingCommand::request_with_header(
            RequestCode::CONTROLLER_GET_REPLICA_INFO,
            &GetReplicaInfoRequestHeader {
                broker_name: "broker-a".into(),
            },
        ),
    )
    .await;
    let h = r.decode_header().unwrap();
    (r, h)
}

/// Polls the replica info (every 100 ms, `tries` times) until `id` is
/// master; its epoch then, or None.
async fn master_epoch_when(
    client: &RemotingClient,
    g: &Group,
    id: i64,
    tries: usize,
) -> Option<i32> {
    for _ in 0..tries {
        let (_, h) = replica_info(client, g).await;
        if h.master_broker_id == Some(id) {
            return h.master_epoch;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    None
}

fn alter(master: i64, master_epoch: i32, ss_epoch: i32, set: &[i64]) -> RemotingCommand {
    RemotingCommand::request_with_header(
        RequestCode::CONTROLLER_ALTER_SYNC_STATE_SET,
        &AlterSyncStateSetRequestHeader {
            broker_name: "broker-a".into(),
            master_broker_id: master,
            master_epoch,
            invoke_time: None,
        },
    )
    .with_body(
        SyncStateSet {
            sync_state_set: set.iter().copied().collect(),
            sync_state_set_epoch: ss_epoch,
        }
        .encode(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn controller_group_assigns_ids_elects_and_fails_over() {
    let mut g = Group::start().await;
    let admin = RemotingClient::new(ClientConfig::default(), None);

    // A follower points at the leader. (A follower learns who leads from
    // the leader's first heartbeat, so just after an election it may still
    // answer "leader unknown"; on a loaded machine the leader may also
    // change meanwhile, so each try asks who leads now.)
    let next = RemotingCommand::request_with_header(
        RequestCode::CONTROLLER_GET_NEXT_BROKER_ID,
        &GetNextBrokerIdRequestHeader {
            cluster_name: "c".into(),
            broker_name: "broker-a".into(),
        },
    );
    let mut seen = Vec::new();
    let mut pointed = false;
    for _ in 0..100 {
        let lead = leader(&admin, &g).await;
        let follower = g.peers.iter().find(|p| p.addr != lead).unwrap();
        let r = call(&admin, &follower.addr, next.clone()).await;
        let remark = r.remark.unwrap_or_default();
        if r.code == ResponseCode::CONTROLLER_NOT_LEADER.code() && remark.contains(&lead) {
            pointed = true;
            break;
        }
        seen.push(format!("{} {remark}", r.code));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(pointed, "no follower named the leader: {seen:?}");

    // Ids: 1 first, then 2 and 3; a taken id or a bad check code is refused.
    let r = call_leader(&admin, &g, next.clone()).await;
    let h: GetNextBrokerIdResponseHeader = r.decode_header().unwrap();
    assert_eq!(h.next_broker_id, Some(1));
    for id in 1..=3 {
        let r = call_leader(
            &admin,
            &g,
            apply(id, &format!("127.0.0.1:{};{id}", 30910 + id)),
        )
        .await;
        assert_eq!(r.code, 0, "{:?}", r.remark);
    }
    let r = call_leader(&admin, &g, apply(2, "127.0.0.1:1;99")).await;
    assert_eq!(r.code, ResponseCode::CONTROLLER_BROKER_ID_INVALID.code());
    let r = call_leader(&admin, &g, apply(4, "no-separator")).await;
    assert_eq!(r.code, ResponseCode::CONTROLLER_INVALID_REQUEST.code());
    assert!(r.remark.unwrap_or_default().contains("registerCheckCode"));
    let r = call_leader(&admin, &g, next).await;
    let h: GetNextBrokerIdResponseHeader = r.decode_header().unwrap();
    assert_eq!(h.next_broker_id, Some(4));

    // Brokers heartbeat every controller, each on its own connection.
    let brokers: Vec<RemotingClient> = (0..3)
        .map(|_| RemotingClient::new(ClientConfig::default(), None))
        .collect();
    for (i, b) in brokers.iter().enumerate() {
        let id = i64::try_from(i).unwrap() + 1;
        for p in &g.peers {
            b.invoke_oneway(&p.addr, heartbeat(id, 100 * id))
                .await
                .unwrap();
        }
    }
    let r = call_leader(
        &admin,
        &g,
        RemotingCommand::request(RequestCode::BROKER_HEARTBEAT),
    )
    .await;
    assert_eq!(
        r.code,
        ResponseCode::SYSTEM_ERROR.code(),
        "missing header fields are refused"
    );

    // Registration of an unknown id: 2010.
    let r = call_leader(&admin, &g, register(9)).await;
    assert_eq!(
        r.code,
        ResponseCode::CONTROLLER_BROKER_NEED_TO_BE_REGISTERED.code()
    );
    let r = call_leader(&admin, &g, register(1)).await;
    assert_eq!(r.code, 0);
    let h: MasterInfoHeader = r.decode_header().unwrap();
    assert_eq!(h.master_broker_id, None);

    // First election: the asking broker wins.
    let elect = |id: i64, designate: bool| {
        RemotingCommand::request_with_header(
            RequestCode::CONTROLLER_ELECT_MASTER,
            &ElectMasterRequestHeader {
                cluster_name: Some("c".into()),
                broker_name: "broker-a".into(),
                broker_id: id,
                designate_elect: Some(designate),
                invoke_time: None,
            },
        )
    };
    let r = call_leader(&admin, &g, elect(1, false)).await;
    assert_eq!(r.code, 0, "{:?}", r.remark);
    let h: MasterInfoHeader = r.decode_header().unwrap();
    assert_eq!((h.master_broker_id, h.master_epoch), (Some(1), Some(1)));
    let r = call_leader(&admin, &g, elect(2, false)).await;
    assert_eq!(r.code, ResponseCode::CONTROLLER_MASTER_STILL_EXIST.code());

    // SyncStateSet: grows from the master of the current epoch; stale claims are fenced.
    let r = call_leader(&admin, &g, alter(1, 1, 1, &[1, 2, 3])).await;
    assert_eq!(r.code, 0, "{:?}", r.remark);
    assert_eq!(
        SyncStateSet::decode(&r.body).unwrap().sync_state_set_epoch,
        2
    );
    let r = call_leader(&admin, &g, alter(1, 1, 1, &[1, 2])).await;
    assert_eq!(
        r.code,
        ResponseCode::CONTROLLER_FENCED_SYNC_STATE_SET_EPOCH.code()
    );
    let r = call_leader(&admin, &g, alter(1, 0, 2, &[1, 2])).await;
    assert_eq!(r.code, ResponseCode::CONTROLLER_FENCED_MASTER_EPOCH.code());
    let r = call_leader(&admin, &g, alter(2, 1, 2, &[1, 2])).await;
    assert_eq!(r.code, ResponseCode::CONTROLLER_INVALID_MASTER.code());
    let r = call_leader(&admin, &g, alter(1, 1, 2, &[1, 7])).await;
    assert_eq!(r.code, ResponseCode::CONTROLLER_INVALID_REPLICAS.code());

    // The master's connections close: the leader elects the in-sync broker
    // with the most data (3), and the epoch moves on.
    brokers[0].shutdown().await;
    let elected = master_epoch_when(&admin, &g, 3, 100).await;
    assert_eq!(elected, Some(2), "broker 3 should be master of epoch 2");

    // Kill the Raft leader: the other two elect a leader and keep the state.
    let lead = leader(&admin, &g).await;
    let old = g.peers.iter().position(|p| p.addr == lead).unwrap();
    g.stop(old).await;
    let lead2 = leader(&admin, &g).await;
    assert_ne!(lead2, lead);
    let (r, h) = replica_info(&admin, &g).await;
    assert_eq!((h.master_broker_id, h.master_epoch), (Some(3), Some(2)));
    assert_eq!(
        SyncStateSet::decode(&r.body)
            .unwrap()
            .sync_state_set
            .into_iter()
            .collect::<Vec<_>>(),
        vec![3]
    );
    // Writes work with two of three: broker 2 rejoins the set, then a
    // manual switchover makes it master (only in-sync brokers can be chosen).
    let r = call_leader(&admin, &g, elect(2, true)).await;
    assert_eq!(r.code, ResponseCode::CONTROLLER_ELECT_MASTER_FAILED.code());
    let r = call_leader(&admin, &g, alter(3, 2, 3, &[2, 3])).await;
    assert_eq!(r.code, 0, "{:?}", r.remark);
    let r = call_leader(&admin, &g, elect(2, true)).await;
    assert_eq!(r.code, 0, "{:?}", r.remark);
    let r = call_leader(
        &admin,
        &g,
        RemotingCommand::request(RequestCode::CONTROLLER_GET_SYNC_STATE_DATA)
            .with_body(br#"["broker-a","nope"]"#.to_vec()),
    )
    .await;
    let info = BrokerReplicasInfo::decode(&r.body).unwrap();
    let a = &info.replicas_info_table["broker-a"];
    assert_eq!((a.master_broker_id, a.master_epoch), (Some(2), 3));
    assert_eq!(info.replicas_info_table.len(), 1);

    // The stopped controller comes back from its store and catches up.
    g.restart(old).await;
    let node = g.nodes[old].as_ref().unwrap().node().clone();
    let mut caught_up = false;
    for _ in 0..100 {
        if node
            .applied
            .read()
            .replicas
            .get("broker-a")
            .map(|s| s.master_epoch)
            == Some(3)
        {
            caught_up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(caught_up, "restarted controller did not catch up");

    // Quorum lost: the survivor refuses writes with a clear error, no hang.
    let survivor = (0..3).find(|i| *i != old).unwrap();
    for i in 0..3 {
        if i != survivor {
            g.stop(i).await;
        }
    }
    let r = call(&admin, &g.peers[survivor].addr, elect(3, true)).await;
    assert!(
        r.code == ResponseCode::CONTROLLER_NOT_LEADER.code()
            || r.code == ResponseCode::SYSTEM_ERROR.code(),
        "code {} {:?}",
        r.code,
        r.remark
    );
    // Quorum back: the group serves again, with the state from disk.
    for i in 0..3 {
        if i != survivor {
            g.restart(i).await;
        }
    }
    let (_, h) = replica_info(&admin, &g).await;
    assert_eq!(h.master_epoch, Some(3));
    for i in 0..3 {
        g.stop(i).await;
    }
    for b in &brokers[1..] {
        b.shutdown().await;
    }
    admin.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lagging_controller_catches_up_from_a_snapshot_and_state_survives_restart() {
    // A snapshot every 5 entries, so the log the stopped node needs is purged.
    let mut g = Group::start_with(5, Duration::from_millis(1000)).await;
    let admin = RemotingClient::new(ClientConfig::default(), None);
    let lead = leader(&admin, &g).await;
    let lagging = g.peers.iter().position(|p| p.addr != lead).unwrap();
    g.stop(lagging).await;
    for id in 1..=30 {
        let r = call_leader(
            &admin,
            &g,
            apply(id, &format!("127.0.0.1:{};{id}", 30910 + id)),
        )
        .await;
        assert_eq!(r.code, 0, "{:?}", r.remark);
    }
    let snapshot_taken = g
        .dirs
        .iter()
        .any(|d| d.path().join("snapshot/snapshot.json").exists());
    assert!(snapshot_taken, "no snapshot was written");
    g.restart(lagging).await;
    let node = g.nodes[lagging].as_ref().unwrap().node().clone();
    let mut caught_up = false;
    for _ in 0..150 {
        if node.applied.read().replicas.next_broker_id("broker-a") == 31 {
            caught_up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(caught_up, "the lagging controller did not catch up");
    let installed = g.dirs[lagging].path().join("snapshot/snapshot.json");
    assert!(
        installed.exists(),
        "the lagging controller holds no snapshot"
    );
    // Everyone restarts: snapshot plus the log after it give the same state.
    for i in 0..3 {
        g.stop(i).await;
    }
    for i in 0..3 {
        g.restart(i).await;
    }
    let next = RemotingCommand::request_with_header(
        RequestCode::CONTROLLER_GET_NEXT_BROKER_ID,
        &GetNextBrokerIdRequestHeader {
            cluster_name: "c".into(),
            broker_name: "broker-a".into(),
        },
    );
    let r = call_leader(&admin, &g, next).await;
    let h: GetNextBrokerIdResponseHeader = r.decode_header().unwrap();
    assert_eq!(h.next_broker_id, Some(31));
    for i in 0..3 {
        g.stop(i).await;
    }
    admin.shutdown().await;
}

fn register(id: i64) -> RemotingCommand {
    RemotingCommand::request_with_header(
        RequestCode::CONTROLLER_REGISTER_BROKER,
        &RegisterBrokerToControllerRequestHeader {
            cluster_name: "c".into(),
            broker_name: "broker-a".into(),
            broker_id: id,
            broker_address: format!("127.0.0.1:{}", 30910 + id),
            invoke_time: None,
        },
    )
}

/// A new Raft leader that never heard the master (its heartbeats went only
/// to the old leader) does not replace it for silence until it has led for
/// the brokers' heartbeat timeout: the master's lease, which the old
/// leader renewed and which is shorter than that timeout, must run out
/// first. (A master whose connection closed is replaced at once: the test
/// above.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_leader_waits_out_the_heartbeat_timeout_before_replacing_a_quiet_master() {
    const TIMEOUT_MS: i64 = 6_000;
    // A slower Raft election: the leader must stay put until the test stops
    // it, even on a loaded machine.
    let mut g = Group::start_with(1000, Duration::from_millis(3000)).await;
    let admin = RemotingClient::new(ClientConfig::default(), None);
    for id in 1..=2 {
        let r = call_leader(
            &admin,
            &g,
            apply(id, &format!("127.0.0.1:{};{id}", 30910 + id)),
        )
        .await;
        assert_eq!(r.code, 0, "{:?}", r.remark);
    }
    // Broker 1 heartbeats only the leader (whoever leads at each step);
    // broker 2 every controller, all along.
    let master = RemotingClient::new(ClientConfig::default(), None);
    let beat_leader = || async {
        let lead = leader(&admin, &g).await;
        master
            .invoke_oneway(&lead, heartbeat_within(1, 100, TIMEOUT_MS))
            .await
            .unwrap();
        lead
    };
    beat_leader().await;
    let slave = RemotingClient::new(ClientConfig::default(), None);
    let addrs: Vec<String> = g.peers.iter().map(|p| p.addr.clone()).collect();
    let beating = tokio::spawn(async move {
        loop {
            for a in &addrs {
                let _ = slave
                    .invoke_oneway(a, heartbeat_within(2, 100, TIMEOUT_MS))
                    .await;
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    });
    for id in 1..=2 {
        beat_leader().await;
        let r = call_leader(&admin, &g, register(id)).await;
        assert_eq!(r.code, 0, "{:?}", r.remark);
    }
    let elect = RemotingCommand::request_with_header(
        RequestCode::CONTROLLER_ELECT_MASTER,
        &ElectMasterRequestHeader {
            cluster_name: Some("c".into()),
            broker_name: "broker-a".into(),
            broker_id: 1,
            designate_elect: Some(false),
            invoke_time: None,
        },
    );
    beat_leader().await;
    let r = call_leader(&admin, &g, elect).await;
    assert_eq!(r.code, 0, "{:?}", r.remark);
    beat_leader().await;
    let r = call_leader(&admin, &g, alter(1, 1, 1, &[1, 2])).await;
    assert_eq!(r.code, 0, "{:?}", r.remark);

    // The leader stops; the next one has never heard broker 1.
    let lead = beat_leader().await;
    let old = g.peers.iter().position(|p| p.addr == lead).unwrap();
    g.stop(old).await;
    let lead2 = leader(&admin, &g).await;
    let took_over = Instant::now();
    assert_ne!(lead2, lead);
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let (_, h) = replica_info(&admin, &g).await;
    // (Only meaningful well inside the timeout; a stalled machine skips it.)
    if took_over.elapsed() < Duration::from_millis(4000) {
        assert_eq!(
            (h.master_broker_id, h.master_epoch),
            (Some(1), Some(1)),
            "a new leader replaced a quiet master before the heartbeat timeout"
        );
    }
    // Once it has led that long, silence is proof: broker 2 takes over.
    let elected = master_epoch_when(&admin, &g, 2, 300).await;
    assert_eq!(elected, Some(2), "broker 2 should be master of epoch 2");
    beating.abort();
    for i in 0..3 {
        g.stop(i).await;
    }
}
