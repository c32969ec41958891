//! Request, response and language codes. Every enum keeps numbers it does not
//! know in an `Unknown` arm, so a frame from a newer peer never fails to decode.

macro_rules! wire_enum {
    ($(#[$meta:meta])* $name:ident : $repr:ty { $($variant:ident = $value:expr,)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($variant,)*
            /// A number this build does not know; kept as it came.
            Unknown($repr),
        }

        impl $name {
            /// The enum for a wire number (never fails).
            pub fn from_code(code: $repr) -> Self {
                match code {
                    $($value => Self::$variant,)*
                    other => Self::Unknown(other),
                }
            }

            /// The wire number.
            pub fn code(self) -> $repr {
                match self {
                    $(Self::$variant => $value,)*
                    Self::Unknown(other) => other,
                }
            }

            /// The upstream constant name (`"UNKNOWN"` for unknown numbers).
            pub fn name(self) -> &'static str {
                match self {
                    $(Self::$variant => stringify!($variant),)*
                    Self::Unknown(_) => "UNKNOWN",
                }
            }

            /// Every known variant, for tests that pin the numbers.
            pub const ALL: &'static [$name] = &[$(Self::$variant,)*];
        }

        impl From<$repr> for $name {
            fn from(code: $repr) -> Self {
                Self::from_code(code)
            }
        }

        impl From<$name> for $repr {
            fn from(value: $name) -> $repr {
                value.code()
            }
        }
    };
}

