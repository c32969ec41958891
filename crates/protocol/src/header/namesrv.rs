//! Headers of the NameServer requests (remoting-protocol §3.1, §4.10, §4.11).

crate::command_header! {
    /// PUT_KV_CONFIG (100) request.
    pub struct PutKvConfigRequestHeader {
        pub namespace: String = "namespace",
        pub key: String = "key",
        pub value: String = "value",
    }
}

crate::command_header! {
    /// GET_KV_CONFIG (101) request.
    pub struct GetKvConfigRequestHeader {
        pub namespace: String = "namespace",
        pub key: String = "key",
    }
}

crate::command_header! {
    /// GET_KV_CONFIG (101) response.
    pub struct GetKvConfigResponseHeader {
        pub value: Option<String> = "value",
    }
}

crate::command_header! {
    /// DELETE_KV_CONFIG (102) request.
    pub struct DeleteKvConfigRequestHeader {
        pub namespace: String = "namespace",
        pub key: String = "key",
    }
}

crate::command_header! {
    /// REGISTER_BROKER (103) request. `compressed` and `bodyCrc32` are
    /// optional here (absent = false / 0) so lenient peers still register.
    pub struct RegisterBrokerRequestHeader {
        pub broker_name: String = "brokerName",
        pub broker_addr: String = "brokerAddr",
        pub cluster_name: String = "clusterName",
        pub ha_server_addr: String = "haServerAddr",
        pub broker_id: i64 = "brokerId",
        pub heartbeat_timeout_millis: Option<i64> = "heartbeatTimeoutMillis",
        /// 5.x; absent means an "old" broker.
        pub enable_acting_master: Option<bool> = "enableActingMaster",
        pub compressed: Option<bool> = "compressed",
        /// CRC32 of the body masked with 0x7FFFFFFF; 0 or absent = unchecked.
        pub body_crc32: Option<i32> = "bodyCrc32",
    }
}

crate::command_header! {
    /// REGISTER_BROKER (103) response: set for slaves once the master is live.
    pub struct RegisterBrokerResponseHeader {
        pub ha_server_addr: Option<String> = "haServerAddr",
        pub master_addr: Option<String> = "masterAddr",
    }
}

crate::command_header! {
    /// UNREGISTER_BROKER (104) request.
    pub struct UnregisterBrokerRequestHeader {
        pub broker_name: String = "brokerName",
        pub broker_addr: String = "brokerAddr",
        pub cluster_name: String = "clusterName",
        pub broker_id: i64 = "brokerId",
    }
}

crate::command_header! {
    /// GET_ROUTEINFO_BY_TOPIC (105) request.
    pub struct GetRouteInfoRequestHeader {
        pub topic: String = "topic",
        pub accept_standard_json_only: Option<bool> = "acceptStandardJsonOnly",
    }
}

crate::command_header! {
    /// WIPE_WRITE_PERM_OF_BROKER (205) request.
    pub struct WipeWritePermOfBrokerRequestHeader {
        pub broker_name: String = "brokerName",
    }
}

crate::command_header! {
    /// WIPE_WRITE_PERM_OF_BROKER (205) response.
    pub struct WipeWritePermOfBrokerResponseHeader {
        pub wipe_topic_count: i32 = "wipeTopicCount",
    }
}

crate::command_header! {
    /// ADD_WRITE_PERM_OF_BROKER (327) request.
    pub struct AddWritePermOfBrokerRequestHeader {
        pub broker_name: String = "brokerName",
    }
}

crate::command_header! {
    /// ADD_WRITE_PERM_OF_BROKER (327) response.
    pub struct AddWritePermOfBrokerResponseHeader {
        pub add_topic_count: i32 = "addTopicCount",
    }
}

crate::command_header! {
    /// DELETE_TOPIC_IN_NAMESRV (216) request; without a cluster the topic is
    /// removed everywhere.
    pub struct DeleteTopicFromNamesrvRequestHeader {
        pub topic: String = "topic",
        pub cluster_name: Option<String> = "clusterName",
    }
}

