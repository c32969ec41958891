//! /metrics after the events it counts: transaction commits and rollbacks,
//! timer enqueue and delivery, POP acks, revives, in-flight messages and
//! dead letters, and the NameServer's own series. Each check scrapes after
//! the event happened (polling while a background service finishes it).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use broker::pop::{FilterKind, InitMode, PopRequest};
use broker::state::BrokerState;
use client::{Admin, Message, Producer, TransactionProducer, TransactionState};
use http::{HttpServer, Sources};
use protocol::body::group::SubscriptionGroupConfig;
use testkit::TestCluster;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

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

fn sample(page: &str, name: &str, labels: &[&str]) -> Option<f64> {
    page.lines()
        .filter(|l| l.starts_with(name) && labels.iter().all(|x| l.contains(x)))
        .find_map(|l| l.rsplit_once(' ').and_then(|(_, v)| v.parse().ok()))
}

/// Scrapes until the series reaches `want` (a background service may still
/// be at work); fails naming the series and showing its last value.
async fn wait_sample(addr: std::net::SocketAddr, name: &str, labels: &[&str], want: f64) {
    let mut last = None;
    for _ in 0..300 {
        let (_, page) = request(addr, "GET", "/metrics", "").await;
        last = sample(&page, name, labels);
        if last == Some(want) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{name}{labels:?}: wanted {want}, last scrape showed {last:?}");
}

async fn create_topic(addr: std::net::SocketAddr, name: &str) {
    let (code, body) = request(
        addr,
        "POST",
        "/api/topics",
        &format!(r#"{{"name":"{name}","queues":1}}"#),
    )
    .await;
    assert_eq!(code, 200, "{body}");
    for _ in 0..100 {
        if request(addr, "GET", &format!("/api/topics/{name}"), "")
            .await
            .0
            == 200
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn pop_request(group: &str, topic: &str, invisible_ms: u64) -> PopRequest {
    PopRequest {
        group: group.into(),
        topic: topic.into(),
        queue_id: None,
        max_messages: 1,
        invisible_time: Duration::from_millis(invisible_ms),
        expression: "*".into(),
        filter_kind: FilterKind::Tag,
        order: false,
        poll_time: Duration::from_secs(10),
        init_mode: InitMode::Min,
    }
}

async fn pop_one(state: &Arc<BrokerState>, group: &str, topic: &str, invisible_ms: u64) -> String {
    let out = broker::pop::pop(state, &pop_request(group, topic, invisible_ms))
        .await
        .expect("pop");
    assert_eq!(out.messages.len(), 1, "one message popped by {group}");
    out.messages[0].handle.clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transaction_timer_pop_and_dlq_events_show_on_metrics() {
    let cluster = TestCluster::start().await;
    let ns = cluster.namesrv_addr();
    let sources = Sources {
        broker: Some(cluster.broker.state().clone()),
        namesrv: Some(cluster.namesrv.state().clone()),
        admin: Some(Arc::new(Admin::connect(&ns).expect("admin"))),
        ..Sources::default()
    };
    let server = HttpServer::start("127.0.0.1:0".parse().unwrap(), sources.clone())
        .await
        .unwrap();
    let addr = server.local_addr();
    let state = cluster.broker.state().clone();
    create_topic(addr, "EvTx").await;
    create_topic(addr, "EvTimer").await;
    create_topic(addr, "EvPop").await;

    // Transactions: one commit, one rollback.
    let tx = TransactionProducer::builder()
        .namesrv(&ns)
        .group("EvTxPG")
        .checker(|_| async { TransactionState::Unknown })
        .build()
        .await
        .unwrap();
    for local in [TransactionState::Commit, TransactionState::Rollback] {
        tx.send_in_transaction(Message::new("EvTx", "t"), move |_, _| async move { local })
            .await
            .unwrap();
    }
    let topic = r#"topic="EvTx""#;
    wait_sample(addr, "rocketmq_commit_messages_total{", &[topic], 1.0).await;
    wait_sample(addr, "rocketmq_rollback_messages_total{", &[topic], 1.0).await;
    wait_sample(
        addr,
        "rocketmq_finish_message_latency_milliseconds_count{",
        &[topic],
        2.0,
    )
    .await;
    let (_, page) = request(addr, "GET", "/metrics", "").await;
    assert!(
        sample(&page, "rocketmq_half_messages{", &[]).is_some(),
        "half-message gauge missing"
    );

    // Timer: a message due in a second is enqueued, then delivered.
    let producer = Producer::builder()
        .namesrv(&ns)
        .group("EvPG")
        .build()
        .await
        .unwrap();
    let due = protocol::clock::now_ms() + 1000;
    producer
        .send(Message::new("EvTimer", "later").with_deliver_time_ms(due))
        .await
        .unwrap();
    let topic = r#"topic="EvTimer""#;
    wait_sample(addr, "rocketmq_timer_enqueue_total{", &[topic], 1.0).await;
    wait_sample(addr, "rocketmq_timer_dequeue_total{", &[topic], 1.0).await;
    wait_sample(
        addr,
        "rocketmq_delay_message_latency_seconds_count{",
        &[topic],
        1.0,
    )
    .await;
    wait_sample(addr, "rocketmq_timing_messages{", &[], 0.0).await;

    // POP: an ack, a revive to the retry topic, an in-flight message, and a
    // dead letter for a group that allows no retry.
    for body in ["a", "b"] {
        producer.send(Message::new("EvPop", body)).await.unwrap();
    }
    let handle = pop_one(&state, "EvPopG", "EvPop", 60_000).await;
    broker::pop::ack(&state, "EvPopG", "EvPop", &handle).unwrap();
    let group = r#"consumer_group="EvPopG""#;
    let topic = r#"topic="EvPop""#;
    wait_sample(
        addr,
        "apogee_pop_acked_messages_total{",
        &[topic, group],
        1.0,
    )
    .await;
    pop_one(&state, "EvPopG", "EvPop", 1).await;
    wait_sample(
        addr,
        "rocketmq_pop_revive_retry_messages_total{",
        &[topic, group, r#"put_status="PUT_OK""#],
        1.0,
    )
    .await;
    // The revived copy, popped from the retry topic, is in flight.
    pop_one(&state, "EvPopG", "EvPop", 60_000).await;
    wait_sample(addr, "apogee_pop_inflight_messages{", &[group], 1.0).await;

    let mut strict = SubscriptionGroupConfig::new("EvDlqG");
    strict.retry_max_times = 0;
    state.groups.put(strict);
    pop_one(&state, "EvDlqG", "EvPop", 1).await;
    wait_sample(
        addr,
        "rocketmq_send_to_dlq_messages_total{",
        &[topic, r#"consumer_group="EvDlqG""#, r#"is_system="false""#],
        1.0,
    )
    .await;

    // The NameServer's own series: one broker registered, requests counted.
    let (_, page) = request(addr, "GET", "/metrics", "").await;
    let cluster_label = format!(r#"cluster="{}""#, cluster.broker_config.broker_cluster_name);
    assert_eq!(
        sample(
            &page,
            "apogee_namesrv_brokers{",
            &[&cluster_label, r#"node_type="namesrv""#]
        ),
        Some(1.0),
        "{page}"
    );
    let registered = sample(
        &page,
        "apogee_namesrv_requests_total{",
        &[
            r#"request_code="register_broker""#,
            r#"response_code="success""#,
        ],
    )
    .expect("register_broker counted");
    assert!(registered >= 1.0);
    assert!(sample(&page, "apogee_namesrv_topics{", &[]).expect("topics") >= 3.0);

    tx.shutdown().await;
    producer.shutdown().await;
    server.shutdown().await;
    sources.shutdown().await;
    cluster.shutdown().await;
}
