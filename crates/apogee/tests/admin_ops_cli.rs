//! The operations commands of `apogee admin` (configuration, permissions,
//! message and queue views, round-trip checks, stats, live clients) run as
//! a process against an in-process NameServer + broker; plus completions,
//! the man page and argument errors.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::*;
use serde_json::{json, Value};
use testkit::TestCluster;

async fn started() -> (TestCluster, Cli, String) {
    let cluster = start_cluster().await;
    let cli = Cli {
        namesrv: cluster.namesrv_addr(),
    };
    let addr = cluster.broker_addr();
    (cluster, cli, addr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_and_namesrv_config_commands() {
    let (cluster, cli, addr) = started().await;
    let b = addr.as_str();
    let set = |v: &'static str| {
        [
            "updateBrokerConfig",
            "-b",
            b,
            "-k",
            "brokerPermission",
            "-v",
            v,
        ]
    };
    let out = cli.admin(&set("4")).await;
    let result = out["brokers"][0]["result"].as_str().unwrap();
    assert!(result.contains("applied now: brokerPermission"), "{out}");
    let config = cli.admin(&["getBrokerConfig", "-b", b]).await;
    assert_eq!(config[b]["brokerPermission"], "4", "{config}");
    cli.admin(&set("6")).await;
    let bad_key = ["updateBrokerConfig", "-b", b, "-k", "noSuchKey", "-v", "1"];
    fails_naming(&cli, &bad_key, "noSuchKey").await;
    let malformed = ["updateBrokerConfig", "-b", b, "-k", "a=b", "-v", "1"];
    fails_naming(&cli, &malformed, "a=b").await;
    fails_naming(
        &cli,
        &["getBrokerConfig", "-b", "127.0.0.1:1"],
        "127.0.0.1:1",
    )
    .await;

    let ns = cli.admin(&["getNamesrvConfig"]).await;
    assert_eq!(ns[&cli.namesrv]["orderMessageEnable"], "false", "{ns}");
    let order_on = [
        "updateNamesrvConfig",
        "-k",
        "orderMessageEnable",
        "-v",
        "true",
    ];
    cli.admin(&order_on).await;
    let ns = cli.admin(&["getNamesrvConfig"]).await;
    assert_eq!(ns[&cli.namesrv]["orderMessageEnable"], "true", "{ns}");
    let bad_ns = ["updateNamesrvConfig", "-k", "noSuchKey", "-v", "1"];
    fails_naming(&cli, &bad_ns, "noSuchKey").await;
    cli.admin(&["updateKvConfig", "-s", "NS1", "-k", "K1", "-v", "V1"])
        .await;
    cli.admin(&["deleteKvConfig", "-s", "NS1", "-k", "K1"])
        .await;
    cluster.shutdown().await;
}

/// Waits until the NameServer has a route for `topic`.
async fn wait_for_route(cli: &Cli, topic: &str) {
    for _ in 0..100 {
        let args = cli.args(&["admin", "topicRoute", "-t", topic], true);
        if apogee(args).await.status.success() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no route for {topic}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topic_permission_order_and_cleaning_commands() {
    let (cluster, cli, addr) = started().await;
    let b = addr.as_str();
    cli.admin(&["updateTopic", "-t", "OpsTopic", "-r", "4", "-w", "4"])
        .await;
    let put = [
        "updateOrderConf",
        "-t",
        "OpsTopic",
        "-m",
        "put",
        "-v",
        "broker-a:4",
    ];
    assert_eq!(cli.admin(&put).await["orderConf"], "broker-a:4");
    let got = cli.admin(&["updateOrderConf", "-t", "OpsTopic"]).await;
    assert_eq!(got["orderConf"], "broker-a:4", "{got}");
    cli.admin(&["updateOrderConf", "-t", "OpsTopic", "-m", "delete"])
        .await;
    let got = cli.admin(&["updateOrderConf", "-t", "OpsTopic"]).await;
    assert!(got["orderConf"].is_null(), "{got}");
    let bad_conf = ["updateOrderConf", "-t", "OpsTopic", "-m", "put", "-v", "x"];
    fails_naming(&cli, &bad_conf, "x").await;
    fails_naming(
        &cli,
        &["updateOrderConf", "-t", "OpsTopic", "-m", "drop"],
        "drop",
    )
    .await;

    // The broker's registration of OpsTopic must land before the wipe, or
    // it would restore the permission right after.
    wait_for_route(&cli, "OpsTopic").await;
    let wiped = cli.admin(&["wipeWritePerm", "-b", "broker-a"]).await;
    assert!(
        wiped["namesrvs"][0]["topicCount"].as_i64().unwrap() > 0,
        "{wiped}"
    );
    let route = cli.admin(&["topicRoute", "-t", "OpsTopic"]).await;
    assert_eq!(route["queueDatas"][0]["perm"], 4, "{route}");
    cli.admin(&["addWritePerm", "-b", "broker-a"]).await;
    fails_naming(&cli, &["wipeWritePerm", "-b", "broker-x"], "broker-x").await;

    let clusters = cli.admin(&["topicClusterList", "-t", "OpsTopic"]).await;
    assert_eq!(clusters["clusters"][0], "DefaultCluster", "{clusters}");
    fails_naming(
        &cli,
        &["topicClusterList", "-t", "NoSuchTopic"],
        "NoSuchTopic",
    )
    .await;
    let perm = |p: &'static str| ["updateTopicPerm", "-t", "OpsTopic", "-b", b, "-p", p];
    assert_eq!(cli.admin(&perm("4")).await["brokers"][0]["oldPerm"], 6);
    let config = cli.admin(&perm("6")).await;
    assert_eq!(config["brokers"][0]["oldPerm"], 4, "{config}");
    fails_naming(&cli, &perm("5"), "perm 5").await;

    let ips = ["allocateMQ", "-t", "OpsTopic", "-i", "10.0.0.1,10.0.0.2"];
    let alloc = cli.admin(&ips).await;
    assert_eq!(
        alloc["result"]["10.0.0.1"].as_array().unwrap().len(),
        2,
        "{alloc}"
    );
    fails_naming(&cli, &["allocateMQ", "-t", "OpsTopic", "-i", ","], "ipList").await;
    for cmd in [
        "cleanExpiredCQ",
        "deleteExpiredCommitLog",
        "cleanUnusedTopic",
    ] {
        let out = cli.admin(&[cmd, "-b", b]).await;
        assert!(out["brokers"][0]["result"].is_string(), "{cmd}: {out}");
    }
    cluster.shutdown().await;
}

/// Sends two messages (tags TagA, TagB) to a one-queue topic and waits
/// until its consume queue lists both (it is built just after the append);
/// the first's id.
async fn two_messages(cli: &Cli, topic: &str) -> String {
    cli.admin(&["updateTopic", "-t", topic, "-r", "1", "-w", "1"])
        .await;
    let first = [
        "sendMessage",
        "-t",
        topic,
        "-p",
        "hello-ops",
        "--tags",
        "TagA",
    ];
    let sent = cli.admin(&first).await;
    cli.admin(&["sendMessage", "-t", topic, "-p", "second", "--tags", "TagB"])
        .await;
    let mut status = Value::Null;
    for _ in 0..100 {
        status = cli.admin(&["topicStatus", "-t", topic]).await;
        if status["queues"][0]["maxOffset"] == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(status["queues"][0]["maxOffset"], 2, "{status}");
    sent["msgId"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn message_and_queue_views() {
    let (cluster, cli, _) = started().await;
    let msg_id = two_messages(&cli, "OpsMsg").await;
    let cq = cli
        .admin(&["queryCq", "-t", "OpsMsg", "-q", "0", "-i", "0", "-c", "5"])
        .await;
    assert_eq!(cq["queueData"].as_array().unwrap().len(), 2, "{cq}");
    let bad_queue = ["queryCq", "-t", "OpsMsg", "-q", "9", "-i", "0"];
    fails_naming(&cli, &bad_queue, "queueId 9").await;

    let at = |o: &'static str| {
        [
            "queryMsgByOffset",
            "-t",
            "OpsMsg",
            "-b",
            "broker-a",
            "-i",
            "0",
            "-o",
            o,
        ]
    };
    let by_offset = cli.admin(&at("0")).await;
    assert_eq!(by_offset["messages"][0]["body"], "hello-ops", "{by_offset}");
    fails_naming(&cli, &at("7"), "offset 7").await;
    let by_key = cli
        .admin(&["queryMsgByUniqueKey", "-i", &msg_id, "-t", "OpsMsg"])
        .await;
    assert_eq!(by_key["messages"][0]["body"], "hello-ops", "{by_key}");
    let unknown = ["queryMsgByUniqueKey", "-i", "00FF", "-t", "OpsMsg"];
    fails_naming(&cli, &unknown, "00FF").await;

    let printed = cli.admin(&["printMsg", "-t", "OpsMsg", "-s", "TagB"]).await;
    let msgs = printed["messages"].as_array().unwrap();
    assert_eq!(msgs.len(), 1, "{printed}");
    assert_eq!(msgs[0]["body"], "second", "{printed}");
    let by_queue = [
        "printMsgByQueue",
        "-t",
        "OpsMsg",
        "-a",
        "broker-a",
        "-i",
        "0",
        "-f",
        "true",
    ];
    let counted = cli.admin(&by_queue).await;
    assert_eq!(counted["tags"], json!({"TagA": 1, "TagB": 1}), "{counted}");
    let backwards = ["printMsg", "-t", "OpsMsg", "-b", "5", "-e", "1"];
    fails_naming(&cli, &backwards, "time range").await;
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn round_trip_checks_send_and_time() {
    let (cluster, cli, _) = started().await;
    cli.admin(&["updateTopic", "-t", "OpsRt", "-r", "2", "-w", "2"])
        .await;
    let rt = cli
        .admin(&["checkMsgSendRT", "-t", "OpsRt", "-a", "3", "-s", "16"])
        .await;
    assert_eq!(rt["sends"].as_array().unwrap().len(), 3, "{rt}");
    let status = ["sendMsgStatus", "-b", "broker-a", "-c", "2", "-s", "16"];
    let status = cli.admin(&status).await;
    assert_eq!(status["sends"][0]["status"], "SEND_OK", "{status}");
    let crt = cli.admin(&["clusterRT", "-a", "2", "-s", "16"]).await;
    assert_eq!(crt["brokers"][0]["successful"], 2, "{crt}");
    fails_naming(
        &cli,
        &["checkMsgSendRT", "-t", "OpsRt", "-a", "0"],
        "amount 0",
    )
    .await;
    fails_naming(&cli, &["clusterRT", "-c", "NoCluster"], "NoCluster").await;
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_offsets_and_broker_stats() {
    let (cluster, cli, addr) = started().await;
    two_messages(&cli, "OpsStats").await;
    cli.admin(&["updateSubGroup", "-g", "OpsGroup"]).await;
    let reset = [
        "resetOffsetByTime",
        "-g",
        "OpsGroup",
        "-t",
        "OpsStats",
        "-q",
        "0",
        "-o",
        "1",
    ];
    let reset = cli.admin(&reset).await;
    assert_eq!(reset["offsets"][0]["offset"], 1, "{reset}");
    let stats = cli.admin(&["brokerConsumeStats", "-b", &addr]).await;
    let queues = stats["queues"].as_array().unwrap();
    assert!(queues.iter().any(|q| q["group"] == "OpsGroup"), "{stats}");
    let unreachable = ["brokerConsumeStats", "-b", "127.0.0.1:1"];
    fails_naming(&cli, &unreachable, "127.0.0.1:1").await;
    let clone = [
        "cloneGroupOffset",
        "-s",
        "OpsGroup",
        "-d",
        "OpsGroup2",
        "-t",
        "OpsStats",
        "-o",
        "true",
    ];
    cli.admin(&clone).await;
    let progress = cli.admin(&["consumerProgress", "-g", "OpsGroup2"]).await;
    assert_eq!(progress["queues"][0]["consumerOffset"], 1, "{progress}");
    let all = cli.admin(&["statsAll", "-t", "OpsStats"]).await;
    let rows = all["stats"].as_array().unwrap();
    assert!(rows.iter().any(|r| r["group"] == "OpsGroup"), "{all}");
    cluster.shutdown().await;
}

/// The connections of `group`, once its one consumer holds queues.
async fn wait_for_member(cli: &Cli, group: &str, consumer: &client::PushConsumer) -> Value {
    let mut conns = Value::Null;
    for _ in 0..100 {
        let args = cli.args(&["admin", "consumerConnection", "-g", group], true);
        let out = apogee(args).await;
        if out.status.success() {
            conns = serde_json::from_slice(&out.stdout).unwrap();
            if !consumer.assigned_queues().is_empty() {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        conns["connections"].as_array().map(Vec::len),
        Some(1),
        "{conns}"
    );
    conns
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_and_status_of_live_clients() {
    let (cluster, cli, _) = started().await;
    cli.admin(&["updateTopic", "-t", "OpsLive", "-r", "2", "-w", "2"])
        .await;
    let producer = client::Producer::builder()
        .namesrv(&cli.namesrv)
        .group("OpsProducers")
        .build()
        .await
        .unwrap();
    let msg = client::Message::new("OpsLive", b"x".to_vec());
    producer.send(msg).await.unwrap();
    let consumer = client::PushConsumer::builder()
        .namesrv(&cli.namesrv)
        .group("OpsLiveGroup")
        .subscribe("OpsLive", "*")
        .listener(|_msgs| async { client::ConsumeResult::Success })
        .build()
        .await
        .unwrap();
    let conns = wait_for_member(&cli, "OpsLiveGroup", &consumer).await;
    let client_id = conns["connections"][0]["clientId"].as_str().unwrap();

    let producers = ["producerConnection", "-g", "OpsProducers", "-t", "OpsLive"];
    let producers = cli.admin(&producers).await;
    assert_eq!(
        producers["connections"].as_array().unwrap().len(),
        1,
        "{producers}"
    );
    let none = ["producerConnection", "-g", "NoProducers", "-t", "OpsLive"];
    fails_naming(&cli, &none, "NoProducers").await;

    let status = cli.admin(&["consumerStatus", "-g", "OpsLiveGroup"]).await;
    assert_eq!(status["subscriptionConsistent"], true, "{status}");
    assert_eq!(status["clients"][0]["clientId"], client_id, "{status}");
    let one = cli
        .admin(&["consumerStatus", "-g", "OpsLiveGroup", "-i", client_id])
        .await;
    assert!(one["mqTable"].is_object(), "{one}");
    let nobody = ["consumerStatus", "-g", "OpsLiveGroup", "-i", "nobody"];
    fails_naming(&cli, &nobody, "nobody").await;
    let progress = cli
        .admin(&["consumerProgress", "-g", "OpsLiveGroup", "-s"])
        .await;
    let queues = progress["queues"].as_array().unwrap();
    assert!(queues.iter().any(|q| q["clientIp"] != "N/A"), "{progress}");
    consumer.shutdown().await;
    producer.shutdown().await;
    cluster.shutdown().await;
}
#[tokio::test]
async fn completions_man_page_and_argument_errors() {
    let out = apogee(vec!["completions".into(), "bash".into()]).await;
    assert!(out.status.success());
    let script = String::from_utf8_lossy(&out.stdout);
    assert!(script.contains("updateBrokerConfig") && script.contains("consumerStatus"));
    let out = apogee(vec!["manpage".into()]).await;
    let page = String::from_utf8_lossy(&out.stdout);
    assert!(page.contains(".TH apogee-admin-statsAll 1"), "{page}");
    let out = apogee(vec!["completions".into(), "tcsh".into()]).await;
    assert_eq!(out.status.code(), Some(1));
    // A malformed argument: exit 1 and one line naming it.
    let args = ["admin", "queryCq", "-t", "T", "-q", "x", "-i", "0"];
    let out = apogee(args.iter().map(|s| s.to_string()).collect()).await;
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("'x'") && err.contains("--queue"), "{err}");
}
