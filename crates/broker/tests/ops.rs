//! Operations requests over real TCP: live config updates, producer
//! connections, relaying requests to a named consumer, broker-wide consume
//! stats, consume-queue views, stats windows, offset cloning and manual
//! cleaning.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use protocol::body::heartbeat::{HeartbeatData, ProducerData};
use protocol::body::kv::KvTable;
use protocol::body::ops::{
    ConsumeStatsList, ProducerConnection, ProducerTableInfo, QueryConsumeQueueResponseBody,
};
use protocol::header::consumer::GetConsumerRunningInfoRequestHeader;
use protocol::header::offset::UpdateConsumerOffsetRequestHeader;
use protocol::header::ops::{
    CloneGroupOffsetRequestHeader, ConsumeMessageDirectlyResultRequestHeader,
    GetConsumeStatsInBrokerHeader, GetProducerConnectionListRequestHeader,
    QueryConsumeQueueRequestHeader, ViewBrokerStatsDataRequestHeader,
};
use protocol::header::send::SendMessageResponseHeader;
use protocol::{RemotingCommand, RequestCode, ResponseCode};
use remoting::{BoxFuture, ClientConfig, Connection, Processor, RemotingClient};
use testkit::TestCluster;

fn req<H: protocol::CommandHeader>(code: RequestCode, h: &H) -> RemotingCommand {
    RemotingCommand::request_with_header(code, h)
}

async fn update_config(c: &TestCluster, body: &str) -> RemotingCommand {
    c.call(
        RemotingCommand::request(RequestCode::UPDATE_BROKER_CONFIG)
            .with_body(body.as_bytes().to_vec()),
    )
    .await
}

async fn broker_config(c: &TestCluster) -> String {
    let r = c
        .call(RemotingCommand::request(RequestCode::GET_BROKER_CONFIG))
        .await;
    String::from_utf8(r.body.to_vec()).unwrap()
}

#[tokio::test]
async fn update_broker_config_applies_live_keys_and_refuses_bad_ones() {
    let c = TestCluster::start().await;
    send_ok(&c, send_v2("OpsLive", 0, b"before", "")).await;

    let r = update_config(&c, "brokerPermission=4\nfileReservedTime=24\n").await;
    assert_eq!(r.code, 0, "{:?}", r.remark);
    let remark = r.remark.unwrap();
    assert!(
        remark.contains("applied now: brokerPermission")
            && remark.contains("after a restart: fileReservedTime"),
        "{remark}"
    );
    let config = broker_config(&c).await;
    assert!(config.contains("brokerPermission=4\n"), "{config}");
    assert!(config.contains("fileReservedTime=24\n"), "{config}");
    // Read-only now: sends are refused at once.
    let r = c.call(send_v2("OpsLive", 0, b"after", "")).await;
    assert_error(&r, ResponseCode::NO_PERMISSION, "");

    for (body, named) in [
        ("brokerPermission=6\nnoSuchKey=1", "noSuchKey"),
        ("brokerPermission=abc", "brokerPermission"),
        ("storePathRootDir=/tmp/x", "storePathRootDir"),
        ("just words", "just words"),
    ] {
        let r = update_config(&c, body).await;
        assert_error(&r, ResponseCode::INVALID_PARAMETER, named);
    }
    let config = broker_config(&c).await;
    assert!(
        config.contains("brokerPermission=4\n"),
        "unchanged: {config}"
    );
    let r = update_config(&c, "brokerPermission=6").await;
    assert_eq!(r.code, 0, "{:?}", r.remark);
    send_ok(&c, send_v2("OpsLive", 0, b"again", "")).await;
    c.shutdown().await;
}

