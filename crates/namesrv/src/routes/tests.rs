//! Route table behaviour (remoting-protocol §9.1).

use std::time::{Duration, Instant};

use protocol::body::route::QueueData;
use protocol::body::topic::{
    DataVersion, TopicConfig, TopicConfigSerializeWrapper, TOPIC_SYS_FLAG_UNIT,
};

use super::*;
use crate::error::NamesrvError;

const OPTS: RegisterOptions = RegisterOptions {
    default_timeout: Duration::from_secs(120),
    delete_topics_not_registered: false,
};

fn topics(counter: i64, names: &[(&str, i32)]) -> TopicConfigSerializeWrapper {
    let mut w = TopicConfigSerializeWrapper {
        data_version: DataVersion {
            counter,
            state_version: 0,
            timestamp: 1000,
        },
        ..Default::default()
    };
    for (name, queues) in names {
        w.topic_config_table.insert(
            (*name).to_owned(),
            TopicConfig::new(*name, *queues, *queues),
        );
    }
    w
}

fn reg(
    cluster: &str,
    name: &str,
    id: i64,
    addr: &str,
    t: TopicConfigSerializeWrapper,
) -> BrokerRegistration {
    BrokerRegistration {
        cluster: cluster.into(),
        broker_name: name.into(),
        broker_addr: addr.into(),
        broker_id: id,
        ha_server_addr: format!("{addr}-ha"),
        zone_name: None,
        timeout: None,
        enable_acting_master: Some(false),
        topics: t,
        filter_servers: Vec::new(),
        conn_id: Some(id as u64 + 100),
    }
}

/// broker-a (cluster c1, master + slave) and broker-b (cluster c2), sharing T.
fn two_clusters(now: Instant) -> RouteTable {
    let rt = RouteTable::new();
    let ta = topics(1, &[("T", 4), ("TA", 2)]);
    rt.register(reg("c1", "broker-a", 0, "a0:1", ta.clone()), OPTS, now)
        .unwrap();
    rt.register(reg("c1", "broker-a", 1, "a1:1", ta), OPTS, now)
        .unwrap();
    let tb = topics(1, &[("T", 8), ("TB", 1)]);
    let mut b = reg("c2", "broker-b", 0, "b0:1", tb);
    b.conn_id = Some(7);
    rt.register(b, OPTS, now).unwrap();
    rt
}

#[test]
fn routes_and_cluster_info_of_two_clusters() {
    let rt = two_clusters(Instant::now());
    let route = rt.route("T").unwrap();
    let names: Vec<_> = route
        .queue_datas
        .iter()
        .map(|q| (q.broker_name.as_str(), q.write_queue_nums))
        .collect();
    assert_eq!(names, vec![("broker-a", 4), ("broker-b", 8)]);
    assert_eq!(route.broker_datas.len(), 2);
    assert_eq!(route.broker_datas[0].broker_addrs.len(), 2);
    assert_eq!(route.broker_datas[0].master_addr(), Some("a0:1"));
    assert_eq!(route.broker_datas[1].cluster, "c2");
    assert_eq!(rt.route("TA").unwrap().broker_datas.len(), 1);
    assert!(rt.route("nope").is_none());

    let ci = rt.cluster_info();
    assert_eq!(
        ci.cluster_addr_table["c1"].iter().collect::<Vec<_>>(),
        vec!["broker-a"]
    );
    assert_eq!(
        ci.cluster_addr_table["c2"].iter().collect::<Vec<_>>(),
        vec!["broker-b"]
    );
    assert_eq!(ci.broker_addr_table["broker-a"].broker_addrs[&1], "a1:1");

    let all: Vec<_> = rt.all_topics().topic_list.into_iter().collect();
    assert_eq!(all, vec!["T", "TA", "TB"]);
    let c2: Vec<_> = rt.topics_by_cluster("c2").topic_list.into_iter().collect();
    assert_eq!(c2, vec!["T", "TB"]);
    assert!(rt.topics_by_cluster("c9").topic_list.is_empty());
    let sys = rt.system_topics();
    let sys_names: Vec<_> = sys.topic_list.iter().map(String::as_str).collect();
    assert_eq!(sys_names, vec!["broker-a", "broker-b", "c1", "c2"]);
    assert!(sys.broker_addr.is_some());
}

