//! A NameServer on a real port, driven over TCP with the remoting client.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use namesrv::{NameServer, NamesrvConfig};
use protocol::body::cluster::ClusterInfo;
use protocol::body::register::RegisterBrokerBody;
use protocol::body::route::TopicRouteData;
use protocol::body::topic::{DataVersion, TopicConfig};
use protocol::header::namesrv::{
    BrokerHeartbeatRequestHeader, GetRouteInfoRequestHeader, RegisterBrokerRequestHeader,
    RegisterBrokerResponseHeader,
};
use protocol::{RemotingCommand, RequestCode, ResponseCode};
use remoting::{ClientConfig, RemotingClient};

const TIMEOUT: Duration = Duration::from_secs(5);

async fn start(dir: &tempfile::TempDir) -> NameServer {
    let config = NamesrvConfig {
        kv_config_path: dir.path().join("kvConfig.json"),
        config_store_path: dir.path().join("namesrv.properties"),
        scan_not_active_broker_interval: Duration::from_millis(100),
        ..NamesrvConfig::default()
    };
    NameServer::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

fn new_client() -> RemotingClient {
    RemotingClient::new(ClientConfig::default(), None)
}

fn register_request(
    cluster: &str,
    name: &str,
    id: i64,
    addr: &str,
    timeout_ms: Option<i64>,
) -> RemotingCommand {
    let mut body = RegisterBrokerBody::default();
    let w = &mut body.topic_config_serialize_wrapper;
    w.data_version = DataVersion {
        counter: 1,
        state_version: 0,
        timestamp: 1,
    };
    for topic in ["Shared", &format!("Only-{name}")] {
        w.topic_config_table
            .insert(topic.to_owned(), TopicConfig::new(topic, 4, 4));
    }
    let header = RegisterBrokerRequestHeader {
        broker_name: name.into(),
        broker_addr: addr.into(),
        cluster_name: cluster.into(),
        ha_server_addr: format!("{addr}-ha"),
        broker_id: id,
        heartbeat_timeout_millis: timeout_ms,
        enable_acting_master: Some(false),
        compressed: Some(false),
        body_crc32: None,
    };
    RemotingCommand::request_with_header(RequestCode::REGISTER_BROKER, &header)
        .with_body(body.encode())
}

async fn route(client: &RemotingClient, ns: &str, topic: &str) -> Option<TopicRouteData> {
    let header = GetRouteInfoRequestHeader {
        topic: topic.into(),
        accept_standard_json_only: None,
    };
    let req = RemotingCommand::request_with_header(RequestCode::GET_ROUTEINFO_BY_TOPIC, &header);
    let resp = client.invoke(ns, req, TIMEOUT).await.unwrap();
    if resp.code == ResponseCode::TOPIC_NOT_EXIST.code() {
        return None;
    }
    assert_eq!(resp.code, 0, "{:?}", resp.remark);
    Some(TopicRouteData::decode(&resp.body).unwrap())
}

async fn invoke_ok(client: &RemotingClient, ns: &str, req: RemotingCommand) -> RemotingCommand {
    let resp = client.invoke(ns, req, TIMEOUT).await.unwrap();
    assert_eq!(resp.code, 0, "{:?}", resp.remark);
    resp
}

#[tokio::test]
async fn two_clusters_register_route_and_expire() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir).await;
    let ns = server.local_addr().to_string();
    let client = new_client();

    invoke_ok(
        &client,
        &ns,
        register_request("c1", "broker-a", 0, "10.0.0.1:10911", Some(1500)),
    )
    .await;
    invoke_ok(
        &client,
        &ns,
        register_request("c2", "broker-b", 0, "10.0.0.2:10911", Some(1500)),
    )
    .await;
    let slave = invoke_ok(
        &client,
        &ns,
        register_request("c1", "broker-a", 1, "10.0.0.3:10911", None),
    )
    .await;
    let sh: RegisterBrokerResponseHeader = slave.decode_header().unwrap();
    assert_eq!(sh.master_addr.as_deref(), Some("10.0.0.1:10911"));
    assert_eq!(sh.ha_server_addr.as_deref(), Some("10.0.0.1:10911-ha"));

    let shared = route(&client, &ns, "Shared").await.unwrap();
    let names: Vec<_> = shared
        .broker_datas
        .iter()
        .map(|b| b.broker_name.as_str())
        .collect();
    assert_eq!(names, vec!["broker-a", "broker-b"]);
    assert_eq!(shared.broker_datas[0].broker_addrs.len(), 2);
    assert_eq!(
        route(&client, &ns, "Only-broker-b")
            .await
            .unwrap()
            .queue_datas
            .len(),
        1
    );
    assert!(route(&client, &ns, "Nope").await.is_none());

    let resp = invoke_ok(
        &client,
        &ns,
        RemotingCommand::request(RequestCode::GET_BROKER_CLUSTER_INFO),
    )
    .await;
    let ci = ClusterInfo::decode(&resp.body).unwrap();
    assert!(ci.cluster_addr_table["c1"].contains("broker-a"));
    assert!(ci.cluster_addr_table["c2"].contains("broker-b"));
    assert_eq!(
        ci.broker_addr_table["broker-a"].broker_addrs[&1],
        "10.0.0.3:10911"
    );

    let resp = client
        .invoke(
            &ns,
            RemotingCommand::request(RequestCode::SEND_MESSAGE),
            TIMEOUT,
        )
        .await
        .unwrap();
    assert_eq!(resp.code, ResponseCode::REQUEST_CODE_NOT_SUPPORTED.code());

    // broker-b keeps heartbeating, broker-a's master falls silent: after its
    // 1.5 s timeout only broker-a's master address goes.
    let heartbeat = BrokerHeartbeatRequestHeader {
        cluster_name: "c2".into(),
        broker_addr: "10.0.0.2:10911".into(),
        broker_name: "broker-b".into(),
        ..Default::default()
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let hb = RemotingCommand::request_with_header(RequestCode::BROKER_HEARTBEAT, &heartbeat);
        invoke_ok(&client, &ns, hb).await;
        let r = route(&client, &ns, "Only-broker-a").await.unwrap();
        if r.broker_datas[0].master_addr().is_none() {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "broker-a's master never expired"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let r = route(&client, &ns, "Only-broker-b").await.unwrap();
    assert_eq!(r.broker_datas[0].master_addr(), Some("10.0.0.2:10911"));

    client.shutdown().await;
    server.shutdown().await;
}

#[tokio::test]
async fn closing_the_registering_connection_drops_the_broker() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir).await;
    let ns = server.local_addr().to_string();
    let observer = new_client();
    let broker = new_client();
    invoke_ok(
        &broker,
        &ns,
        register_request("c1", "broker-a", 0, "10.0.0.1:10911", None),
    )
    .await;
    assert!(route(&observer, &ns, "Only-broker-a").await.is_some());

    broker.shutdown().await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while route(&observer, &ns, "Only-broker-a").await.is_some() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "route survived the connection"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    observer.shutdown().await;
    server.shutdown().await;
}

#[tokio::test]
async fn kv_config_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir).await;
    let ns = server.local_addr().to_string();
    let client = new_client();
    let put = protocol::header::namesrv::PutKvConfigRequestHeader {
        namespace: "NS".into(),
        key: "k".into(),
        value: "v".into(),
    };
    invoke_ok(
        &client,
        &ns,
        RemotingCommand::request_with_header(RequestCode::PUT_KV_CONFIG, &put),
    )
    .await;
    client.shutdown().await;
    server.shutdown().await;

    let server = start(&dir).await;
    let ns = server.local_addr().to_string();
    let client = new_client();
    let get = protocol::header::namesrv::GetKvConfigRequestHeader {
        namespace: "NS".into(),
        key: "k".into(),
    };
    let resp = invoke_ok(
        &client,
        &ns,
        RemotingCommand::request_with_header(RequestCode::GET_KV_CONFIG, &get),
    )
    .await;
    assert_eq!(resp.field("value"), Some("v"));
    client.shutdown().await;
    server.shutdown().await;
}