wire_enum! {
    /// Request codes (upstream `RequestCode`).
    #[allow(non_camel_case_types, clippy::upper_case_acronyms)]
    RequestCode: i32 {
        SEND_MESSAGE = 10,
        PULL_MESSAGE = 11,
        QUERY_MESSAGE = 12,
        QUERY_BROKER_OFFSET = 13,
        QUERY_CONSUMER_OFFSET = 14,
        UPDATE_CONSUMER_OFFSET = 15,
        UPDATE_AND_CREATE_TOPIC = 17,
        UPDATE_AND_CREATE_TOPIC_LIST = 18,
        GET_ALL_TOPIC_CONFIG = 21,
        GET_TOPIC_CONFIG_LIST = 22,
        GET_TOPIC_NAME_LIST = 23,
        UPDATE_BROKER_CONFIG = 25,
        GET_BROKER_CONFIG = 26,
        TRIGGER_DELETE_FILES = 27,
        GET_BROKER_RUNTIME_INFO = 28,
        SEARCH_OFFSET_BY_TIMESTAMP = 29,
        GET_MAX_OFFSET = 30,
        GET_MIN_OFFSET = 31,
        GET_EARLIEST_MSG_STORETIME = 32,
        VIEW_MESSAGE_BY_ID = 33,
        HEART_BEAT = 34,
        UNREGISTER_CLIENT = 35,
        CONSUMER_SEND_MSG_BACK = 36,
        END_TRANSACTION = 37,
        GET_CONSUMER_LIST_BY_GROUP = 38,
        CHECK_TRANSACTION_STATE = 39,
        NOTIFY_CONSUMER_IDS_CHANGED = 40,
        LOCK_BATCH_MQ = 41,
        UNLOCK_BATCH_MQ = 42,
        GET_ALL_CONSUMER_OFFSET = 43,
        GET_ALL_DELAY_OFFSET = 45,
        CHECK_CLIENT_CONFIG = 46,
        GET_CLIENT_CONFIG = 47,
        GET_TIMER_CHECK_POINT = 60,
        GET_TIMER_METRICS = 61,
        PUT_KV_CONFIG = 100,
        GET_KV_CONFIG = 101,
        DELETE_KV_CONFIG = 102,
        REGISTER_BROKER = 103,
        UNREGISTER_BROKER = 104,
        GET_ROUTEINFO_BY_TOPIC = 105,
        GET_BROKER_CLUSTER_INFO = 106,
        UPDATE_AND_CREATE_SUBSCRIPTIONGROUP = 200,
        GET_ALL_SUBSCRIPTIONGROUP_CONFIG = 201,
        GET_TOPIC_STATS_INFO = 202,
        GET_CONSUMER_CONNECTION_LIST = 203,
        GET_PRODUCER_CONNECTION_LIST = 204,
        WIPE_WRITE_PERM_OF_BROKER = 205,
        GET_ALL_TOPIC_LIST_FROM_NAMESERVER = 206,
        DELETE_SUBSCRIPTIONGROUP = 207,
        GET_CONSUME_STATS = 208,
        SUSPEND_CONSUMER = 209,
        RESUME_CONSUMER = 210,
        RESET_CONSUMER_OFFSET_IN_CONSUMER = 211,
        RESET_CONSUMER_OFFSET_IN_BROKER = 212,
        ADJUST_CONSUMER_THREAD_POOL = 213,
        WHO_CONSUME_THE_MESSAGE = 214,
        DELETE_TOPIC_IN_BROKER = 215,
        DELETE_TOPIC_IN_NAMESRV = 216,
        REGISTER_TOPIC_IN_NAMESRV = 217,
        GET_KVLIST_BY_NAMESPACE = 219,
        RESET_CONSUMER_CLIENT_OFFSET = 220,
        GET_CONSUMER_STATUS_FROM_CLIENT = 221,
        INVOKE_BROKER_TO_RESET_OFFSET = 222,
        INVOKE_BROKER_TO_GET_CONSUMER_STATUS = 223,
        GET_TOPICS_BY_CLUSTER = 224,
        UPDATE_AND_CREATE_SUBSCRIPTIONGROUP_LIST = 225,
        QUERY_TOPIC_CONSUME_BY_WHO = 300,
        QUERY_CONSUME_TIME_SPAN = 303,
        GET_SYSTEM_TOPIC_LIST_FROM_NS = 304,
        GET_SYSTEM_TOPIC_LIST_FROM_BROKER = 305,
        CLEAN_EXPIRED_CONSUMEQUEUE = 306,
        GET_CONSUMER_RUNNING_INFO = 307,
        QUERY_CORRECTION_OFFSET = 308,
        CONSUME_MESSAGE_DIRECTLY = 309,
        SEND_MESSAGE_V2 = 310,
        GET_UNIT_TOPIC_LIST = 311,
        GET_HAS_UNIT_SUB_TOPIC_LIST = 312,
        GET_HAS_UNIT_SUB_UNUNIT_TOPIC_LIST = 313,
        CLONE_GROUP_OFFSET = 314,
        VIEW_BROKER_STATS_DATA = 315,
        CLEAN_UNUSED_TOPIC = 316,
        GET_BROKER_CONSUME_STATS = 317,
        UPDATE_NAMESRV_CONFIG = 318,
        GET_NAMESRV_CONFIG = 319,
        SEND_BATCH_MESSAGE = 320,
        QUERY_CONSUME_QUEUE = 321,
        QUERY_DATA_VERSION = 322,
        RESUME_CHECK_HALF_MESSAGE = 323,
        SEND_REPLY_MESSAGE = 324,
        SEND_REPLY_MESSAGE_V2 = 325,
        PUSH_REPLY_MESSAGE_TO_CLIENT = 326,
        ADD_WRITE_PERM_OF_BROKER = 327,
        GET_ALL_PRODUCER_INFO = 328,
        DELETE_EXPIRED_COMMITLOG = 329,
        QUERY_TOPICS_BY_CONSUMER = 343,
        QUERY_SUBSCRIPTION_BY_CONSUMER = 345,
        GET_TOPIC_CONFIG = 351,
        GET_SUBSCRIPTIONGROUP_CONFIG = 352,
        UPDATE_AND_GET_GROUP_FORBIDDEN = 353,
        LITE_PULL_MESSAGE = 361,
        RECALL_MESSAGE = 370,
        QUERY_ASSIGNMENT = 400,
        SET_MESSAGE_REQUEST_MODE = 401,
        GET_ALL_MESSAGE_REQUEST_MODE = 402,
        UPDATE_AND_CREATE_STATIC_TOPIC = 513,
        GET_BROKER_MEMBER_GROUP = 901,
        BROKER_HEARTBEAT = 904,
        GET_BROKER_HA_STATUS = 907,
        CONTROLLER_ALTER_SYNC_STATE_SET = 1001,
        CONTROLLER_ELECT_MASTER = 1002,
        CONTROLLER_REGISTER_BROKER = 1003,
        CONTROLLER_GET_REPLICA_INFO = 1004,
        CONTROLLER_GET_METADATA_INFO = 1005,
        CONTROLLER_GET_SYNC_STATE_DATA = 1006,
        GET_BROKER_EPOCH_CACHE = 1007,
        NOTIFY_BROKER_ROLE_CHANGED = 1008,
        UPDATE_CONTROLLER_CONFIG = 1009,
        GET_CONTROLLER_CONFIG = 1010,
        CLEAN_BROKER_DATA = 1011,
        CONTROLLER_GET_NEXT_BROKER_ID = 1012,
        CONTROLLER_APPLY_BROKER_ID = 1013,
        POP_MESSAGE = 200050,
        ACK_MESSAGE = 200051,
        PEEK_MESSAGE = 200052,
        CHANGE_MESSAGE_INVISIBLETIME = 200053,
        NOTIFICATION = 200054,
        POLLING_INFO = 200055,
        POP_ROLLBACK = 200056,
        BATCH_ACK_MESSAGE = 200151,
    }
}

