//! Client membership over real TCP: HEART_BEAT, GET_CONSUMER_LIST_BY_GROUP,
//! GET_CONSUMER_CONNECTION_LIST, NOTIFY_CONSUMER_IDS_CHANGED pushed to the
//! members when a consumer joins, leaves or disconnects, UNREGISTER_CLIENT.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use protocol::body::consumer::{ConsumerConnection, ConsumerList};
use protocol::header::consumer::{
    GetConsumerConnectionListRequestHeader, GetConsumerListByGroupRequestHeader,
    NotifyConsumerIdsChangedRequestHeader, UnregisterClientRequestHeader,
};
use protocol::{RemotingCommand, RequestCode, ResponseCode};
use testkit::TestCluster;

fn consumer_list() -> RemotingCommand {
    RemotingCommand::request_with_header(
        RequestCode::GET_CONSUMER_LIST_BY_GROUP,
        &GetConsumerListByGroupRequestHeader {
            consumer_group: GROUP.into(),
        },
    )
}

async fn member_ids(c: &TestCluster) -> Vec<String> {
    let r = c.call(consumer_list()).await;
    assert_eq!(r.code, 0, "{:?}", r.remark);
    ConsumerList::from_json_bytes(&r.body)
        .unwrap()
        .consumer_id_list
}

#[tokio::test]
async fn heartbeats_join_the_group_and_members_are_notified() {
    let c = TestCluster::start().await;
    // Before anyone joins: no consumer.
    let r = c.call(consumer_list()).await;
    assert_error(&r, ResponseCode::SYSTEM_ERROR, GROUP);

    let (first, mut first_rx) = recording_client();
    heartbeat(&c, &first, "10.0.0.1@1", "T_CLIENTS").await;
    assert_eq!(member_ids(&c).await, vec!["10.0.0.1@1"]);
    // The first member is told about its own arrival too.
    let n = next_push(&mut first_rx, RequestCode::NOTIFY_CONSUMER_IDS_CHANGED).await;
    let h: NotifyConsumerIdsChangedRequestHeader = n.decode_header().unwrap();
    assert_eq!(h.consumer_group, GROUP);

    let (second, mut second_rx) = recording_client();
    heartbeat(&c, &second, "10.0.0.2@2", "T_CLIENTS").await;
    assert_eq!(member_ids(&c).await, vec!["10.0.0.1@1", "10.0.0.2@2"]);
    let n = next_push(&mut first_rx, RequestCode::NOTIFY_CONSUMER_IDS_CHANGED).await;
    assert!(n.is_oneway(), "the notification is oneway");
    next_push(&mut second_rx, RequestCode::NOTIFY_CONSUMER_IDS_CHANGED).await;

    // A repeated heartbeat is not a membership change.
    heartbeat(&c, &second, "10.0.0.2@2", "T_CLIENTS").await;
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert!(
        first_rx.try_recv().is_err(),
        "no notification for a known member"
    );

    // The heartbeat registered the subscription and the retry topic.
    let r = c
        .call(RemotingCommand::request_with_header(
            RequestCode::GET_CONSUMER_CONNECTION_LIST,
            &GetConsumerConnectionListRequestHeader {
                consumer_group: GROUP.into(),
            },
        ))
        .await;
    assert_eq!(r.code, 0, "{:?}", r.remark);
    let conns = ConsumerConnection::from_json_bytes(&r.body).unwrap();
    assert_eq!(conns.connection_set.len(), 2);
    assert!(conns.subscription_table.contains_key("T_CLIENTS"));

    // The second leaves by UNREGISTER_CLIENT: the first hears of it.
    let unregister = RemotingCommand::request_with_header(
        RequestCode::UNREGISTER_CLIENT,
        &UnregisterClientRequestHeader {
            client_id: "10.0.0.2@2".into(),
            producer_group: None,
            consumer_group: Some(GROUP.into()),
        },
    );
    let r = c.call(unregister).await;
    assert_eq!(r.code, 0, "{:?}", r.remark);
    assert_eq!(member_ids(&c).await, vec!["10.0.0.1@1"]);
    next_push(&mut first_rx, RequestCode::NOTIFY_CONSUMER_IDS_CHANGED).await;

    // The second joins again, then its connection closes.
    heartbeat(&c, &second, "10.0.0.2@2", "T_CLIENTS").await;
    next_push(&mut first_rx, RequestCode::NOTIFY_CONSUMER_IDS_CHANGED).await;
    second.shutdown().await;
    next_push(&mut first_rx, RequestCode::NOTIFY_CONSUMER_IDS_CHANGED).await;
    assert_eq!(member_ids(&c).await, vec!["10.0.0.1@1"]);

    // An unknown group has no connections.
    let r = c
        .call(RemotingCommand::request_with_header(
            RequestCode::GET_CONSUMER_CONNECTION_LIST,
            &GetConsumerConnectionListRequestHeader {
                consumer_group: "G_NOBODY".into(),
            },
        ))
        .await;
    assert_error(&r, ResponseCode::CONSUMER_NOT_ONLINE, "G_NOBODY");
    first.shutdown().await;
    c.shutdown().await;
}

#[tokio::test]
async fn malformed_heartbeat_is_refused() {
    let c = TestCluster::start().await;
    let r = c
        .call(RemotingCommand::request(RequestCode::HEART_BEAT).with_body(&b"{not json"[..]))
        .await;
    assert_eq!(
        r.code,
        ResponseCode::INVALID_PARAMETER.code(),
        "{:?}",
        r.remark
    );
    c.shutdown().await;
}

#[tokio::test]
async fn check_client_config_compiles_sql92_subscriptions() {
    use protocol::body::check_client::CheckClientRequestBody;
    use protocol::body::heartbeat::SubscriptionData;
    let c = TestCluster::start().await;
    let check = |kind: &str, expr: &str| {
        let body = CheckClientRequestBody {
            client_id: "10.0.0.1@1".into(),
            group: GROUP.into(),
            namespace: None,
            subscription_data: Some(SubscriptionData {
                topic: "T_SQL".into(),
                expression_type: kind.into(),
                sub_string: expr.into(),
                ..SubscriptionData::default()
            }),
        };
        RemotingCommand::request(RequestCode::CHECK_CLIENT_CONFIG)
            .with_body(body.to_json_bytes().unwrap())
    };
    assert_eq!(c.call(check("TAG", "A || B")).await.code, 0);
    let r = c.call(check("SQL92", "a > 5 AND b = 'x'")).await;
    assert_eq!(r.code, 0, "{:?}", r.remark);
    let r = c.call(check("SQL92", "a >")).await;
    assert_error(&r, ResponseCode::SUBSCRIPTION_PARSE_FAILED, "a >");
    c.shutdown().await;
}