#[tokio::test]
async fn producers_are_listed_per_group_and_in_all() {
    let c = TestCluster::start().await;
    let client = RemotingClient::new(ClientConfig::default(), None);
    let hb = HeartbeatData {
        client_id: "10.0.0.9@p1".into(),
        producer_data_set: vec![ProducerData {
            group_name: "PG_OPS".into(),
        }],
        ..HeartbeatData::default()
    };
    let r = client
        .invoke(
            &c.broker_addr(),
            RemotingCommand::request(RequestCode::HEART_BEAT)
                .with_body(hb.to_json_bytes().unwrap()),
            Duration::from_secs(5),
        )
        .await
        .unwrap();
    assert_eq!(r.code, 0);
    let list = |g: &str| {
        req(
            RequestCode::GET_PRODUCER_CONNECTION_LIST,
            &GetProducerConnectionListRequestHeader {
                producer_group: g.into(),
            },
        )
    };
    let r = c.call(list("PG_OPS")).await;
    assert_eq!(r.code, 0, "{:?}", r.remark);
    let conns = ProducerConnection::from_json_bytes(&r.body).unwrap();
    assert_eq!(conns.connection_set.len(), 1);
    assert_eq!(conns.connection_set[0].client_id, "10.0.0.9@p1");
    let r = c.call(list("PG_NONE")).await;
    assert_error(&r, ResponseCode::SYSTEM_ERROR, "PG_NONE");
    let r = c
        .call(RemotingCommand::request(RequestCode::GET_ALL_PRODUCER_INFO))
        .await;
    let all = ProducerTableInfo::from_json_bytes(&r.body).unwrap();
    assert_eq!(all.data["PG_OPS"][0].client_id, "10.0.0.9@p1");
    assert!(all.data["PG_OPS"][0].last_update_timestamp > 0);
    client.shutdown().await;
    c.shutdown().await;
}

/// A consumer that answers running-info and direct-consume requests.
struct Answering;

