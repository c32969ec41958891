//! The HTTP endpoints over a real broker and NameServer (port 0): probes,
//! /metrics counters against what was sent, lag, and API errors.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use client::{Admin, Message, Producer};
use http::{HttpServer, Sources};
use testkit::TestCluster;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A bare HTTP/1.1 exchange: (status, body).
async fn request(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    body: &str,
) -> (u16, String) {
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let req = format!(
        "{method} {path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.expect("write");
    let mut out = String::new();
    s.read_to_string(&mut out).await.expect("read");
    let status = out[9..12].parse().expect("status");
    let body = out
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// The value of the sample whose line starts with `prefix`.
fn sample(page: &str, name: &str, labels: &[&str]) -> Option<f64> {
    page.lines()
        .filter(|l| l.starts_with(name) && labels.iter().all(|x| l.contains(x)))
        .find_map(|l| l.rsplit_once(' ').and_then(|(_, v)| v.parse().ok()))
}

async fn start(cluster: &TestCluster) -> (HttpServer, Sources) {
    let admin = Admin::connect(&cluster.namesrv_addr()).expect("admin");
    let sources = Sources {
        broker: Some(cluster.broker.state().clone()),
        namesrv: Some(cluster.namesrv.state().clone()),
        admin: Some(Arc::new(admin)),
        ..Sources::default()
    };
    let server = HttpServer::start("127.0.0.1:0".parse().expect("addr"), sources.clone())
        .await
        .expect("http starts");
    (server, sources)
}

#[tokio::test]
async fn metrics_count_what_was_sent_and_the_lag() {
    let cluster = TestCluster::start().await;
    let (server, sources) = start(&cluster).await;
    let addr = server.local_addr();
    assert_eq!(request(addr, "GET", "/health", "").await.0, 200);
    assert_eq!(request(addr, "GET", "/ready", "").await.0, 200);

    let (code, _) = request(
        addr,
        "POST",
        "/api/topics",
        r#"{"name":"MetricsT","queues":2}"#,
    )
    .await;
    assert_eq!(code, 200);
    // Sends before the NameServer lists the route would go by TBW102's.
    for _ in 0..100 {
        if request(addr, "GET", "/api/topics/MetricsT", "").await.0 == 200 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let producer = Producer::builder()
        .namesrv(&cluster.namesrv_addr())
        .group("PG_METRICS")
        .build()
        .await
        .expect("producer");
    let body = "x".repeat(2000);
    for i in 0..25 {
        producer
            .send(Message::new("MetricsT", body.clone()).with_keys([format!("k{i}")]))
            .await
            .expect("send");
    }
    let (_, page) = request(addr, "GET", "/metrics", "").await;
    let topic = r#"topic="MetricsT""#;
    assert_eq!(
        sample(
            &page,
            "rocketmq_messages_in_total{",
            &[topic, r#"message_type="normal""#]
        ),
        Some(25.0)
    );
    let bytes = sample(&page, "rocketmq_throughput_in_total{", &[topic]).expect("bytes");
    assert!(bytes >= 25.0 * 2000.0, "{bytes}");
    // 2000-byte bodies land in the 4096 bucket, none in the 1024 one.
    assert_eq!(
        sample(
            &page,
            "rocketmq_message_size_bucket{",
            &[topic, r#"le="1024""#]
        ),
        Some(0.0)
    );
    assert_eq!(
        sample(
            &page,
            "rocketmq_message_size_bucket{",
            &[topic, r#"le="4096""#]
        ),
        Some(25.0)
    );
    assert!(sample(
        &page,
        "rocketmq_rpc_latency_milliseconds_count{",
        &[r#"request_code="send_message_v2""#]
    )
    .is_some());
    assert!(sample(&page, "process_resident_memory_bytes", &[]).is_some_and(|v| v > 0.0));

    // The lag of a group that committed nothing on queue 0 and 1 is what
    // the queues hold beyond its offsets.
    let state = cluster.broker.state();
    state.offsets.commit("CG_METRICS", "MetricsT", 0, 0);
    state.offsets.commit("CG_METRICS", "MetricsT", 1, 0);
    let (_, page) = request(addr, "GET", "/metrics", "").await;
    let lag = sample(
        &page,
        "rocketmq_consumer_lag_messages{",
        &[topic, r#"consumer_group="CG_METRICS""#],
    );
    assert_eq!(lag, Some(25.0));

    producer.shutdown().await;
    server.shutdown().await;
    sources.shutdown().await;
}

#[tokio::test]
async fn api_errors_name_the_bad_field_or_topic() {
    let cluster = TestCluster::start().await;
    let (server, sources) = start(&cluster).await;
    let addr = server.local_addr();
    let (code, body) = request(addr, "POST", "/api/topics", r#"{"queues":4}"#).await;
    assert_eq!(code, 400);
    assert!(body.contains("'name'"), "{body}");
    let (code, body) = request(addr, "POST", "/api/topics", r#"{"name":"T1","perm":9}"#).await;
    assert_eq!(code, 400);
    assert!(body.contains("'perm'"), "{body}");
    let (code, body) = request(addr, "GET", "/api/topics/NoSuchTopic", "").await;
    assert_eq!(code, 404);
    assert!(body.contains("NoSuchTopic"), "{body}");
    let (code, body) = request(addr, "POST", "/api/groups/G/reset", r#"{"topic":"T1"}"#).await;
    assert_eq!(code, 400);
    assert!(body.contains("'timestamp'"), "{body}");
    let (code, _) = request(addr, "GET", "/assets/nothing.js", "").await;
    assert_eq!(code, 404);
    let (code, page) = request(addr, "GET", "/", "").await;
    assert_eq!(code, 200);
    assert!(page.contains("/assets/app.js"));
    server.shutdown().await;
    sources.shutdown().await;
}
