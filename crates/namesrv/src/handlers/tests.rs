//! Handlers driven with requests, without sockets.

use std::sync::Arc;
use std::time::Duration;

use protocol::body::cluster::ClusterInfo;
use protocol::body::kv::KvTable;
use protocol::body::register::RegisterBrokerBody;
use protocol::body::route::TopicRouteData;
use protocol::body::topic::{DataVersion, TopicConfig, TopicList};
use protocol::header::namesrv::*;
use protocol::{CommandHeader, RemotingCommand, RequestCode, ResponseCode};

use super::broker::body_crc32;
use super::NamesrvState;
use crate::config::NamesrvConfig;

fn state(dir: &tempfile::TempDir) -> Arc<NamesrvState> {
    let config = NamesrvConfig {
        kv_config_path: dir.path().join("kvConfig.json"),
        config_store_path: dir.path().join("namesrv.properties"),
        ..NamesrvConfig::default()
    };
    NamesrvState::new(config).unwrap()
}

fn call<H: CommandHeader>(
    s: &NamesrvState,
    code: RequestCode,
    h: &H,
    body: &[u8],
) -> RemotingCommand {
    let mut req = RemotingCommand::request_with_header(code, h).with_body(body.to_vec());
    req.opaque = 42;
    let resp = s.dispatch(1, &req).unwrap();
    assert!(resp.is_response());
    assert_eq!(resp.opaque, 42);
    resp
}

fn register_body(counter: i64, topics: &[&str]) -> RegisterBrokerBody {
    let mut body = RegisterBrokerBody::default();
    let w = &mut body.topic_config_serialize_wrapper;
    w.data_version = DataVersion {
        counter,
        state_version: 0,
        timestamp: 7,
    };
    for t in topics {
        w.topic_config_table
            .insert((*t).into(), TopicConfig::new(*t, 4, 4));
    }
    body
}

fn register_header(name: &str, id: i64, addr: &str) -> RegisterBrokerRequestHeader {
    RegisterBrokerRequestHeader {
        broker_name: name.into(),
        broker_addr: addr.into(),
        cluster_name: "DefaultCluster".into(),
        ha_server_addr: format!("{addr}-ha"),
        broker_id: id,
        heartbeat_timeout_millis: None,
        enable_acting_master: Some(false),
        compressed: Some(false),
        body_crc32: None,
    }
}

