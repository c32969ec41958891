//! End-to-end tests against a running Apogee (or RocketMQ) cluster. They
//! run only when `APOGEE_E2E_NAMESRV` names the NameServer, e.g.
//! `APOGEE_E2E_NAMESRV=127.0.0.1:9876 cargo test -p apogee-client --test e2e`
//! after `apogee standalone`; otherwise each test says so and returns.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use client::{
    Admin, ConsumeFrom, ConsumeResult, LitePullConsumer, Message, MessageExt, Producer,
    PushConsumer, SendStatus, TopicSpec, TransactionProducer, TransactionState,
};
use parking_lot::Mutex;

mod common;

/// The NameServer to test against: `APOGEE_E2E_NAMESRV`, where the value
/// `fake` starts the in-memory fake of `common` (to check the suite itself).
async fn namesrv(test: &str) -> Option<String> {
    match std::env::var("APOGEE_E2E_NAMESRV") {
        Ok(ns) if ns == "fake" => {
            let running = common::start().await;
            let addr = running.addr.clone();
            // The fake lives until the test process ends.
            std::mem::forget(running);
            Some(addr)
        }
        Ok(ns) if !ns.trim().is_empty() => Some(ns),
        _ => {
            eprintln!("skipping {test}: set APOGEE_E2E_NAMESRV to run it against a live cluster");
            None
        }
    }
}

/// A topic name unique to this run.
fn unique(prefix: &str) -> String {
    let ns = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{prefix}_{}_{}", std::process::id(), ns % 1_000_000_000)
}

