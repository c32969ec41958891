//! Transactions over TCP: half messages stay invisible until committed,
//! rollback hides them for good, an unresolved one is checked back on the
//! producer's connection, and one checked too often is discarded.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "delivery_common/mod.rs"]
mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{send, wait_messages};
use protocol::body::heartbeat::{HeartbeatData, ProducerData};
use protocol::header::send::SendMessageResponseHeader;
use protocol::header::transaction::{
    commit_or_rollback, CheckTransactionStateRequestHeader, EndTransactionRequestHeader,
};
use protocol::message::sysflag::message as msgflag;
use protocol::message::{decode_offset_msg_id, keys, topics, MessageRecord};
use protocol::{RemotingCommand, RequestCode};
use remoting::{BoxFuture, ClientConfig, Connection, Processor, RemotingClient};
use testkit::TestCluster;
use tokio::sync::mpsc;

/// Records the requests the broker sends to the producer.
struct Recorder(mpsc::UnboundedSender<RemotingCommand>);

impl Processor for Recorder {
    fn process(
        &self,
        _conn: Connection,
        request: RemotingCommand,
    ) -> BoxFuture<Option<RemotingCommand>> {
        let _ = self.0.send(request);
        Box::pin(async { None })
    }
}

async fn cluster() -> TestCluster {
    TestCluster::start_with(|b, _| {
        b.transaction_check_interval = 100;
        b.transaction_time_out = 500;
        b.transaction_check_max = 2;
    })
    .await
}

async fn send_half(
    c: &TestCluster,
    topic: &str,
    group: &str,
    body: &str,
) -> SendMessageResponseHeader {
    let props = [(keys::TRAN_MSG, "true"), (keys::PGROUP, group)];
    send(c, topic, &props, msgflag::TRANSACTION_PREPARED_TYPE, body).await
}

fn end_request(
    group: &str,
    sent: &SendMessageResponseHeader,
    action: i32,
    from_check: bool,
) -> RemotingCommand {
    let (_, phys) = decode_offset_msg_id(&sent.msg_id).unwrap();
    let h = EndTransactionRequestHeader {
        topic: None,
        producer_group: group.into(),
        tran_state_table_offset: sent.queue_offset,
        commit_log_offset: phys,
        commit_or_rollback: action,
        from_transaction_check: Some(from_check),
        msg_id: sent.msg_id.clone(),
        transaction_id: sent.transaction_id.clone(),
    };
    RemotingCommand::request_with_header(RequestCode::END_TRANSACTION, &h)
}