#[test]
fn register_json_and_compressed_then_route() {
    let dir = tempfile::tempdir().unwrap();
    let s = state(&dir);
    let body = register_body(1, &["T", "U"]).encode();
    let mut h = register_header("broker-a", 0, "10.0.0.1:10911");
    h.body_crc32 = Some(body_crc32(&body));
    let resp = call(&s, RequestCode::REGISTER_BROKER, &h, &body);
    assert_eq!(resp.code, 0, "{:?}", resp.remark);

    let compressed = register_body(1, &["T", "V"])
        .encode_compressed(protocol::CURRENT_VERSION)
        .unwrap();
    let mut hs = register_header("broker-a", 1, "10.0.0.2:10911");
    hs.compressed = Some(true);
    let resp = call(&s, RequestCode::REGISTER_BROKER, &hs, &compressed);
    assert_eq!(resp.code, 0, "{:?}", resp.remark);
    let rh: RegisterBrokerResponseHeader = resp.decode_header().unwrap();
    assert_eq!(rh.master_addr.as_deref(), Some("10.0.0.1:10911"));
    assert_eq!(rh.ha_server_addr.as_deref(), Some("10.0.0.1:10911-ha"));

    let route_req = GetRouteInfoRequestHeader {
        topic: "T".into(),
        accept_standard_json_only: None,
    };
    let resp = call(&s, RequestCode::GET_ROUTEINFO_BY_TOPIC, &route_req, b"");
    assert_eq!(resp.code, 0);
    let json = std::str::from_utf8(&resp.body).unwrap();
    assert!(
        json.contains(r#""brokerAddrs":{"0":"10.0.0.1:10911","1":"10.0.0.2:10911"}"#),
        "{json}"
    );
    let route = TopicRouteData::decode(&resp.body).unwrap();
    assert_eq!(route.queue_datas[0].write_queue_nums, 4);

    let missing = GetRouteInfoRequestHeader {
        topic: "X".into(),
        accept_standard_json_only: None,
    };
    let resp = call(&s, RequestCode::GET_ROUTEINFO_BY_TOPIC, &missing, b"");
    assert_eq!(resp.code, ResponseCode::TOPIC_NOT_EXIST.code());
    assert_eq!(
        resp.remark.as_deref(),
        Some("No topic route info in name server for the topic: X")
    );

    let resp = call(
        &s,
        RequestCode::GET_BROKER_CLUSTER_INFO,
        &GetKvListByNamespaceRequestHeader::default(),
        b"",
    );
    let ci = ClusterInfo::decode(&resp.body).unwrap();
    assert_eq!(ci.broker_addr_table["broker-a"].broker_addrs.len(), 2);
}

#[test]
fn bad_crc_and_bad_bodies_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let s = state(&dir);
    let body = register_body(1, &["T", "U"]).encode();
    let mut h = register_header("broker-a", 0, "a:1");
    h.body_crc32 = Some(body_crc32(&body) ^ 1);
    let resp = call(&s, RequestCode::REGISTER_BROKER, &h, &body);
    assert_eq!(resp.code, ResponseCode::SYSTEM_ERROR.code());
    assert_eq!(resp.remark.as_deref(), Some("crc32 not match"));
    h.body_crc32 = None;
    let resp = call(&s, RequestCode::REGISTER_BROKER, &h, b"{broken");
    assert_eq!(resp.code, ResponseCode::SYSTEM_ERROR.code());
    let missing = RemotingCommand::request(RequestCode::REGISTER_BROKER);
    let resp = s.dispatch(1, &missing).unwrap();
    assert!(resp.remark.unwrap().contains("brokerName"));
}

#[test]
fn unknown_codes_are_left_to_the_transport() {
    let dir = tempfile::tempdir().unwrap();
    let s = state(&dir);
    assert!(s
        .dispatch(1, &RemotingCommand::request(RequestCode::SEND_MESSAGE))
        .is_none());
    assert!(s
        .dispatch(1, &RemotingCommand::request_code(99_999))
        .is_none());
}

#[test]
fn query_data_version_and_heartbeat() {
    let dir = tempfile::tempdir().unwrap();
    let s = state(&dir);
    let body = register_body(3, &["T", "U"]);
    call(
        &s,
        RequestCode::REGISTER_BROKER,
        &register_header("b", 0, "a:1"),
        &body.encode(),
    );
    let q = QueryDataVersionRequestHeader {
        broker_name: "b".into(),
        broker_addr: "a:1".into(),
        cluster_name: "DefaultCluster".into(),
        broker_id: 0,
    };
    let same = body.topic_config_serialize_wrapper.data_version;
    let resp = call(&s, RequestCode::QUERY_DATA_VERSION, &q, &same.encode());
    let h: QueryDataVersionResponseHeader = resp.decode_header().unwrap();
    assert_eq!(h.changed, Some(false));
    assert_eq!(DataVersion::decode(&resp.body).unwrap(), same);
    let newer = DataVersion { counter: 4, ..same };
    let resp = call(&s, RequestCode::QUERY_DATA_VERSION, &q, &newer.encode());
    assert_eq!(
        resp.decode_header::<QueryDataVersionResponseHeader>()
            .unwrap()
            .changed,
        Some(true)
    );

    let hb = BrokerHeartbeatRequestHeader {
        cluster_name: "DefaultCluster".into(),
        broker_addr: "a:1".into(),
        broker_name: "b".into(),
        ..Default::default()
    };
    assert_eq!(call(&s, RequestCode::BROKER_HEARTBEAT, &hb, b"").code, 0);

    let un = UnregisterBrokerRequestHeader {
        broker_name: "b".into(),
        broker_addr: "a:1".into(),
        cluster_name: "DefaultCluster".into(),
        broker_id: 0,
    };
    assert_eq!(call(&s, RequestCode::UNREGISTER_BROKER, &un, b"").code, 0);
    assert!(s.routes.route("T").is_none());
}