#[test]
fn slave_learns_master_and_ha_address() {
    let now = Instant::now();
    let rt = RouteTable::new();
    // A 4.x slave (no enableActingMaster) alone adds no routes; a 5.x one
    // would, as the group's prime slave.
    let mut old_slave = reg(
        "c1",
        "broker-a",
        1,
        "a1:1",
        topics(1, &[("T", 4), ("U", 1)]),
    );
    old_slave.enable_acting_master = None;
    assert_eq!(
        rt.register(old_slave, OPTS, now).unwrap(),
        RegisterOutcome::default()
    );
    assert!(rt.route("T").is_none());
    let master = rt.register(
        reg(
            "c1",
            "broker-a",
            0,
            "a0:1",
            topics(1, &[("T", 4), ("U", 1)]),
        ),
        OPTS,
        now,
    );
    assert_eq!(master.unwrap(), RegisterOutcome::default());
    let again = rt
        .register(
            reg(
                "c1",
                "broker-a",
                1,
                "a1:1",
                topics(1, &[("T", 4), ("U", 1)]),
            ),
            OPTS,
            now,
        )
        .unwrap();
    assert_eq!(again.master_addr.as_deref(), Some("a0:1"));
    assert_eq!(again.ha_server_addr.as_deref(), Some("a0:1-ha"));
}

#[test]
fn slave_promoted_to_master_loses_its_old_id() {
    let now = Instant::now();
    let rt = two_clusters(now);
    rt.unregister("c1", "broker-a", "a0:1");
    rt.register(
        reg(
            "c1",
            "broker-a",
            0,
            "a1:1",
            topics(2, &[("T", 4), ("TA", 2)]),
        ),
        OPTS,
        now,
    )
    .unwrap();
    let bd = &rt.cluster_info().broker_addr_table["broker-a"];
    assert_eq!(bd.broker_addrs.len(), 1);
    assert_eq!(bd.broker_addrs[&0], "a1:1");
}

#[test]
fn expiry_drops_silent_brokers_and_shrinks_routes() {
    let now = Instant::now();
    let rt = two_clusters(now);
    let mut short = reg(
        "c2",
        "broker-b",
        0,
        "b0:1",
        topics(1, &[("T", 8), ("TB", 1)]),
    );
    short.timeout = Some(Duration::from_secs(10));
    rt.register(short, OPTS, now).unwrap();

    assert!(rt.remove_expired(now + Duration::from_secs(5)).is_empty());
    let removed = rt.remove_expired(now + Duration::from_secs(11));
    assert_eq!(
        removed,
        vec![RemovedBroker {
            cluster: "c2".into(),
            broker_name: "broker-b".into(),
            broker_addr: "b0:1".into()
        }]
    );
    assert!(rt.route("TB").is_none());
    assert_eq!(rt.route("T").unwrap().queue_datas.len(), 1);
    assert!(!rt.cluster_info().cluster_addr_table.contains_key("c2"));

    // A heartbeat keeps a broker alive past its default timeout.
    assert!(rt.touch("c1", "a0:1", now + Duration::from_secs(100)));
    let removed = rt.remove_expired(now + Duration::from_secs(150));
    assert_eq!(removed.len(), 1);
    assert_eq!(removed[0].broker_addr, "a1:1");
    assert!(rt.route("T").is_some());
    assert!(rt.remove_expired(now + Duration::from_secs(221)).len() == 1);
    assert!(rt.route("T").is_none());
    assert!(rt.cluster_info().broker_addr_table.is_empty());
}

