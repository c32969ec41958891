//! `apogee bench produce --protocol grpc` run as a process against an
//! in-process NameServer + broker with the gRPC endpoint beside it: every
//! counted send is stored (read back as the topic's queue offsets), and the
//! JSON summary counts no failure.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::apogee_json;
use grpc::GrpcServer;
use protocol::header::offset::{GetMaxOffsetRequestHeader, OffsetResponseHeader};
use protocol::{RemotingCommand, RequestCode};
use testkit::TestCluster;

/// Messages stored in `topic` over all its queues.
async fn stored(cluster: &TestCluster, topic: &str) -> i64 {
    let mut total = 0;
    for queue_id in 0..16 {
        let h = GetMaxOffsetRequestHeader {
            topic: topic.into(),
            queue_id,
            committed: None,
        };
        let resp = cluster
            .call(RemotingCommand::request_with_header(
                RequestCode::GET_MAX_OFFSET,
                &h,
            ))
            .await;
        if resp.code == 0 {
            total += resp.decode_header::<OffsetResponseHeader>().unwrap().offset;
        }
    }
    total
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_sends_are_stored_and_counted() {
    let cluster =
        TestCluster::start_with(|_, store| store.disk_space_warning_level_ratio = 99).await;
    let listener = GrpcServer::bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let server = GrpcServer::start(cluster.broker.state().clone(), listener)
        .await
        .unwrap();
    let endpoint = server.local_addr().to_string();
    let argv: Vec<String> = [
        "bench",
        "produce",
        "-n",
        &cluster.namesrv_addr(),
        "--protocol",
        "grpc",
        "--endpoint",
        &endpoint,
        "-t",
        "BenchGrpcIt",
        "-s",
        "300",
        "-w",
        "9",
        "--producers",
        "2",
        "--count",
        "1000",
        "--json",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let s = apogee_json(argv, "bench produce --protocol grpc").await;
    assert_eq!(s["msgs"], 1000, "{s}");
    assert_eq!(s["send_failed"], 0, "{s}");
    assert_eq!(s["response_failed"], 0, "{s}");
    assert_eq!(stored(&cluster, "BenchGrpcIt").await, 1000);
    server.shutdown().await;
    cluster.shutdown().await;
}
