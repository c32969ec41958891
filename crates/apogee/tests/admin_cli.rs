//! `apogee admin` and `apogee bench` run as a process against an
//! in-process NameServer + broker.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Output;
use std::time::Duration;

use serde_json::Value;
use testkit::TestCluster;

/// Runs the built binary with `args` (blocking work off the runtime).
async fn apogee(args: Vec<String>) -> Output {
    tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_apogee"))
            .args(&args)
            .env_remove("NAMESRV_ADDR")
            .output()
            .expect("the apogee binary runs")
    })
    .await
    .unwrap()
}

struct Cli {
    namesrv: String,
}

impl Cli {
    fn args(&self, cmd: &[&str], json: bool) -> Vec<String> {
        let mut v: Vec<String> = cmd.iter().map(|s| s.to_string()).collect();
        v.push("-n".into());
        v.push(self.namesrv.clone());
        if json {
            v.push("--json".into());
        }
        v
    }

    /// `apogee admin <cmd> --json`, which must succeed; its JSON.
    async fn admin(&self, cmd: &[&str]) -> Value {
        let mut full = vec!["admin"];
        full.extend_from_slice(cmd);
        let out = apogee(self.args(&full, true)).await;
        assert!(
            out.status.success(),
            "{cmd:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "{cmd:?}: bad JSON ({e}): {}",
                String::from_utf8_lossy(&out.stdout)
            )
        })
    }

    /// `apogee admin <cmd>` in table form, which must fail; its stderr.
    async fn admin_fails(&self, cmd: &[&str]) -> String {
        let mut full = vec!["admin"];
        full.extend_from_slice(cmd);
        let out = apogee(self.args(&full, false)).await;
        assert_eq!(out.status.code(), Some(1), "{cmd:?} should fail");
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    /// `apogee admin <cmd>` in table form; its stdout.
    async fn admin_text(&self, cmd: &[&str]) -> String {
        let mut full = vec!["admin"];
        full.extend_from_slice(cmd);
        let out = apogee(self.args(&full, false)).await;
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

/// A cluster whose broker still accepts sends on a nearly full shared
/// disk (the default refuses at 90 % used).
async fn start_cluster() -> TestCluster {
    TestCluster::start_with(|_, store| store.disk_space_warning_level_ratio = 99).await
}

fn diff_total(progress: &Value) -> i64 {
    progress["diffTotal"].as_i64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_commands_drive_a_real_cluster() {
    let cluster = start_cluster().await;
    let cli = Cli {
        namesrv: cluster.namesrv_addr(),
    };
    let topic = "CliTopic";

    let created = cli
        .admin(&["updateTopic", "-t", topic, "-r", "4", "-w", "4"])
        .await;
    assert_eq!(created["brokers"].as_array().unwrap().len(), 1, "{created}");

    let list = cli.admin(&["topicList"]).await;
    assert!(
        list["topics"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t == topic),
        "{list}"
    );

    let route = cli.admin(&["topicRoute", "-t", topic]).await;
    assert_eq!(route["queueDatas"][0]["writeQueueNums"], 4, "{route}");
    assert_eq!(
        route["brokerDatas"][0]["brokerAddrs"]["0"],
        cluster.broker_addr().as_str()
    );
    let text = cli.admin_text(&["topicRoute", "-t", topic]).await;
    assert!(text.starts_with("#Cluster"), "{text}");

    let mut ids = Vec::new();
    for body in ["hello-1", "hello-2", "hello-3"] {
        let sent = cli
            .admin(&[
                "sendMessage",
                "-t",
                topic,
                "-p",
                body,
                "-k",
                "order-1",
                "--tags",
                "TagA",
            ])
            .await;
        assert_eq!(sent["status"], "SEND_OK", "{sent}");
        ids.push(sent["msgId"].as_str().unwrap().to_string());
    }

    // The index is built behind the commit log: give it a moment.
    let mut found = Value::Null;
    for _ in 0..50 {
        found = cli
            .admin(&["queryMsgByKey", "-t", topic, "-k", "order-1"])
            .await;
        if found["messages"].as_array().unwrap().len() == 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let msgs = found["messages"].as_array().unwrap();
    assert_eq!(msgs.len(), 3, "{found}");
    assert!(msgs
        .iter()
        .all(|m| m["tags"] == "TagA" && m["keys"][0] == "order-1"));

    let by_id = cli
        .admin(&["queryMsgById", "-i", &ids[1], "-t", topic])
        .await;
    assert_eq!(by_id["messages"][0]["body"], "hello-2", "{by_id}");
    let offset_id = by_id["messages"][0]["offsetMsgId"]
        .as_str()
        .unwrap()
        .to_string();
    let by_offset_id = cli.admin(&["queryMsgById", "-i", &offset_id]).await;
    assert_eq!(by_offset_id["messages"][0]["msgId"], ids[1].as_str());

    let read = cli
        .admin(&["consumeMessage", "-t", topic, "-c", "10"])
        .await;
    let mut bodies: Vec<&str> = read["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["body"].as_str().unwrap())
        .collect();
    bodies.sort();
    assert_eq!(bodies, ["hello-1", "hello-2", "hello-3"], "{read}");

    let group = "CliGroup";
    cli.admin(&["updateSubGroup", "-g", group]).await;
    let skipped = cli
        .admin(&["skipAccumulatedMessage", "-g", group, "-t", topic])
        .await;
    let sum: i64 = skipped["offsets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["offset"].as_i64().unwrap())
        .sum();
    assert_eq!(sum, 3, "{skipped}");

    let progress = cli
        .admin(&["consumerProgress", "-g", group, "-t", topic])
        .await;
    assert_eq!(diff_total(&progress), 0, "{progress}");
    let broker_total: i64 = progress["queues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["brokerOffset"].as_i64().unwrap())
        .sum();
    assert_eq!(broker_total, 3, "{progress}");

    let reset = cli
        .admin(&["resetOffsetByTime", "-g", group, "-t", topic, "-s", "0"])
        .await;
    assert_eq!(reset["offsets"].as_array().unwrap().len(), 4, "{reset}");
    let progress = cli
        .admin(&["consumerProgress", "-g", group, "-t", topic])
        .await;
    assert_eq!(diff_total(&progress), 3, "{progress}");
    let text = cli
        .admin_text(&["consumerProgress", "-g", group, "-t", topic])
        .await;
    assert!(text.contains("Diff Total: 3"), "{text}");

    let status = cli
        .admin(&["brokerStatus", "-b", &cluster.broker_addr()])
        .await;
    assert!(
        status[cluster.broker_addr()]["putTps"].is_string(),
        "{status}"
    );
    let ha = cli
        .admin_text(&["haStatus", "-b", &cluster.broker_addr()])
        .await;
    assert!(ha.contains("brokerRole"), "{ha}");
    let clusters = cli.admin(&["clusterList"]).await;
    assert_eq!(clusters["brokers"][0]["reachable"], true, "{clusters}");

    let deleted = cli.admin(&["deleteTopic", "-t", topic]).await;
    assert_eq!(deleted["deleted"], true);
    let err = cli.admin_fails(&["topicRoute", "-t", topic]).await;
    assert!(
        err.contains("unknown topic") && err.contains(topic),
        "{err}"
    );

    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_namesrv_is_a_clear_error() {
    // Port 1 on loopback: nothing listens there.
    let cli = Cli {
        namesrv: "127.0.0.1:1".into(),
    };
    let err = cli.admin_fails(&["topicList"]).await;
    assert!(
        err.contains("cannot list topics") && err.contains("unreachable"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bench_produce_sends_the_count_asked() {
    let cluster = start_cluster().await;
    let cli = Cli {
        namesrv: cluster.namesrv_addr(),
    };
    cli.admin(&["updateTopic", "-t", "BenchTopic", "-r", "2", "-w", "2"])
        .await;
    let args = cli.args(
        &[
            "bench",
            "produce",
            "-t",
            "BenchTopic",
            "--count",
            "200",
            "--concurrency",
            "8",
            "--size",
            "256",
        ],
        true,
    );
    let out = apogee(args).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["msgs"], 200, "{summary}");
    assert_eq!(summary["send_failed"], 0, "{summary}");
    assert_eq!(summary["response_failed"], 0, "{summary}");

    // Consume queues are built just after the appends: poll briefly.
    let mut stored = 0;
    let mut stats = Value::Null;
    for _ in 0..100 {
        stats = cli.admin(&["topicStatus", "-t", "BenchTopic"]).await;
        stored = stats["queues"]
            .as_array()
            .unwrap()
            .iter()
            .map(|q| q["maxOffset"].as_i64().unwrap())
            .sum::<i64>();
        if stored == 200 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(stored, 200, "{stats}");

    let args = cli.args(
        &[
            "bench",
            "consume",
            "-t",
            "BenchTopic",
            "-g",
            "BenchGroup",
            "--count",
            "200",
            "-d",
            "30",
        ],
        true,
    );
    let out = apogee(args).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(summary["msgs"].as_u64().unwrap() >= 200, "{summary}");
    cluster.shutdown().await;
}

/// The first line of a failing command's stderr, which must name `needle`.
async fn fails_naming(cli: &Cli, cmd: &[&str], needle: &str) {
    let err = cli.admin_fails(cmd).await;
    assert!(err.contains(needle), "{cmd:?}: {err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ops_commands_change_and_show_config() {
    let cluster = start_cluster().await;
    let cli = Cli {
        namesrv: cluster.namesrv_addr(),
    };
    let addr = cluster.broker_addr();
    let b = addr.as_str();

    let out = cli
        .admin(&[
            "updateBrokerConfig",
            "-b",
            b,
            "-k",
            "brokerPermission",
            "-v",
            "4",
        ])
        .await;
    let result = out["brokers"][0]["result"].as_str().unwrap();
    assert!(result.contains("applied now: brokerPermission"), "{out}");
    let config = cli.admin(&["getBrokerConfig", "-b", b]).await;
    assert_eq!(config[b]["brokerPermission"], "4", "{config}");
    cli.admin(&[
        "updateBrokerConfig",
        "-b",
        b,
        "-k",
        "brokerPermission",
        "-v",
        "6",
    ])
    .await;
    fails_naming(
        &cli,
        &["updateBrokerConfig", "-b", b, "-k", "noSuchKey", "-v", "1"],
        "noSuchKey",
    )
    .await;
    fails_naming(
        &cli,
        &["updateBrokerConfig", "-b", b, "-k", "a=b", "-v", "1"],
        "a=b",
    )
    .await;
    fails_naming(
        &cli,
        &["getBrokerConfig", "-b", "127.0.0.1:1"],
        "127.0.0.1:1",
    )
    .await;

    let ns = cli.admin(&["getNamesrvConfig"]).await;
    assert_eq!(ns[&cli.namesrv]["orderMessageEnable"], "false", "{ns}");
    cli.admin(&[
        "updateNamesrvConfig",
        "-k",
        "orderMessageEnable",
        "-v",
        "true",
    ])
    .await;
    let ns = cli.admin(&["getNamesrvConfig"]).await;
    assert_eq!(ns[&cli.namesrv]["orderMessageEnable"], "true", "{ns}");
    fails_naming(
        &cli,
        &["updateNamesrvConfig", "-k", "noSuchKey", "-v", "1"],
        "noSuchKey",
    )
    .await;

    cli.admin(&["updateKvConfig", "-s", "NS1", "-k", "K1", "-v", "V1"])
        .await;
    cli.admin(&["deleteKvConfig", "-s", "NS1", "-k", "K1"])
        .await;
    cli.admin(&["updateTopic", "-t", "OpsTopic", "-r", "4", "-w", "4"])
        .await;
    let put = cli
        .admin(&[
            "updateOrderConf",
            "-t",
            "OpsTopic",
            "-m",
            "put",
            "-v",
            "broker-a:4",
        ])
        .await;
    assert_eq!(put["orderConf"], "broker-a:4");
    let got = cli.admin(&["updateOrderConf", "-t", "OpsTopic"]).await;
    assert_eq!(got["orderConf"], "broker-a:4", "{got}");
    cli.admin(&["updateOrderConf", "-t", "OpsTopic", "-m", "delete"])
        .await;
    let got = cli.admin(&["updateOrderConf", "-t", "OpsTopic"]).await;
    assert!(got["orderConf"].is_null(), "{got}");
    fails_naming(
        &cli,
        &["updateOrderConf", "-t", "OpsTopic", "-m", "put", "-v", "x"],
        "x",
    )
    .await;
    fails_naming(
        &cli,
        &["updateOrderConf", "-t", "OpsTopic", "-m", "drop"],
        "drop",
    )
    .await;

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
    let perm = cli
        .admin(&["updateTopicPerm", "-t", "OpsTopic", "-b", b, "-p", "4"])
        .await;
    assert_eq!(perm["brokers"][0]["oldPerm"], 6, "{perm}");
    let text = cli.admin_text(&["topicRoute", "-t", "OpsTopic"]).await;
    assert!(text.contains('4'), "{text}");
    cli.admin(&["updateTopicPerm", "-t", "OpsTopic", "-b", b, "-p", "6"])
        .await;
    fails_naming(
        &cli,
        &["updateTopicPerm", "-t", "OpsTopic", "-b", b, "-p", "5"],
        "perm 5",
    )
    .await;

    let alloc = cli
        .admin(&["allocateMQ", "-t", "OpsTopic", "-i", "10.0.0.1,10.0.0.2"])
        .await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ops_commands_show_messages_queues_and_rates() {
    let cluster = start_cluster().await;
    let cli = Cli {
        namesrv: cluster.namesrv_addr(),
    };
    let addr = cluster.broker_addr();
    let b = addr.as_str();
    cli.admin(&["updateTopic", "-t", "OpsMsg", "-r", "1", "-w", "1"])
        .await;
    let sent = cli
        .admin(&[
            "sendMessage",
            "-t",
            "OpsMsg",
            "-p",
            "hello-ops",
            "--tags",
            "TagA",
        ])
        .await;
    let msg_id = sent["msgId"].as_str().unwrap().to_owned();
    cli.admin(&[
        "sendMessage",
        "-t",
        "OpsMsg",
        "-p",
        "second",
        "--tags",
        "TagB",
    ])
    .await;

    let cq = cli
        .admin(&["queryCq", "-t", "OpsMsg", "-q", "0", "-i", "0", "-c", "5"])
        .await;
    assert_eq!(cq["queueData"].as_array().unwrap().len(), 2, "{cq}");
    fails_naming(
        &cli,
        &["queryCq", "-t", "OpsMsg", "-q", "9", "-i", "0"],
        "queueId 9",
    )
    .await;

    let by_offset = cli
        .admin(&[
            "queryMsgByOffset",
            "-t",
            "OpsMsg",
            "-b",
            "broker-a",
            "-i",
            "0",
            "-o",
            "0",
        ])
        .await;
    assert_eq!(by_offset["messages"][0]["body"], "hello-ops", "{by_offset}");
    fails_naming(
        &cli,
        &[
            "queryMsgByOffset",
            "-t",
            "OpsMsg",
            "-b",
            "broker-a",
            "-i",
            "0",
            "-o",
            "7",
        ],
        "offset 7",
    )
    .await;
    let by_key = cli
        .admin(&["queryMsgByUniqueKey", "-i", &msg_id, "-t", "OpsMsg"])
        .await;
    assert_eq!(by_key["messages"][0]["body"], "hello-ops", "{by_key}");
    fails_naming(
        &cli,
        &["queryMsgByUniqueKey", "-i", "00FF", "-t", "OpsMsg"],
        "00FF",
    )
    .await;

    let printed = cli.admin(&["printMsg", "-t", "OpsMsg", "-s", "TagB"]).await;
    let msgs = printed["messages"].as_array().unwrap();
    assert_eq!(
        (msgs.len(), &msgs[0]["body"]),
        (1, &Value::from("second")),
        "{printed}"
    );
    let counted = cli
        .admin(&[
            "printMsgByQueue",
            "-t",
            "OpsMsg",
            "-a",
            "broker-a",
            "-i",
            "0",
            "-f",
            "true",
        ])
        .await;
    assert_eq!(
        counted["tags"],
        serde_json::json!({"TagA": 1, "TagB": 1}),
        "{counted}"
    );
    fails_naming(
        &cli,
        &["printMsg", "-t", "OpsMsg", "-b", "5", "-e", "1"],
        "time range",
    )
    .await;

    let rt = cli
        .admin(&["checkMsgSendRT", "-t", "OpsMsg", "-a", "3", "-s", "16"])
        .await;
    assert_eq!(rt["sends"].as_array().unwrap().len(), 3, "{rt}");
    let status = cli
        .admin(&["sendMsgStatus", "-b", "broker-a", "-c", "2", "-s", "16"])
        .await;
    assert_eq!(status["sends"][0]["status"], "SEND_OK", "{status}");
    let crt = cli.admin(&["clusterRT", "-a", "2", "-s", "16"]).await;
    assert_eq!(crt["brokers"][0]["successful"], 2, "{crt}");
    fails_naming(
        &cli,
        &["checkMsgSendRT", "-t", "OpsMsg", "-a", "0"],
        "amount 0",
    )
    .await;
    fails_naming(&cli, &["clusterRT", "-c", "NoCluster"], "NoCluster").await;

    // A group with a committed offset: stats, cloning and per-queue resets.
    cli.admin(&["updateSubGroup", "-g", "OpsGroup"]).await;
    let reset = cli
        .admin(&[
            "resetOffsetByTime",
            "-g",
            "OpsGroup",
            "-t",
            "OpsMsg",
            "-q",
            "0",
            "-o",
            "1",
        ])
        .await;
    assert_eq!(reset["offsets"][0]["offset"], 1, "{reset}");
    let stats = cli.admin(&["brokerConsumeStats", "-b", b]).await;
    assert!(
        stats["queues"]
            .as_array()
            .unwrap()
            .iter()
            .any(|q| q["group"] == "OpsGroup"),
        "{stats}"
    );
    fails_naming(
        &cli,
        &["brokerConsumeStats", "-b", "127.0.0.1:1"],
        "127.0.0.1:1",
    )
    .await;
    cli.admin(&[
        "cloneGroupOffset",
        "-s",
        "OpsGroup",
        "-d",
        "OpsGroup2",
        "-t",
        "OpsMsg",
        "-o",
        "true",
    ])
    .await;
    let progress = cli.admin(&["consumerProgress", "-g", "OpsGroup2"]).await;
    assert_eq!(progress["queues"][0]["consumerOffset"], 1, "{progress}");
    let all = cli.admin(&["statsAll", "-t", "OpsMsg"]).await;
    let rows = all["stats"].as_array().unwrap();
    assert!(rows.iter().any(|r| r["group"] == "OpsGroup"), "{all}");
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ops_commands_reach_live_clients() {
    let cluster = start_cluster().await;
    let cli = Cli {
        namesrv: cluster.namesrv_addr(),
    };
    cli.admin(&["updateTopic", "-t", "OpsLive", "-r", "2", "-w", "2"])
        .await;
    let producer = client::Producer::builder()
        .namesrv(&cli.namesrv)
        .group("OpsProducers")
        .build()
        .await
        .unwrap();
    producer
        .send(client::Message::new("OpsLive", b"x".to_vec()))
        .await
        .unwrap();
    let consumer = client::PushConsumer::builder()
        .namesrv(&cli.namesrv)
        .group("OpsLiveGroup")
        .subscribe("OpsLive", "*")
        .listener(|_msgs| async { client::ConsumeResult::Success })
        .build()
        .await
        .unwrap();
    // Membership and queue assignment settle after the first heartbeat.
    let mut conns = Value::Null;
    for _ in 0..100 {
        let out =
            apogee(cli.args(&["admin", "consumerConnection", "-g", "OpsLiveGroup"], true)).await;
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
    let client_id = conns["connections"][0]["clientId"]
        .as_str()
        .unwrap()
        .to_owned();

    let producers = cli
        .admin(&["producerConnection", "-g", "OpsProducers", "-t", "OpsLive"])
        .await;
    assert_eq!(
        producers["connections"].as_array().unwrap().len(),
        1,
        "{producers}"
    );
    fails_naming(
        &cli,
        &["producerConnection", "-g", "NoProducers", "-t", "OpsLive"],
        "NoProducers",
    )
    .await;

    let status = cli.admin(&["consumerStatus", "-g", "OpsLiveGroup"]).await;
    assert_eq!(status["subscriptionConsistent"], true, "{status}");
    assert_eq!(
        status["clients"][0]["clientId"],
        client_id.as_str(),
        "{status}"
    );
    let one = cli
        .admin(&["consumerStatus", "-g", "OpsLiveGroup", "-i", &client_id])
        .await;
    assert!(one["mqTable"].is_object(), "{one}");
    fails_naming(
        &cli,
        &["consumerStatus", "-g", "OpsLiveGroup", "-i", "nobody"],
        "nobody",
    )
    .await;

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
