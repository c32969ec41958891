//! Three `apogee controller` processes: the group elects a Raft leader,
//! answers the controller codes and the admin commands, survives a kill -9
//! of its leader with two of three, and keeps its state across a kill -9
//! of every controller (Raft log and snapshots on disk).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use protocol::body::controller::SyncStateSet;
use protocol::header::controller::{
    AlterSyncStateSetRequestHeader, ApplyBrokerIdRequestHeader, BrokerHeartbeatRequestHeader,
    ElectMasterRequestHeader, GetMetaDataResponseHeader, GetReplicaInfoRequestHeader,
    MasterInfoHeader,
};
use protocol::{RemotingCommand, RequestCode, ResponseCode};
use remoting::{ClientConfig, RemotingClient};
use testkit::controllers::Peers;

const T: Duration = Duration::from_secs(5);

async fn leader(client: &RemotingClient, addrs: &[String], skip: Option<usize>) -> String {
    for _ in 0..300 {
        for (i, addr) in addrs.iter().enumerate() {
            if Some(i) == skip {
                continue;
            }
            let req = RemotingCommand::request(RequestCode::CONTROLLER_GET_METADATA_INFO);
            if let Ok(r) = client.invoke(addr, req, T).await {
                if let Ok(h) = r.decode_header::<GetMetaDataResponseHeader>() {
                    if h.is_leader {
                        return h.controller_leader_address.unwrap();
                    }
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no controller leader");
}

async fn to_leader(
    client: &RemotingClient,
    addrs: &[String],
    skip: Option<usize>,
    req: RemotingCommand,
) -> RemotingCommand {
    for _ in 0..50 {
        let lead = leader(client, addrs, skip).await;
        // A group that just restarted may still be confirming its leader.
        if let Ok(r) = client.invoke(&lead, req.clone(), T).await {
            let settling = r.code == ResponseCode::CONTROLLER_NOT_LEADER.code()
                || r.remark
                    .as_deref()
                    .is_some_and(|m| m.contains("cannot commit"));
            if !settling {
                return r;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("leader kept changing");
}

fn admin(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_apogee"))
        .arg("admin")
        .args(args)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn controller_processes_survive_leader_kill_and_full_restart() {
    let dir = tempfile::tempdir().unwrap();
    let peers = Peers::free(3);
    let addrs = peers.addrs.clone();
    let bin = Path::new(env!("CARGO_BIN_EXE_apogee"));
    let mut ctls = peers.start_controllers(bin, dir.path(), "jRaftScanWaitTimeoutMs = 600000\n");
    let client = RemotingClient::new(ClientConfig::default(), None);
    let joined = addrs.join(";");

    // Two brokers get ids 1 and 2 and heartbeat every controller.
    for id in 1..=2i64 {
        let req = RemotingCommand::request_with_header(
            RequestCode::CONTROLLER_APPLY_BROKER_ID,
            &ApplyBrokerIdRequestHeader {
                cluster_name: "c".into(),
                broker_name: "broker-a".into(),
                applied_broker_id: id,
                register_check_code: format!("127.0.0.1:{};{id}", 40000 + id),
            },
        );
        let r = to_leader(&client, &addrs, None, req).await;
        assert_eq!(r.code, 0, "{:?}", r.remark);
        for a in &addrs {
            let mut hb = RemotingCommand::request_with_header(
                RequestCode::BROKER_HEARTBEAT,
                &BrokerHeartbeatRequestHeader {
                    cluster_name: "c".into(),
                    broker_addr: format!("127.0.0.1:{}", 40000 + id),
                    broker_name: "broker-a".into(),
                    broker_id: Some(id),
                    epoch: Some(0),
                    max_offset: Some(0),
                    confirm_offset: Some(0),
                    heartbeat_timeout_mills: Some(600_000),
                    election_priority: None,
                },
            );
            hb.set_oneway();
            client.invoke_oneway(a, hb).await.unwrap();
        }
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
    let r = to_leader(&client, &addrs, None, elect).await;
    assert_eq!(r.code, 0, "{:?}", r.remark);
    let alter = RemotingCommand::request_with_header(
        RequestCode::CONTROLLER_ALTER_SYNC_STATE_SET,
        &AlterSyncStateSetRequestHeader {
            broker_name: "broker-a".into(),
            master_broker_id: 1,
            master_epoch: 1,
            invoke_time: None,
        },
    )
    .with_body(
        SyncStateSet {
            sync_state_set: [1, 2].into_iter().collect(),
            sync_state_set_epoch: 1,
        }
        .encode(),
    );
    let r = to_leader(&client, &addrs, None, alter).await;
    assert_eq!(r.code, 0, "{:?}", r.remark);

    // The admin commands.
    let (ok, out) = admin(&["getSyncStateSet", "-a", &joined, "-b", "broker-a"]);
    assert!(ok, "{out}");
    assert!(
        out.contains("broker-a") && out.contains("127.0.0.1:40001"),
        "{out}"
    );
    let (ok, out) = admin(&["getControllerMetaData", "-a", &joined, "--json"]);
    assert!(ok, "{out}");
    assert_eq!(out.matches("\"isLeader\": true").count(), 1, "{out}");
    let (ok, out) = admin(&["getControllerConfig", "-a", &addrs[0]]);
    assert!(ok && out.contains("controllerDLegerGroup=group1"), "{out}");
    let (ok, out) = admin(&[
        "updateControllerConfig",
        "-a",
        &addrs[0],
        "-k",
        "configStorePath",
        "-v",
        "/x",
    ]);
    assert!(!ok && out.contains("configStorePath"), "{out}");
    let (ok, out) = admin(&["getControllerMetaData", "-a", "127.0.0.1:1"]);
    assert!(
        ok && out.contains("did not answer"),
        "a dead address is reported: {out}"
    );

    // kill -9 the Raft leader: the other two carry on, and a switchover works.
    let lead = leader(&client, &addrs, None).await;
    let dead = addrs.iter().position(|a| *a == lead).unwrap();
    ctls[dead].kill();
    let (ok, out) = admin(&[
        "electMaster",
        "-a",
        &joined,
        "--bn",
        "broker-a",
        "-b",
        "2",
        "--json",
    ]);
    assert!(ok, "{out}");
    assert!(
        out.contains("\"masterBrokerId\": 2") && out.contains("\"masterEpoch\": 2"),
        "{out}"
    );

    // kill -9 everyone, restart: the state comes back from disk.
    for c in &mut ctls {
        c.kill();
    }
    for c in &mut ctls {
        c.restart();
    }
    let info = RemotingCommand::request_with_header(
        RequestCode::CONTROLLER_GET_REPLICA_INFO,
        &GetReplicaInfoRequestHeader {
            broker_name: "broker-a".into(),
        },
    );
    let r = to_leader(&client, &addrs, None, info).await;
    assert_eq!(r.code, 0, "{:?}", r.remark);
    let h: MasterInfoHeader = r.decode_header().unwrap();
    assert_eq!((h.master_broker_id, h.master_epoch), (Some(2), Some(2)));
    assert_eq!(
        SyncStateSet::decode(&r.body)
            .unwrap()
            .sync_state_set
            .into_iter()
            .collect::<Vec<_>>(),
        vec![2]
    );
    client.shutdown().await;
}
