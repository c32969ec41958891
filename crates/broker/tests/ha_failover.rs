#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! A slave is never blind: started before its master, it finds the master
//! within a registration retry (not a 30 s period), and after the master is
//! killed with SIGKILL right after SYNC_MASTER sends to a topic created a
//! moment earlier, consumers read every acknowledged message from the slave
//! although its copy of the topic table predates the topic. Skipped (with a
//! note) when no `apogee` binary is built: `cargo build -p apogee`.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use protocol::header::admin::CreateTopicRequestHeader;
use protocol::header::send::SendMessageRequestHeader;
use protocol::{RemotingCommand, RequestCode};
use remoting::{ClientConfig, RemotingClient};
use testkit::cluster::{BrokerSpec, ProcessCluster};
use testkit::readback::pull_queue;

const TOPIC: &str = "FreshBeforeFailover";
const QUEUES: i32 = 4;

fn send_request(topic: &str, queue_id: i32, body: &[u8]) -> RemotingCommand {
    let header = SendMessageRequestHeader {
        producer_group: "PG".into(),
        topic: topic.into(),
        default_topic: "TBW102".into(),
        default_topic_queue_nums: 4,
        queue_id,
        born_timestamp: 1,
        ..SendMessageRequestHeader::default()
    };
    RemotingCommand::request_with_header(RequestCode::SEND_MESSAGE, &header)
        .with_body(bytes::Bytes::copy_from_slice(body))
}

/// Polls the slave's runtime info until it reports a live HA link.
async fn wait_slave_connected(c: &RemotingClient, slave: &str, limit: Duration) -> Duration {
    let start = Instant::now();
    loop {
        let req = RemotingCommand::request(RequestCode::GET_BROKER_RUNTIME_INFO);
        if let Ok(r) = c.invoke(slave, req, Duration::from_secs(3)).await {
            if String::from_utf8_lossy(&r.body).contains("\"haConnected\":\"true\"") {
                return start.elapsed();
            }
        }
        assert!(
            start.elapsed() < limit,
            "the slave never connected to its master"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slave_serves_a_topic_created_just_before_its_master_died() {
    // The slave starts first, so its first registration names no master.
    let slave_spec = BrokerSpec {
        extra: vec![("slaveReadEnable".into(), "true".into())],
        ..BrokerSpec::new(1, "SLAVE", "ASYNC_FLUSH")
    };
    let master_spec = BrokerSpec::new(0, "SYNC_MASTER", "ASYNC_FLUSH");
    let Some(mut cluster) = ProcessCluster::start(1, &[slave_spec, master_spec]) else {
        eprintln!("skipped: no apogee binary (cargo build -p apogee, or set APOGEE_BIN)");
        return;
    };
    let c = RemotingClient::new(ClientConfig::default(), None);
    let slave = cluster.brokers[0].addr.clone();
    let master = cluster.brokers[1].addr.clone();
    let found = wait_slave_connected(&c, &slave, Duration::from_secs(20)).await;
    eprintln!(
        "the slave found its master {} ms after the master listened",
        found.as_millis()
    );

    let create = CreateTopicRequestHeader {
        topic: TOPIC.into(),
        default_topic: Some("TBW102".into()),
        read_queue_nums: QUEUES,
        write_queue_nums: QUEUES,
        perm: 6,
        ..CreateTopicRequestHeader::default()
    };
    let req = RemotingCommand::request_with_header(RequestCode::UPDATE_AND_CREATE_TOPIC, &create);
    let r = c
        .invoke(&master, req, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(r.code, 0, "{:?}", r.remark);
    let mut acked = BTreeSet::new();
    for i in 0..40 {
        let body = format!("fresh-{i}");
        let req = send_request(TOPIC, i % QUEUES, body.as_bytes());
        let r = c
            .invoke(&master, req, Duration::from_secs(5))
            .await
            .unwrap();
        if r.code == 0 {
            acked.insert(body.into_bytes());
        }
    }
    cluster.brokers[1].kill();
    assert!(
        acked.len() >= 30,
        "only {} SYNC_MASTER sends acknowledged",
        acked.len()
    );

    // Consumers continue from the slave: every acknowledged message is
    // there (re-read while the slave still builds its consume queues from
    // what it received).
    let start = Instant::now();
    let (seen, distinct, lost) = loop {
        let mut seen = Vec::new();
        for q in 0..QUEUES {
            let got = pull_queue(&c, &slave, TOPIC, q)
                .await
                .unwrap_or_else(|e| panic!("the slave refused queue {q}: {e}"));
            seen.extend(got.into_iter().map(|(_, body)| body));
        }
        let distinct: BTreeSet<Vec<u8>> = seen.iter().cloned().collect();
        let lost = acked.difference(&distinct).count();
        if lost == 0 || start.elapsed() > Duration::from_secs(10) {
            break (seen, distinct, lost);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    eprintln!(
        "SYNC_MASTER killed after sends to a fresh topic: {} acknowledged, {lost} lost, {} duplicated on the slave",
        acked.len(),
        seen.len() - distinct.len()
    );
    assert_eq!(lost, 0, "acknowledged messages missing on the slave");
    assert_eq!(seen.len(), distinct.len(), "no message is stored twice");
    c.shutdown().await;
}