wire_enum! {
    /// Response codes (upstream `ResponseCode` and `RemotingSysResponseCode`).
    #[allow(non_camel_case_types, clippy::upper_case_acronyms)]
    ResponseCode: i32 {
        SUCCESS = 0,
        SYSTEM_ERROR = 1,
        SYSTEM_BUSY = 2,
        REQUEST_CODE_NOT_SUPPORTED = 3,
        TRANSACTION_FAILED = 4,
        FLUSH_DISK_TIMEOUT = 10,
        SLAVE_NOT_AVAILABLE = 11,
        FLUSH_SLAVE_TIMEOUT = 12,
        MESSAGE_ILLEGAL = 13,
        SERVICE_NOT_AVAILABLE = 14,
        VERSION_NOT_SUPPORTED = 15,
        NO_PERMISSION = 16,
        TOPIC_NOT_EXIST = 17,
        TOPIC_EXIST_ALREADY = 18,
        PULL_NOT_FOUND = 19,
        PULL_RETRY_IMMEDIATELY = 20,
        PULL_OFFSET_MOVED = 21,
        QUERY_NOT_FOUND = 22,
        SUBSCRIPTION_PARSE_FAILED = 23,
        SUBSCRIPTION_NOT_EXIST = 24,
        SUBSCRIPTION_NOT_LATEST = 25,
        SUBSCRIPTION_GROUP_NOT_EXIST = 26,
        FILTER_DATA_NOT_EXIST = 27,
        FILTER_DATA_NOT_LATEST = 28,
        INVALID_PARAMETER = 29,
        TRANSACTION_SHOULD_COMMIT = 200,
        TRANSACTION_SHOULD_ROLLBACK = 201,
        TRANSACTION_STATE_UNKNOW = 202,
        TRANSACTION_STATE_GROUP_WRONG = 203,
        NO_BUYER_ID = 204,
        NOT_IN_CURRENT_UNIT = 205,
        CONSUMER_NOT_ONLINE = 206,
        CONSUME_MSG_TIMEOUT = 207,
        NO_MESSAGE = 208,
        POLLING_FULL = 209,
        POLLING_TIMEOUT = 210,
        BROKER_NOT_EXIST = 211,
        BROKER_DISPATCH_NOT_COMPLETE = 212,
        BROADCAST_CONSUMPTION = 213,
        FLOW_CONTROL = 215,
        NOT_LEADER_FOR_QUEUE = 501,
        ILLEGAL_OPERATION = 604,
        GO_AWAY = 1500,
        CONTROLLER_FENCED_MASTER_EPOCH = 2000,
        CONTROLLER_FENCED_SYNC_STATE_SET_EPOCH = 2001,
        CONTROLLER_INVALID_MASTER = 2002,
        CONTROLLER_INVALID_REPLICAS = 2003,
        CONTROLLER_MASTER_NOT_AVAILABLE = 2004,
        CONTROLLER_INVALID_REQUEST = 2005,
        CONTROLLER_BROKER_NOT_ALIVE = 2006,
        CONTROLLER_NOT_LEADER = 2007,
        CONTROLLER_BROKER_METADATA_NOT_EXIST = 2008,
        CONTROLLER_INVALID_CLEAN_BROKER_METADATA = 2009,
        CONTROLLER_BROKER_NEED_TO_BE_REGISTERED = 2010,
        CONTROLLER_MASTER_STILL_EXIST = 2011,
        CONTROLLER_ELECT_MASTER_FAILED = 2012,
        CONTROLLER_ALTER_SYNC_STATE_SET_FAILED = 2013,
        CONTROLLER_BROKER_ID_INVALID = 2014,
        CONTROLLER_JRAFT_INTERNAL_ERROR = 2015,
        CONTROLLER_BROKER_LIVE_INFO_NOT_EXISTS = 2016,
    }
}

