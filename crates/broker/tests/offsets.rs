//! Offset commands over real TCP: QUERY/UPDATE_CONSUMER_OFFSET,
//! GET_MAX/MIN_OFFSET, GET_EARLIEST_MSG_STORETIME, SEARCH_OFFSET_BY_TIMESTAMP.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::*;
use protocol::header::offset::{
    GetEarliestMsgStoretimeRequestHeader, GetMinOffsetRequestHeader, OffsetResponseHeader,
    QueryConsumerOffsetRequestHeader, SearchOffsetRequestHeader, TimestampResponseHeader,
    UpdateConsumerOffsetRequestHeader,
};
use protocol::{RemotingCommand, RequestCode, ResponseCode};
use testkit::TestCluster;

fn offset_of(r: &RemotingCommand) -> i64 {
    assert_eq!(r.code, 0, "{:?}", r.remark);
    r.decode_header::<OffsetResponseHeader>().unwrap().offset
}

fn query(topic: &str, queue_id: i32, zero: Option<bool>) -> RemotingCommand {
    RemotingCommand::request_with_header(
        RequestCode::QUERY_CONSUMER_OFFSET,
        &QueryConsumerOffsetRequestHeader {
            consumer_group: GROUP.into(),
            topic: topic.into(),
            queue_id,
            set_zero_if_not_found: zero,
        },
    )
}

fn search(topic: &str, timestamp: i64, boundary: Option<&str>) -> RemotingCommand {
    RemotingCommand::request_with_header(
        RequestCode::SEARCH_OFFSET_BY_TIMESTAMP,
        &SearchOffsetRequestHeader {
            topic: topic.into(),
            queue_id: 0,
            timestamp,
            boundary_type: boundary.map(str::to_owned),
        },
    )
}

#[tokio::test]
async fn consumer_offsets_update_and_query() {
    let c = TestCluster::start().await;
    send_ok(&c, send_v1("T_OFF", 0, b"x", "")).await;
    wait_queue(&c, "T_OFF", 0, 1).await;

    // Never committed: QUERY_NOT_FOUND when the caller does not want zero…
    let r = c.call(query("T_OFF", 0, Some(false))).await;
    assert_eq!(
        r.code,
        ResponseCode::QUERY_NOT_FOUND.code(),
        "{:?}",
        r.remark
    );
    // …and 0 for a queue that still holds its first message otherwise.
    assert_eq!(offset_of(&c.call(query("T_OFF", 0, None)).await), 0);

    let update = RemotingCommand::request_with_header(
        RequestCode::UPDATE_CONSUMER_OFFSET,
        &UpdateConsumerOffsetRequestHeader {
            consumer_group: GROUP.into(),
            topic: "T_OFF".into(),
            queue_id: 0,
            commit_offset: 1,
        },
    );
    let r = c.call(update).await;
    assert_eq!(r.code, 0, "{:?}", r.remark);
    assert_eq!(offset_of(&c.call(query("T_OFF", 0, Some(false))).await), 1);

    // Oneway, as clients send it: applied without an answer.
    let oneway = RemotingCommand::request_with_header(
        RequestCode::UPDATE_CONSUMER_OFFSET,
        &UpdateConsumerOffsetRequestHeader {
            consumer_group: GROUP.into(),
            topic: "T_OFF".into(),
            queue_id: 0,
            commit_offset: 0,
        },
    );
    c.client
        .invoke_oneway(&c.broker_addr(), oneway)
        .await
        .unwrap();
    let mut seen = -1;
    for _ in 0..100 {
        seen = offset_of(&c.call(query("T_OFF", 0, Some(false))).await);
        if seen == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(seen, 0, "the oneway update was applied");
    c.shutdown().await;
}

#[tokio::test]
async fn max_min_earliest_and_search_by_time() {
    let c = TestCluster::start().await;
    send_ok(&c, send_v1("T_TIME", 0, b"first", "")).await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    send_ok(&c, send_v1("T_TIME", 0, b"second", "")).await;
    wait_queue(&c, "T_TIME", 0, 2).await;

    assert_eq!(offset_of(&max_offset(&c, "T_TIME", 0).await), 2);
    let min = RemotingCommand::request_with_header(
        RequestCode::GET_MIN_OFFSET,
        &GetMinOffsetRequestHeader {
            topic: "T_TIME".into(),
            queue_id: 0,
        },
    );
    assert_eq!(offset_of(&c.call(min).await), 0);
    // An empty queue of the same topic: max 0.
    assert_eq!(offset_of(&max_offset(&c, "T_TIME", 3).await), 0);

    let earliest = |q| {
        RemotingCommand::request_with_header(
            RequestCode::GET_EARLIEST_MSG_STORETIME,
            &GetEarliestMsgStoretimeRequestHeader {
                topic: "T_TIME".into(),
                queue_id: q,
            },
        )
    };
    let r = c.call(earliest(0)).await;
    assert_eq!(r.code, 0, "{:?}", r.remark);
    let first = r
        .decode_header::<TimestampResponseHeader>()
        .unwrap()
        .timestamp;
    let now = testkit_now();
    assert!(
        first > now - 60_000 && first <= now,
        "store time {first} vs now {now}"
    );
    let r = c.call(earliest(3)).await;
    assert_eq!(
        r.decode_header::<TimestampResponseHeader>()
            .unwrap()
            .timestamp,
        -1
    );

    assert_eq!(offset_of(&c.call(search("T_TIME", 0, None)).await), 0);
    assert_eq!(offset_of(&c.call(search("T_TIME", first, None)).await), 0);
    assert_eq!(
        offset_of(&c.call(search("T_TIME", first + 1, Some("LOWER"))).await),
        1
    );
    assert_eq!(
        offset_of(&c.call(search("T_TIME", first + 1, Some("UPPER"))).await),
        0
    );
    assert_eq!(
        offset_of(&c.call(search("T_TIME", i64::MAX / 2, None)).await),
        2
    );
    assert_eq!(
        offset_of(&c.call(search("T_TIME", i64::MAX / 2, Some("upper"))).await),
        1
    );
    let r = c.call(search("T_TIME", 0, Some("MIDDLE"))).await;
    assert_error(&r, ResponseCode::INVALID_PARAMETER, "boundaryType");
    c.shutdown().await;
}
