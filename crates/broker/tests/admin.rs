//! Admin requests over real TCP: topic create/update/delete and listings,
//! subscription groups, runtime info, broker config, topic and consume
//! stats, consumer offsets, consume-by-who, and resetting offsets.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::*;
use protocol::body::consumer::ConsumeStats;
use protocol::body::group::{
    ConsumerOffsetSerializeWrapper, SubscriptionGroupConfig, SubscriptionGroupWrapper,
};
use protocol::body::kv::KvTable;
use protocol::body::reset_offset::ResetOffsetBody;
use protocol::body::route::TopicRouteData;
use protocol::body::stats::TopicStatsTable;
use protocol::body::topic::{TopicConfig, TopicConfigSerializeWrapper, TopicFilterType, TopicList};
use protocol::body::MessageQueue;
use protocol::header::admin::{
    CreateTopicRequestHeader, DeleteSubscriptionGroupRequestHeader, DeleteTopicRequestHeader,
    GetConsumeStatsRequestHeader, GetSubscriptionGroupConfigRequestHeader,
    GetTopicConfigRequestHeader, GetTopicStatsInfoRequestHeader,
};
use protocol::header::namesrv::GetRouteInfoRequestHeader;
use protocol::header::offset::{ResetOffsetRequestHeader, UpdateConsumerOffsetRequestHeader};
use protocol::header::pull::PullMessageResponseHeader;
use protocol::{RemotingCommand, RequestCode, ResponseCode};
use testkit::TestCluster;

fn create_topic(topic: &str, queues: i32, perm: i32) -> CreateTopicRequestHeader {
    CreateTopicRequestHeader {
        topic: topic.into(),
        default_topic: Some("TBW102".into()),
        read_queue_nums: queues,
        write_queue_nums: queues,
        perm,
        topic_filter_type: Some("SINGLE_TAG".into()),
        ..CreateTopicRequestHeader::default()
    }
}

fn req<H: protocol::CommandHeader>(code: RequestCode, h: &H) -> RemotingCommand {
    RemotingCommand::request_with_header(code, h)
}

async fn topic_config(c: &TestCluster, topic: &str) -> RemotingCommand {
    c.call(req(
        RequestCode::GET_TOPIC_CONFIG,
        &GetTopicConfigRequestHeader {
            topic: topic.into(),
            lo: None,
        },
    ))
    .await
}

