//! What broker-side filtering costs: drains one queue of 1 KiB messages,
//! one in ten of which matches, once with a tag subscription and once with
//! an equally selective SQL92 expression, and prints the pull throughput.
//!
//! `cargo run --release -p apogee-broker --example filter_cost [messages]`

#![allow(clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use bytes::BytesMut;
use protocol::header::pull::{PullMessageRequestHeader, PullMessageResponseHeader};
use protocol::header::send::SendMessageRequestHeader;
use protocol::message::sysflag::pull as pullflag;
use protocol::message::{batch, Properties};
use protocol::{RemotingCommand, RequestCode};
use testkit::TestCluster;

const TOPIC: &str = "FilterCost";

#[tokio::main]
async fn main() {
    let total: usize = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(100_000);
    let cluster = TestCluster::start_with(|_, store| {
        store.mapped_file_size_commit_log = 256 << 20;
    })
    .await;
    fill(&cluster, total).await;
    println!("{total} messages of 1 KiB in one queue, 10% tagged T3 with property a=3");
    for round in 0..3 {
        let (n, tag) = drain(&cluster, "TAG", "T3").await;
        let (m, sql) = drain(&cluster, "SQL92", "a = 3").await;
        println!(
            "round {round}: tag filter {n} matched in {:.0} ms ({:.0} scanned msg/s); \
             SQL92 {m} matched in {:.0} ms ({:.0} scanned msg/s); SQL/tag time {:.2}",
            tag.as_secs_f64() * 1e3,
            total as f64 / tag.as_secs_f64(),
            sql.as_secs_f64() * 1e3,
            total as f64 / sql.as_secs_f64(),
            sql.as_secs_f64() / tag.as_secs_f64()
        );
    }
    cluster.shutdown().await;
}

/// Sends `total` messages to queue 0 in batches of 64.
async fn fill(cluster: &TestCluster, total: usize) {
    let body = vec![b'x'; 1024];
    let mut sent = 0;
    while sent < total {
        let n = 64.min(total - sent);
        let props: Vec<String> = (sent..sent + n)
            .map(|i| {
                let k = i % 10;
                let mut p = Properties::new();
                p.insert("TAGS", format!("T{k}"));
                p.insert("a", k.to_string());
                p.encode()
            })
            .collect();
        let items: Vec<batch::BatchItem<'_>> = props
            .iter()
            .map(|p| batch::BatchItem {
                flag: 0,
                body: &body,
                properties: p.as_bytes(),
            })
            .collect();
        let mut buf = BytesMut::new();
        batch::encode_batch(&items, &mut buf).expect("batch encodes");
        let header = SendMessageRequestHeader {
            producer_group: "PG".into(),
            topic: TOPIC.into(),
            default_topic: "TBW102".into(),
            default_topic_queue_nums: 1,
            queue_id: 0,
            born_timestamp: 0,
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
    // Let the dispatcher index everything.
    tokio::time::sleep(Duration::from_millis(500)).await;
}

/// Pulls queue 0 from the start to the end with one subscription.
async fn drain(cluster: &TestCluster, kind: &str, expr: &str) -> (usize, Duration) {
    let started = Instant::now();
    let mut offset = 0;
    let mut matched = 0;
    loop {
        let h = PullMessageRequestHeader {
            consumer_group: format!("G_{kind}"),
            topic: TOPIC.into(),
            queue_id: 0,
            queue_offset: offset,
            max_msg_nums: 32,
            sys_flag: pullflag::SUBSCRIPTION,
            subscription: Some(expr.into()),
            expression_type: Some(kind.into()),
            ..PullMessageRequestHeader::default()
        };
        let r = cluster
            .call(RemotingCommand::request_with_header(
                RequestCode::PULL_MESSAGE,
                &h,
            ))
            .await;
        let rh: PullMessageResponseHeader = r.decode_header().expect("pull header");
        match r.code {
            0 => matched += protocol::message::records(&r.body).count(),
            20 => {}
            _ => break,
        }
        if rh.next_begin_offset <= offset || rh.next_begin_offset >= rh.max_offset {
            break;
        }
        offset = rh.next_begin_offset;
    }
    (matched, started.elapsed())
}