impl Processor for Answering {
    fn process(
        &self,
        _conn: Connection,
        request: RemotingCommand,
    ) -> BoxFuture<Option<RemotingCommand>> {
        let answer = if request.code == RequestCode::GET_CONSUMER_RUNNING_INFO.code() {
            RemotingCommand::success().with_body(br#"{"properties":{"x":"1"}}"#.to_vec())
        } else {
            // Echo the length of the message the broker attached.
            let mut r = RemotingCommand::success();
            r.remark = Some(format!("got {} bytes", request.body.len()));
            r
        };
        Box::pin(async move { Some(answer) })
    }
}

#[tokio::test]
async fn running_info_and_direct_consume_reach_the_named_client() {
    let c = TestCluster::start().await;
    let sent = send_ok(&c, send_v2("OpsRelay", 0, b"direct", "")).await;
    let msg_id = sent
        .decode_header::<SendMessageResponseHeader>()
        .unwrap()
        .msg_id;
    let client = RemotingClient::new(ClientConfig::default(), Some(Arc::new(Answering)));
    heartbeat(&c, &client, "cid-1", "OpsRelay").await;

    let info = |client_id: &str| {
        req(
            RequestCode::GET_CONSUMER_RUNNING_INFO,
            &GetConsumerRunningInfoRequestHeader {
                consumer_group: GROUP.into(),
                client_id: client_id.into(),
                jstack_enable: Some(false),
            },
        )
    };
    let r = c.call(info("cid-1")).await;
    assert_eq!(r.code, 0, "{:?}", r.remark);
    assert_eq!(&r.body[..], br#"{"properties":{"x":"1"}}"#);
    let r = c.call(info("cid-2")).await;
    assert_error(&r, ResponseCode::SYSTEM_ERROR, "not online");

    let direct = |id: &str| {
        req(
            RequestCode::CONSUME_MESSAGE_DIRECTLY,
            &ConsumeMessageDirectlyResultRequestHeader {
                consumer_group: GROUP.into(),
                client_id: Some("cid-1".into()),
                msg_id: Some(id.into()),
                ..Default::default()
            },
        )
    };
    let r = c.call(direct(&msg_id)).await;
    assert_eq!(r.code, 0, "{:?}", r.remark);
    let got = r.remark.unwrap();
    assert!(
        got.starts_with("got ") && !got.starts_with("got 0 "),
        "{got}"
    );
    let r = c.call(direct("nonsense")).await;
    assert_error(&r, ResponseCode::INVALID_PARAMETER, "nonsense");
    client.shutdown().await;
    c.shutdown().await;
}

/// A cluster with three messages in OpsView queue 0 and group G_VIEW
/// (in the subscription table) committed at offset 1.
async fn viewed_cluster() -> TestCluster {
    let c = TestCluster::start().await;
    for i in 0..3 {
        let body = format!("m{i}");
        send_ok(
            &c,
            send_v2("OpsView", 0, body.as_bytes(), &props("TagA", "")),
        )
        .await;
    }
    wait_queue(&c, "OpsView", 0, 3).await;
    let commit = req(
        RequestCode::UPDATE_CONSUMER_OFFSET,
        &UpdateConsumerOffsetRequestHeader {
            consumer_group: "G_VIEW".into(),
            topic: "OpsView".into(),
            queue_id: 0,
            commit_offset: 1,
        },
    );
    assert_eq!(c.call(commit).await.code, 0);
    let group = protocol::body::group::SubscriptionGroupConfig {
        group_name: "G_VIEW".into(),
        ..Default::default()
    };
    let create = RemotingCommand::request(RequestCode::UPDATE_AND_CREATE_SUBSCRIPTIONGROUP)
        .with_body(group.to_json_bytes().unwrap());
    let r = c.call(create).await;
    assert_eq!(r.code, 0, "{:?}", r.remark);
    c
}

#[tokio::test]
async fn broker_consume_stats_and_consume_queue_views() {
    let c = viewed_cluster().await;
    let stats = req(
        RequestCode::GET_BROKER_CONSUME_STATS,
        &GetConsumeStatsInBrokerHeader { is_order: None },
    );
    let list = ConsumeStatsList::from_json_bytes(&c.call(stats).await.body).unwrap();
    let (_, stats) = list.groups.iter().find(|(g, _)| g == "G_VIEW").unwrap();
    assert_eq!(stats.len(), 1);
    assert!(list.total_diff >= 2, "{list:?}");

    let cq = |index: i64, count: i32| {
        req(
            RequestCode::QUERY_CONSUME_QUEUE,
            &QueryConsumeQueueRequestHeader {
                topic: "OpsView".into(),
                queue_id: 0,
                index,
                count,
                consumer_group: None,
            },
        )
    };
    let r = c.call(cq(1, 10)).await;
    let body = QueryConsumeQueueResponseBody::from_json_bytes(&r.body).unwrap();
    assert_eq!((body.min_queue_index, body.max_queue_index), (0, 3));
    assert_eq!(body.queue_data.len(), 2);
    assert!(body.queue_data[1].physic_offset > body.queue_data[0].physic_offset);
    let r = c.call(cq(0, 0)).await;
    assert_error(&r, ResponseCode::INVALID_PARAMETER, "count");
    c.shutdown().await;
}

#[tokio::test]
async fn stats_windows_rates_and_offset_cloning() {
    let c = viewed_cluster().await;
    let view = |name: &str, key: &str| {
        req(
            RequestCode::VIEW_BROKER_STATS_DATA,
            &ViewBrokerStatsDataRequestHeader {
                stats_name: name.into(),
                stats_key: key.into(),
            },
        )
    };
    assert_eq!(c.call(view("TOPIC_PUT_NUMS", "OpsView")).await.code, 0);
    let r = c.call(view("TOPIC_PUT_NUMS", "Nope")).await;
    assert_error(&r, ResponseCode::SYSTEM_ERROR, "Nope");
    let r = c.call(view("BAD", "x")).await;
    assert_error(&r, ResponseCode::INVALID_PARAMETER, "BAD");

    let clone = req(
        RequestCode::CLONE_GROUP_OFFSET,
        &CloneGroupOffsetRequestHeader {
            src_group: "G_VIEW".into(),
            dest_group: "G_COPY".into(),
            topic: Some("OpsView".into()),
            offline: Some(true),
        },
    );
    assert_eq!(c.call(clone).await.code, 0);
    let all = RemotingCommand::request(RequestCode::GET_ALL_CONSUMER_OFFSET);
    let text = String::from_utf8_lossy(&c.call(all).await.body).into_owned();
    assert!(text.contains("OpsView@G_COPY"), "{text}");

    let info = RemotingCommand::request(RequestCode::GET_BROKER_RUNTIME_INFO);
    let table = KvTable::decode(&c.call(info).await.body).unwrap().table;
    assert_eq!(table["putTps"].split(' ').count(), 3, "{table:?}");
    c.shutdown().await;
}

#[tokio::test]
async fn cleaning_requests_run_and_report() {
    let c = TestCluster::start().await;
    send_ok(&c, send_v2("OpsGone", 0, b"x", "")).await;
    wait_queue(&c, "OpsGone", 0, 1).await;
    // A topic whose config is gone but whose queues are still on disk.
    c.broker.state().topics.remove("OpsGone");
    let r = c
        .call(RemotingCommand::request(RequestCode::CLEAN_UNUSED_TOPIC))
        .await;
    assert_eq!(r.code, 0, "{:?}", r.remark);
    assert!(
        r.remark.as_deref().unwrap().contains("OpsGone"),
        "{:?}",
        r.remark
    );
    assert!(!c
        .broker
        .state()
        .store
        .queue_topics()
        .contains(&"OpsGone".to_owned()));
    for code in [
        RequestCode::CLEAN_EXPIRED_CONSUMEQUEUE,
        RequestCode::DELETE_EXPIRED_COMMITLOG,
    ] {
        let r = c.call(RemotingCommand::request(code)).await;
        assert_eq!(r.code, 0, "{:?}", r.remark);
        assert!(r.remark.is_some());
    }
    c.shutdown().await;
}

#[tokio::test]
async fn topic_and_group_tables_page_in_5x_style() {
    use protocol::body::group::SubscriptionGroupWrapper;
    use protocol::body::topic::TopicConfigSerializeWrapper;
    use protocol::header::admin::GetAllTopicConfigRequestHeader;
    use protocol::header::ops::{
        GetAllSubscriptionGroupRequestHeader, GetAllSubscriptionGroupResponseHeader,
        GetAllTopicConfigResponseHeader,
    };
    let c = TestCluster::start().await;
    for t in ["PageA", "PageB", "PageC"] {
        send_ok(&c, send_v2(t, 0, b"x", "")).await;
    }
    let whole = c
        .call(RemotingCommand::request(RequestCode::GET_ALL_TOPIC_CONFIG))
        .await;
    let all = TopicConfigSerializeWrapper::decode(&whole.body).unwrap();
    let total = all.topic_config_table.len();
    assert!(total >= 3);
    let mut seen = Vec::new();
    let mut seq = 0;
    while seen.len() < total {
        let r = c
            .call(req(
                RequestCode::GET_ALL_TOPIC_CONFIG,
                &GetAllTopicConfigRequestHeader {
                    topic_seq: Some(seq),
                    data_version: None,
                    max_topic_num: Some(2),
                },
            ))
            .await;
        let h: GetAllTopicConfigResponseHeader = r.decode_header().unwrap();
        assert_eq!(h.total_topic_num as usize, total);
        let page = TopicConfigSerializeWrapper::decode(&r.body).unwrap();
        assert!(!page.topic_config_table.is_empty() && page.topic_config_table.len() <= 2);
        seq += page.topic_config_table.len() as i32;
        seen.extend(page.topic_config_table.into_keys());
    }
    let expected: Vec<String> = all.topic_config_table.into_keys().collect();
    assert_eq!(seen, expected);
    let bad = req(
        RequestCode::GET_ALL_TOPIC_CONFIG,
        &GetAllTopicConfigRequestHeader {
            topic_seq: Some(0),
            data_version: None,
            max_topic_num: Some(0),
        },
    );
    assert_error(
        &c.call(bad).await,
        ResponseCode::INVALID_PARAMETER,
        "maxTopicNum",
    );

    for g in ["PageG1", "PageG2"] {
        let config = protocol::body::group::SubscriptionGroupConfig {
            group_name: g.into(),
            ..Default::default()
        };
        let create = RemotingCommand::request(RequestCode::UPDATE_AND_CREATE_SUBSCRIPTIONGROUP)
            .with_body(config.to_json_bytes().unwrap());
        assert_eq!(c.call(create).await.code, 0);
    }
    let r = c
        .call(req(
            RequestCode::GET_ALL_SUBSCRIPTIONGROUP_CONFIG,
            &GetAllSubscriptionGroupRequestHeader {
                group_seq: Some(0),
                data_version: None,
                max_group_num: Some(1),
            },
        ))
        .await;
    let h: GetAllSubscriptionGroupResponseHeader = r.decode_header().unwrap();
    let page: SubscriptionGroupWrapper = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(page.subscription_group_table.len(), 1);
    assert!(h.total_group_num >= 2);
    c.shutdown().await;
}
