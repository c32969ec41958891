//! Admin calls against the broker: topic creation and listing, topic and
//! consume stats, offset reset by time (the online consumer re-reads),
//! message lookups, runtime info and topic deletion.

use std::sync::Arc;
use std::time::Duration;

use client::consumer::push::PushOptions;
use client::{Admin, ConsumeFrom, ConsumeResult, Message, PushConsumer};
use testkit::TestCluster;

use crate::support::{create_topic, producer, recorder, wait_async, wait_for, Seen};

use protocol::clock::now_ms;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_topics_stats_reset_and_lookups() {
    let cluster = TestCluster::start().await;
    let ns = cluster.namesrv_addr();
    create_topic(&ns, "Adm", 2).await;
    let admin = Admin::connect(&ns).unwrap();
    let info = admin.cluster_info().await.unwrap();
    assert!(info.broker_addr_table.contains_key("broker-a"));
    assert!(admin
        .topic_list()
        .await
        .unwrap()
        .contains(&"Adm".to_string()));

    let before = now_ms() - 1;
    let producer = producer(&ns, "AdmPG").await;
    let mut sent = Vec::new();
    for i in 0..6 {
        let r = producer
            .send(Message::new("Adm", format!("a{i}")).with_keys([format!("key{i}")]))
            .await
            .unwrap();
        sent.push(r);
    }
    // Consume queues are written shortly after the commit log.
    let counted = wait_async(10, || async {
        let stats = admin.topic_stats("Adm").await.unwrap();
        stats.offset_table.len() == 2
            && stats
                .offset_table
                .values()
                .map(|o| o.max_offset)
                .sum::<i64>()
                == 6
    })
    .await;
    assert!(counted, "topic stats never showed 6 messages in 2 queues");

    let seen: Seen = Arc::default();
    let consumer = PushConsumer::builder()
        .namesrv(&ns)
        .options(PushOptions {
            group: "AdmCG".into(),
            // Offsets reach the broker quickly, for the consume stats.
            persist_interval: Duration::from_millis(200),
            ..PushOptions::default()
        })
        .subscribe("Adm", "*")
        .consume_from(ConsumeFrom::FirstOffset)
        .listener(recorder(&seen, ConsumeResult::Success))
        .build()
        .await
        .unwrap();
    assert!(
        wait_for(10, || seen.lock().len() >= 6).await,
        "got {}",
        seen.lock().len()
    );
    let caught_up = wait_async(10, || async {
        match admin.consume_stats("AdmCG", Some("Adm")).await {
            Ok(s) => {
                s.offset_table.len() == 2
                    && s.offset_table
                        .values()
                        .map(|o| o.consumer_offset)
                        .sum::<i64>()
                        == 6
                    && s.offset_table
                        .values()
                        .map(|o| o.broker_offset)
                        .sum::<i64>()
                        == 6
            }
            Err(_) => false,
        }
    })
    .await;
    assert!(caught_up, "consume stats never showed offset 6 of 6");

    // Back to before the first send: the online member reads all again.
    let reset = admin
        .reset_offset_by_time("AdmCG", "Adm", before, true)
        .await
        .unwrap();
    assert_eq!(reset.len(), 2, "{reset:?}");
    assert!(reset.values().all(|&o| o == 0), "{reset:?}");
    assert!(
        wait_for(10, || seen.lock().len() >= 12).await,
        "got {} after the reset",
        seen.lock().len()
    );
    // Every message is read again after the reset. A client may rewind
    // twice (the pushed RESET_CONSUMER_CLIENT_OFFSET and the pull answered
    // PULL_OFFSET_MOVED race), which at-least-once delivery allows, so
    // each message must show up at least twice and nothing else may.
    let ids: Vec<String> = seen.lock().iter().map(|m| m.msg_id.clone()).collect();
    for r in &sent {
        let n = ids.iter().filter(|id| **id == r.msg_id).count();
        assert!(n >= 2, "{} seen {n} times: {ids:?}", r.msg_id);
    }
    assert!(
        ids.iter().all(|id| sent.iter().any(|r| r.msg_id == *id)),
        "only sent messages arrive: {ids:?}"
    );
    consumer.shutdown().await;

    let viewed = admin.view_message(&sent[0].offset_msg_id).await.unwrap();
    assert_eq!(viewed.body.as_ref(), b"a0");
    let by_key = wait_async(10, || async {
        admin
            .query_message_by_key("Adm", "key3", 32, 0, i64::MAX)
            .await
            .map(|v| v.len() == 1 && v[0].msg_id == sent[3].msg_id)
            .unwrap_or(false)
    })
    .await;
    assert!(by_key, "key3 not found by the index");
    let by_id = admin
        .query_message_by_id("Adm", &sent[4].msg_id)
        .await
        .unwrap();
    assert_eq!(by_id.len(), 1);
    assert_eq!(by_id[0].body.as_ref(), b"a4");
    for (_, addr) in admin.masters(None).await.unwrap() {
        let runtime = admin.broker_runtime_info(&addr).await.unwrap();
        assert!(!runtime.is_empty());
    }

    admin.delete_topic(None, "Adm").await.unwrap();
    let gone = wait_async(10, || async { admin.topic_route("Adm").await.is_err() }).await;
    assert!(gone, "Adm still routed after deletion");
    producer.shutdown().await;
    admin.shutdown().await;
    cluster.shutdown().await;
}