#[tokio::test]
async fn topics_are_created_updated_listed_and_deleted() {
    let c = TestCluster::start().await;
    let mut h = create_topic("T_ADMIN", 4, 6);
    h.topic_filter_type = Some("MULTI_TAG".into());
    h.order = Some(true);
    h.attributes = Some("+message.type=FIFO".into());
    let r = c.call(req(RequestCode::UPDATE_AND_CREATE_TOPIC, &h)).await;
    assert_eq!(r.code, 0, "{:?}", r.remark);

    let r = topic_config(&c, "T_ADMIN").await;
    assert_eq!(r.code, 0, "{:?}", r.remark);
    let t = TopicConfig::decode(&r.body).unwrap();
    assert_eq!((t.read_queue_nums, t.write_queue_nums, t.perm), (4, 4, 6));
    assert_eq!(t.topic_filter_type, TopicFilterType::MULTI_TAG);
    assert!(t.order);
    assert_eq!(
        t.attributes.get("message.type").map(String::as_str),
        Some("FIFO")
    );

    // The NameServer learns the new topic from the re-registration.
    let route = req(
        RequestCode::GET_ROUTEINFO_BY_TOPIC,
        &GetRouteInfoRequestHeader {
            topic: "T_ADMIN".into(),
            accept_standard_json_only: None,
        },
    );
    let mut queues = 0;
    for _ in 0..300 {
        let r = c.call_namesrv(route.clone()).await;
        if r.code == 0 {
            queues = TopicRouteData::decode(&r.body).unwrap().queue_datas[0].write_queue_nums;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(queues, 4, "the route reached the NameServer");

    // Update: fewer queues, read-only.
    let r = c
        .call(req(
            RequestCode::UPDATE_AND_CREATE_TOPIC,
            &create_topic("T_ADMIN", 2, 4),
        ))
        .await;
    assert_eq!(r.code, 0, "{:?}", r.remark);
    let t = TopicConfig::decode(&topic_config(&c, "T_ADMIN").await.body).unwrap();
    assert_eq!((t.read_queue_nums, t.perm), (2, 4));
    assert_eq!(t.attributes.len(), 1, "attributes are kept across updates");
    // Read-only now: sends are refused.
    let r = c.call(send_v1("T_ADMIN", 0, b"x", "")).await;
    assert_error(&r, ResponseCode::NO_PERMISSION, "T_ADMIN");

    // UPDATE_AND_CREATE_TOPIC_LIST.
    let list = r#"{"topicConfigList":[{"topicName":"T_LIST_A","readQueueNums":1,"writeQueueNums":1,"perm":6},{"topicName":"T_LIST_B","readQueueNums":3,"writeQueueNums":3,"perm":6}]}"#;
    let r = c
        .call(
            RemotingCommand::request(RequestCode::UPDATE_AND_CREATE_TOPIC_LIST)
                .with_body(list.as_bytes().to_vec()),
        )
        .await;
    assert_eq!(r.code, 0, "{:?}", r.remark);

    let r = c
        .call(RemotingCommand::request(RequestCode::GET_ALL_TOPIC_CONFIG))
        .await;
    assert_eq!(r.code, 0, "{:?}", r.remark);
    let all = TopicConfigSerializeWrapper::decode(&r.body).unwrap();
    for t in [
        "T_ADMIN",
        "T_LIST_A",
        "T_LIST_B",
        "TBW102",
        "SCHEDULE_TOPIC_XXXX",
    ] {
        assert!(all.topic_config_table.contains_key(t), "{t} listed");
    }
    assert_eq!(all.topic_config_table["T_LIST_B"].write_queue_nums, 3);
    assert!(all.data_version.counter > 0);

    let r = c
        .call(RemotingCommand::request(RequestCode::GET_TOPIC_NAME_LIST))
        .await;
    let names = TopicList::decode(&r.body).unwrap();
    assert!(names.topic_list.contains("T_LIST_A"));

    // Delete: config, queues and offsets go.
    send_ok(&c, send_v1("T_LIST_A", 0, b"x", "")).await;
    wait_queue(&c, "T_LIST_A", 0, 1).await;
    let commit = req(
        RequestCode::UPDATE_CONSUMER_OFFSET,
        &UpdateConsumerOffsetRequestHeader {
            consumer_group: GROUP.into(),
            topic: "T_LIST_A".into(),
            queue_id: 0,
            commit_offset: 1,
        },
    );
    assert_eq!(c.call(commit).await.code, 0);
    let del = |t: &str| {
        req(
            RequestCode::DELETE_TOPIC_IN_BROKER,
            &DeleteTopicRequestHeader { topic: t.into() },
        )
    };
    let r = c.call(del("T_LIST_A")).await;
    assert_eq!(r.code, 0, "{:?}", r.remark);
    assert_error(
        &topic_config(&c, "T_LIST_A").await,
        ResponseCode::TOPIC_NOT_EXIST,
        "T_LIST_A",
    );
    let r = c
        .call(RemotingCommand::request(
            RequestCode::GET_ALL_CONSUMER_OFFSET,
        ))
        .await;
    let offsets = ConsumerOffsetSerializeWrapper::from_json_bytes(&r.body).unwrap();
    assert!(!offsets
        .offset_table
        .contains_key(&format!("T_LIST_A@{GROUP}")));
    // Recreated, the topic starts empty.
    let r = c
        .call(req(
            RequestCode::UPDATE_AND_CREATE_TOPIC,
            &create_topic("T_LIST_A", 1, 6),
        ))
        .await;
    assert_eq!(r.code, 0);
    assert_eq!(
        max_offset(&c, "T_LIST_A", 0)
            .await
            .decode_header::<protocol::header::offset::OffsetResponseHeader>()
            .unwrap()
            .offset,
        0
    );

    // System topics are neither created nor deleted by admins.
    let r = c.call(del("SCHEDULE_TOPIC_XXXX")).await;
    assert_error(&r, ResponseCode::SYSTEM_ERROR, "conflict with system topic");
    let r = c
        .call(req(
            RequestCode::UPDATE_AND_CREATE_TOPIC,
            &create_topic("TBW102", 8, 7),
        ))
        .await;
    assert_error(&r, ResponseCode::SYSTEM_ERROR, "conflict with system topic");
    assert_eq!(topic_config(&c, "SCHEDULE_TOPIC_XXXX").await.code, 0);
    c.shutdown().await;
}

#[tokio::test]
async fn bad_topic_requests_name_the_field() {
    let c = TestCluster::start().await;
    let cases: Vec<(CreateTopicRequestHeader, &str)> = vec![
        (create_topic("T_BAD", 0, 6), "readQueueNums"),
        (create_topic("T_BAD", 1025, 6), "readQueueNums"),
        (
            CreateTopicRequestHeader {
                write_queue_nums: -1,
                ..create_topic("T_BAD", 4, 6)
            },
            "writeQueueNums",
        ),
        (create_topic("T_BAD", 4, 16), "perm"),
        (
            CreateTopicRequestHeader {
                topic_filter_type: Some("ALL".into()),
                ..create_topic("T_BAD", 4, 6)
            },
            "topicFilterType",
        ),
        (
            CreateTopicRequestHeader {
                attributes: Some("oops".into()),
                ..create_topic("T_BAD", 4, 6)
            },
            "oops",
        ),
        (create_topic("bad topic!", 4, 6), "bad topic!"),
        (create_topic(&"x".repeat(128), 4, 6), "127"),
    ];
    for (h, needle) in cases {
        let r = c.call(req(RequestCode::UPDATE_AND_CREATE_TOPIC, &h)).await;
        assert_error(&r, ResponseCode::INVALID_PARAMETER, needle);
    }
    assert_eq!(
        topic_config(&c, "T_BAD").await.code,
        ResponseCode::TOPIC_NOT_EXIST.code()
    );
    // A bad entry in a list stores none of the list.
    let list = r#"{"topicConfigList":[{"topicName":"T_OK","readQueueNums":1,"writeQueueNums":1,"perm":6},{"topicName":"T_NO","readQueueNums":0,"writeQueueNums":1,"perm":6}]}"#;
    let r = c
        .call(
            RemotingCommand::request(RequestCode::UPDATE_AND_CREATE_TOPIC_LIST)
                .with_body(list.as_bytes().to_vec()),
        )
        .await;
    assert_error(&r, ResponseCode::INVALID_PARAMETER, "readQueueNums");
    assert_eq!(
        topic_config(&c, "T_OK").await.code,
        ResponseCode::TOPIC_NOT_EXIST.code()
    );
    // Missing required header field.
    let mut cmd = req(
        RequestCode::UPDATE_AND_CREATE_TOPIC,
        &create_topic("T_BAD", 4, 6),
    );
    cmd.ext_fields.remove("perm");
    assert_error(&c.call(cmd).await, ResponseCode::INVALID_PARAMETER, "perm");
    c.shutdown().await;
}

#[tokio::test]
async fn subscription_groups_are_created_read_and_deleted() {
    let c = TestCluster::start().await;
    let mut g = SubscriptionGroupConfig::new("G_ADMIN");
    g.retry_max_times = 3;
    g.consume_broadcast_enable = false;
    let r = c
        .call(
            RemotingCommand::request(RequestCode::UPDATE_AND_CREATE_SUBSCRIPTIONGROUP)
                .with_body(g.to_json_bytes().unwrap()),
        )
        .await;
    assert_eq!(r.code, 0, "{:?}", r.remark);

    let get = |name: &str| {
        req(
            RequestCode::GET_SUBSCRIPTIONGROUP_CONFIG,
            &GetSubscriptionGroupConfigRequestHeader { group: name.into() },
        )
    };
    let r = c.call(get("G_ADMIN")).await;
    assert_eq!(r.code, 0, "{:?}", r.remark);
    assert_eq!(
        SubscriptionGroupConfig::from_json_bytes(&r.body).unwrap(),
        g
    );
    let r = c
        .call(RemotingCommand::request(
            RequestCode::GET_ALL_SUBSCRIPTIONGROUP_CONFIG,
        ))
        .await;
    let all = SubscriptionGroupWrapper::from_json_bytes(&r.body).unwrap();
    assert_eq!(all.subscription_group_table["G_ADMIN"].retry_max_times, 3);

    // Offsets of the group, then delete with cleanOffset.
    let commit = req(
        RequestCode::UPDATE_CONSUMER_OFFSET,
        &UpdateConsumerOffsetRequestHeader {
            consumer_group: "G_ADMIN".into(),
            topic: "T_G".into(),
            queue_id: 0,
            commit_offset: 5,
        },
    );
    assert_eq!(c.call(commit).await.code, 0);
    let r = c
        .call(RemotingCommand::request(
            RequestCode::GET_ALL_CONSUMER_OFFSET,
        ))
        .await;
    let offsets = ConsumerOffsetSerializeWrapper::from_json_bytes(&r.body).unwrap();
    assert_eq!(offsets.offset_table["T_G@G_ADMIN"][&0], 5);

    let del = req(
        RequestCode::DELETE_SUBSCRIPTIONGROUP,
        &DeleteSubscriptionGroupRequestHeader {
            group_name: "G_ADMIN".into(),
            clean_offset: Some(true),
        },
    );
    assert_eq!(c.call(del).await.code, 0);
    assert_error(
        &c.call(get("G_ADMIN")).await,
        ResponseCode::SUBSCRIPTION_GROUP_NOT_EXIST,
        "G_ADMIN",
    );
    let r = c
        .call(RemotingCommand::request(
            RequestCode::GET_ALL_CONSUMER_OFFSET,
        ))
        .await;
    let offsets = ConsumerOffsetSerializeWrapper::from_json_bytes(&r.body).unwrap();
    assert!(!offsets.offset_table.contains_key("T_G@G_ADMIN"));

    // Bad bodies.
    let r = c
        .call(
            RemotingCommand::request(RequestCode::UPDATE_AND_CREATE_SUBSCRIPTIONGROUP)
                .with_body(&b"[]"[..]),
        )
        .await;
    assert_eq!(
        r.code,
        ResponseCode::INVALID_PARAMETER.code(),
        "{:?}",
        r.remark
    );
    let bad = SubscriptionGroupConfig::new("bad group");
    let r = c
        .call(
            RemotingCommand::request(RequestCode::UPDATE_AND_CREATE_SUBSCRIPTIONGROUP)
                .with_body(bad.to_json_bytes().unwrap()),
        )
        .await;
    assert_error(&r, ResponseCode::INVALID_PARAMETER, "bad group");
    c.shutdown().await;
}

#[tokio::test]
async fn runtime_info_and_broker_config() {
    let c = TestCluster::start().await;
    send_ok(&c, send_v1("T_RT", 0, b"x", "")).await;
    wait_queue(&c, "T_RT", 0, 1).await;
    let r = c
        .call(RemotingCommand::request(
            RequestCode::GET_BROKER_RUNTIME_INFO,
        ))
        .await;
    assert_eq!(r.code, 0, "{:?}", r.remark);
    let kv = KvTable::decode(&r.body).unwrap().table;
    let num = |k: &str| -> i64 {
        kv.get(k)
            .unwrap_or_else(|| panic!("{k} missing"))
            .parse()
            .unwrap()
    };
    assert_eq!(num("msgPutTotalTodayNow"), 1);
    assert_eq!(num("commitLogMinOffset"), 0);
    assert!(num("commitLogMaxOffset") > 0);
    assert!(num("bootTimestamp") > 0);
    assert!(num("earliestMessageTimeStamp") >= num("bootTimestamp"));
    assert!(num("dispatchBehindBytes") >= 0);
    assert_eq!(kv["brokerVersionDesc"], "V5_3_3");
    assert_eq!(kv["brokerRole"], "ASYNC_MASTER");
    // mqadmin clusterList splits the rates on spaces and parses the first.
    let put_tps: Vec<f64> = kv["putTps"]
        .split(' ')
        .map(|s| s.parse().unwrap())
        .collect();
    assert_eq!(put_tps.len(), 3);
    let ratio: f64 = kv["commitLogDiskRatio"].parse().unwrap();
    assert!((0.0..=1.0).contains(&ratio));
    assert!(
        kv["runtime"].starts_with("[ 0 days, 0 hours,"),
        "{}",
        kv["runtime"]
    );

    let r = c
        .call(RemotingCommand::request(RequestCode::GET_BROKER_CONFIG))
        .await;
    assert_eq!(r.code, 0, "{:?}", r.remark);
    let text = String::from_utf8(r.body.to_vec()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.contains(&"brokerName=broker-a"), "{text}");
    assert!(lines.contains(&"brokerClusterName=DefaultCluster"));
    assert!(
        lines.contains(&"flushDiskType=ASYNC_FLUSH"),
        "store keys too"
    );
    assert!(lines.iter().any(|l| l.starts_with("storePathRootDir=")));
    let version = r.field("version").unwrap();
    assert!(protocol::body::topic::DataVersion::decode(version.as_bytes()).is_ok());
    c.shutdown().await;
}

#[tokio::test]
async fn topic_stats_consume_stats_and_consumers_of_a_topic() {
    let c = TestCluster::start().await;
    for i in 0..3 {
        send_ok(&c, send_v1("T_STATS", 1, format!("m{i}").as_bytes(), "")).await;
    }
    wait_queue(&c, "T_STATS", 1, 3).await;

    let r = c
        .call(req(
            RequestCode::GET_TOPIC_STATS_INFO,
            &GetTopicStatsInfoRequestHeader {
                topic: "T_STATS".into(),
            },
        ))
        .await;
    assert_eq!(r.code, 0, "{:?}", r.remark);
    let stats = TopicStatsTable::from_json_bytes(&r.body).unwrap();
    assert_eq!(stats.offset_table.len(), 4);
    let q1 = &stats.offset_table[&MessageQueue::new("T_STATS", "broker-a", 1)];
    assert_eq!((q1.min_offset, q1.max_offset), (0, 3));
    assert!(q1.last_update_timestamp > 0);
    let q0 = &stats.offset_table[&MessageQueue::new("T_STATS", "broker-a", 0)];
    assert_eq!((q0.max_offset, q0.last_update_timestamp), (0, 0));
    let r = c
        .call(req(
            RequestCode::GET_TOPIC_STATS_INFO,
            &GetTopicStatsInfoRequestHeader {
                topic: "T_NONE".into(),
            },
        ))
        .await;
    assert_error(&r, ResponseCode::TOPIC_NOT_EXIST, "T_NONE");

    // The group pulls from 0 and commits 2.
    let mut h = pull_req(
        "T_STATS",
        1,
        0,
        protocol::message::sysflag::pull::COMMIT_OFFSET,
    );
    h.commit_offset = 2;
    h.max_msg_nums = 2;
    assert_eq!(c.call(pull_cmd(&h)).await.code, 0);

    let stats_req = |topic: Option<&str>| {
        req(
            RequestCode::GET_CONSUME_STATS,
            &GetConsumeStatsRequestHeader {
                consumer_group: GROUP.into(),
                topic: topic.map(str::to_owned),
                topic_list: None,
            },
        )
    };
    for topic in [Some("T_STATS"), None] {
        let r = c.call(stats_req(topic)).await;
        assert_eq!(r.code, 0, "{:?}", r.remark);
        let s = ConsumeStats::from_json_bytes(&r.body).unwrap();
        let w = s.offset_table[&MessageQueue::new("T_STATS", "broker-a", 1)];
        assert_eq!(
            (w.broker_offset, w.consumer_offset, w.pull_offset),
            (3, 2, 2)
        );
        assert!(
            w.last_timestamp > 0,
            "store time of the last consumed message"
        );
        let w0 = s.offset_table[&MessageQueue::new("T_STATS", "broker-a", 0)];
        assert_eq!(
            (w0.broker_offset, w0.consumer_offset, w0.last_timestamp),
            (0, 0, 0)
        );
    }

    // Who consumes the topic: groups with offsets and online subscribers.
    let (client, _rx) = recording_client();
    let hb = RemotingCommand::request(RequestCode::HEART_BEAT).with_body(heartbeat_body(
        "10.0.0.7@7",
        "G_ONLINE",
        "T_STATS",
    ));
    assert_eq!(
        client
            .invoke(&c.broker_addr(), hb, Duration::from_secs(5))
            .await
            .unwrap()
            .code,
        0
    );
    let who = req(
        RequestCode::QUERY_TOPIC_CONSUME_BY_WHO,
        &broker::handlers::stats::QueryTopicConsumeByWhoRequestHeader {
            topic: "T_STATS".into(),
        },
    );
    let r = c.call(who).await;
    assert_eq!(r.code, 0, "{:?}", r.remark);
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(v, serde_json::json!({ "groupList": ["G_ONLINE", GROUP] }));
    client.shutdown().await;
    c.shutdown().await;
}

fn reset_req(topic: &str, group: &str, timestamp: i64, force: bool) -> RemotingCommand {
    req(
        RequestCode::INVOKE_BROKER_TO_RESET_OFFSET,
        &ResetOffsetRequestHeader {
            topic: topic.into(),
            group: group.into(),
            queue_id: None,
            offset: None,
            timestamp,
            is_force: force,
        },
    )
}

#[tokio::test]
async fn reset_offset_moves_the_next_pull_and_tells_old_clients() {
    let c = TestCluster::start().await;
    for i in 0..4 {
        send_ok(&c, send_v1("T_RESET", 0, format!("m{i}").as_bytes(), "")).await;
    }
    wait_queue(&c, "T_RESET", 0, 4).await;
    let mut h = pull_req(
        "T_RESET",
        0,
        0,
        protocol::message::sysflag::pull::COMMIT_OFFSET,
    );
    h.commit_offset = 3;
    assert_eq!(c.call(pull_cmd(&h)).await.code, 0);

    // Nobody online: CONSUMER_NOT_ONLINE, but the reset is stored.
    let r = c.call(reset_req("T_RESET", GROUP, 0, true)).await;
    assert_error(&r, ResponseCode::CONSUMER_NOT_ONLINE, GROUP);
    let r = c.call(pull_cmd(&pull_req("T_RESET", 0, 3, 0))).await;
    assert_eq!(
        r.code,
        ResponseCode::PULL_OFFSET_MOVED.code(),
        "{:?}",
        r.remark
    );
    assert_eq!(
        r.decode_header::<PullMessageResponseHeader>()
            .unwrap()
            .next_begin_offset,
        0
    );
    // Taken once: the next pull reads normally.
    let r = c.call(pull_cmd(&pull_req("T_RESET", 0, 0, 0))).await;
    assert_eq!(r.code, 0, "{:?}", r.remark);

    // Online consumer: it is sent RESET_CONSUMER_CLIENT_OFFSET.
    let (client, mut rx) = recording_client();
    heartbeat(&c, &client, "10.0.0.3@3", "T_RESET").await;
    let r = c.call(reset_req("T_RESET", GROUP, -1, true)).await;
    assert_eq!(r.code, 0, "{:?}", r.remark);
    let body = ResetOffsetBody::from_json_bytes(&r.body).unwrap();
    let mq0 = MessageQueue::new("T_RESET", "broker-a", 0);
    assert_eq!(
        body.offset_table[&mq0], 4,
        "timestamp -1 means the max offset"
    );
    assert_eq!(body.offset_table.len(), 4, "every queue of the topic");
    let push = next_push(&mut rx, RequestCode::RESET_CONSUMER_CLIENT_OFFSET).await;
    assert!(push.is_oneway());
    let ph: ResetOffsetRequestHeader = push.decode_header().unwrap();
    assert_eq!(
        (ph.topic.as_str(), ph.group.as_str(), ph.timestamp),
        ("T_RESET", GROUP, -1)
    );
    assert_eq!(ResetOffsetBody::from_json_bytes(&push.body).unwrap(), body);
    let r = c.call(pull_cmd(&pull_req("T_RESET", 0, 0, 0))).await;
    assert_eq!(r.code, ResponseCode::PULL_OFFSET_MOVED.code());
    assert_eq!(
        r.decode_header::<PullMessageResponseHeader>()
            .unwrap()
            .next_begin_offset,
        4
    );

    // Without isForce an offset only moves backwards.
    let r = c.call(reset_req("T_RESET", GROUP, 0, false)).await;
    let body = ResetOffsetBody::from_json_bytes(&r.body).unwrap();
    assert_eq!(body.offset_table[&mq0], 0, "4 -> 0 is backwards: applied");
    let r = c.call(reset_req("T_RESET", GROUP, -1, false)).await;
    let body = ResetOffsetBody::from_json_bytes(&r.body).unwrap();
    assert_eq!(body.offset_table[&mq0], 0, "0 -> 4 is forwards: kept");

    let r = c.call(reset_req("T_NONE", GROUP, -1, true)).await;
    assert_error(&r, ResponseCode::TOPIC_NOT_EXIST, "T_NONE");
    client.shutdown().await;
    c.shutdown().await;
}

#[tokio::test]
async fn a_pending_reset_is_not_overwritten_by_the_commit_in_the_next_pull() {
    let c = TestCluster::start().await;
    for i in 0..4 {
        send_ok(&c, send_v1("T_RESET2", 0, format!("m{i}").as_bytes(), "")).await;
    }
    wait_queue(&c, "T_RESET2", 0, 4).await;
    let commit_pull = |offset: i64, commit: i64| {
        let mut h = pull_req(
            "T_RESET2",
            0,
            offset,
            protocol::message::sysflag::pull::COMMIT_OFFSET,
        );
        h.commit_offset = commit;
        pull_cmd(&h)
    };
    assert_eq!(c.call(commit_pull(3, 3)).await.code, 0);
    let r = c.call(reset_req("T_RESET2", GROUP, 0, true)).await;
    assert_eq!(r.code, ResponseCode::CONSUMER_NOT_ONLINE.code());

    // The consumer still carries its old position in the next pull.
    let r = c.call(commit_pull(4, 3)).await;
    assert_eq!(
        r.code,
        ResponseCode::PULL_OFFSET_MOVED.code(),
        "{:?}",
        r.remark
    );
    let query = req(
        RequestCode::QUERY_CONSUMER_OFFSET,
        &protocol::header::offset::QueryConsumerOffsetRequestHeader {
            consumer_group: GROUP.into(),
            topic: "T_RESET2".into(),
            queue_id: 0,
            set_zero_if_not_found: Some(false),
        },
    );
    let r = c.call(query).await;
    let committed = r
        .decode_header::<protocol::header::offset::OffsetResponseHeader>()
        .unwrap()
        .offset;
    assert_eq!(committed, 0, "the reset offset stays committed");
    c.shutdown().await;
}

#[tokio::test]
async fn a_reset_answers_a_parked_pull_at_once() {
    let c = TestCluster::start().await;
    for i in 0..3 {
        send_ok(&c, send_v1("T_RESET3", 0, format!("m{i}").as_bytes(), "")).await;
    }
    wait_queue(&c, "T_RESET3", 0, 3).await;
    // Parked at the end of the queue for 20 s: longer than `call` waits, so
    // only the reset's wake-up can answer it in time.
    let mut parked = pull_req("T_RESET3", 0, 3, protocol::message::sysflag::pull::SUSPEND);
    parked.suspend_timeout_millis = 20_000;
    let started = std::time::Instant::now();
    let (pulled, reset) = tokio::join!(c.call(pull_cmd(&parked)), async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        c.call(reset_req("T_RESET3", GROUP, 0, true)).await
    });
    assert_eq!(reset.code, ResponseCode::CONSUMER_NOT_ONLINE.code());
    assert_eq!(
        pulled.code,
        ResponseCode::PULL_OFFSET_MOVED.code(),
        "{:?}",
        pulled.remark
    );
    let h = pulled.decode_header::<PullMessageResponseHeader>().unwrap();
    assert_eq!(h.next_begin_offset, 0);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    // Taken by the parked pull: the next one reads from where it asks.
    let r = c.call(pull_cmd(&pull_req("T_RESET3", 0, 0, 0))).await;
    assert_eq!(r.code, 0, "{:?}", r.remark);
    c.shutdown().await;
}
