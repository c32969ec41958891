//! Admin changes survive a restart: topics, groups and offsets are persisted
//! at shutdown and loaded at start.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use broker::{Broker, BrokerConfig};
use common::GROUP;
use protocol::body::group::SubscriptionGroupConfig;
use protocol::body::topic::TopicConfig;
use protocol::header::admin::{
    CreateTopicRequestHeader, DeleteTopicRequestHeader, GetSubscriptionGroupConfigRequestHeader,
    GetTopicConfigRequestHeader,
};
use protocol::header::offset::{
    OffsetResponseHeader, QueryConsumerOffsetRequestHeader, UpdateConsumerOffsetRequestHeader,
};
use protocol::{RemotingCommand, RequestCode, ResponseCode};
use remoting::{ClientConfig, RemotingClient};

async fn start(dir: &std::path::Path) -> Broker {
    let listen = SocketAddr::from(([127, 0, 0, 1], 0));
    Broker::start(BrokerConfig::default(), testkit::small_store(dir), listen)
        .await
        .unwrap()
}

async fn call(client: &RemotingClient, b: &Broker, cmd: RemotingCommand) -> RemotingCommand {
    client
        .invoke(b.advertised_addr(), cmd, Duration::from_secs(5))
        .await
        .unwrap()
}

fn get_topic(topic: &str) -> RemotingCommand {
    RemotingCommand::request_with_header(
        RequestCode::GET_TOPIC_CONFIG,
        &GetTopicConfigRequestHeader {
            topic: topic.into(),
            lo: None,
        },
    )
}

#[tokio::test]
async fn topics_groups_and_offsets_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let client = RemotingClient::new(ClientConfig::default(), None);
    let b = start(dir.path()).await;
    for (topic, queues) in [("T_KEEP", 3), ("T_GONE", 2)] {
        let create = RemotingCommand::request_with_header(
            RequestCode::UPDATE_AND_CREATE_TOPIC,
            &CreateTopicRequestHeader {
                topic: topic.into(),
                read_queue_nums: queues,
                write_queue_nums: queues,
                perm: 6,
                ..CreateTopicRequestHeader::default()
            },
        );
        assert_eq!(call(&client, &b, create).await.code, 0);
    }
    let delete = RemotingCommand::request_with_header(
        RequestCode::DELETE_TOPIC_IN_BROKER,
        &DeleteTopicRequestHeader {
            topic: "T_GONE".into(),
        },
    );
    assert_eq!(call(&client, &b, delete).await.code, 0);
    let mut g = SubscriptionGroupConfig::new("G_KEEP");
    g.retry_max_times = 2;
    let create = RemotingCommand::request(RequestCode::UPDATE_AND_CREATE_SUBSCRIPTIONGROUP)
        .with_body(g.to_json_bytes().unwrap());
    assert_eq!(call(&client, &b, create).await.code, 0);
    let commit = RemotingCommand::request_with_header(
        RequestCode::UPDATE_CONSUMER_OFFSET,
        &UpdateConsumerOffsetRequestHeader {
            consumer_group: GROUP.into(),
            topic: "T_KEEP".into(),
            queue_id: 2,
            commit_offset: 42,
        },
    );
    assert_eq!(call(&client, &b, commit).await.code, 0);
    client.close(b.advertised_addr());
    b.shutdown().await;

    let b = start(dir.path()).await;
    let r = call(&client, &b, get_topic("T_KEEP")).await;
    assert_eq!(r.code, 0, "{:?}", r.remark);
    assert_eq!(TopicConfig::decode(&r.body).unwrap().write_queue_nums, 3);
    let r = call(&client, &b, get_topic("T_GONE")).await;
    assert_eq!(r.code, ResponseCode::TOPIC_NOT_EXIST.code());
    let get = RemotingCommand::request_with_header(
        RequestCode::GET_SUBSCRIPTIONGROUP_CONFIG,
        &GetSubscriptionGroupConfigRequestHeader {
            group: "G_KEEP".into(),
        },
    );
    let r = call(&client, &b, get).await;
    assert_eq!(r.code, 0, "{:?}", r.remark);
    assert_eq!(
        SubscriptionGroupConfig::from_json_bytes(&r.body)
            .unwrap()
            .retry_max_times,
        2
    );
    let query = RemotingCommand::request_with_header(
        RequestCode::QUERY_CONSUMER_OFFSET,
        &QueryConsumerOffsetRequestHeader {
            consumer_group: GROUP.into(),
            topic: "T_KEEP".into(),
            queue_id: 2,
            set_zero_if_not_found: Some(false),
        },
    );
    let r = call(&client, &b, query).await;
    assert_eq!(
        r.decode_header::<OffsetResponseHeader>().unwrap().offset,
        42
    );
    client.shutdown().await;
    b.shutdown().await;
}

