//! quickstart, batch and broadcast examples: sends of every kind and push
//! consumption, each message delivered exactly once per group (per member
//! when broadcasting).

use std::sync::Arc;
use std::time::Duration;

use client::{ConsumeFrom, ConsumeResult, Message, PushConsumer, SendStatus};
use protocol::message::sysflag::message as msgflag;
use testkit::TestCluster;

use crate::support::{bodies, create_topic, producer, recorder, sorted, wait_for, Seen};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_message_is_consumed_exactly_once_and_tags_filter() {
    let cluster = TestCluster::start().await;
    let ns = cluster.namesrv_addr();
    create_topic(&ns, "Simple", 4).await;
    let producer = producer(&ns, "SimplePG").await;
    let mut all_ids = Vec::new();
    let mut a_ids = Vec::new();
    for i in 0..40 {
        let tag = if i % 2 == 0 { "A" } else { "B" };
        let r = producer
            .send(
                Message::new("Simple", format!("m{i}"))
                    .with_tags(tag)
                    .with_keys([format!("k{i}")]),
            )
            .await
            .unwrap();
        assert_eq!(r.status, SendStatus::Ok);
        assert_eq!(r.queue.topic, "Simple");
        all_ids.push(r.msg_id.clone());
        if tag == "A" {
            a_ids.push(r.msg_id);
        }
    }
    // The other send flavours land too.
    producer
        .send_oneway(Message::new("Simple", "oneway").with_tags("C"))
        .await
        .unwrap();
    let r = producer
        .send_async(Message::new("Simple", "async").with_tags("C"))
        .await
        .unwrap()
        .unwrap();
    all_ids.push(r.msg_id);

    let (every, only_a): (Seen, Seen) = (Arc::default(), Arc::default());
    let all_consumer = PushConsumer::builder()
        .namesrv(&ns)
        .group("SimpleAll")
        .subscribe("Simple", "*")
        .consume_from(ConsumeFrom::FirstOffset)
        .listener(recorder(&every, ConsumeResult::Success))
        .build()
        .await
        .unwrap();
    let a_consumer = PushConsumer::builder()
        .namesrv(&ns)
        .group("SimpleA")
        .subscribe("Simple", "A")
        .consume_from(ConsumeFrom::FirstOffset)
        .listener(recorder(&only_a, ConsumeResult::Success))
        .build()
        .await
        .unwrap();
    assert!(
        wait_for(10, || every.lock().len() >= 42 && only_a.lock().len() >= 20).await,
        "all: {}, A: {}",
        every.lock().len(),
        only_a.lock().len()
    );
    // Give duplicates a chance to show up before counting.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let got: Vec<String> = every.lock().iter().map(|m| m.msg_id.clone()).collect();
    assert_eq!(got.len(), 42, "each message exactly once");
    // The oneway send has no result: check its body, and the other ids.
    let got_bodies = bodies(&every);
    assert_eq!(got_bodies.iter().filter(|b| *b == "oneway").count(), 1);
    for id in &all_ids {
        assert_eq!(got.iter().filter(|g| *g == id).count(), 1, "{id}");
    }
    let a_got = sorted(
        &only_a
            .lock()
            .iter()
            .map(|m| m.msg_id.clone())
            .collect::<Vec<_>>(),
    );
    assert_eq!(a_got, sorted(&a_ids), "tag A only, once each");
    assert!(only_a.lock().iter().all(|m| m.tags() == Some("A")));
    a_consumer.shutdown().await;
    all_consumer.shutdown().await;
    producer.shutdown().await;
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_and_compressed_bodies_arrive_whole() {
    let cluster = TestCluster::start().await;
    let ns = cluster.namesrv_addr();
    create_topic(&ns, "Batch", 2).await;
    let producer = producer(&ns, "BatchPG").await;
    let batch: Vec<Message> = (0..10)
        .map(|i| Message::new("Batch", format!("b{i}")).with_tags("T"))
        .collect();
    let r = producer.send_batch(batch).await.unwrap();
    let batch_ids: Vec<String> = r.msg_id.split(',').map(str::to_string).collect();
    assert_eq!(batch_ids.len(), 10);
    assert_eq!(r.offset_msg_id.split(',').count(), 10);
    // Above the 4 KiB default threshold: sent zlib-compressed.
    let big = vec![b'q'; 20_000];
    let big_id = producer
        .send(Message::new("Batch", big.clone()))
        .await
        .unwrap()
        .msg_id;

    let seen: Seen = Arc::default();
    let consumer = PushConsumer::builder()
        .namesrv(&ns)
        .group("BatchCG")
        .subscribe("Batch", "*")
        .consume_from(ConsumeFrom::FirstOffset)
        .consume_batch_size(4)
        .listener(recorder(&seen, ConsumeResult::Success))
        .build()
        .await
        .unwrap();
    assert!(
        wait_for(10, || seen.lock().len() >= 11).await,
        "got {}",
        seen.lock().len()
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let got = seen.lock().clone();
    assert_eq!(got.len(), 11);
    let mut want = batch_ids.clone();
    want.push(big_id.clone());
    let ids: Vec<String> = got.iter().map(|m| m.msg_id.clone()).collect();
    assert_eq!(sorted(&ids), sorted(&want));
    // A batch goes to one queue, in order.
    let batch_msgs: Vec<_> = got.iter().filter(|m| m.msg_id != big_id).collect();
    assert!(batch_msgs
        .iter()
        .all(|m| m.queue_id == batch_msgs[0].queue_id));
    let mut by_offset = batch_msgs.clone();
    by_offset.sort_by_key(|m| m.queue_offset);
    let texts: Vec<String> = by_offset
        .iter()
        .map(|m| String::from_utf8_lossy(&m.body).into_owned())
        .collect();
    assert_eq!(texts, (0..10).map(|i| format!("b{i}")).collect::<Vec<_>>());
    assert!(batch_msgs.iter().all(|m| m.tags() == Some("T")));
    let big_msg = got.iter().find(|m| m.msg_id == big_id).unwrap();
    assert_eq!(big_msg.body.as_ref(), big.as_slice(), "inflated on receipt");
    assert_ne!(
        big_msg.sys_flag & msgflag::COMPRESSED,
        0,
        "stored compressed"
    );
    consumer.shutdown().await;
    producer.shutdown().await;
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broadcasting_members_each_get_everything() {
    let cluster = TestCluster::start().await;
    let ns = cluster.namesrv_addr();
    create_topic(&ns, "Bcast", 2).await;
    let dir = tempfile::tempdir().unwrap();
    let producer = producer(&ns, "BcastPG").await;
    let mut sent = Vec::new();
    for i in 0..8 {
        let r = producer
            .send(Message::new("Bcast", format!("n{i}")))
            .await
            .unwrap();
        sent.push(r.msg_id);
    }
    let (sa, sb): (Seen, Seen) = (Arc::default(), Arc::default());
    let member = |seen: &Seen, name: &str| {
        PushConsumer::builder()
            .namesrv(&ns)
            .group("BcastCG")
            .broadcasting()
            .offset_dir(dir.path().join(name))
            .subscribe("Bcast", "*")
            .consume_from(ConsumeFrom::FirstOffset)
            .listener(recorder(seen, ConsumeResult::Success))
            .build()
    };
    let a = member(&sa, "a").await.unwrap();
    let b = member(&sb, "b").await.unwrap();
    assert!(
        wait_for(10, || sa.lock().len() >= 8 && sb.lock().len() >= 8).await,
        "a: {}, b: {}",
        sa.lock().len(),
        sb.lock().len()
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    for seen in [&sa, &sb] {
        let ids: Vec<String> = seen.lock().iter().map(|m| m.msg_id.clone()).collect();
        assert_eq!(
            sorted(&ids),
            sorted(&sent),
            "every member gets each message once"
        );
    }
    a.shutdown().await;
    b.shutdown().await;
    producer.shutdown().await;
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql92_subscriptions_filter_on_the_broker() {
    let cluster = TestCluster::start().await;
    let ns = cluster.namesrv_addr();
    create_topic(&ns, "Sql", 2).await;
    let producer = producer(&ns, "SqlPG").await;
    for a in 1..=10 {
        producer
            .send(
                Message::new("Sql", format!("a={a}"))
                    .with_property("a", a.to_string())
                    .with_tags("T"),
            )
            .await
            .unwrap();
    }
    let bad = PushConsumer::builder()
        .namesrv(&ns)
        .group("SqlBad")
        .subscribe_sql("Sql", "a > AND (")
        .listener(|_m| async { ConsumeResult::Success })
        .build()
        .await;
    let err = bad
        .err()
        .expect("a malformed expression is rejected at build");
    assert!(
        err.response_code().is_some(),
        "the broker refused it: {err}"
    );
    let seen: Seen = Arc::default();
    let consumer = PushConsumer::builder()
        .namesrv(&ns)
        .group("SqlCG")
        .subscribe_sql("Sql", "a > 5 AND TAGS = 'T'")
        .consume_from(ConsumeFrom::FirstOffset)
        .listener(recorder(&seen, ConsumeResult::Success))
        .build()
        .await
        .unwrap();
    assert!(
        wait_for(10, || seen.lock().len() >= 5).await,
        "got {}",
        seen.lock().len()
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut got: Vec<i32> = seen
        .lock()
        .iter()
        .map(|m| m.property("a").unwrap().parse().unwrap())
        .collect();
    got.sort_unstable();
    assert_eq!(got, vec![6, 7, 8, 9, 10]);
    consumer.shutdown().await;
    producer.shutdown().await;
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_header_sends_arrive_like_json_ones() {
    let cluster = TestCluster::start().await;
    let ns = cluster.namesrv_addr();
    create_topic(&ns, "BinHdr", 2).await;
    let producer = client::Producer::builder()
        .namesrv(&ns)
        .group("BinHdrPG")
        .header(protocol::SerializeType::RocketMq)
        .build()
        .await
        .unwrap();
    let mut ids = Vec::new();
    for i in 0..6 {
        let r = producer
            .send(
                Message::new("BinHdr", format!("s{i}"))
                    .with_tags("T")
                    .with_keys([format!("k{i}")]),
            )
            .await
            .unwrap();
        assert_eq!(r.status, SendStatus::Ok);
        assert!(!r.offset_msg_id.is_empty());
        ids.push(r.msg_id);
    }
    let batch = (0..4)
        .map(|i| Message::new("BinHdr", format!("b{i}")).with_tags("T"))
        .collect();
    let r = producer.send_batch(batch).await.unwrap();
    assert_eq!(r.status, SendStatus::Ok);
    ids.extend(r.msg_id.split(',').map(str::to_string));
    assert_eq!(ids.len(), 10);

    let seen: Seen = Arc::default();
    let consumer = PushConsumer::builder()
        .namesrv(&ns)
        .group("BinHdrCG")
        .subscribe("BinHdr", "T")
        .consume_from(ConsumeFrom::FirstOffset)
        .listener(recorder(&seen, ConsumeResult::Success))
        .build()
        .await
        .unwrap();
    assert!(
        wait_for(10, || seen.lock().len() >= 10).await,
        "{}",
        seen.lock().len()
    );
    let got: Vec<String> = seen.lock().iter().map(|m| m.msg_id.clone()).collect();
    assert_eq!(sorted(&got), sorted(&ids), "every id once");
    let mut want_bodies: Vec<String> = (0..6).map(|i| format!("s{i}")).collect();
    want_bodies.extend((0..4).map(|i| format!("b{i}")));
    assert_eq!(sorted(&bodies(&seen)), sorted(&want_bodies));
    assert!(seen
        .lock()
        .iter()
        .filter(|m| m.body.starts_with(b"s"))
        .all(|m| m.keys().iter().any(|k| k.starts_with('k'))));
    consumer.shutdown().await;
    producer.shutdown().await;
    cluster.shutdown().await;
}

/// A producer that spreads its sends over several connections to the
/// broker gets every one stored (each consumed exactly once).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sends_over_several_connections_are_all_stored() {
    let cluster = TestCluster::start().await;
    let ns = cluster.namesrv_addr();
    create_topic(&ns, "Lanes", 4).await;
    let producer = client::Producer::builder()
        .namesrv(&ns)
        .group("LanesPG")
        .send_connections(3)
        .build()
        .await
        .unwrap();
    let mut ids = Vec::new();
    for i in 0..12 {
        let r = producer
            .send(Message::new("Lanes", format!("m{i}")))
            .await
            .unwrap();
        assert_eq!(r.status, SendStatus::Ok);
        ids.push(r.msg_id);
    }
    let seen: Seen = Arc::default();
    let consumer = PushConsumer::builder()
        .namesrv(&ns)
        .group("LanesCG")
        .subscribe("Lanes", "*")
        .consume_from(ConsumeFrom::FirstOffset)
        .listener(recorder(&seen, ConsumeResult::Success))
        .build()
        .await
        .unwrap();
    assert!(
        wait_for(10, || seen.lock().len() >= 12).await,
        "got {}",
        seen.lock().len()
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let got: Vec<String> = seen.lock().iter().map(|m| m.msg_id.clone()).collect();
    assert_eq!(sorted(&got), sorted(&ids), "each message exactly once");
    consumer.shutdown().await;
    producer.shutdown().await;
    cluster.shutdown().await;
}
