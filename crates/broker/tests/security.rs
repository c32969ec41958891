#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Security over real TCP: a NameServer with ACL on (changes only from
//! admin accounts or whitelisted addresses; brokers sign their
//! registration), the broker's ACL file reloaded when it changes, and
//! group names refused wherever a group would be created implicitly.

use std::net::SocketAddr;
use std::time::Duration;

use broker::{Broker, BrokerConfig};
use namesrv::{NameServer, NamesrvConfig};
use protocol::body::register::RegisterBrokerBody;
use protocol::header::consumer::ConsumerSendMsgBackRequestHeader;
use protocol::header::namesrv::RegisterBrokerRequestHeader;
use protocol::signature::sign_request;
use protocol::{RemotingCommand, RequestCode, ResponseCode};
use remoting::{ClientConfig, RemotingClient};
use testkit::acl::PLAIN_ACL as ACL;
use testkit::wait::wait_async;
use testkit::TestCluster;

fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

async fn call(client: &RemotingClient, addr: &str, req: RemotingCommand) -> RemotingCommand {
    client
        .invoke(addr, req, Duration::from_secs(5))
        .await
        .expect("an answer")
}

fn fake_registration(addr: &str) -> RemotingCommand {
    let body = bytes::Bytes::from(RegisterBrokerBody::default().encode());
    let header = RegisterBrokerRequestHeader {
        broker_name: "broker-a".into(),
        broker_addr: addr.into(),
        cluster_name: "DefaultCluster".into(),
        ha_server_addr: "10.0.0.9:10912".into(),
        broker_id: 0,
        heartbeat_timeout_millis: None,
        enable_acting_master: Some(false),
        compressed: Some(false),
        body_crc32: Some(protocol::message::body_crc(&body) as i32),
    };
    RemotingCommand::request_with_header(RequestCode::REGISTER_BROKER, &header).with_body(body)
}

fn put_kv() -> RemotingCommand {
    let mut req = RemotingCommand::request(RequestCode::PUT_KV_CONFIG);
    for (k, v) in [("namespace", "NS"), ("key", "k"), ("value", "v")] {
        req.ext_fields.insert(k.into(), v.into());
    }
    req
}

