//! Headers of controller mode (RocketMQ 5 `header/controller/**`, the
//! broker heartbeat and NOTIFY_BROKER_ROLE_CHANGED). Field names are Java's.

crate::command_header! {
    /// BROKER_HEARTBEAT (904) sent by a broker to every controller.
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

crate::command_header! {
    /// CONTROLLER_ALTER_SYNC_STATE_SET (1001) request; the body is a SyncStateSet.
    pub struct AlterSyncStateSetRequestHeader {
        pub broker_name: String = "brokerName",
        pub master_broker_id: i64 = "masterBrokerId",
        pub master_epoch: i32 = "masterEpoch",
        pub invoke_time: Option<i64> = "invokeTime",
    }
}

crate::command_header! {
    /// CONTROLLER_ALTER_SYNC_STATE_SET (1001) response.
    pub struct AlterSyncStateSetResponseHeader {
        pub new_sync_state_set_epoch: i32 = "newSyncStateSetEpoch",
    }
}

crate::command_header! {
    /// CONTROLLER_ELECT_MASTER (1002) request. `brokerId` -1 = no preference.
    pub struct ElectMasterRequestHeader {
        pub cluster_name: Option<String> = "clusterName",
        pub broker_name: String = "brokerName",
        pub broker_id: i64 = "brokerId",
        pub designate_elect: Option<bool> = "designateElect",
        pub invoke_time: Option<i64> = "invokeTime",
    }
}

crate::command_header! {
    /// Master fields shared by the ELECT_MASTER, REGISTER_BROKER and
    /// GET_REPLICA_INFO responses and NOTIFY_BROKER_ROLE_CHANGED (absent
    /// when there is no live master).
    pub struct MasterInfoHeader {
        pub cluster_name: Option<String> = "clusterName",
        pub broker_name: Option<String> = "brokerName",
        pub master_broker_id: Option<i64> = "masterBrokerId",
        pub master_address: Option<String> = "masterAddress",
        pub master_epoch: Option<i32> = "masterEpoch",
        pub sync_state_set_epoch: Option<i32> = "syncStateSetEpoch",
    }
}

crate::command_header! {
    /// CONTROLLER_REGISTER_BROKER (1003) request.
    pub struct RegisterBrokerToControllerRequestHeader {
        pub cluster_name: String = "clusterName",
        pub broker_name: String = "brokerName",
        pub broker_id: i64 = "brokerId",
        pub broker_address: String = "brokerAddress",
        pub invoke_time: Option<i64> = "invokeTime",
    }
}

crate::command_header! {
    /// CONTROLLER_GET_REPLICA_INFO (1004) request.
    pub struct GetReplicaInfoRequestHeader {
        pub broker_name: String = "brokerName",
    }
}

crate::command_header! {
    /// CONTROLLER_GET_METADATA_INFO (1005) response.
    pub struct GetMetaDataResponseHeader {
        pub group: Option<String> = "group",
        pub controller_leader_id: Option<String> = "controllerLeaderId",
        pub controller_leader_address: Option<String> = "controllerLeaderAddress",
        pub is_leader: bool = "isLeader",
        pub peers: Option<String> = "peers",
    }
}

crate::command_header! {
    /// CLEAN_BROKER_DATA (1011) request. `brokerControllerIdsToClean` is
    /// `1;2;3`; absent = the whole broker set.
    pub struct CleanBrokerDataRequestHeader {
        pub cluster_name: Option<String> = "clusterName",
        pub broker_name: String = "brokerName",
        pub broker_controller_ids_to_clean: Option<String> = "brokerControllerIdsToClean",
        pub is_clean_living_broker: Option<bool> = "isCleanLivingBroker",
        pub invoke_time: Option<i64> = "invokeTime",
    }
}

crate::command_header! {
    /// CONTROLLER_GET_NEXT_BROKER_ID (1012) request.
    pub struct GetNextBrokerIdRequestHeader {
        pub cluster_name: String = "clusterName",
        pub broker_name: String = "brokerName",
    }
}

crate::command_header! {
    /// CONTROLLER_GET_NEXT_BROKER_ID (1012) response.
    pub struct GetNextBrokerIdResponseHeader {
        pub cluster_name: Option<String> = "clusterName",
        pub broker_name: Option<String> = "brokerName",
        pub next_broker_id: Option<i64> = "nextBrokerId",
    }
}

crate::command_header! {
    /// CONTROLLER_APPLY_BROKER_ID (1013) request. `registerCheckCode` is
    /// `ip:port;<epochMillis>`.
    pub struct ApplyBrokerIdRequestHeader {
        pub cluster_name: String = "clusterName",
        pub broker_name: String = "brokerName",
        pub applied_broker_id: i64 = "appliedBrokerId",
        pub register_check_code: String = "registerCheckCode",
    }
}

crate::command_header! {
    /// CONTROLLER_APPLY_BROKER_ID (1013) response.
    pub struct ApplyBrokerIdResponseHeader {
        pub cluster_name: Option<String> = "clusterName",
        pub broker_name: Option<String> = "brokerName",
    }
}
