//! Message lookups over real TCP: VIEW_MESSAGE_BY_ID (by commit-log offset)
//! and QUERY_MESSAGE by key and by unique key.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::*;
use protocol::header::query::{QueryMessageRequestHeader, ViewMessageRequestHeader};
use protocol::header::send::SendMessageResponseHeader;
use protocol::message::decode_offset_msg_id;
use protocol::{RemotingCommand, RequestCode, ResponseCode};
use testkit::TestCluster;

fn query(key: &str, unique: bool) -> RemotingCommand {
    RemotingCommand::request_with_header(
        RequestCode::QUERY_MESSAGE,
        &QueryMessageRequestHeader {
            topic: "T_QUERY".into(),
            key: key.into(),
            max_num: 32,
            begin_timestamp: 0,
            end_timestamp: i64::MAX,
            unique_key_query: unique.then_some(true),
        },
    )
}

/// Queries until the index has the key (it is built just after the append).
async fn query_found(c: &TestCluster, key: &str, unique: bool) -> Vec<Vec<u8>> {
    for _ in 0..200 {
        let r = c.call(query(key, unique)).await;
        if r.code == 0 {
            return bodies(&r.body);
        }
        assert_eq!(
            r.code,
            ResponseCode::QUERY_NOT_FOUND.code(),
            "{:?}",
            r.remark
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("key {key} never found");
}

#[tokio::test]
async fn view_by_offset_id_and_query_by_keys() {
    let c = TestCluster::start().await;
    let r = send_ok(
        &c,
        send_v1("T_QUERY", 0, b"alpha", &props("", "order-1 order-2")),
    )
    .await;
    let alpha: SendMessageResponseHeader = r.decode_header().unwrap();
    let r = send_ok(&c, send_v1("T_QUERY", 0, b"beta", &props("", "order-2"))).await;
    let beta: SendMessageResponseHeader = r.decode_header().unwrap();

    // VIEW_MESSAGE_BY_ID: the offset message id names the record.
    let (_, phys) = decode_offset_msg_id(&beta.msg_id).unwrap();
    let view = |offset| {
        RemotingCommand::request_with_header(
            RequestCode::VIEW_MESSAGE_BY_ID,
            &ViewMessageRequestHeader {
                offset,
                topic: None,
            },
        )
    };
    let r = c.call(view(phys)).await;
    assert_eq!(r.code, 0, "{:?}", r.remark);
    assert_eq!(bodies(&r.body), vec![b"beta".to_vec()]);
    let r = c.call(view(1 << 40)).await;
    assert_error(&r, ResponseCode::SYSTEM_ERROR, "offset");
    let r = c.call(view(-1)).await;
    assert_error(&r, ResponseCode::INVALID_PARAMETER, "negative");

    // QUERY_MESSAGE by business key: each key of KEYS is indexed.
    assert_eq!(
        query_found(&c, "order-1", false).await,
        vec![b"alpha".to_vec()]
    );
    let mut both = query_found(&c, "order-2", false).await;
    both.sort();
    assert_eq!(both, vec![b"alpha".to_vec(), b"beta".to_vec()]);
    // By unique key (the transactionId the send answered).
    let uniq = alpha.transaction_id.unwrap();
    assert_eq!(query_found(&c, &uniq, true).await, vec![b"alpha".to_vec()]);

    let r = c.call(query("no-such-key", false)).await;
    assert_error(&r, ResponseCode::QUERY_NOT_FOUND, "no-such-key");
    c.shutdown().await;
}
