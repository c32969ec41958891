#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! A broker whose store fills its file system (a 40 MiB tmpfs this test
//! mounts; skipped with a loud message where mounting is refused): sends are
//! answered code 14 with the free bytes, the path and the limit, reads of
//! everything acknowledged go on, and `brokerStatus` says the disk is full.

use std::process::Command;

use protocol::header::send::SendMessageRequestHeader;
use protocol::{RemotingCommand, RequestCode};
use testkit::readback::pull_queue;
use testkit::TestCluster;

fn send(i: usize) -> (RemotingCommand, Vec<u8>) {
    let mut body = vec![b'x'; 1 << 20];
    let id = format!("full-{i:04}");
    body[..id.len()].copy_from_slice(id.as_bytes());
    let header = SendMessageRequestHeader {
        producer_group: "PG".into(),
        topic: "DiskFull".into(),
        default_topic: "TBW102".into(),
        default_topic_queue_nums: 1,
        queue_id: 0,
        born_timestamp: 1,
        ..SendMessageRequestHeader::default()
    };
    let req = RemotingCommand::request_with_header(RequestCode::SEND_MESSAGE, &header)
        .with_body(bytes::Bytes::from(body.clone()));
    (req, body)
}

/// Unmounts the test's tmpfs however the test ends.
struct Unmount(tempfile::TempDir);

impl Drop for Unmount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.0.path()).status();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_answers_code_14_and_reads_go_on() {
    let mnt = tempfile::tempdir().unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=40m", "tmpfs"])
        .arg(mnt.path())
        .status()
        .is_ok_and(|s| s.success());
    if !mounted {
        eprintln!("\n*** SKIPPED: cannot mount a tmpfs here (needs root; CI runs it) ***\n");
        return;
    }
    let mnt = Unmount(mnt);
    let root = mnt.0.path().join("store");
    let cluster = TestCluster::start_with(|_, store| {
        store.store_path_root_dir = root.clone();
        store.mapped_file_size_commit_log = 4 << 20;
        store.max_message_size = 2 << 20;
        store.disk_space_warning_level_ratio = 90;
        store.clean_file_forcibly_enable = false;
    })
    .await;
    let mut acked = Vec::new();
    let refusal = loop {
        let (req, body) = send(acked.len());
        let r = cluster.call(req).await;
        if r.code != 0 {
            break r;
        }
        acked.push(body);
        assert!(acked.len() < 100, "a 40 MiB file system took 100 MiB");
    };
    let remark = refusal.remark.clone().unwrap_or_default();
    assert_eq!(refusal.code, 14, "{remark}");
    assert!(remark.starts_with("disk full: "), "{remark}");
    assert!(remark.contains(&root.display().to_string()), "{remark}");
    assert!(
        remark.ends_with("limit diskSpaceWarningLevelRatio=90"),
        "{remark}"
    );
    assert!(acked.len() >= 10, "only {} acknowledged", acked.len());

    let mut stored = Vec::new();
    for _ in 0..100 {
        stored = pull_queue(&cluster.client, &cluster.broker_addr(), "DiskFull", 0)
            .await
            .unwrap();
        if stored.len() >= acked.len() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let bodies: Vec<Vec<u8>> = stored.into_iter().map(|(_, b)| b).collect();
    assert_eq!(bodies, acked, "every acknowledged message is read back");
    let status = cluster
        .call(RemotingCommand::request(
            RequestCode::GET_BROKER_RUNTIME_INFO,
        ))
        .await;
    let text = String::from_utf8_lossy(&status.body).into_owned();
    assert!(text.contains("\"storeDiskFull\":\"true\""), "{text}");
    eprintln!(
        "broker on a full 40 MiB disk: {} acknowledged, 0 lost; refusal: {remark}",
        acked.len()
    );
    cluster.shutdown().await;
    drop(mnt);
}
