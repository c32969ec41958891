//! What a batch send costs the broker, for instruction counts: stores
//! `batches` batches of 16 × 1 KiB messages through the batch handler
//! (`handlers::send::store`, the function SEND_BATCH_MESSAGE runs after its
//! header is read: batch decode, record encode, `put_batch`), each message
//! with the properties rmq-loadgen sends (a distinct UNIQ_KEY and WAIT),
//! over four queues, then waits until the dispatcher has built the consume
//! queues and the index for all of them.
//!
//! Run it under callgrind at two counts and divide the difference of the
//! totals by the difference of the message counts:
//!
//! `valgrind --tool=callgrind target/release/examples/batch_cost 2000`
//! (`cargo build --release -p apogee-broker --example batch_cost`)

#![allow(clippy::expect_used, clippy::panic, clippy::unwrap_used)]

use std::net::SocketAddr;
use std::time::Duration;

use bytes::BytesMut;
use protocol::header::send::SendMessageRequestHeader;
use protocol::message::batch;
use protocol::{RemotingCommand, RequestCode};
use testkit::TestCluster;

const TOPIC: &str = "BatchCost";
const QUEUES: i32 = 4;
const PER_BATCH: usize = 16;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let batches: usize = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(2_000);
    let cluster =
        TestCluster::start_with(|_, store| store.mapped_file_size_commit_log = 256 << 20).await;
    let state = cluster.broker.state().clone();
    let born: SocketAddr = "127.0.0.1:40000".parse().unwrap();
    let body = vec![b'x'; 1024];
    let mut props: Vec<Vec<u8>> = vec![Vec::new(); PER_BATCH];
    let mut buf = BytesMut::new();
    for n in 0..batches {
        for (i, p) in props.iter_mut().enumerate() {
            p.clear();
            let id = (n * PER_BATCH + i) as u64;
            p.extend_from_slice(
                format!("UNIQ_KEY\u{1}7F000001000022B8{id:016X}\u{2}WAIT\u{1}true\u{2}").as_bytes(),
            );
        }
        let items: Vec<batch::BatchItem<'_>> = props
            .iter()
            .map(|p| batch::BatchItem {
                flag: 0,
                body: &body,
                properties: p,
            })
            .collect();
        buf.clear();
        batch::encode_batch(&items, &mut buf).expect("batch encodes");
        let header = SendMessageRequestHeader {
            producer_group: "PG".into(),
            topic: TOPIC.into(),
            default_topic: "TBW102".into(),
            default_topic_queue_nums: QUEUES,
            queue_id: (n % QUEUES as usize) as i32,
            born_timestamp: 1,
            batch: Some(true),
            ..SendMessageRequestHeader::default()
        };
        let req = RemotingCommand::request(RequestCode::SEND_BATCH_MESSAGE)
            .with_body(buf.split().freeze());
        let r = broker::handlers::send::store(&state, born, &header, &req)
            .await
            .expect("batch stored");
        assert_eq!(r.code, 0, "send failed: {:?}", r.remark);
    }
    let end = state.store.runtime_info().commitlog_max_offset;
    assert!(
        state
            .store
            .wait_dispatched(end, Duration::from_secs(600))
            .await,
        "dispatch did not catch up"
    );
    let info = state.store.runtime_info();
    println!(
        "{batches} batches of {PER_BATCH}: {} records, {} bytes, dispatched to {}",
        info.put_records, info.put_bytes, info.dispatched_offset
    );
    cluster.shutdown().await;
}
