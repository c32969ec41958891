//! A NameServer with ACL on reads its ACL file and every `*.yml` of
//! `conf/acl/` under its data directory, merged, as the broker does: an
//! admin account of either file may change it; a bad file or an account in
//! two files stops the start naming the files; a file broken while it runs
//! leaves the rules in force.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::time::{Duration, Instant};

use namesrv::{NameServer, NamesrvConfig};
use protocol::header::namesrv::PutKvConfigRequestHeader;
use protocol::signature::sign_request;
use protocol::{RemotingCommand, RequestCode, ResponseCode};
use remoting::{ClientConfig, RemotingClient};

const TIMEOUT: Duration = Duration::from_secs(5);

const MAIN: &str =
    "accounts:\n  - accessKey: mainAdmin\n    secretKey: main-secret\n    admin: true\n";
const TEAM: &str =
    "accounts:\n  - accessKey: teamAdmin\n    secretKey: team-secret\n    admin: true\n";

fn config(dir: &Path) -> NamesrvConfig {
    NamesrvConfig {
        kv_config_path: dir.join("kvConfig.json"),
        config_store_path: dir.join("namesrv.properties"),
        acl_enable: true,
        ..NamesrvConfig::default()
    }
}

/// Writes `text` to `dir/conf/acl/name` with modification time `secs`, so a
/// rewrite is seen whatever the file system's time resolution.
fn write_team(dir: &Path, name: &str, text: &str, secs: u64) {
    let acl_dir = dir.join("conf").join("acl");
    std::fs::create_dir_all(&acl_dir).unwrap();
    let path = acl_dir.join(name);
    std::fs::write(&path, text).unwrap();
    let f = std::fs::File::options().write(true).open(&path).unwrap();
    f.set_modified(std::time::UNIX_EPOCH + Duration::from_secs(secs))
        .unwrap();
}

/// PUT_KV_CONFIG signed by `key` (unsigned for `None`): the answer's code
/// and remark.
async fn put_kv(ns: &str, key: Option<(&str, &str)>) -> (i32, Option<String>) {
    let header = PutKvConfigRequestHeader {
        namespace: "ns1".into(),
        key: "k1".into(),
        value: "v1".into(),
    };
    let mut req = RemotingCommand::request_with_header(RequestCode::PUT_KV_CONFIG, &header);
    if let Some((ak, sk)) = key {
        sign_request(&mut req, ak, sk);
    }
    let client = RemotingClient::new(ClientConfig::default(), None);
    let resp = client.invoke(ns, req, TIMEOUT).await.unwrap();
    (resp.code, resp.remark)
}

async fn start_err(dir: &Path) -> String {
    match NameServer::start(config(dir), "127.0.0.1:0".parse().unwrap()).await {
        Ok(_) => panic!("the NameServer started"),
        Err(e) => e.to_string(),
    }
}

#[tokio::test]
async fn accounts_of_the_acl_directory_are_merged_and_reloaded() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("plain_acl.yml"), MAIN).unwrap();
    write_team(dir.path(), "team.yml", TEAM, 1_000);
    let server = NameServer::start(config(dir.path()), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let ns = server.local_addr().to_string();

    assert_eq!(put_kv(&ns, Some(("mainAdmin", "main-secret"))).await.0, 0);
    assert_eq!(put_kv(&ns, Some(("teamAdmin", "team-secret"))).await.0, 0);
    let (code, remark) = put_kv(&ns, None).await;
    assert_eq!(code, ResponseCode::NO_PERMISSION.code(), "{remark:?}");
    let (code, _) = put_kv(&ns, Some(("nextAdmin", "next-secret"))).await;
    assert_eq!(code, ResponseCode::NO_PERMISSION.code());

    // A new file is read while the server runs.
    let next = "accounts:\n  - accessKey: nextAdmin\n    secretKey: next-secret\n    admin: true\n";
    write_team(dir.path(), "next.yml", next, 2_000);
    let deadline = Instant::now() + Duration::from_secs(15);
    while put_kv(&ns, Some(("nextAdmin", "next-secret"))).await.0 != 0 {
        assert!(Instant::now() < deadline, "next.yml was never read");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // A broken file keeps the rules in force: give the watcher two looks.
    write_team(
        dir.path(),
        "next.yml",
        "accounts:\n  - accessKey: [x\n",
        3_000,
    );
    tokio::time::sleep(acl::shared::WATCH_INTERVAL * 2 + Duration::from_millis(500)).await;
    assert_eq!(put_kv(&ns, Some(("nextAdmin", "next-secret"))).await.0, 0);
    assert_eq!(put_kv(&ns, Some(("teamAdmin", "team-secret"))).await.0, 0);
    server.shutdown().await;
}

#[tokio::test]
async fn bad_files_stop_the_start_naming_them() {
    // Only the directory: the main file may be missing.
    let dir = tempfile::tempdir().unwrap();
    write_team(dir.path(), "team.yml", TEAM, 1_000);
    let server = NameServer::start(config(dir.path()), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let ns = server.local_addr().to_string();
    assert_eq!(put_kv(&ns, Some(("teamAdmin", "team-secret"))).await.0, 0);
    server.shutdown().await;

    // A file that is not YAML: named with its line.
    write_team(
        dir.path(),
        "broken.yml",
        "accounts:\n  - accessKey: [x\n",
        1_000,
    );
    let err = start_err(dir.path()).await;
    assert!(err.contains("broken.yml") && err.contains("line"), "{err}");

    // One account in two files: both named.
    write_team(dir.path(), "broken.yml", TEAM, 1_000);
    let err = start_err(dir.path()).await;
    assert!(
        err.contains("teamAdmin") && err.contains("broken.yml") && err.contains("team.yml"),
        "{err}"
    );

    // Neither the main file nor a *.yml.
    let empty = tempfile::tempdir().unwrap();
    let err = start_err(empty.path()).await;
    assert!(err.contains("no ACL file"), "{err}");
}
