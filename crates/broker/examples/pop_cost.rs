//! What POP consumption costs next to pull: fills four queues with 1 KiB
//! messages, then drains them with pulls of 32, with pops of 32 acked one
//! message at a time (ACK_MESSAGE, as the Java push consumer and the gRPC
//! AckMessage entries do), and with pops of 32 acked by one BATCH_ACK.
//! Each drain runs `consumers` concurrent consumers over one connection.
//!
//! `cargo run --release -p apogee-broker --example pop_cost [messages] [consumers]`

#![allow(clippy::expect_used, clippy::panic, clippy::unwrap_used)]

use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use protocol::body::pop::{BatchAck, BatchAckMessageRequestBody};
use protocol::header::pop::{
    AckMessageRequestHeader, PopMessageRequestHeader, PopMessageResponseHeader,
};
use protocol::header::pull::{PullMessageRequestHeader, PullMessageResponseHeader};
use protocol::header::send::SendMessageRequestHeader;
use protocol::message::{batch, decode_record, DecodedRecord};
use protocol::{RemotingCommand, RequestCode};
use testkit::TestCluster;

const TOPIC: &str = "PopCost";
const QUEUES: i32 = 4;

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let total: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(40_000);
    let consumers: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(4);
    let cluster = Arc::new(
        TestCluster::start_with(|_, store| store.mapped_file_size_commit_log = 256 << 20).await,
    );
    println!("{total} messages of 1 KiB in {QUEUES} queues, {consumers} consumers");
    for round in 0..3 {
        fill(&cluster, total).await;
        let pull = drain(&cluster, consumers, total, Mode::Pull, round).await;
        fill(&cluster, total).await;
        let single = drain(&cluster, consumers, total, Mode::PopAck, round).await;
        fill(&cluster, total).await;
        let batched = drain(&cluster, consumers, total, Mode::PopBatchAck, round).await;
        println!(
            "round {round}: pull {pull:.0} msg/s; pop + ack {single:.0} msg/s ({:.0}%); \
             pop + batch ack {batched:.0} msg/s ({:.0}%)",
            single / pull * 100.0,
            batched / pull * 100.0
        );
    }
    match Arc::try_unwrap(cluster) {
        Ok(c) => c.shutdown().await,
        Err(_) => panic!("cluster still shared"),
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Pull,
    PopAck,
    PopBatchAck,
}

