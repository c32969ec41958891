//! Server-side rebalance over real TCP: QUERY_ASSIGNMENT answers pull
//! assignments by default and "pop any queue" once SET_MESSAGE_REQUEST_MODE
//! switched the group to POP (saved across a restart), and bad requests get
//! clear errors.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use protocol::body::assignment::{
    MessageRequestMode, MessageRequestModeSerializeWrapper, QueryAssignmentRequestBody,
    QueryAssignmentResponseBody, SetMessageRequestModeRequestBody,
};
use protocol::message::sysflag::perm;
use protocol::{RemotingCommand, RequestCode, ResponseCode};
use testkit::TestCluster;

const TOPIC: &str = "T_ASSIGN";
const CID: &str = "127.0.0.1@assign";

fn query(strategy: &str, client: &str) -> RemotingCommand {
    let body = QueryAssignmentRequestBody {
        topic: TOPIC.into(),
        consumer_group: GROUP.into(),
        client_id: client.into(),
        strategy_name: strategy.into(),
        ..Default::default()
    };
    RemotingCommand::request(RequestCode::QUERY_ASSIGNMENT).with_body(body.to_json_bytes().unwrap())
}

fn set_mode(topic: &str, mode: MessageRequestMode) -> RemotingCommand {
    let body = SetMessageRequestModeRequestBody {
        topic: topic.into(),
        consumer_group: GROUP.into(),
        mode,
        pop_share_queue_num: 0,
    };
    RemotingCommand::request(RequestCode::SET_MESSAGE_REQUEST_MODE)
        .with_body(body.to_json_bytes().unwrap())
}

async fn assignments(c: &TestCluster) -> Vec<(i32, MessageRequestMode)> {
    let r = c.call(query("AVG", CID)).await;
    assert_eq!(r.code, 0, "{:?}", r.remark);
    let mut got: Vec<_> = QueryAssignmentResponseBody::from_json_bytes(&r.body)
        .unwrap()
        .message_queue_assignments
        .into_iter()
        .map(|a| (a.message_queue.queue_id, a.mode))
        .collect();
    got.sort_by_key(|a| a.0);
    got
}

async fn setup() -> TestCluster {
    let c = TestCluster::start().await;
    c.broker
        .state()
        .topics
        .put(broker::topics::topic_config(TOPIC, 4, 4, perm::READ_WRITE));
    heartbeat(&c, &c.client, CID, TOPIC).await;
    c
}

#[tokio::test]
async fn pull_by_default_pop_once_switched_and_kept_across_a_restart() {
    let c = setup().await;
    let pull = MessageRequestMode::Pull;
    assert_eq!(
        assignments(&c).await,
        (0..4).map(|q| (q, pull.clone())).collect::<Vec<_>>()
    );
    let r = c.call(set_mode(TOPIC, MessageRequestMode::Pop)).await;
    assert_eq!(r.code, 0, "{:?}", r.remark);
    assert_eq!(assignments(&c).await, vec![(-1, MessageRequestMode::Pop)]);
    let c = c.restart_broker().await;
    heartbeat(&c, &c.client, CID, TOPIC).await;
    assert_eq!(assignments(&c).await, vec![(-1, MessageRequestMode::Pop)]);
    let r = c
        .call(RemotingCommand::request(
            RequestCode::GET_ALL_MESSAGE_REQUEST_MODE,
        ))
        .await;
    let all = MessageRequestModeSerializeWrapper::from_json_bytes(&r.body).unwrap();
    assert_eq!(
        all.message_request_mode_map[TOPIC][GROUP].mode,
        MessageRequestMode::Pop
    );
    c.shutdown().await;
}

#[tokio::test]
async fn bad_assignment_requests_get_clear_errors() {
    let c = setup().await;
    assert_error(
        &c.call(query("NOPE", CID)).await,
        ResponseCode::INVALID_PARAMETER,
        "NOPE",
    );
    assert_error(
        &c.call(query("AVG", "stranger")).await,
        ResponseCode::CONSUMER_NOT_ONLINE,
        "stranger",
    );
    assert_error(
        &c.call(set_mode("%RETRY%G_TEST", MessageRequestMode::Pop))
            .await,
        ResponseCode::NO_PERMISSION,
        "retry topic",
    );
    let garbage = RemotingCommand::request(RequestCode::SET_MESSAGE_REQUEST_MODE).with_body("{x");
    assert_eq!(
        c.call(garbage).await.code,
        ResponseCode::INVALID_PARAMETER.code()
    );
    let unknown = RemotingCommand::request(RequestCode::SET_MESSAGE_REQUEST_MODE)
        .with_body(r#"{"topic":"T_ASSIGN","consumerGroup":"G_TEST","mode":"PUSH"}"#);
    assert_error(
        &c.call(unknown).await,
        ResponseCode::INVALID_PARAMETER,
        "PUSH",
    );
    c.shutdown().await;
}