/// Creates the topic on every broker and waits for its route; a broker
/// without UPDATE_AND_CREATE_TOPIC leaves it to auto-creation on first send.
async fn create_topic(ns: &str, topic: &str, queues: i32) {
    let admin = Admin::connect(ns).unwrap();
    match admin
        .create_topic(None, &TopicSpec::new(topic, queues))
        .await
    {
        Ok(brokers) => {
            assert!(
                !brokers.is_empty(),
                "no broker registered with the NameServer"
            );
            for _ in 0..100 {
                if admin.topic_route(topic).await.is_ok() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
        }
        Err(e) => eprintln!("cannot create {topic} ({e}); relying on auto-create"),
    }
    admin.shutdown().await;
}

/// Waits until the NameServer routes `topic` (auto-created topics appear
/// once the broker re-registers).
async fn wait_route(ns: &str, topic: &str) {
    let admin = Admin::connect(ns).unwrap();
    for _ in 0..200 {
        if admin.topic_route(topic).await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    admin.shutdown().await;
}

async fn wait_for(secs: u64, mut cond: impl FnMut() -> bool) -> bool {
    for _ in 0..secs * 10 {
        if cond() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    cond()
}

type Seen = Arc<Mutex<Vec<MessageExt>>>;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e2e_produce_and_push_consume() {
    let Some(ns) = namesrv("e2e_produce_and_push_consume").await else {
        return;
    };
    let topic = unique("E2eSimple");
    create_topic(&ns, &topic, 4).await;
    let producer = Producer::builder()
        .namesrv(&ns)
        .group(unique("PG"))
        .build()
        .await
        .unwrap();
    let mut ids = Vec::new();
    for i in 0..20 {
        let tag = if i % 2 == 0 { "A" } else { "B" };
        let r = producer
            .send(
                Message::new(&topic, format!("m{i}"))
                    .with_tags(tag)
                    .with_keys([format!("k{i}")]),
            )
            .await
            .unwrap();
        assert_eq!(r.status, SendStatus::Ok);
        if tag == "A" {
            ids.push(r.msg_id);
        }
    }
    let seen: Seen = Arc::default();
    let s = Arc::clone(&seen);
    let consumer = PushConsumer::builder()
        .namesrv(&ns)
        .group(unique("CG"))
        .subscribe(&topic, "A")
        .consume_from(ConsumeFrom::FirstOffset)
        .listener(move |msgs| {
            s.lock().extend(msgs);
            async { ConsumeResult::Success }
        })
        .build()
        .await
        .unwrap();
    assert!(
        wait_for(60, || seen.lock().len() >= 10).await,
        "got {}",
        seen.lock().len()
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut got: Vec<String> = seen.lock().iter().map(|m| m.msg_id.clone()).collect();
    got.sort();
    ids.sort();
    assert_eq!(got, ids);
    consumer.shutdown().await;
    producer.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e2e_retry_after_failure() {
    let Some(ns) = namesrv("e2e_retry_after_failure").await else {
        return;
    };
    let topic = unique("E2eRetry");
    create_topic(&ns, &topic, 1).await;
    let producer = Producer::builder()
        .namesrv(&ns)
        .group(unique("PG"))
        .build()
        .await
        .unwrap();
    producer
        .send(Message::new(&topic, "fail once"))
        .await
        .unwrap();
    let seen: Seen = Arc::default();
    let s = Arc::clone(&seen);
    let consumer = PushConsumer::builder()
        .namesrv(&ns)
        .group(unique("CG"))
        .subscribe(&topic, "*")
        .consume_from(ConsumeFrom::FirstOffset)
        .listener(move |msgs: Vec<MessageExt>| {
            let first = msgs[0].reconsume_times == 0;
            s.lock().extend(msgs);
            async move {
                if first {
                    ConsumeResult::Retry
                } else {
                    ConsumeResult::Success
                }
            }
        })
        .build()
        .await
        .unwrap();
    // Level 3 retry delay: 10 s.
    assert!(
        wait_for(60, || seen.lock().len() >= 2).await,
        "got {}",
        seen.lock().len()
    );
    let got = seen.lock().clone();
    assert_eq!(got[1].reconsume_times, 1);
    assert!(got[1].is_retry(), "redelivered through the retry topic");
    assert_eq!(got[1].topic, topic);
    assert_eq!(got[0].msg_id, got[1].msg_id);
    consumer.shutdown().await;
    producer.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e2e_batch_compression_and_lite_pull() {
    let Some(ns) = namesrv("e2e_batch_compression_and_lite_pull").await else {
        return;
    };
    let topic = unique("E2eBatch");
    create_topic(&ns, &topic, 2).await;
    let producer = Producer::builder()
        .namesrv(&ns)
        .group(unique("PG"))
        .build()
        .await
        .unwrap();
    let batch: Vec<Message> = (0..10)
        .map(|i| Message::new(&topic, format!("b{i}")))
        .collect();
    let r = producer.send_batch(batch).await.unwrap();
    assert_eq!(r.msg_id.split(',').count(), 10);
    let big = vec![b'q'; 20_000];
    producer
        .send(Message::new(&topic, big.clone()))
        .await
        .unwrap();

    let lite = LitePullConsumer::builder()
        .namesrv(&ns)
        .group(unique("LG"))
        .consume_from(ConsumeFrom::FirstOffset)
        .build()
        .await
        .unwrap();
    wait_route(&ns, &topic).await;
    let queues = lite.fetch_queues(&topic).await.unwrap();
    lite.assign(queues.clone()).await.unwrap();
    let mut got = Vec::new();
    for _ in 0..60 {
        got.extend(lite.poll(Duration::from_secs(1)).await.unwrap());
        if got.len() >= 11 {
            break;
        }
    }
    assert_eq!(got.len(), 11);
    assert!(got.iter().any(|m| m.body.as_ref() == big.as_slice()));
    lite.commit().await.unwrap();
    let mq = queues
        .iter()
        .find(|q| q.queue_id == got[0].queue_id)
        .unwrap();
    assert!(lite.committed(mq).await.unwrap().unwrap_or(0) > 0);
    lite.seek(mq, 0).await.unwrap();
    let again = lite.poll(Duration::from_secs(10)).await.unwrap();
    assert_eq!(again.first().map(|m| m.queue_offset), Some(0));
    lite.shutdown().await;
    producer.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e2e_orderly() {
    let Some(ns) = namesrv("e2e_orderly").await else {
        return;
    };
    let topic = unique("E2eOrder");
    create_topic(&ns, &topic, 4).await;
    let producer = Producer::builder()
        .namesrv(&ns)
        .group(unique("PG"))
        .build()
        .await
        .unwrap();
    for step in 0..5 {
        for order in ["o1", "o2"] {
            let key = order.to_string();
            producer
                .send_with_selector(
                    Message::new(&topic, format!("{order}:{step}")),
                    move |qs, _| client::producer::select_by_key(qs, &key),
                )
                .await
                .unwrap();
        }
    }
    let seen: Seen = Arc::default();
    let s = Arc::clone(&seen);
    let consumer = PushConsumer::builder()
        .namesrv(&ns)
        .group(unique("CG"))
        .subscribe(&topic, "*")
        .consume_from(ConsumeFrom::FirstOffset)
        .orderly_listener(move |msgs| {
            s.lock().extend(msgs);
            async { ConsumeResult::Success }
        })
        .build()
        .await
        .unwrap();
    assert!(wait_for(60, || seen.lock().len() >= 10).await);
    for order in ["o1", "o2"] {
        let steps: Vec<String> = seen
            .lock()
            .iter()
            .map(|m| String::from_utf8_lossy(&m.body).to_string())
            .filter(|b| b.starts_with(order))
            .collect();
        assert_eq!(
            steps,
            (0..5).map(|s| format!("{order}:{s}")).collect::<Vec<_>>()
        );
    }
    consumer.shutdown().await;
    producer.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e2e_transaction_commit_is_delivered() {
    let Some(ns) = namesrv("e2e_transaction_commit_is_delivered").await else {
        return;
    };
    let topic = unique("E2eTx");
    create_topic(&ns, &topic, 1).await;
    let producer = TransactionProducer::builder()
        .namesrv(&ns)
        .group(unique("TxPG"))
        .checker(|_m| async { TransactionState::Commit })
        .build()
        .await
        .unwrap();
    let committed = producer
        .send_in_transaction(Message::new(&topic, "commit"), |_, _| async {
            TransactionState::Commit
        })
        .await
        .unwrap();
    producer
        .send_in_transaction(Message::new(&topic, "rollback"), |_, _| async {
            TransactionState::Rollback
        })
        .await
        .unwrap();
    let seen: Seen = Arc::default();
    let s = Arc::clone(&seen);
    let consumer = PushConsumer::builder()
        .namesrv(&ns)
        .group(unique("CG"))
        .subscribe(&topic, "*")
        .consume_from(ConsumeFrom::FirstOffset)
        .listener(move |msgs| {
            s.lock().extend(msgs);
            async { ConsumeResult::Success }
        })
        .build()
        .await
        .unwrap();
    assert!(wait_for(60, || !seen.lock().is_empty()).await);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let got = seen.lock().clone();
    assert_eq!(got.len(), 1, "only the committed message");
    assert_eq!(got[0].msg_id, committed.send.msg_id);
    consumer.shutdown().await;
    producer.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e2e_admin_calls() {
    let Some(ns) = namesrv("e2e_admin_calls").await else {
        return;
    };
    let topic = unique("E2eAdmin");
    create_topic(&ns, &topic, 2).await;
    let admin = Admin::connect(&ns).unwrap();
    let info = admin.cluster_info().await.unwrap();
    assert!(!info.broker_addr_table.is_empty());
    let producer = Producer::builder()
        .namesrv(&ns)
        .group(unique("PG"))
        .build()
        .await
        .unwrap();
    let r = producer
        .send(Message::new(&topic, "findme").with_keys(["admin-key"]))
        .await
        .unwrap();
    wait_route(&ns, &topic).await;
    let mut listed = false;
    for _ in 0..50 {
        listed = admin.topic_list().await.unwrap().contains(&topic);
        if listed {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(listed, "{topic} missing from the NameServer's topic list");
    let viewed = admin.view_message(&r.offset_msg_id).await.unwrap();
    assert_eq!(viewed.body.as_ref(), b"findme");
    // The index is built asynchronously.
    let mut found = Vec::new();
    for _ in 0..50 {
        found = admin
            .query_message_by_key(&topic, "admin-key", 32, 0, i64::MAX)
            .await
            .unwrap();
        if !found.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(found.len(), 1);
    let by_id = admin.query_message_by_id(&topic, &r.msg_id).await.unwrap();
    assert_eq!(by_id.len(), 1);
    let stats = admin.topic_stats(&topic).await.unwrap();
    assert_eq!(
        stats
            .offset_table
            .values()
            .map(|o| o.max_offset)
            .sum::<i64>(),
        1
    );
    for (_, addr) in admin.masters(None).await.unwrap() {
        assert!(!admin.broker_runtime_info(&addr).await.unwrap().is_empty());
    }
    admin.delete_topic(None, &topic).await.unwrap();
    producer.shutdown().await;
    admin.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e2e_sql92_filter() {
    if std::env::var("APOGEE_E2E_NAMESRV").as_deref() == Ok("fake") {
        eprintln!("skipping e2e_sql92_filter: the fake does not evaluate SQL92");
        return;
    }
    let Some(ns) = namesrv("e2e_sql92_filter").await else {
        return;
    };
    let topic = unique("E2eSql");
    create_topic(&ns, &topic, 2).await;
    let producer = Producer::builder()
        .namesrv(&ns)
        .group(unique("PG"))
        .build()
        .await
        .unwrap();
    for a in 1..=10 {
        producer
            .send(
                Message::new(&topic, format!("a={a}"))
                    .with_property("a", a.to_string())
                    .with_tags("T"),
            )
            .await
            .unwrap();
    }
    let seen: Seen = Arc::default();
    let s = Arc::clone(&seen);
    let consumer = PushConsumer::builder()
        .namesrv(&ns)
        .group(unique("CG"))
        .subscribe_sql(&topic, "a > 5 AND TAGS = 'T'")
        .consume_from(ConsumeFrom::FirstOffset)
        .listener(move |msgs| {
            s.lock().extend(msgs);
            async { ConsumeResult::Success }
        })
        .build()
        .await
        .unwrap();
    assert!(
        wait_for(60, || seen.lock().len() >= 5).await,
        "got {}",
        seen.lock().len()
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut got: Vec<i32> = seen
        .lock()
        .iter()
        .map(|m| m.property("a").unwrap().parse().unwrap())
        .collect();
    got.sort_unstable();
    assert_eq!(got, vec![6, 7, 8, 9, 10]);
    consumer.shutdown().await;
    producer.shutdown().await;
}