async fn fill(cluster: &TestCluster, total: usize) {
    let body = vec![b'x'; 1024];
    let mut sent = 0;
    while sent < total {
        let n = 64.min(total - sent);
        let items: Vec<batch::BatchItem<'_>> = (0..n)
            .map(|_| batch::BatchItem {
                flag: 0,
                body: &body,
                properties: b"",
            })
            .collect();
        let mut buf = BytesMut::new();
        batch::encode_batch(&items, &mut buf).expect("batch encodes");
        let header = SendMessageRequestHeader {
            producer_group: "PG".into(),
            topic: TOPIC.into(),
            default_topic: "TBW102".into(),
            default_topic_queue_nums: QUEUES,
            queue_id: ((sent / 64) % QUEUES as usize) as i32,
            batch: Some(true),
            ..SendMessageRequestHeader::default()
        };
        let mut cmd =
            RemotingCommand::request(RequestCode::SEND_BATCH_MESSAGE).with_body(buf.freeze());
        header.write_v2(&mut cmd.ext_fields);
        let r = cluster.call(cmd).await;
        assert_eq!(r.code, 0, "send failed: {:?}", r.remark);
        sent += n;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
}

/// Drains what `fill` sent; returns messages per second.
async fn drain(
    cluster: &Arc<TestCluster>,
    consumers: usize,
    total: usize,
    mode: Mode,
    round: usize,
) -> f64 {
    let group = format!("G_{round}_{}", mode as u8);
    let done = Arc::new(AtomicUsize::new(0));
    let offsets: Arc<Vec<AtomicI64>> = Arc::new((0..QUEUES).map(|_| AtomicI64::new(0)).collect());
    let started = Instant::now();
    let tasks: Vec<_> = (0..consumers)
        .map(|i| {
            let (c, g, d, o) = (
                cluster.clone(),
                group.clone(),
                done.clone(),
                offsets.clone(),
            );
            tokio::spawn(async move {
                let mut queue = (i as i32) % QUEUES;
                while d.load(Ordering::Relaxed) < total {
                    let got = match mode {
                        Mode::Pull => pull_once(&c, &g, queue, &o).await,
                        _ => pop_once(&c, &g, mode == Mode::PopBatchAck).await,
                    };
                    d.fetch_add(got, Ordering::Relaxed);
                    queue = (queue + 1) % QUEUES;
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    total as f64 / started.elapsed().as_secs_f64()
}

/// Pulls the next 32 of `queue` (offsets claimed per queue, so that
/// concurrent pullers do not read the same messages).
async fn pull_once(c: &TestCluster, group: &str, queue: i32, offsets: &[AtomicI64]) -> usize {
    let slot = &offsets[queue as usize];
    let offset = slot.fetch_add(32, Ordering::Relaxed);
    let h = PullMessageRequestHeader {
        consumer_group: group.into(),
        topic: TOPIC.into(),
        queue_id: queue,
        queue_offset: offset,
        max_msg_nums: 32,
        sys_flag: protocol::message::sysflag::pull::SUBSCRIPTION,
        subscription: Some("*".into()),
        ..PullMessageRequestHeader::default()
    };
    let r = c
        .call(RemotingCommand::request_with_header(
            RequestCode::PULL_MESSAGE,
            &h,
        ))
        .await;
    let _: PullMessageResponseHeader = r.decode_header().expect("pull header");
    if r.code == 0 {
        protocol::message::records(&r.body).count()
    } else {
        slot.fetch_sub(32, Ordering::Relaxed);
        0
    }
}

async fn pop_once(c: &TestCluster, group: &str, batch_ack: bool) -> usize {
    let h = PopMessageRequestHeader {
        consumer_group: group.into(),
        topic: TOPIC.into(),
        queue_id: -1,
        max_msg_nums: 32,
        invisible_time: 60_000,
        init_mode: 0,
        exp_type: Some("TAG".into()),
        exp: Some("*".into()),
        ..Default::default()
    };
    let r = c
        .call(RemotingCommand::request_with_header(
            RequestCode::POP_MESSAGE,
            &h,
        ))
        .await;
    if r.code != 0 {
        return 0;
    }
    let rh: PopMessageResponseHeader = r.decode_header().expect("pop header");
    let starts: std::collections::HashMap<i32, i64> = rh
        .start_offset_info
        .unwrap_or_default()
        .split(';')
        .map(|s| {
            let p: Vec<&str> = s.split(' ').collect();
            (p[1].parse().unwrap(), p[2].parse().unwrap())
        })
        .collect();
    let mut body = &r.body[..];
    let mut acks: Vec<(i32, i64)> = Vec::new();
    while !body.is_empty() {
        let (rec, used) = decode_record(body).unwrap();
        if let DecodedRecord::Message(m) = rec {
            acks.push((m.queue_id(), m.queue_offset()));
        }
        body = &body[used..];
    }
    let broker = &c.broker_config.broker_name;
    if batch_ack {
        let mut by_queue: std::collections::BTreeMap<i32, BatchAck> = Default::default();
        for (q, o) in &acks {
            let start = starts[q];
            let b = by_queue.entry(*q).or_insert_with(|| BatchAck {
                consumer_group: group.into(),
                topic: TOPIC.into(),
                retry: "0".into(),
                start_offset: start,
                queue_id: *q,
                revive_queue_id: rh.revive_qid,
                pop_time: rh.pop_time,
                invisible_time: rh.invisible_time,
                bit_set: Vec::new(),
            });
            let bit = (o - start) as usize;
            if b.bit_set.len() <= bit / 8 {
                b.bit_set.resize(bit / 8 + 1, 0);
            }
            b.bit_set[bit / 8] |= 1 << (bit % 8);
        }
        let body = BatchAckMessageRequestBody {
            broker_name: broker.clone(),
            acks: by_queue.into_values().collect(),
        };
        let cmd = RemotingCommand::request(RequestCode::BATCH_ACK_MESSAGE)
            .with_body(body.to_json_bytes().unwrap());
        assert_eq!(c.call(cmd).await.code, 0);
    } else {
        for (q, o) in &acks {
            let extra = format!(
                "{} {} {} {} 0 {broker} {q} {o}",
                starts[q], rh.pop_time, rh.invisible_time, rh.revive_qid
            );
            let cmd = RemotingCommand::request_with_header(
                RequestCode::ACK_MESSAGE,
                &AckMessageRequestHeader {
                    consumer_group: group.into(),
                    topic: TOPIC.into(),
                    queue_id: *q,
                    extra_info: extra,
                    offset: *o,
                    broker_name: None,
                },
            );
            assert_eq!(c.call(cmd).await.code, 0);
        }
    }
    acks.len()
}
