//! Three `apogee namesrv` processes with `enableControllerInNamesrv=true`:
//! each serves routes on its own port while its controller answers on its
//! `controllerDLegerPeers` entry; the three controllers form one group,
//! which keeps a leader when one NameServer is killed. A NameServer whose
//! controller keys are missing refuses to start, naming the key.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;
use testkit::cluster::Proc;
use testkit::controllers::{write, Peers};

/// The NameServer file of node `n{me}`: its own keys, the switch, and the
/// controller keys of the group.
fn write_conf(dir: &Path, peers: &Peers, me: usize) -> PathBuf {
    let text = format!(
        "kvConfigPath = {kv}\nconfigStorePath = {props}\nenableControllerInNamesrv = true\n{keys}",
        kv = dir.join(format!("kv-n{me}.json")).display(),
        props = dir.join(format!("namesrv-n{me}.properties")).display(),
        keys = peers.node_keys(dir, me, "scanNotActiveBrokerInterval = 5000\n"),
    );
    write(dir, &format!("namesrv-n{me}.conf"), &text)
}

fn apogee(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_apogee"))
        .args(args)
        .env_remove("NAMESRV_ADDR")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn wait_listening(addr: &str) {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(20) {
        if TcpStream::connect_timeout(&addr.parse().unwrap(), Duration::from_millis(200)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("{addr} does not listen");
}

/// The controllers' metadata (`getControllerMetaData --json`) once exactly
/// one of `addrs` says it is the Raft leader; that leader's address.
fn leader_among(addrs: &[&str]) -> String {
    let joined = addrs.join(";");
    let mut last = String::new();
    for _ in 0..200 {
        let (ok, out, err) = apogee(&["admin", "getControllerMetaData", "-a", &joined, "--json"]);
        if ok {
            let v: Value = serde_json::from_str(&out).unwrap_or(Value::Null);
            let leaders: Vec<String> = v
                .as_object()
                .into_iter()
                .flat_map(|m| m.values())
                .filter(|n| n["isLeader"] == Value::Bool(true))
                .filter_map(|n| n["controllerLeaderAddress"].as_str().map(str::to_owned))
                .collect();
            if leaders.len() == 1 {
                return leaders[0].clone();
            }
        }
        last = format!("{out}{err}");
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("no single controller leader among {joined}: {last}");
}

#[test]
fn three_namesrvs_with_embedded_controllers_keep_a_leader() {
    let dir = tempfile::tempdir().unwrap();
    let peers = Peers::free(3);
    let ctl = peers.addrs.clone();
    let ns: Vec<String> = (0..3)
        .map(|_| format!("127.0.0.1:{}", testkit::cluster::free_port_pair()))
        .collect();
    let bin = Path::new(env!("CARGO_BIN_EXE_apogee"));
    let mut procs: Vec<Proc> = (0..3)
        .map(|i| {
            let conf = write_conf(dir.path(), &peers, i).display().to_string();
            Proc::start(
                &format!("n{i}"),
                &ns[i],
                bin,
                &["namesrv", "--listen", &ns[i], "-c", &conf],
                dir.path().join(format!("n{i}.log")),
            )
        })
        .collect();
    for a in ns.iter().chain(&ctl) {
        wait_listening(a);
    }

    // Each NameServer answers on its own port, with the switch on.
    let (ok, out, err) = apogee(&["admin", "getNamesrvConfig", "-n", &ns[0]]);
    assert!(ok, "{err}");
    assert!(out.contains("enableControllerInNamesrv"), "{out}");
    assert!(!out.contains("controllerDLegerPeers"), "{out}");
    // And the controller on its peer address, with the shared file's keys.
    let (ok, out, err) = apogee(&["admin", "getControllerConfig", "-a", &ctl[1]]);
    assert!(ok, "{err}");
    assert!(out.contains("controllerDLegerSelfId=n1"), "{out}");
    assert!(out.contains("scanNotActiveBrokerInterval=5000"), "{out}");

    let refs: Vec<&str> = ctl.iter().map(String::as_str).collect();
    let lead = leader_among(&refs);
    // The NameServer port is not a controller: the leader is a peer address.
    assert!(ctl.contains(&lead), "{lead} is not one of {ctl:?}");

    // kill -9 the NameServer whose controller leads: the other two elect one.
    let dead = ctl.iter().position(|a| *a == lead).unwrap();
    procs[dead].kill();
    let alive: Vec<&str> = (0..3)
        .filter(|i| *i != dead)
        .map(|i| ctl[i].as_str())
        .collect();
    let new_lead = leader_among(&alive);
    assert_ne!(new_lead, lead);
    assert!(alive.contains(&new_lead.as_str()), "{new_lead}");
    let survivor = (0..3).find(|i| *i != dead).unwrap();
    let (ok, _, err) = apogee(&["admin", "getNamesrvConfig", "-n", &ns[survivor]]);
    assert!(ok, "the NameServer still serves: {err}");
}

#[test]
fn missing_controller_keys_stop_the_start_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let port = testkit::cluster::free_port_pair();
    let listen = format!("127.0.0.1:{port}");
    let kv = dir.path().join("kv.json");
    for (body, key) in [
        (
            "enableControllerInNamesrv=true\ncontrollerDLegerGroup=g\ncontrollerDLegerSelfId=n0\n",
            "controllerDLegerPeers",
        ),
        (
            "enableControllerInNamesrv=true\ncontrollerDLegerGroup=g\ncontrollerDLegerPeers=n0-127.0.0.1:1\n",
            "controllerDLegerSelfId",
        ),
        (
            "enableControllerInNamesrv=true\ncontrollerDLegerGroup=g\ncontrollerDLegerPeers=n0-127.0.0.1:1\ncontrollerDLegerSelfId=n7\n",
            "n7",
        ),
        (
            "enableControllerInNamesrv=true\ncontrollerDLegerPeers=n0-127.0.0.1:1\ncontrollerDLegerSelfId=n0\n",
            "controllerDLegerGroup",
        ),
    ] {
        let conf = dir.path().join("bad.conf");
        std::fs::write(&conf, format!("kvConfigPath={}\n{body}", kv.display())).unwrap();
        let (ok, _, err) = apogee(&["namesrv", "--listen", &listen, "-c", conf.to_str().unwrap()]);
        assert!(!ok, "{body}");
        assert!(err.contains(key), "{body}: {err}");
    }
}