async fn cluster_info(client: &RemotingClient, ns: &str) -> String {
    let req = RemotingCommand::request(RequestCode::GET_BROKER_CLUSTER_INFO);
    let resp = call(client, ns, req).await;
    assert_eq!(resp.code, 0, "reads stay open: {:?}", resp.remark);
    String::from_utf8_lossy(&resp.body).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn name_server_changes_need_an_admin_account_or_a_whitelisted_address() {
    let dir = tempfile::tempdir().unwrap();
    let acl_file = dir.path().join("namesrv-acl.yml");
    std::fs::write(&acl_file, ACL).unwrap();
    let namesrv = NameServer::start(
        NamesrvConfig {
            kv_config_path: dir.path().join("namesrv/kvConfig.json"),
            config_store_path: dir.path().join("namesrv/namesrv.properties"),
            acl_enable: true,
            acl_file_path: acl_file.clone(),
            ..NamesrvConfig::default()
        },
        loopback(),
    )
    .await
    .unwrap();
    let ns = namesrv.local_addr().to_string();
    let start_broker = |name: &str, secret: &str| {
        let config = BrokerConfig {
            namesrv_addr: ns.clone(),
            broker_name: name.into(),
            access_key: "brokerAdmin".into(),
            secret_key: secret.into(),
            ..BrokerConfig::default()
        };
        let store = testkit::small_store(&dir.path().join(name));
        async move { Broker::start(config, store, loopback()).await.unwrap() }
    };
    // A broker with the admin account registers; one with a wrong secret is refused.
    let good = start_broker("broker-good", "broker-admin-secret").await;
    let bad = start_broker("broker-bad", "not-the-secret").await;
    let client = RemotingClient::new(ClientConfig::default(), None);
    let registered = wait_async(20, || async {
        cluster_info(&client, &ns)
            .await
            .contains(good.advertised_addr())
    })
    .await;
    assert!(registered, "the signed registration was not accepted");
    let info = cluster_info(&client, &ns).await;
    assert!(!info.contains("broker-bad"), "{info}");

    // Unsigned changes are refused, naming why; nothing changes.
    let resp = call(&client, &ns, fake_registration("10.6.6.6:10911")).await;
    assert_eq!(resp.code, ResponseCode::NO_PERMISSION.code());
    assert_eq!(resp.remark.as_deref(), Some("No accessKey is configured"));
    let resp = call(&client, &ns, put_kv()).await;
    assert_eq!(resp.code, ResponseCode::NO_PERMISSION.code());

    // A signed request of an account that is not an admin is refused too.
    let mut req = fake_registration("10.6.6.6:10911");
    sign_request(&mut req, "publisher", "pub-secret");
    let resp = call(&client, &ns, req).await;
    assert_eq!(resp.code, ResponseCode::NO_PERMISSION.code());
    let remark = resp.remark.unwrap_or_default();
    assert!(
        remark.contains("Need admin permission") && remark.contains("publisher"),
        "{remark}"
    );
    let mut req = RemotingCommand::request(RequestCode::UNREGISTER_BROKER);
    for (k, v) in [
        ("brokerName", "broker-good"),
        ("brokerAddr", good.advertised_addr()),
        ("clusterName", "DefaultCluster"),
        ("brokerId", "0"),
    ] {
        req.ext_fields.insert(k.into(), v.into());
    }
    let resp = call(&client, &ns, req.clone()).await;
    assert_eq!(resp.code, ResponseCode::NO_PERMISSION.code());
    let info = cluster_info(&client, &ns).await;
    assert!(info.contains(good.advertised_addr()), "{info}");
    assert!(!info.contains("10.6.6.6"), "{info}");

    // The admin account may change things.
    let mut req = put_kv();
    sign_request(&mut req, "brokerAdmin", "broker-admin-secret");
    assert_eq!(call(&client, &ns, req).await.code, 0);

    // A whitelisted address needs no signature (the file is reloaded).
    std::fs::write(
        &acl_file,
        format!("globalWhiteRemoteAddresses: [127.0.0.1]\n{ACL}"),
    )
    .unwrap();
    let open = wait_async(30, || async {
        call(&client, &ns, put_kv()).await.code == 0
    })
    .await;
    assert!(open, "the whitelist of the reloaded file did not apply");

    good.shutdown().await;
    bad.shutdown().await;
    namesrv.shutdown().await;
}

fn signed_pull(key: &str, secret: &str) -> RemotingCommand {
    let mut req = testkit::requests::pull_request("ReloadTopic", 0, 0);
    sign_request(&mut req, key, secret);
    req
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_broker_reloads_a_changed_acl_file_and_keeps_the_old_one_when_broken() {
    let dir = tempfile::tempdir().unwrap();
    let acl_file = dir.path().join("plain_acl.yml");
    std::fs::write(&acl_file, ACL).unwrap();
    let path = acl_file.display().to_string();
    let cluster = TestCluster::start_with(|b, _| {
        b.acl_enable = true;
        b.acl_file_path = path;
        b.access_key = "brokerAdmin".into();
        b.secret_key = "broker-admin-secret".into();
    })
    .await;
    let resp = cluster.call(signed_pull("latecomer", "late-secret")).await;
    assert_eq!(resp.code, ResponseCode::NO_PERMISSION.code());
    assert_eq!(resp.remark.as_deref(), Some("No acl config for latecomer"));

    std::fs::write(
        &acl_file,
        format!("{ACL}  - accessKey: latecomer\n    secretKey: late-secret\n    defaultTopicPerm: SUB\n    defaultGroupPerm: SUB\n"),
    )
    .unwrap();
    let accepted = wait_async(30, || async {
        cluster
            .call(signed_pull("latecomer", "late-secret"))
            .await
            .code
            != ResponseCode::NO_PERMISSION.code()
    })
    .await;
    assert!(accepted, "the new account was not loaded");

    // A broken file: the error is logged, the rules in force stay.
    std::fs::write(&acl_file, "accounts:\n  - accessKey: [broken\n").unwrap();
    tokio::time::sleep(acl::shared::WATCH_INTERVAL * 3).await;
    let resp = cluster.call(signed_pull("latecomer", "late-secret")).await;
    assert_ne!(
        resp.code,
        ResponseCode::NO_PERMISSION.code(),
        "{:?}",
        resp.remark
    );
    cluster.shutdown().await;
}

fn heartbeat(group: &str) -> RemotingCommand {
    let body = format!(
        r#"{{"clientID":"c1","consumerDataSet":[{{"groupName":"{group}","consumeType":"CONSUME_PASSIVELY","messageModel":"CLUSTERING","consumeFromWhere":"CONSUME_FROM_LAST_OFFSET","subscriptionDataSet":[],"unitMode":false}}],"producerDataSet":[]}}"#
    );
    RemotingCommand::request(RequestCode::HEART_BEAT).with_body(body.into_bytes())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_group_names_are_refused_where_groups_are_created_implicitly() {
    let cluster = TestCluster::start().await;
    let long = "g".repeat(5_000);
    for group in ["../../victim", "%RETRY%../../victim", long.as_str()] {
        let resp = cluster.call(heartbeat(group)).await;
        assert_eq!(resp.code, ResponseCode::INVALID_PARAMETER.code(), "{group}");
        let remark = resp.remark.unwrap_or_default();
        assert!(remark.contains("group"), "{remark}");
        let header = ConsumerSendMsgBackRequestHeader {
            offset: 0,
            group: group.into(),
            delay_level: 0,
            origin_msg_id: None,
            origin_topic: Some("T".into()),
            unit_mode: None,
            max_reconsume_times: None,
        };
        let req =
            RemotingCommand::request_with_header(RequestCode::CONSUMER_SEND_MSG_BACK, &header);
        let resp = cluster.call(req).await;
        assert_eq!(resp.code, ResponseCode::INVALID_PARAMETER.code(), "{group}");
        let state = cluster.broker.state();
        assert!(state.groups.get(group).is_none());
        assert!(state.topics.get(&format!("%RETRY%{group}")).is_none());
    }
    // A good name still works.
    assert_eq!(cluster.call(heartbeat("GoodGroup_1")).await.code, 0);
    assert!(cluster.broker.state().groups.get("GoodGroup_1").is_some());
    cluster.shutdown().await;
}
