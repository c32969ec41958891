//! Headers of the broker's operations requests (mqadmin's daily tools):
//! producer connections, broker-wide consume stats, consume-queue views,
//! stats windows, direct consumption and offset cloning.

crate::command_header! {
    /// GET_PRODUCER_CONNECTION_LIST (204) request.
    pub struct GetProducerConnectionListRequestHeader {
        pub producer_group: String = "producerGroup",
    }
}

crate::command_header! {
    /// GET_BROKER_CONSUME_STATS (317) request; `isOrder` keeps only
    /// orderly groups.
    pub struct GetConsumeStatsInBrokerHeader {
        pub is_order: Option<bool> = "isOrder",
    }
}

crate::command_header! {
    /// QUERY_CONSUME_QUEUE (321) request: `count` entries from `index`.
    pub struct QueryConsumeQueueRequestHeader {
        pub topic: String = "topic",
        pub queue_id: i32 = "queueId",
        pub index: i64 = "index",
        pub count: i32 = "count",
        pub consumer_group: Option<String> = "consumerGroup",
    }
}

crate::command_header! {
    /// VIEW_BROKER_STATS_DATA (315) request: `TOPIC_PUT_NUMS` keyed by
    /// topic, `GROUP_GET_NUMS` keyed by `topic@group`, and the like.
    pub struct ViewBrokerStatsDataRequestHeader {
        pub stats_name: String = "statsName",
        pub stats_key: String = "statsKey",
    }
}

crate::command_header! {
    /// CONSUME_MESSAGE_DIRECTLY (309): admin → broker, relayed to the client.
    pub struct ConsumeMessageDirectlyResultRequestHeader {
        pub consumer_group: String = "consumerGroup",
        pub client_id: Option<String> = "clientId",
        pub msg_id: Option<String> = "msgId",
        pub broker_name: Option<String> = "brokerName",
        pub topic: Option<String> = "topic",
        pub topic_sys_flag: Option<i32> = "topicSysFlag",
        pub group_sys_flag: Option<i32> = "groupSysFlag",
    }
}

crate::command_header! {
    /// CLONE_GROUP_OFFSET (314) request.
    pub struct CloneGroupOffsetRequestHeader {
        pub src_group: String = "srcGroup",
        pub dest_group: String = "destGroup",
        pub topic: Option<String> = "topic",
        pub offline: Option<bool> = "offline",
    }
}

crate::command_header! {
    /// GET_ALL_TOPIC_CONFIG (21) response: how many topics there are.
    pub struct GetAllTopicConfigResponseHeader {
        pub total_topic_num: i32 = "totalTopicNum",
    }
}

crate::command_header! {
    /// GET_ALL_SUBSCRIPTIONGROUP_CONFIG (201) request of 5.x, paged.
    pub struct GetAllSubscriptionGroupRequestHeader {
        pub group_seq: Option<i32> = "groupSeq",
        pub data_version: Option<String> = "dataVersion",
        pub max_group_num: Option<i32> = "maxGroupNum",
    }
}

crate::command_header! {
    /// GET_ALL_SUBSCRIPTIONGROUP_CONFIG (201) response: how many groups.
    pub struct GetAllSubscriptionGroupResponseHeader {
        pub total_group_num: i32 = "totalGroupNum",
    }
}
