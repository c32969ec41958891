//! `apogee admin` and `apogee bench` run as a process against an
//! in-process NameServer + broker.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::*;
use serde_json::Value;

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

/// With the ACL on, `sendMessage` and `consumeMessage` sign with the
/// account given by `--access-key`/`--secret-key`; unsigned, they are refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_and_consume_message_sign_with_the_account_given() {
    let dir = tempfile::tempdir().unwrap();
    let path = testkit::acl::write(dir.path()).display().to_string();
    let (admin_key, admin_secret) = testkit::acl::BROKER_ADMIN;
    let cluster = testkit::TestCluster::start_with(|b, store| {
        store.disk_space_warning_level_ratio = 99;
        b.acl_enable = true;
        b.acl_file_path = path;
        b.access_key = admin_key.into();
        b.secret_key = admin_secret.into();
    })
    .await;
    let cli = Cli {
        namesrv: cluster.namesrv_addr(),
    };
    let signed = |(key, secret): (&'static str, &'static str), cmd: &[&'static str]| {
        let mut v = vec!["--access-key", key, "--secret-key", secret];
        v.extend_from_slice(cmd);
        v
    };
    let topic = "SignedCliTopic";
    let create = ["updateTopic", "-t", topic, "-r", "1", "-w", "1"];
    cli.admin(&signed(testkit::acl::OPERATOR, &create)).await;

    fails_naming(
        &cli,
        &["sendMessage", "-t", topic, "-p", "unsigned"],
        "accessKey",
    )
    .await;
    let send = ["sendMessage", "-t", topic, "-p", "signed-body"];
    cli.admin(&signed(testkit::acl::PUBLISHER, &send)).await;

    let consume = ["consumeMessage", "-t", topic, "-c", "10"];
    let read = cli.admin(&signed(testkit::acl::SUBSCRIBER, &consume)).await;
    let bodies: Vec<&str> = read["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["body"].as_str().unwrap())
        .collect();
    assert_eq!(bodies, ["signed-body"], "{read}");
}