#[test]
fn perms_topics_and_lists() {
    let dir = tempfile::tempdir().unwrap();
    let s = state(&dir);
    call(
        &s,
        RequestCode::REGISTER_BROKER,
        &register_header("b", 0, "a:1"),
        &register_body(1, &["T", "U"]).encode(),
    );
    let wipe = WipeWritePermOfBrokerRequestHeader {
        broker_name: "b".into(),
    };
    let resp = call(&s, RequestCode::WIPE_WRITE_PERM_OF_BROKER, &wipe, b"");
    assert_eq!(resp.field("wipeTopicCount"), Some("2"));
    let add = AddWritePermOfBrokerRequestHeader {
        broker_name: "b".into(),
    };
    let resp = call(&s, RequestCode::ADD_WRITE_PERM_OF_BROKER, &add, b"");
    assert_eq!(resp.field("addTopicCount"), Some("2"));

    let none = GetKvListByNamespaceRequestHeader::default();
    let resp = call(
        &s,
        RequestCode::GET_ALL_TOPIC_LIST_FROM_NAMESERVER,
        &none,
        b"",
    );
    assert_eq!(TopicList::decode(&resp.body).unwrap().topic_list.len(), 2);
    let by = GetTopicsByClusterRequestHeader {
        cluster: "DefaultCluster".into(),
    };
    let resp = call(&s, RequestCode::GET_TOPICS_BY_CLUSTER, &by, b"");
    assert_eq!(TopicList::decode(&resp.body).unwrap().topic_list.len(), 2);
    let resp = call(&s, RequestCode::GET_SYSTEM_TOPIC_LIST_FROM_NS, &none, b"");
    let sys = TopicList::decode(&resp.body).unwrap();
    assert!(sys.topic_list.contains("DefaultCluster") && sys.topic_list.contains("b"));
    assert_eq!(sys.broker_addr.as_deref(), Some("a:1"));
    let resp = call(&s, RequestCode::GET_UNIT_TOPIC_LIST, &none, b"");
    assert!(TopicList::decode(&resp.body).unwrap().topic_list.is_empty());

    let del = DeleteTopicFromNamesrvRequestHeader {
        topic: "T".into(),
        cluster_name: None,
    };
    assert_eq!(
        call(&s, RequestCode::DELETE_TOPIC_IN_NAMESRV, &del, b"").code,
        0
    );
    assert!(s.routes.route("T").is_none());

    let route = s.routes.route("U").unwrap();
    let reg = RegisterTopicRequestHeader { topic: "W".into() };
    assert_eq!(
        call(
            &s,
            RequestCode::REGISTER_TOPIC_IN_NAMESRV,
            &reg,
            &route.encode()
        )
        .code,
        0
    );
    assert!(s.routes.route("W").is_some());

    s.config.write().enable_all_topic_list = false;
    let resp = call(
        &s,
        RequestCode::GET_ALL_TOPIC_LIST_FROM_NAMESERVER,
        &none,
        b"",
    );
    assert_eq!((resp.code, resp.remark.as_deref()), (1, Some("disable")));
}