wire_enum! {
    /// The `language` of a header: a name in JSON headers, a byte in binary ones.
    #[allow(non_camel_case_types, clippy::upper_case_acronyms)]
    LanguageCode: u8 {
        JAVA = 0,
        CPP = 1,
        DOTNET = 2,
        PYTHON = 3,
        DELPHI = 4,
        ERLANG = 5,
        RUBY = 6,
        OTHER = 7,
        HTTP = 8,
        GO = 9,
        PHP = 10,
        OMS = 11,
        RUST = 12,
        NODE_JS = 13,
    }
}

impl LanguageCode {
    /// Parses a JSON header's language name; unknown names become `OTHER`
    /// (we never reject a peer for its language).
    pub fn from_name(name: &str) -> Self {
        Self::ALL
            .iter()
            .copied()
            .find(|l| l.name() == name)
            .unwrap_or(Self::OTHER)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_codes_are_pinned() {
        let pinned: &[(RequestCode, i32)] = &[
            (RequestCode::SEND_MESSAGE, 10),
            (RequestCode::PULL_MESSAGE, 11),
            (RequestCode::HEART_BEAT, 34),
            (RequestCode::REGISTER_BROKER, 103),
            (RequestCode::GET_ROUTEINFO_BY_TOPIC, 105),
            (RequestCode::SEND_MESSAGE_V2, 310),
            (RequestCode::SEND_BATCH_MESSAGE, 320),
            (RequestCode::ADD_WRITE_PERM_OF_BROKER, 327),
            (RequestCode::LITE_PULL_MESSAGE, 361),
            (RequestCode::CONTROLLER_ALTER_SYNC_STATE_SET, 1001),
            (RequestCode::CONTROLLER_GET_METADATA_INFO, 1005),
            (RequestCode::NOTIFY_BROKER_ROLE_CHANGED, 1008),
            (RequestCode::CONTROLLER_APPLY_BROKER_ID, 1013),
            (RequestCode::POP_MESSAGE, 200050),
            (RequestCode::BATCH_ACK_MESSAGE, 200151),
        ];
        for (code, n) in pinned {
            assert_eq!(code.code(), *n, "{}", code.name());
            assert_eq!(RequestCode::from_code(*n), *code);
        }
        // Every variant maps to a distinct number and back.
        let mut seen = std::collections::HashSet::new();
        for c in RequestCode::ALL {
            assert!(seen.insert(c.code()), "duplicate number {}", c.code());
            assert_eq!(RequestCode::from_code(c.code()), *c);
        }
        assert_eq!(RequestCode::from_code(99999), RequestCode::Unknown(99999));
        assert_eq!(RequestCode::Unknown(99999).code(), 99999);
    }

    #[test]
    fn response_codes_are_pinned() {
        let pinned: &[(ResponseCode, i32)] = &[
            (ResponseCode::SUCCESS, 0),
            (ResponseCode::SYSTEM_ERROR, 1),
            (ResponseCode::REQUEST_CODE_NOT_SUPPORTED, 3),
            (ResponseCode::FLUSH_DISK_TIMEOUT, 10),
            (ResponseCode::TOPIC_NOT_EXIST, 17),
            (ResponseCode::PULL_NOT_FOUND, 19),
            (ResponseCode::PULL_OFFSET_MOVED, 21),
            (ResponseCode::QUERY_NOT_FOUND, 22),
            (ResponseCode::INVALID_PARAMETER, 29),
            (ResponseCode::CONSUMER_NOT_ONLINE, 206),
            (ResponseCode::ILLEGAL_OPERATION, 604),
            (ResponseCode::GO_AWAY, 1500),
            (ResponseCode::CONTROLLER_FENCED_MASTER_EPOCH, 2000),
            (ResponseCode::CONTROLLER_NOT_LEADER, 2007),
            (ResponseCode::CONTROLLER_BROKER_ID_INVALID, 2014),
            (ResponseCode::CONTROLLER_BROKER_LIVE_INFO_NOT_EXISTS, 2016),
        ];
        for (code, n) in pinned {
            assert_eq!(code.code(), *n);
            assert_eq!(ResponseCode::from_code(*n), *code);
        }
        let mut seen = std::collections::HashSet::new();
        for c in ResponseCode::ALL {
            assert!(seen.insert(c.code()));
        }
    }

    #[test]
    fn languages_round_trip_by_name_and_byte() {
        for l in LanguageCode::ALL {
            assert_eq!(LanguageCode::from_name(l.name()), *l);
            assert_eq!(LanguageCode::from_code(l.code()), *l);
        }
        assert_eq!(LanguageCode::NODE_JS.code(), 13);
        assert_eq!(LanguageCode::from_name("COBOL"), LanguageCode::OTHER);
    }
}
