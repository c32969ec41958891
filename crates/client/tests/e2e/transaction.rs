//! transaction example: committed half messages are delivered, rolled-back
//! ones never; undecided ones are settled by the broker's check-back.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use client::{
    ConsumeFrom, ConsumeResult, Message, MessageExt, PushConsumer, TransactionProducer,
    TransactionState,
};
use testkit::TestCluster;

use crate::support::{bodies, create_topic, recorder, sorted, wait_for, Seen};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commit_rollback_and_check_back_outcomes() {
    // Check undecided halves every 300 ms once they are 500 ms old.
    let cluster = TestCluster::start_with(|broker, _| {
        broker.transaction_check_interval = 300;
        broker.transaction_time_out = 500;
    })
    .await;
    let ns = cluster.namesrv_addr();
    create_topic(&ns, "Tx", 2).await;
    let checks = Arc::new(AtomicUsize::new(0));
    let c = Arc::clone(&checks);
    let producer = TransactionProducer::builder()
        .namesrv(&ns)
        .group("TxPG")
        .checker(move |m: MessageExt| {
            c.fetch_add(1, Ordering::SeqCst);
            let state = match m.body.as_ref() {
                b"check-commit" => TransactionState::Commit,
                b"check-rollback" => TransactionState::Rollback,
                _ => TransactionState::Unknown,
            };
            async move { state }
        })
        .build()
        .await
        .unwrap();
    let seen: Seen = Arc::default();
    let consumer = PushConsumer::builder()
        .namesrv(&ns)
        .group("TxCG")
        .subscribe("Tx", "*")
        .consume_from(ConsumeFrom::FirstOffset)
        .listener(recorder(&seen, ConsumeResult::Success))
        .build()
        .await
        .unwrap();
    let outcomes = [
        ("commit", TransactionState::Commit),
        ("rollback", TransactionState::Rollback),
        ("check-commit", TransactionState::Unknown),
        ("check-rollback", TransactionState::Unknown),
    ];
    let mut committed_ids = Vec::new();
    for (body, local) in outcomes {
        let r = producer
            .send_in_transaction(Message::new("Tx", body), move |_, _| async move { local })
            .await
            .unwrap();
        assert_eq!(r.state, local);
        if body.ends_with("commit") {
            committed_ids.push(r.send.msg_id);
        }
    }
    assert!(
        wait_for(10, || seen.lock().len() >= 2).await,
        "got {:?}",
        bodies(&seen)
    );
    // Several more check rounds: nothing else may appear.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(sorted(&bodies(&seen)), vec!["check-commit", "commit"]);
    assert!(
        checks.load(Ordering::SeqCst) >= 2,
        "both undecided halves were checked back"
    );
    let ids: Vec<String> = seen.lock().iter().map(|m| m.msg_id.clone()).collect();
    assert_eq!(sorted(&ids), sorted(&committed_ids));
    for m in seen.lock().iter() {
        assert_eq!(m.topic, "Tx", "real topic restored");
        assert!(m.transaction_id().is_some());
    }
    consumer.shutdown().await;
    producer.shutdown().await;
    cluster.shutdown().await;
}
