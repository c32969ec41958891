//! Bad input over real TCP: each answered with the right code and a remark
//! naming what was wrong, and nothing stored.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use protocol::header::offset::UpdateConsumerOffsetRequestHeader;
use protocol::{RemotingCommand, RequestCode, ResponseCode};
use testkit::TestCluster;

#[tokio::test]
async fn send_errors() {
    let c = TestCluster::start_with(|b, s| {
        b.auto_create_topic_enable = false;
        s.max_message_size = 1024;
    })
    .await;
    // Unknown topic with auto-creation off.
    let r = c.call(send_v1("T_UNKNOWN", 0, b"x", "")).await;
    assert_error(&r, ResponseCode::TOPIC_NOT_EXIST, "T_UNKNOWN");

    // The broker-name topic exists (brokerTopicEnable) and has one queue.
    let r = c.call(send_v1("broker-a", 5, b"x", "")).await;
    assert_error(&r, ResponseCode::INVALID_PARAMETER, "queueId[5]");

    // Oversized single message and batch item.
    let big = vec![b'x'; 2000];
    let r = c.call(send_v1("broker-a", 0, &big, "")).await;
    assert_error(&r, ResponseCode::MESSAGE_ILLEGAL, "2000");
    let body = batch_body(&[b"ok", &big], "");
    let r = c
        .call(send_batch(
            RequestCode::SEND_BATCH_MESSAGE,
            "broker-a",
            0,
            body,
        ))
        .await;
    assert_error(&r, ResponseCode::MESSAGE_ILLEGAL, "2000");

    // Malformed batch: truncated item.
    let mut body = batch_body(&[b"abc", b"def"], "");
    body.truncate(body.len() - 2);
    let r = c
        .call(send_batch(
            RequestCode::SEND_BATCH_MESSAGE,
            "broker-a",
            0,
            body,
        ))
        .await;
    assert_error(&r, ResponseCode::MESSAGE_ILLEGAL, "malformed batch");

    // Missing required header fields, long and short names.
    let mut cmd = send_v1("broker-a", 0, b"x", "");
    cmd.ext_fields.remove("producerGroup");
    assert_error(
        &c.call(cmd).await,
        ResponseCode::INVALID_PARAMETER,
        "producerGroup",
    );
    let mut cmd = send_v2("broker-a", 0, b"x", "");
    cmd.ext_fields.remove("b");
    assert_error(&c.call(cmd).await, ResponseCode::INVALID_PARAMETER, "`b`");
    let mut cmd = send_v1("broker-a", 0, b"x", "");
    cmd.ext_fields.insert("queueId".into(), "zero".into());
    assert_error(
        &c.call(cmd).await,
        ResponseCode::INVALID_PARAMETER,
        "queueId",
    );

    // System topics refuse sends.
    for topic in [
        "SCHEDULE_TOPIC_XXXX",
        "RMQ_SYS_TRANS_HALF_TOPIC",
        "SELF_TEST_TOPIC",
    ] {
        let r = c.call(send_v1(topic, 0, b"x", "")).await;
        assert_error(&r, ResponseCode::NO_PERMISSION, topic);
    }
    // Bad topic names.
    let r = c.call(send_v1("bad topic", 0, b"x", "")).await;
    assert_error(&r, ResponseCode::INVALID_PARAMETER, "bad topic");

    // None of it was stored.
    let r = max_offset(&c, "broker-a", 0).await;
    let max = r
        .decode_header::<protocol::header::offset::OffsetResponseHeader>()
        .unwrap()
        .offset;
    assert_eq!(max, 0);
    c.shutdown().await;
}

#[tokio::test]
async fn pull_and_offset_errors() {
    let c = TestCluster::start_with(|b, _| b.auto_create_subscription_group = false).await;
    send_ok(&c, send_v1("T_ERR", 0, b"x", "")).await;

    // Unknown group with auto-creation off.
    let r = c.call(pull_cmd(&pull_req("T_ERR", 0, 0, 0))).await;
    assert_error(&r, ResponseCode::SUBSCRIPTION_GROUP_NOT_EXIST, GROUP);

    let group = protocol::body::group::SubscriptionGroupConfig::new(GROUP);
    let r = c
        .call(
            RemotingCommand::request(RequestCode::UPDATE_AND_CREATE_SUBSCRIPTIONGROUP)
                .with_body(group.to_json_bytes().unwrap()),
        )
        .await;
    assert_eq!(r.code, 0);

    let r = c.call(pull_cmd(&pull_req("T_ERR_NONE", 0, 0, 0))).await;
    assert_error(&r, ResponseCode::TOPIC_NOT_EXIST, "T_ERR_NONE");
    let r = c.call(pull_cmd(&pull_req("T_ERR", 9, 0, 0))).await;
    assert_error(&r, ResponseCode::INVALID_PARAMETER, "queueId[9]");
    let r = c.call(pull_cmd(&pull_req("T_ERR", 0, -5, 0))).await;
    assert_error(&r, ResponseCode::INVALID_PARAMETER, "queueOffset");
    let mut cmd = pull_cmd(&pull_req("T_ERR", 0, 0, 0));
    cmd.ext_fields.remove("consumerGroup");
    assert_error(
        &c.call(cmd).await,
        ResponseCode::INVALID_PARAMETER,
        "consumerGroup",
    );

    let r = max_offset(&c, "T_ERR", 7).await;
    assert_error(&r, ResponseCode::INVALID_PARAMETER, "queueId[7]");
    let r = max_offset(&c, "T_ERR_NONE", 0).await;
    assert_error(&r, ResponseCode::TOPIC_NOT_EXIST, "T_ERR_NONE");
    let update = RemotingCommand::request_with_header(
        RequestCode::UPDATE_CONSUMER_OFFSET,
        &UpdateConsumerOffsetRequestHeader {
            consumer_group: GROUP.into(),
            topic: "T_ERR".into(),
            queue_id: 0,
            commit_offset: -2,
        },
    );
    assert_error(
        &c.call(update).await,
        ResponseCode::INVALID_PARAMETER,
        "commitOffset",
    );
    c.shutdown().await;
}

#[tokio::test]
async fn unknown_request_codes_are_not_supported() {
    let c = TestCluster::start().await;
    let r = c.call(RemotingCommand::request_code(99_999)).await;
    assert_error(&r, ResponseCode::REQUEST_CODE_NOT_SUPPORTED, "99999");
    c.shutdown().await;
}