crate::command_header! {
    /// REGISTER_TOPIC_IN_NAMESRV (217) request; the body is a TopicRouteData.
    pub struct RegisterTopicRequestHeader {
        pub topic: String = "topic",
    }
}

crate::command_header! {
    /// GET_KVLIST_BY_NAMESPACE (219) request.
    pub struct GetKvListByNamespaceRequestHeader {
        pub namespace: String = "namespace",
    }
}

crate::command_header! {
    /// GET_TOPICS_BY_CLUSTER (224) request.
    pub struct GetTopicsByClusterRequestHeader {
        pub cluster: String = "cluster",
    }
}

crate::command_header! {
    /// QUERY_DATA_VERSION (322) request; the body is the broker's DataVersion.
    pub struct QueryDataVersionRequestHeader {
        pub broker_name: String = "brokerName",
        pub broker_addr: String = "brokerAddr",
        pub cluster_name: String = "clusterName",
        pub broker_id: i64 = "brokerId",
    }
}

crate::command_header! {
    /// QUERY_DATA_VERSION (322) response; absent `changed` should be read as
    /// changed (register again).
    pub struct QueryDataVersionResponseHeader {
        pub changed: Option<bool> = "changed",
    }
}

crate::command_header! {
    /// GET_BROKER_MEMBER_GROUP (901) request.
    pub struct GetBrokerMemberGroupRequestHeader {
        pub cluster_name: String = "clusterName",
        pub broker_name: String = "brokerName",
    }
}