/// A producer connection of `group` that records the broker's requests.
async fn register_producer(
    c: &TestCluster,
    group: &str,
) -> (RemotingClient, mpsc::UnboundedReceiver<RemotingCommand>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let producer = RemotingClient::new(ClientConfig::default(), Some(Arc::new(Recorder(tx))));
    let heartbeat = HeartbeatData {
        client_id: format!("127.0.0.1@{group}"),
        producer_data_set: vec![ProducerData {
            group_name: group.into(),
        }],
        ..HeartbeatData::default()
    };
    let req = RemotingCommand::request(RequestCode::HEART_BEAT)
        .with_body(heartbeat.to_json_bytes().unwrap());
    let resp = producer
        .invoke(&c.broker_addr(), req, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(resp.code, 0);
    (producer, rx)
}

#[tokio::test]
async fn commit_shows_and_rollback_hides() {
    let c = cluster().await;
    let a = send_half(&c, "TxT", "PG", "commit me").await;
    let b = send_half(&c, "TxT", "PG", "roll me back").await;
    assert_eq!(
        (a.queue_offset, b.queue_offset),
        (0, 1),
        "offsets in the half queue"
    );
    let halves = wait_messages(
        &c,
        topics::TRANS_HALF_TOPIC,
        0,
        0,
        2,
        Duration::from_secs(2),
    )
    .await;
    assert_eq!(halves.len(), 2);
    let half = &halves[0].0;
    assert_eq!(half.properties.get(keys::REAL_TOPIC), Some("TxT"));
    assert_eq!(
        half.properties.get(keys::TRANSACTION_ID),
        a.transaction_id.as_deref()
    );
    assert_eq!(half.sysflag & msgflag::TRANSACTION_MASK, 0);
    assert!(common::pull(&c, "X", "TxT", 0, 0).await.is_empty());

    // A wrong producer group is refused.
    let wrong = c
        .call(end_request("OTHER", &a, commit_or_rollback::COMMIT, false))
        .await;
    assert_ne!(wrong.code, 0);
    assert_eq!(
        c.call(end_request("PG", &a, commit_or_rollback::COMMIT, false))
            .await
            .code,
        0
    );
    assert_eq!(
        c.call(end_request("PG", &b, commit_or_rollback::ROLLBACK, false))
            .await
            .code,
        0
    );
    // A repeated commit does nothing.
    assert_eq!(
        c.call(end_request("PG", &a, commit_or_rollback::COMMIT, false))
            .await
            .code,
        0
    );

    let got = wait_messages(&c, "TxT", 0, 0, 1, Duration::from_secs(3)).await;
    assert_eq!(got.len(), 1);
    let msg = &got[0].0;
    assert_eq!(&msg.body[..], b"commit me");
    assert_eq!(
        msg.sysflag & msgflag::TRANSACTION_MASK,
        msgflag::TRANSACTION_COMMIT_TYPE
    );
    assert_eq!(msg.prepared_transaction_offset, half.physical_offset);
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(
        common::pull(&c, "X", "TxT", 0, 1).await.is_empty(),
        "rolled back or duplicated message visible"
    );
    // Two op markers, tag d, body "offset,".
    let ops = wait_messages(
        &c,
        topics::TRANS_OP_HALF_TOPIC,
        0,
        0,
        2,
        Duration::from_secs(2),
    )
    .await;
    let bodies: Vec<&[u8]> = ops.iter().map(|(m, _)| &m.body[..]).collect();
    assert_eq!(bodies, [&b"0,"[..], b"1,"]);
    assert_eq!(ops[0].0.properties.tags(), Some("d"));
    c.shutdown().await;
}

#[tokio::test]
async fn unknown_outcome_is_checked_back() {
    let c = cluster().await;
    let (producer, mut rx) = register_producer(&c, "PGC").await;

    let sent = send_half(&c, "TxCheck", "PGC", "ask me").await;
    // UNKNOWN is ignored; the broker asks later.
    assert_eq!(
        c.call(end_request(
            "PGC",
            &sent,
            commit_or_rollback::UNKNOWN,
            false
        ))
        .await
        .code,
        0
    );
    let check = tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .expect("a check-back within 5 s")
        .unwrap();
    assert_eq!(check.code, RequestCode::CHECK_TRANSACTION_STATE.code());
    let h: CheckTransactionStateRequestHeader = check.decode_header().unwrap();
    assert_eq!(h.tran_state_table_offset, sent.queue_offset);
    assert_eq!(h.topic.as_deref(), Some("TxCheck"));
    assert_eq!(h.transaction_id, sent.transaction_id);
    assert_eq!(h.offset_msg_id.as_deref(), Some(sent.msg_id.as_str()));
    let (body, _) = MessageRecord::decode(&check.body).unwrap();
    assert_eq!(body.topic, "TxCheck");
    assert_eq!(body.properties.get(keys::PGROUP), Some("PGC"));

    let answer = end_request("PGC", &sent, commit_or_rollback::COMMIT, true);
    let resp = producer
        .invoke(&c.broker_addr(), answer, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(resp.code, 0);
    let got = wait_messages(&c, "TxCheck", 0, 0, 1, Duration::from_secs(3)).await;
    assert_eq!(got.len(), 1);
    assert_eq!(&got[0].0.body[..], b"ask me");
    // Resolved: no more checks.
    while rx.try_recv().is_ok() {}
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert!(rx.try_recv().is_err(), "checked again after the commit");
    assert!(c
        .broker
        .state()
        .transactions
        .is_resolved(sent.queue_offset as u64));
    producer.shutdown().await;
    c.shutdown().await;
}

#[tokio::test]
async fn checked_too_often_is_discarded() {
    let c = cluster().await;
    send_half(&c, "TxLost", "NOBODY", "orphan").await;
    let moved = wait_messages(
        &c,
        topics::TRANS_CHECK_MAX_TIME_TOPIC,
        0,
        0,
        1,
        Duration::from_secs(8),
    )
    .await;
    assert_eq!(
        moved.len(),
        1,
        "the unresolved half message was not discarded"
    );
    assert_eq!(&moved[0].0.body[..], b"orphan");
    assert!(c.broker.state().transactions.is_resolved(0));
    assert!(common::pull(&c, "X", "TxLost", 0, 0).await.is_empty());
    c.shutdown().await;
}

#[tokio::test]
async fn state_survives_a_restart() {
    let c = cluster().await;
    let done = send_half(&c, "TxR", "PGR", "done").await;
    assert_eq!(
        c.call(end_request("PGR", &done, commit_or_rollback::COMMIT, false))
            .await
            .code,
        0
    );
    let open = send_half(&c, "TxR", "PGR", "open").await;
    let c = c.restart_broker().await;
    let (producer, mut rx) = register_producer(&c, "PGR").await;
    let check = tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .expect("a check-back after the restart")
        .unwrap();
    let h: CheckTransactionStateRequestHeader = check.decode_header().unwrap();
    assert_eq!(
        h.tran_state_table_offset, open.queue_offset,
        "only the open transaction is checked"
    );
    let answer = end_request("PGR", &open, commit_or_rollback::ROLLBACK, true);
    let resp = producer
        .invoke(&c.broker_addr(), answer, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(resp.code, 0);
    let got = wait_messages(&c, "TxR", 0, 0, 2, Duration::from_millis(1500)).await;
    let bodies: Vec<&[u8]> = got.iter().map(|(m, _)| &m.body[..]).collect();
    assert_eq!(bodies, [&b"done"[..]]);
    producer.shutdown().await;
    c.shutdown().await;
}
