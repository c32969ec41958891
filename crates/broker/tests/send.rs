//! Sends over real TCP: SEND_MESSAGE (10, long names), SEND_MESSAGE_V2
//! (310), SEND_BATCH_MESSAGE (320) and a V2 batch (m=true), read back by pull.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use protocol::header::send::SendMessageResponseHeader;
use protocol::message::decode_offset_msg_id;
use protocol::RequestCode;
use testkit::TestCluster;

async fn pull_all(c: &TestCluster, topic: &str, queue_id: i32) -> Vec<(Vec<u8>, String)> {
    let r = c.call(pull_cmd(&pull_req(topic, queue_id, 0, 0))).await;
    assert_eq!(r.code, 0, "pull: {:?}", r.remark);
    records(&r.body)
}

#[tokio::test]
async fn send_v1_and_v2_append_in_queue_order() {
    let c = TestCluster::start().await;
    let r = send_ok(&c, send_v1("T_SEND", 1, b"one", &props("A", "k1"))).await;
    let h: SendMessageResponseHeader = r.decode_header().unwrap();
    assert_eq!((h.queue_id, h.queue_offset), (1, 0));
    let (addr, phys) = decode_offset_msg_id(&h.msg_id).unwrap();
    assert_eq!(addr.to_string(), c.broker_addr());
    assert_eq!(phys, 0, "the first record starts the commit log");
    assert!(
        h.transaction_id.is_some_and(|u| !u.is_empty()),
        "a UNIQ_KEY is assigned"
    );

    let r = send_ok(&c, send_v2("T_SEND", 1, b"two", &props("B", ""))).await;
    let h: SendMessageResponseHeader = r.decode_header().unwrap();
    assert_eq!((h.queue_id, h.queue_offset), (1, 1));

    wait_queue(&c, "T_SEND", 1, 2).await;
    let got = pull_all(&c, "T_SEND", 1).await;
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].0, b"one");
    assert!(got[0].1.contains("TAGS\u{1}A"), "{:?}", got[0].1);
    assert!(
        got[0].1.contains("UNIQ_KEY\u{1}"),
        "the broker added UNIQ_KEY"
    );
    assert_eq!(got[1].0, b"two");
    c.shutdown().await;
}

#[tokio::test]
async fn send_to_any_queue_lets_the_broker_pick() {
    let c = TestCluster::start().await;
    let r = send_ok(&c, send_v1("T_ANYQ", -1, b"x", "")).await;
    let h: SendMessageResponseHeader = r.decode_header().unwrap();
    assert!((0..4).contains(&h.queue_id), "queue {}", h.queue_id);
    c.shutdown().await;
}

#[tokio::test]
async fn batch_sends_store_every_item() {
    let c = TestCluster::start().await;
    for (code, topic) in [
        (RequestCode::SEND_BATCH_MESSAGE, "T_BATCH_320"),
        (RequestCode::SEND_MESSAGE_V2, "T_BATCH_310"),
    ] {
        let body = batch_body(&[b"a", b"bb", b"ccc"], &props("T", ""));
        let r = send_ok(&c, send_batch(code, topic, 0, body)).await;
        let h: SendMessageResponseHeader = r.decode_header().unwrap();
        assert_eq!(h.queue_offset, 0, "{topic}");
        let ids: Vec<&str> = h.msg_id.split(',').collect();
        assert_eq!(ids.len(), 3, "one id per item: {}", h.msg_id);
        let phys: Vec<i64> = ids
            .iter()
            .map(|id| decode_offset_msg_id(id).unwrap().1)
            .collect();
        assert!(phys.windows(2).all(|w| w[0] < w[1]), "{phys:?}");

        wait_queue(&c, topic, 0, 3).await;
        let got: Vec<Vec<u8>> = pull_all(&c, topic, 0)
            .await
            .into_iter()
            .map(|r| r.0)
            .collect();
        assert_eq!(
            got,
            vec![b"a".to_vec(), b"bb".to_vec(), b"ccc".to_vec()],
            "{topic}"
        );
    }
    c.shutdown().await;
}

#[tokio::test]
async fn requests_in_the_binary_header_form_are_answered_in_it() {
    let c = TestCluster::start().await;
    let mut cmd = send_v2("T_BINARY", 0, b"bin", &props("A", ""));
    cmd.serialize_type = protocol::SerializeType::RocketMq;
    let r = send_ok(&c, cmd).await;
    assert_eq!(r.serialize_type, protocol::SerializeType::RocketMq);
    let h: SendMessageResponseHeader = r.decode_header().unwrap();
    assert_eq!((h.queue_id, h.queue_offset), (0, 0));
    wait_queue(&c, "T_BINARY", 0, 1).await;
    let mut pull = pull_cmd(&pull_req("T_BINARY", 0, 0, 0));
    pull.serialize_type = protocol::SerializeType::RocketMq;
    let r = c.call(pull).await;
    assert_eq!(r.code, 0, "{:?}", r.remark);
    assert_eq!(r.serialize_type, protocol::SerializeType::RocketMq);
    assert_eq!(bodies(&r.body), vec![b"bin".to_vec()]);
    c.shutdown().await;
}

#[tokio::test]
async fn sends_to_a_retry_topic_create_it_from_the_group() {
    let c = TestCluster::start().await;
    let r = send_ok(&c, send_v1("%RETRY%G_SEND", 0, b"again", "")).await;
    let h: SendMessageResponseHeader = r.decode_header().unwrap();
    assert_eq!(h.queue_id, 0);
    wait_queue(&c, "%RETRY%G_SEND", 0, 1).await;
    // Batches may not go to retry topics.
    let body = batch_body(&[b"a"], "");
    let r = c
        .call(send_batch(
            RequestCode::SEND_BATCH_MESSAGE,
            "%RETRY%G_SEND",
            0,
            body,
        ))
        .await;
    assert_error(&r, protocol::ResponseCode::MESSAGE_ILLEGAL, "retry");
    c.shutdown().await;
}
