//! The client over real TCP against the in-memory fake of `common`:
//! sends, push consumption (filtering, retry, rebalance, orderly,
//! broadcasting), lite pull, transactions and admin calls.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use client::{
    Admin, Client, ConsumeFrom, ConsumeResult, LitePullConsumer, Message, MessageExt, Producer,
    PushConsumer, SendStatus, TopicSpec, TransactionProducer, TransactionState,
};
use parking_lot::Mutex;
use protocol::message::sysflag::message as msgflag;

type Seen = Arc<Mutex<Vec<MessageExt>>>;

fn recorder(
    seen: &Seen,
    result: ConsumeResult,
) -> impl Fn(Vec<MessageExt>) -> std::future::Ready<ConsumeResult> + Send + Sync + 'static {
    let seen = Arc::clone(seen);
    move |msgs| {
        seen.lock().extend(msgs);
        std::future::ready(result)
    }
}

async fn create_topic(addr: &str, topic: &str, queues: i32) {
    let admin = Admin::connect(addr).unwrap();
    admin
        .create_topic_on_broker(addr, &TopicSpec::new(topic, queues))
        .await
        .unwrap();
    admin.shutdown().await;
}

#[tokio::test]
async fn send_then_push_consume_with_tag_filter_and_offsets() {
    let fake = common::start().await;
    create_topic(&fake.addr, "T1", 4).await;
    let producer = Producer::builder()
        .namesrv(&fake.addr)
        .group("PG")
        .build()
        .await
        .unwrap();
    for i in 0..20 {
        let tag = if i % 2 == 0 { "A" } else { "B" };
        let r = producer
            .send(Message::new("T1", format!("m{i}")).with_tags(tag))
            .await
            .unwrap();
        assert_eq!(r.status, SendStatus::Ok);
        assert_eq!(r.msg_id.len(), 32, "UNIQ_KEY ids are 32 hex chars");
        assert_eq!(r.queue.broker_name, common::BROKER);
    }
    let total: usize = (0..4).map(|q| fake.fake.queue_len("T1", q)).sum();
    assert_eq!(total, 20);
    // Round-robin spreads sends over the four queues.
    assert!((0..4).all(|q| fake.fake.queue_len("T1", q) == 5));

    let seen: Seen = Arc::default();
    let consumer = PushConsumer::builder()
        .namesrv(&fake.addr)
        .group("CG1")
        .subscribe("T1", "A")
        .consume_from(ConsumeFrom::FirstOffset)
        .listener(recorder(&seen, ConsumeResult::Success))
        .build()
        .await
        .unwrap();
    assert!(common::eventually(10, || seen.lock().len() >= 10).await);
    tokio::time::sleep(Duration::from_millis(300)).await;
    {
        let got = seen.lock();
        assert_eq!(got.len(), 10, "only tag A");
        assert!(got.iter().all(|m| m.tags() == Some("A") && m.topic == "T1"));
    }
    assert_eq!(
        consumer.assigned_queues().len(),
        4 + 1,
        "four queues plus the retry queue"
    );
    // What mqadmin consumerStatus shows, relayed by the broker.
    let info = fake.fake.running_info("CG1", "CG1").await;
    assert_eq!(info.code, 0);
    let text = String::from_utf8(info.body.to_vec()).unwrap();
    assert!(
        text.contains(
            r#""mqTable":{{"brokerName":"fake-broker","queueId":0,"topic":"%RETRY%CG1"}:{"#
        ),
        "{text}"
    );
    assert!(
        text.contains(r#""PROP_CONSUME_TYPE":"CONSUME_PASSIVELY""#),
        "{text}"
    );
    assert!(text.contains(r#""subString":"A""#), "{text}");
    assert_eq!(fake.fake.running_info("CG1", "nope").await.code, 1);
    consumer.shutdown().await;
    // Shutdown persisted the offsets: every queue was read to its end.
    for q in 0..4 {
        assert_eq!(fake.fake.offset("CG1", "T1", q), Some(5), "queue {q}");
    }
    producer.shutdown().await;
    fake.server.shutdown().await;
}

#[tokio::test]
async fn auto_created_topic_batch_and_compression() {
    let fake = common::start().await;
    let producer = Producer::builder()
        .namesrv(&fake.addr)
        .group("PG")
        .build()
        .await
        .unwrap();
    // Unknown topic: routed through TBW102, created by the send.
    let big = vec![b'z'; 10_000];
    let r = producer
        .send(Message::new("Auto", big.clone()))
        .await
        .unwrap();
    assert_eq!(r.status, SendStatus::Ok);
    let batch: Vec<Message> = (0..5)
        .map(|i| Message::new("Auto", format!("b{i}")))
        .collect();
    let r = producer.send_batch(batch).await.unwrap();
    assert_eq!(r.msg_id.split(',').count(), 5);
    assert_eq!(r.offset_msg_id.split(',').count(), 5);
    producer
        .send_oneway(Message::new("Auto", "oneway"))
        .await
        .unwrap();
    let h = producer.send_async(Message::new("Auto", "async"));
    h.await.unwrap().unwrap();

    let lite = LitePullConsumer::builder()
        .namesrv(&fake.addr)
        .group("LG")
        .consume_from(ConsumeFrom::FirstOffset)
        .build()
        .await
        .unwrap();
    let queues = lite.fetch_queues("Auto").await.unwrap();
    assert_eq!(queues.len(), 4);
    lite.assign(queues.clone()).await.unwrap();
    let mut got = Vec::new();
    for _ in 0..50 {
        got.extend(lite.poll(Duration::from_millis(200)).await.unwrap());
        if got.len() >= 8 {
            break;
        }
    }
    assert_eq!(got.len(), 8);
    let compressed = got
        .iter()
        .find(|m| m.body.len() == 10_000)
        .expect("big message");
    assert_eq!(
        compressed.body.as_ref(),
        big.as_slice(),
        "inflated on receipt"
    );
    assert_ne!(compressed.sys_flag & msgflag::COMPRESSED, 0);
    // Seek back: the queue's messages come again.
    let mq = &queues[got[0].queue_id as usize];
    lite.commit().await.unwrap();
    let committed = lite.committed(mq).await.unwrap().unwrap();
    assert!(committed > 0);
    lite.seek(mq, 0).await.unwrap();
    let again = lite.poll(Duration::from_secs(2)).await.unwrap();
    assert!(!again.is_empty());
    assert_eq!(again[0].queue_offset, 0);
    assert_eq!(again[0].queue_id, mq.queue_id);
    lite.shutdown().await;
    producer.shutdown().await;
    fake.server.shutdown().await;
}

#[tokio::test]
async fn failed_messages_come_back_through_the_retry_topic() {
    let fake = common::start().await;
    create_topic(&fake.addr, "T2", 1).await;
    let producer = Producer::builder()
        .namesrv(&fake.addr)
        .group("PG")
        .build()
        .await
        .unwrap();
    producer
        .send(Message::new("T2", "fail once"))
        .await
        .unwrap();
    let seen: Seen = Arc::default();
    let s = Arc::clone(&seen);
    let consumer = PushConsumer::builder()
        .namesrv(&fake.addr)
        .group("CG2")
        .subscribe("T2", "*")
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
    assert!(common::eventually(10, || seen.lock().len() >= 2).await);
    let got = seen.lock().clone();
    assert_eq!(got[1].reconsume_times, 1);
    assert_eq!(got[1].topic, "T2", "original topic restored");
    assert!(got[1].is_retry());
    assert_eq!(got[0].msg_id, got[1].msg_id, "same UNIQ_KEY");
    consumer.shutdown().await;
    producer.shutdown().await;
    fake.server.shutdown().await;
}

#[tokio::test]
async fn two_members_split_the_queues() {
    let fake = common::start().await;
    create_topic(&fake.addr, "T3", 4).await;
    let shared = Client::connect(&fake.addr).unwrap();
    let mk = |client: Option<&Client>| {
        let b = PushConsumer::builder()
            .namesrv(&fake.addr)
            .group("CG3")
            .subscribe("T3", "*")
            .listener(|_msgs| async { ConsumeResult::Success });
        match client {
            Some(c) => b.client(c),
            None => b,
        }
    };
    let a = mk(Some(&shared)).build().await.unwrap();
    let b = mk(None).build().await.unwrap();
    let t3 = |c: &PushConsumer| {
        c.assigned_queues()
            .into_iter()
            .filter(|q| q.topic == "T3")
            .collect::<Vec<_>>()
    };
    assert!(
        common::eventually(10, || t3(&a).len() == 2 && t3(&b).len() == 2).await,
        "a={:?} b={:?}",
        t3(&a),
        t3(&b)
    );
    let all: HashSet<_> = t3(&a).into_iter().chain(t3(&b)).collect();
    assert_eq!(all.len(), 4);
    b.shutdown().await;
    // The survivor takes everything back after the notice.
    assert!(common::eventually(10, || t3(&a).len() == 4).await);
    a.shutdown().await;
    shared.shutdown().await;
    fake.server.shutdown().await;
}

#[tokio::test]
async fn orderly_and_selector_keep_per_key_order() {
    let fake = common::start().await;
    create_topic(&fake.addr, "T4", 4).await;
    let producer = Producer::builder()
        .namesrv(&fake.addr)
        .group("PG")
        .build()
        .await
        .unwrap();
    for step in 0..5 {
        for order in ["o1", "o2", "o3"] {
            let key = order.to_string();
            producer
                .send_with_selector(
                    Message::new("T4", format!("{order}:{step}")),
                    move |qs, _| client::producer::select_by_key(qs, &key),
                )
                .await
                .unwrap();
        }
    }
    let seen: Seen = Arc::default();
    let consumer = PushConsumer::builder()
        .namesrv(&fake.addr)
        .group("CG4")
        .subscribe("T4", "*")
        .consume_from(ConsumeFrom::FirstOffset)
        .orderly_listener(recorder(&seen, ConsumeResult::Success))
        .build()
        .await
        .unwrap();
    assert!(common::eventually(10, || seen.lock().len() >= 15).await);
    for order in ["o1", "o2", "o3"] {
        let steps: Vec<String> = seen
            .lock()
            .iter()
            .map(|m| String::from_utf8_lossy(&m.body).to_string())
            .filter(|b| b.starts_with(order))
            .collect();
        let want: Vec<String> = (0..5).map(|s| format!("{order}:{s}")).collect();
        assert_eq!(steps, want);
    }
    consumer.shutdown().await;
    producer.shutdown().await;
    fake.server.shutdown().await;
}

#[tokio::test]
async fn broadcasting_members_each_get_everything() {
    let fake = common::start().await;
    create_topic(&fake.addr, "T5", 2).await;
    let dir = tempfile::tempdir().unwrap();
    let producer = Producer::builder()
        .namesrv(&fake.addr)
        .group("PG")
        .build()
        .await
        .unwrap();
    for i in 0..6 {
        producer
            .send(Message::new("T5", format!("n{i}")))
            .await
            .unwrap();
    }
    let (sa, sb): (Seen, Seen) = (Arc::default(), Arc::default());
    let mk = |seen: &Seen| {
        PushConsumer::builder()
            .namesrv(&fake.addr)
            .group("CG5")
            .broadcasting()
            .offset_dir(dir.path())
            .subscribe("T5", "*")
            .consume_from(ConsumeFrom::FirstOffset)
            .listener(recorder(seen, ConsumeResult::Success))
            .build()
    };
    let a = mk(&sa).await.unwrap();
    let b = mk(&sb).await.unwrap();
    assert!(common::eventually(10, || sa.lock().len() >= 6 && sb.lock().len() >= 6).await);
    a.shutdown().await;
    b.shutdown().await;
    // Offsets went to local files, not to the broker.
    assert_eq!(fake.fake.offset("CG5", "T5", 0), None);
    let files = walk(dir.path());
    assert_eq!(files.len(), 2, "{files:?}");
    producer.shutdown().await;
    fake.server.shutdown().await;
}

fn walk(p: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(p).unwrap() {
        let path = e.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[tokio::test]
async fn transactions_commit_rollback_and_check_back() {
    let fake = common::start().await;
    create_topic(&fake.addr, "TxTopic", 1).await;
    let producer = TransactionProducer::builder()
        .namesrv(&fake.addr)
        .group("TxPG")
        .checker(|_msg| async { TransactionState::Commit })
        .build()
        .await
        .unwrap();
    let r = producer
        .send_in_transaction(Message::new("TxTopic", "unknown"), |_, _| async {
            TransactionState::Unknown
        })
        .await
        .unwrap();
    assert_eq!(r.state, TransactionState::Unknown);
    let r2 = producer
        .send_in_transaction(Message::new("TxTopic", "rollback"), |_, _| async {
            TransactionState::Rollback
        })
        .await
        .unwrap();
    assert_eq!(r2.state, TransactionState::Rollback);
    assert!(common::eventually(5, || fake.fake.state.lock().ended.len() == 2).await);
    {
        let s = fake.fake.state.lock();
        assert_eq!(s.ended[0].commit_or_rollback, 0);
        assert_eq!(s.ended[0].producer_group, "TxPG");
        assert_eq!(s.ended[0].msg_id, r.send.msg_id);
        assert_eq!(s.ended[1].commit_or_rollback, 12);
        assert_eq!(s.ended[1].from_transaction_check, Some(false));
    }
    assert_eq!(
        fake.fake.queue_len("TxTopic", 0),
        0,
        "nothing committed yet"
    );
    // The producer heartbeats with its group, so the broker can check back.
    assert!(common::eventually(5, || fake.fake.state.lock().producers.contains_key("TxPG")).await);
    fake.fake.check_back("TxPG").await;
    assert!(common::eventually(5, || fake.fake.state.lock().ended.len() == 3).await);
    {
        let s = fake.fake.state.lock();
        assert_eq!(s.ended[2].commit_or_rollback, 8);
        assert_eq!(s.ended[2].from_transaction_check, Some(true));
    }
    assert_eq!(
        fake.fake.queue_len("TxTopic", 0),
        1,
        "committed by the check"
    );
    producer.shutdown().await;
    fake.server.shutdown().await;
}

#[tokio::test]
async fn sql_subscriptions_are_checked_at_build() {
    let fake = common::start().await;
    create_topic(&fake.addr, "T6", 1).await;
    let build = |sql: &'static str| {
        PushConsumer::builder()
            .namesrv(&fake.addr)
            .group("CG6")
            .subscribe_sql("T6", sql)
            .listener(|_m| async { ConsumeResult::Success })
            .build()
    };
    let err = build("a > bad").await.err().expect("rejected");
    assert_eq!(err.response_code(), Some(23), "{err}");
    let ok = build("a > 1").await.unwrap();
    ok.shutdown().await;
    fake.server.shutdown().await;
}