crate::command_header! {
    /// BROKER_HEARTBEAT (904) request (5.x lightweight liveness). Note the
    /// upstream spelling `heartbeatTimeoutMills`.
    pub struct BrokerHeartbeatRequestHeader {
        pub cluster_name: String = "clusterName",
        pub broker_addr: String = "brokerAddr",
        pub broker_name: String = "brokerName",
        pub broker_id: Option<i64> = "brokerId",
        pub epoch: Option<i32> = "epoch",
        pub max_offset: Option<i64> = "maxOffset",
        pub confirm_offset: Option<i64> = "confirmOffset",
        pub heartbeat_timeout_mills: Option<i64> = "heartbeatTimeoutMills",
        pub election_priority: Option<i32> = "electionPriority",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::ExtFields;
    use crate::ext::CommandHeader;
    use crate::ProtocolError;

    fn fields(pairs: &[(&str, &str)]) -> ExtFields {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn register_broker_header_keys() {
        let h = RegisterBrokerRequestHeader {
            broker_name: "broker-a".into(),
            broker_addr: "10.0.0.1:10911".into(),
            cluster_name: "DefaultCluster".into(),
            ha_server_addr: "10.0.0.1:10912".into(),
            broker_id: 0,
            heartbeat_timeout_millis: Some(30_000),
            enable_acting_master: Some(false),
            compressed: Some(false),
            body_crc32: Some(12345),
        };
        let mut f = ExtFields::new();
        h.write_fields(&mut f);
        let want = fields(&[
            ("brokerName", "broker-a"),
            ("brokerAddr", "10.0.0.1:10911"),
            ("clusterName", "DefaultCluster"),
            ("haServerAddr", "10.0.0.1:10912"),
            ("brokerId", "0"),
            ("heartbeatTimeoutMillis", "30000"),
            ("enableActingMaster", "false"),
            ("compressed", "false"),
            ("bodyCrc32", "12345"),
        ]);
        assert_eq!(f, want);
        assert_eq!(RegisterBrokerRequestHeader::read_fields(&f).unwrap(), h);
        let mut missing = want.clone();
        missing.remove("haServerAddr");
        assert_eq!(
            RegisterBrokerRequestHeader::read_fields(&missing).unwrap_err(),
            ProtocolError::MissingField("haServerAddr")
        );
    }

    #[test]
    fn response_headers_keys() {
        let mut f = ExtFields::new();
        RegisterBrokerResponseHeader {
            ha_server_addr: Some("h:1".into()),
            master_addr: Some("m:2".into()),
        }
        .write_fields(&mut f);
        assert_eq!(f, fields(&[("haServerAddr", "h:1"), ("masterAddr", "m:2")]));

        let mut f = ExtFields::new();
        WipeWritePermOfBrokerResponseHeader {
            wipe_topic_count: 3,
        }
        .write_fields(&mut f);
        AddWritePermOfBrokerResponseHeader { add_topic_count: 4 }.write_fields(&mut f);
        QueryDataVersionResponseHeader {
            changed: Some(true),
        }
        .write_fields(&mut f);
        GetKvConfigResponseHeader {
            value: Some("v".into()),
        }
        .write_fields(&mut f);
        let want = fields(&[
            ("wipeTopicCount", "3"),
            ("addTopicCount", "4"),
            ("changed", "true"),
            ("value", "v"),
        ]);
        assert_eq!(f, want);
    }

    #[test]
    fn request_headers_read_their_keys() {
        let f = fields(&[
            ("topic", "T"),
            ("clusterName", "C"),
            ("cluster", "C2"),
            ("namespace", "NS"),
            ("key", "k"),
            ("value", "v"),
            ("brokerName", "b"),
            ("brokerAddr", "a:1"),
            ("brokerId", "1"),
            ("acceptStandardJsonOnly", "true"),
            ("heartbeatTimeoutMills", "5000"),
        ]);
        let route = GetRouteInfoRequestHeader::read_fields(&f).unwrap();
        assert_eq!(route.accept_standard_json_only, Some(true));
        let del = DeleteTopicFromNamesrvRequestHeader::read_fields(&f).unwrap();
        assert_eq!(del.cluster_name.as_deref(), Some("C"));
        assert_eq!(
            GetTopicsByClusterRequestHeader::read_fields(&f)
                .unwrap()
                .cluster,
            "C2"
        );
        let put = PutKvConfigRequestHeader::read_fields(&f).unwrap();
        assert_eq!(
            (put.namespace.as_str(), put.key.as_str(), put.value.as_str()),
            ("NS", "k", "v")
        );
        let un = UnregisterBrokerRequestHeader::read_fields(&f).unwrap();
        assert_eq!((un.broker_id, un.broker_addr.as_str()), (1, "a:1"));
        let qdv = QueryDataVersionRequestHeader::read_fields(&f).unwrap();
        assert_eq!(qdv.cluster_name, "C");
        let hb = BrokerHeartbeatRequestHeader::read_fields(&f).unwrap();
        assert_eq!(hb.heartbeat_timeout_mills, Some(5000));
        assert_eq!(
            GetBrokerMemberGroupRequestHeader::read_fields(&f)
                .unwrap()
                .broker_name,
            "b"
        );
        assert_eq!(
            WipeWritePermOfBrokerRequestHeader::read_fields(&f)
                .unwrap()
                .broker_name,
            "b"
        );
        assert_eq!(
            AddWritePermOfBrokerRequestHeader::read_fields(&f)
                .unwrap()
                .broker_name,
            "b"
        );
        assert_eq!(
            RegisterTopicRequestHeader::read_fields(&f).unwrap().topic,
            "T"
        );
        assert_eq!(
            GetKvListByNamespaceRequestHeader::read_fields(&f)
                .unwrap()
                .namespace,
            "NS"
        );
        assert_eq!(GetKvConfigRequestHeader::read_fields(&f).unwrap().key, "k");
        assert_eq!(
            DeleteKvConfigRequestHeader::read_fields(&f).unwrap().key,
            "k"
        );
        assert_eq!(
            GetTopicsByClusterRequestHeader::read_fields(&fields(&[])).unwrap_err(),
            ProtocolError::MissingField("cluster")
        );
    }
}