#[test]
fn connection_close_drops_the_broker_at_once() {
    let rt = two_clusters(Instant::now());
    assert!(rt.connection_closed(999).is_empty());
    let removed = rt.connection_closed(7);
    assert_eq!(removed.len(), 1);
    assert_eq!(removed[0].broker_name, "broker-b");
    assert!(rt.route("TB").is_none());
    // The slave of broker-a leaving keeps the name and its routes.
    rt.connection_closed(101);
    assert_eq!(
        rt.route("TA").unwrap().broker_datas[0].broker_addrs.len(),
        1
    );
}

#[test]
fn data_version_decides_topic_updates() {
    let now = Instant::now();
    let rt = two_clusters(now);
    let v1 = DataVersion {
        counter: 1,
        state_version: 0,
        timestamp: 1000,
    };
    assert!(!rt.is_data_version_changed("c1", "a0:1", &v1));
    assert!(rt.is_data_version_changed("c1", "a0:1", &DataVersion { counter: 2, ..v1 }));
    assert!(rt.is_data_version_changed("c1", "unknown:1", &v1));
    assert_eq!(rt.data_version("c1", "a0:1"), Some(v1));

    // Same version, changed queue count: ignored (Java keeps the old queues).
    rt.register(
        reg(
            "c1",
            "broker-a",
            0,
            "a0:1",
            topics(1, &[("T", 16), ("TA", 2)]),
        ),
        OPTS,
        now,
    )
    .unwrap();
    assert_eq!(rt.route("T").unwrap().queue_datas[0].write_queue_nums, 4);
    // New version: applied.
    rt.register(
        reg(
            "c1",
            "broker-a",
            0,
            "a0:1",
            topics(2, &[("T", 16), ("TA", 2)]),
        ),
        OPTS,
        now,
    )
    .unwrap();
    assert_eq!(rt.route("T").unwrap().queue_datas[0].write_queue_nums, 16);
    // Same version but a topic without queues here: added.
    rt.register(
        reg(
            "c1",
            "broker-a",
            0,
            "a0:1",
            topics(2, &[("T", 16), ("TA", 2), ("NEW", 3)]),
        ),
        OPTS,
        now,
    )
    .unwrap();
    assert_eq!(rt.route("NEW").unwrap().queue_datas[0].read_queue_nums, 3);
}

#[test]
fn registration_can_delete_topics_it_no_longer_lists() {
    let now = Instant::now();
    let rt = two_clusters(now);
    let opts = RegisterOptions {
        delete_topics_not_registered: true,
        ..OPTS
    };
    rt.register(
        reg("c1", "broker-a", 0, "a0:1", topics(2, &[("T", 4)])),
        opts,
        now,
    )
    .unwrap();
    assert!(rt.route("TA").is_none());
    assert_eq!(rt.route("T").unwrap().queue_datas.len(), 2);
}

#[test]
fn single_topic_registration_needs_a_full_one_first() {
    let rt = RouteTable::new();
    let err = rt
        .register(
            reg("c1", "broker-a", 0, "a0:1", topics(1, &[("T", 4)])),
            OPTS,
            Instant::now(),
        )
        .unwrap_err();
    assert!(matches!(err, NamesrvError::RegisterRejected(_)), "{err}");
}

#[test]
fn delete_topic_everywhere_or_per_cluster() {
    let rt = two_clusters(Instant::now());
    assert!(rt.delete_topic("T", Some("c1")));
    let route = rt.route("T").unwrap();
    assert_eq!(route.queue_datas.len(), 1);
    assert_eq!(route.queue_datas[0].broker_name, "broker-b");
    assert!(!rt.delete_topic("T", Some("nope")));
    assert!(rt.delete_topic("TA", None));
    assert!(rt.route("TA").is_none());
    assert!(rt.delete_topic("T", Some("c2")));
    assert!(rt.route("T").is_none());
    assert!(!rt.all_topics().topic_list.contains("T"));
}