#[test]
fn kv_config_requests_and_order_topic_conf() {
    let dir = tempfile::tempdir().unwrap();
    let s = state(&dir);
    let put = PutKvConfigRequestHeader {
        namespace: "ORDER_TOPIC_CONFIG".into(),
        key: "T".into(),
        value: "b:4".into(),
    };
    assert_eq!(call(&s, RequestCode::PUT_KV_CONFIG, &put, b"").code, 0);
    let get = GetKvConfigRequestHeader {
        namespace: "ORDER_TOPIC_CONFIG".into(),
        key: "T".into(),
    };
    let resp = call(&s, RequestCode::GET_KV_CONFIG, &get, b"");
    assert_eq!(resp.field("value"), Some("b:4"));
    let list = GetKvListByNamespaceRequestHeader {
        namespace: "ORDER_TOPIC_CONFIG".into(),
    };
    let resp = call(&s, RequestCode::GET_KVLIST_BY_NAMESPACE, &list, b"");
    assert_eq!(KvTable::decode(&resp.body).unwrap().table["T"], "b:4");

    // Registering brokers get the namespace back; routes carry it when enabled.
    let resp = call(
        &s,
        RequestCode::REGISTER_BROKER,
        &register_header("b", 0, "a:1"),
        &register_body(1, &["T", "U"]).encode(),
    );
    assert_eq!(KvTable::decode(&resp.body).unwrap().table["T"], "b:4");
    s.config.write().order_message_enable = true;
    let rq = GetRouteInfoRequestHeader {
        topic: "T".into(),
        accept_standard_json_only: Some(true),
    };
    let resp = call(&s, RequestCode::GET_ROUTEINFO_BY_TOPIC, &rq, b"");
    assert_eq!(
        TopicRouteData::decode(&resp.body)
            .unwrap()
            .order_topic_conf
            .as_deref(),
        Some("b:4")
    );

    let del = DeleteKvConfigRequestHeader {
        namespace: "ORDER_TOPIC_CONFIG".into(),
        key: "T".into(),
    };
    assert_eq!(call(&s, RequestCode::DELETE_KV_CONFIG, &del, b"").code, 0);
    let resp = call(&s, RequestCode::GET_KV_CONFIG, &get, b"");
    assert_eq!(resp.code, ResponseCode::QUERY_NOT_FOUND.code());
    let resp = call(&s, RequestCode::GET_KVLIST_BY_NAMESPACE, &list, b"");
    assert_eq!(resp.code, ResponseCode::QUERY_NOT_FOUND.code());
}

#[test]
fn namesrv_config_get_and_update() {
    let dir = tempfile::tempdir().unwrap();
    let s = state(&dir);
    let none = GetKvListByNamespaceRequestHeader::default();
    let resp = call(&s, RequestCode::GET_NAMESRV_CONFIG, &none, b"");
    let text = String::from_utf8(resp.body.to_vec()).unwrap();
    assert!(text.contains("listenPort=9876\n"), "{text}");

    let resp = call(
        &s,
        RequestCode::UPDATE_NAMESRV_CONFIG,
        &none,
        b"brokerChannelExpiredTime=3000\nenableTopicList=false\n",
    );
    assert_eq!(resp.code, 0, "{:?}", resp.remark);
    assert_eq!(
        s.config().broker_channel_expired_time,
        Duration::from_secs(3)
    );
    assert!(!s.config().enable_topic_list);
    let stored = std::fs::read_to_string(dir.path().join("namesrv.properties")).unwrap();
    assert!(stored.contains("brokerChannelExpiredTime=3000"), "{stored}");

    let resp = call(
        &s,
        RequestCode::UPDATE_NAMESRV_CONFIG,
        &none,
        b"kvConfigPath=/etc/x",
    );
    assert_eq!(resp.code, ResponseCode::NO_PERMISSION.code());
    let resp = call(
        &s,
        RequestCode::UPDATE_NAMESRV_CONFIG,
        &none,
        b"noSuchKey=1",
    );
    assert_eq!(resp.code, ResponseCode::SYSTEM_ERROR.code());
    assert!(resp.remark.unwrap().contains("noSuchKey"));
    let resp = call(
        &s,
        RequestCode::UPDATE_NAMESRV_CONFIG,
        &none,
        b"scanNotActiveBrokerInterval=0",
    );
    assert_eq!(resp.code, ResponseCode::SYSTEM_ERROR.code());
    assert_eq!(
        s.config().scan_not_active_broker_interval,
        Duration::from_secs(5)
    );
}

#[test]
fn routes_wait_for_service_when_configured() {
    let dir = tempfile::tempdir().unwrap();
    let config = NamesrvConfig {
        kv_config_path: dir.path().join("kv.json"),
        need_wait_for_service: true,
        wait_seconds_for_service: 3600,
        ..NamesrvConfig::default()
    };
    let s = NamesrvState::new(config).unwrap();
    let rq = GetRouteInfoRequestHeader {
        topic: "T".into(),
        accept_standard_json_only: None,
    };
    let resp = call(&s, RequestCode::GET_ROUTEINFO_BY_TOPIC, &rq, b"");
    assert_eq!(resp.remark.as_deref(), Some("name server not ready"));
}