fn max_offset_request(topic: &str, queue_id: i32) -> RemotingCommand {
    RemotingCommand::request_with_header(
        RequestCode::GET_MAX_OFFSET,
        &protocol::header::offset::GetMaxOffsetRequestHeader {
            topic: topic.into(),
            queue_id,
            ..Default::default()
        },
    )
}

/// The saved copy of a metadata file under the store's `config/`.
fn saved(dir: &std::path::Path, name: &str) -> String {
    std::fs::read_to_string(dir.join("config").join(name)).unwrap_or_default()
}

/// A crash right after an answer must not lose what it created: topics
/// (by an admin, or a dead-letter topic made by a send-back), groups
/// (by an admin, or auto-created by a send-back) and an
/// offset reset are on disk when answered, not only after the periodic
/// save (`flushConsumerOffsetInterval`, 5 s). Regression test for topics
/// and resets lost by a `kill -9` within that period.
#[tokio::test]
async fn topics_and_offset_resets_are_saved_before_the_answer() {
    use protocol::header::consumer::ConsumerSendMsgBackRequestHeader;
    use protocol::header::offset::ResetOffsetRequestHeader;
    use protocol::header::send::SendMessageResponseHeader;

    let dir = tempfile::tempdir().unwrap();
    let client = RemotingClient::new(ClientConfig::default(), None);
    let b = start(dir.path()).await;
    let create = RemotingCommand::request_with_header(
        RequestCode::UPDATE_AND_CREATE_TOPIC,
        &CreateTopicRequestHeader {
            topic: "T_SAVED".into(),
            read_queue_nums: 2,
            write_queue_nums: 2,
            perm: 6,
            ..CreateTopicRequestHeader::default()
        },
    );
    assert_eq!(call(&client, &b, create).await.code, 0);
    assert!(saved(dir.path(), "topics.json").contains("\"T_SAVED\""));
    let mut g = SubscriptionGroupConfig::new("G_ADMIN_SAVED");
    g.retry_max_times = 3;
    let create = RemotingCommand::request(RequestCode::UPDATE_AND_CREATE_SUBSCRIPTIONGROUP)
        .with_body(g.to_json_bytes().unwrap());
    assert_eq!(call(&client, &b, create).await.code, 0);
    assert!(saved(dir.path(), "subscriptionGroup.json").contains("\"G_ADMIN_SAVED\""));

    // A message whose consumer gives up at once goes to a new DLQ topic.
    let send = common::send_v1("T_SAVED", 0, b"dead", &common::props("", ""));
    let r = call(&client, &b, send).await;
    assert_eq!(r.code, 0, "{:?}", r.remark);
    let h: SendMessageResponseHeader = r.decode_header().unwrap();
    let (_, phys) = protocol::message::msgid::decode_offset_msg_id(&h.msg_id).unwrap();
    let back = RemotingCommand::request_with_header(
        RequestCode::CONSUMER_SEND_MSG_BACK,
        &ConsumerSendMsgBackRequestHeader {
            offset: phys,
            group: "G_SAVED".into(),
            delay_level: -1,
            origin_msg_id: Some(h.msg_id.clone()),
            origin_topic: Some("T_SAVED".into()),
            unit_mode: None,
            max_reconsume_times: Some(1),
        },
    );
    let r = call(&client, &b, back).await;
    assert_eq!(r.code, 0, "{:?}", r.remark);
    assert!(saved(dir.path(), "topics.json").contains("\"%DLQ%G_SAVED\""));
    assert!(saved(dir.path(), "subscriptionGroup.json").contains("\"G_SAVED\""));

    // The reset target is clamped to the queue's end: wait until the
    // message is in the consume queue (dispatch follows the append).
    for _ in 0..300 {
        let r = call(&client, &b, max_offset_request("T_SAVED", 0)).await;
        if r.code == 0 && r.field("offset") == Some("1") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let reset = RemotingCommand::request_with_header(
        RequestCode::INVOKE_BROKER_TO_RESET_OFFSET,
        &ResetOffsetRequestHeader {
            topic: "T_SAVED".into(),
            group: "G_SAVED".into(),
            queue_id: Some(0),
            offset: Some(1),
            timestamp: 0,
            is_force: true,
        },
    );
    // No member online: the broker says so but keeps the new offset.
    let r = call(&client, &b, reset).await;
    assert_eq!(r.code, ResponseCode::CONSUMER_NOT_ONLINE.code());
    let offsets = saved(dir.path(), "consumerOffset.json");
    assert!(offsets.contains("\"T_SAVED@G_SAVED\":{0:1}"), "{offsets}");
    client.shutdown().await;
    b.shutdown().await;
}