#[test]
fn wipe_and_add_write_perm() {
    let rt = two_clusters(Instant::now());
    assert_eq!(rt.set_write_perm("broker-a", true), 2);
    let perm_of = |topic: &str| rt.route(topic).unwrap().queue_datas[0].perm;
    assert_eq!(perm_of("TA"), 4);
    assert_eq!(perm_of("T"), 4);
    assert_eq!(rt.route("T").unwrap().queue_datas[1].perm, 6);
    assert_eq!(rt.set_write_perm("broker-a", false), 2);
    assert_eq!(perm_of("TA"), 6);
    assert_eq!(rt.set_write_perm("nobody", true), 0);
}

#[test]
fn register_topic_needs_known_brokers() {
    let rt = two_clusters(Instant::now());
    let q = |name: &str| QueueData {
        broker_name: name.into(),
        perm: 6,
        read_queue_nums: 2,
        topic_sys_flag: TOPIC_SYS_FLAG_UNIT,
        write_queue_nums: 2,
    };
    let err = rt
        .register_topic("X", &[q("broker-a"), q("ghost")])
        .unwrap_err();
    assert!(err.to_string().contains("ghost"), "{err}");
    assert!(rt.route("X").is_none());
    rt.register_topic("X", &[q("broker-a"), q("broker-b")])
        .unwrap();
    assert_eq!(rt.route("X").unwrap().queue_datas.len(), 2);
    let unit: Vec<_> = rt
        .unit_topics(UnitTopicKind::Unit)
        .topic_list
        .into_iter()
        .collect();
    assert_eq!(unit, vec!["X"]);
    assert!(rt
        .unit_topics(UnitTopicKind::HasUnitSub)
        .topic_list
        .is_empty());
}

#[test]
fn stale_state_version_cannot_take_an_id() {
    let now = Instant::now();
    let rt = RouteTable::new();
    let mut newer = topics(1, &[("T", 4), ("U", 1)]);
    newer.data_version.state_version = 5;
    rt.register(reg("c1", "broker-a", 0, "a0:1", newer), OPTS, now)
        .unwrap();
    let err = rt
        .register(
            reg(
                "c1",
                "broker-a",
                0,
                "x0:1",
                topics(1, &[("T", 4), ("U", 1)]),
            ),
            OPTS,
            now,
        )
        .unwrap_err();
    assert!(err.to_string().contains("state version"), "{err}");
    assert_eq!(
        rt.route("T").unwrap().broker_datas[0].master_addr(),
        Some("a0:1")
    );
}

#[test]
fn filter_servers_appear_in_routes() {
    let now = Instant::now();
    let rt = RouteTable::new();
    let mut r = reg(
        "c1",
        "broker-a",
        0,
        "a0:1",
        topics(1, &[("T", 4), ("U", 1)]),
    );
    r.filter_servers = vec!["f:1".into()];
    rt.register(r, OPTS, now).unwrap();
    assert_eq!(
        rt.route("T").unwrap().filter_server_table["a0:1"],
        vec!["f:1".to_owned()]
    );
    let member = rt.broker_member_group("c1", "broker-a");
    assert_eq!(member.broker_addrs[&0], "a0:1");
}

#[test]
fn prime_slave_of_an_acting_master_group_registers_read_only_queues() {
    let now = Instant::now();
    let rt = RouteTable::new();
    let mut slave = reg(
        "c1",
        "broker-a",
        1,
        "a1:1",
        topics(1, &[("T", 4), ("U", 1)]),
    );
    slave.enable_acting_master = Some(true);
    rt.register(slave, OPTS, now).unwrap();
    let route = rt.route("T").unwrap();
    assert_eq!(route.queue_datas[0].perm, 4);
    assert!(route.broker_datas[0].enable_acting_master);
    assert_eq!(route.broker_datas[0].master_addr(), None);
}
