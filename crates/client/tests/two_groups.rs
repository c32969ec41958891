#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Two broker groups (each a SYNC_MASTER and a slave) behind two
//! NameServers, all separate `apogee` processes. Producers spread over both
//! groups; one master is killed with SIGKILL under load: sends keep
//! succeeding on the other group (the client retries there), a push
//! consumer keeps consuming, and every acknowledged message is readable
//! afterwards (from the surviving master, or the dead master's slave).
//! Skipped (with a note) when no `apogee` binary is built.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use client::{Admin, ConsumeFrom, ConsumeResult, Message, Producer, PushConsumer, TopicSpec};
use remoting::{ClientConfig, RemotingClient};
use testkit::cluster::{BrokerSpec, ProcessCluster};
use testkit::readback::pull_queue;

const TOPIC: &str = "TwoGroups";
const QUEUES: i32 = 4;

/// Acknowledged sends: body → (broker name, queue id, queue offset).
type Acked = Arc<Mutex<BTreeMap<Vec<u8>, (String, i32, i64)>>>;

fn spec(name: &str, id: i64, role: &str) -> BrokerSpec {
    let mut s = BrokerSpec::new(id, role, "ASYNC_FLUSH");
    s.broker_name = name.into();
    if id > 0 {
        s.extra.push(("slaveReadEnable".into(), "true".into()));
    }
    s
}

fn start_load(
    producer: &Arc<Producer>,
    stop: &Arc<AtomicBool>,
    acked: &Acked,
    killed: &Arc<AtomicBool>,
) -> Vec<tokio::task::JoinHandle<(usize, usize)>> {
    (0..4)
        .map(|t| {
            let (p, stop, acked, killed) = (
                producer.clone(),
                stop.clone(),
                acked.clone(),
                killed.clone(),
            );
            tokio::spawn(async move {
                let (mut failed, mut after_kill) = (0, 0);
                let mut i = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let body = format!("t{t}-m{i}").into_bytes();
                    i += 1;
                    match p.send(Message::new(TOPIC, body.clone())).await {
                        Ok(r) => {
                            if killed.load(Ordering::Relaxed) {
                                after_kill += 1;
                            }
                            acked.lock().unwrap().insert(
                                body,
                                (
                                    r.queue.broker_name.clone(),
                                    r.queue.queue_id,
                                    r.queue_offset,
                                ),
                            );
                        }
                        Err(_) => failed += 1,
                    }
                }
                (failed, after_kill)
            })
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_one_master_of_two_groups_loses_no_acknowledged_message() {
    let Some(mut cluster) = ProcessCluster::start(
        2,
        &[
            spec("broker-a", 0, "SYNC_MASTER"),
            spec("broker-a", 1, "SLAVE"),
            spec("broker-b", 0, "SYNC_MASTER"),
            spec("broker-b", 1, "SLAVE"),
        ],
    ) else {
        eprintln!("skipped: no apogee binary (cargo build -p apogee, or set APOGEE_BIN)");
        return;
    };
    let ns = cluster.namesrv_list();
    let admin = Admin::connect(&ns).unwrap();
    let start = Instant::now();
    loop {
        match admin
            .create_topic(None, &TopicSpec::new(TOPIC, QUEUES))
            .await
        {
            Ok(groups) if groups.len() == 2 => break,
            other => assert!(start.elapsed() < Duration::from_secs(20), "{other:?}"),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    admin.shutdown().await;

    let received: Arc<Mutex<Vec<Vec<u8>>>> = Arc::default();
    let r2 = received.clone();
    let consumer = PushConsumer::builder()
        .namesrv(&ns)
        .group("TwoGroupsCG")
        .subscribe(TOPIC, "*")
        .consume_from(ConsumeFrom::FirstOffset)
        .listener(move |msgs: Vec<client::MessageExt>| {
            r2.lock()
                .unwrap()
                .extend(msgs.iter().map(|m| m.body.to_vec()));
            std::future::ready(ConsumeResult::Success)
        })
        .build()
        .await
        .unwrap();
    let producer = Arc::new(
        Producer::builder()
            .namesrv(&ns)
            .group("TwoGroupsPG")
            .send_timeout(Duration::from_secs(3))
            .build()
            .await
            .unwrap(),
    );
    let (stop, killed, acked) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicBool::new(false)),
        Acked::default(),
    );
    let handles = start_load(&producer, &stop, &acked, &killed);
    tokio::time::sleep(Duration::from_secs(2)).await;
    cluster.brokers[0].kill();
    killed.store(true, Ordering::Relaxed);
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop.store(true, Ordering::Relaxed);
    let (mut failed, mut after_kill) = (0, 0);
    for h in handles {
        let (f, a) = h.await.unwrap();
        failed += f;
        after_kill += a;
    }
    let acked = acked.lock().unwrap().clone();
    let per_group = |name: &str| acked.values().filter(|(b, _, _)| b == name).count();
    assert!(
        per_group("broker-a") > 0 && per_group("broker-b") > 0,
        "sends spread over both groups"
    );
    assert!(
        after_kill > 0,
        "sends kept succeeding on the other group after the kill"
    );

    // Every acknowledged message is stored where the broker said.
    let c = RemotingClient::new(ClientConfig::default(), None);
    // Body → every place it is stored (a send retried after its answer was
    // lost to the kill may be stored twice: at-least-once).
    let mut stored: BTreeMap<Vec<u8>, Vec<(String, i32, i64)>> = BTreeMap::new();
    let mut duplicated = 0;
    for (name, addr) in [
        ("broker-a", &cluster.brokers[1].addr),
        ("broker-b", &cluster.brokers[2].addr),
    ] {
        for q in 0..QUEUES {
            for (offset, body) in pull_queue(&c, addr, TOPIC, q).await.unwrap() {
                let places = stored.entry(body).or_default();
                if !places.is_empty() {
                    duplicated += 1;
                }
                places.push((name.to_owned(), q, offset));
            }
        }
    }
    let lost: Vec<_> = acked
        .iter()
        .filter(|(body, at)| !stored.get(*body).is_some_and(|p| p.contains(at)))
        .map(|(body, _)| String::from_utf8_lossy(body).into_owned())
        .collect();
    eprintln!(
        "two groups, one master killed: {} acknowledged ({} on broker-a, {} after the kill), {} lost, {duplicated} duplicated, {failed} sends failed",
        acked.len(),
        per_group("broker-a"),
        after_kill,
        lost.len()
    );
    assert!(
        lost.is_empty(),
        "acknowledged but not stored as acknowledged: {lost:?}"
    );

    // The consumer keeps consuming: it gets every acknowledged message of
    // the surviving group.
    let want: BTreeSet<Vec<u8>> = acked
        .iter()
        .filter(|(_, (b, _, _))| b == "broker-b")
        .map(|(body, _)| body.clone())
        .collect();
    let start = Instant::now();
    loop {
        let got: BTreeSet<Vec<u8>> = received.lock().unwrap().iter().cloned().collect();
        if want.is_subset(&got) {
            eprintln!("the consumer received {} distinct messages", got.len());
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the consumer is missing {} messages of broker-b",
            want.difference(&got).count()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    consumer.shutdown().await;
    producer.shutdown().await;
    c.shutdown().await;
}
