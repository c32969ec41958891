//! 5.x server-side rebalance bodies: QUERY_ASSIGNMENT (400),
//! SET_MESSAGE_REQUEST_MODE (401) and GET_ALL_MESSAGE_REQUEST_MODE (402).
//! A Java push consumer with `clientRebalance=false` asks the broker which
//! queues it owns and whether it pulls or pops them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::body::heartbeat::{nullable_list, MessageModel};
use crate::body::lenient::{self, json_body, name_enum};
use crate::body::MessageQueue;

name_enum! {
    /// How a group consumes a topic.
    #[derive(Default)]
    pub enum MessageRequestMode {
        #[default]
        Pull = "PULL",
        Pop = "POP",
    }
}

/// QUERY_ASSIGNMENT request body.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct QueryAssignmentRequestBody {
    #[serde(default, deserialize_with = "lenient::de")]
    pub topic: String,
    #[serde(rename = "consumerGroup", default, deserialize_with = "lenient::de")]
    pub consumer_group: String,
    #[serde(rename = "clientId", default, deserialize_with = "lenient::de")]
    pub client_id: String,
    /// `AVG` or `AVG_BY_CIRCLE`.
    #[serde(rename = "strategyName", default, deserialize_with = "lenient::de")]
    pub strategy_name: String,
    #[serde(rename = "messageModel", default)]
    pub message_model: MessageModel,
}

/// One assigned queue (queue id -1: every queue of that broker, popped).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct MessageQueueAssignment {
    #[serde(rename = "messageQueue", default)]
    pub message_queue: MessageQueue,
    #[serde(default)]
    pub mode: MessageRequestMode,
    #[serde(default)]
    pub attachments: BTreeMap<String, String>,
}

/// QUERY_ASSIGNMENT response body.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct QueryAssignmentResponseBody {
    #[serde(
        rename = "messageQueueAssignments",
        default,
        deserialize_with = "nullable_list"
    )]
    pub message_queue_assignments: Vec<MessageQueueAssignment>,
}

/// SET_MESSAGE_REQUEST_MODE request body (also the stored form).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SetMessageRequestModeRequestBody {
    #[serde(default, deserialize_with = "lenient::de")]
    pub topic: String,
    #[serde(rename = "consumerGroup", default, deserialize_with = "lenient::de")]
    pub consumer_group: String,
    #[serde(default)]
    pub mode: MessageRequestMode,
    /// POP: how many following consumers' queues each one also pops
    /// (0 or less: every consumer pops every queue).
    #[serde(rename = "popShareQueueNum", default, deserialize_with = "lenient::de")]
    pub pop_share_queue_num: i32,
}

/// GET_ALL_MESSAGE_REQUEST_MODE response body and `messageRequestMode.json`:
/// topic → group → mode.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct MessageRequestModeSerializeWrapper {
    #[serde(rename = "messageRequestModeMap", default)]
    pub message_request_mode_map:
        BTreeMap<String, BTreeMap<String, SetMessageRequestModeRequestBody>>,
}

json_body!(
    QueryAssignmentRequestBody => "QueryAssignmentRequestBody",
    QueryAssignmentResponseBody => "QueryAssignmentResponseBody",
    SetMessageRequestModeRequestBody => "SetMessageRequestModeRequestBody",
    MessageRequestModeSerializeWrapper => "MessageRequestModeSerializeWrapper"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_request_as_java_writes_it() {
        let json = br#"{"clientId":"10.0.0.1@1","consumerGroup":"G","messageModel":"CLUSTERING","strategyName":"AVG","topic":"T"}"#;
        let body = QueryAssignmentRequestBody::from_json_bytes(json).unwrap();
        assert_eq!(body.message_model, MessageModel::Clustering);
        assert_eq!(
            (body.topic.as_str(), body.strategy_name.as_str()),
            ("T", "AVG")
        );
    }

    #[test]
    fn response_golden() {
        let body = QueryAssignmentResponseBody {
            message_queue_assignments: vec![MessageQueueAssignment {
                message_queue: MessageQueue::new("T", "broker-a", -1),
                mode: MessageRequestMode::Pop,
                attachments: BTreeMap::new(),
            }],
        };
        let json = String::from_utf8(body.to_json_bytes().unwrap()).unwrap();
        assert_eq!(
            json,
            r#"{"messageQueueAssignments":[{"attachments":{},"messageQueue":{"brokerName":"broker-a","queueId":-1,"topic":"T"},"mode":"POP"}]}"#
        );
        assert_eq!(
            QueryAssignmentResponseBody::from_json_bytes(json.as_bytes()).unwrap(),
            body
        );
    }

    #[test]
    fn set_mode_reads_ordinals_and_names() {
        let json = br#"{"consumerGroup":"G","mode":1,"popShareQueueNum":"2","topic":"T"}"#;
        let body = SetMessageRequestModeRequestBody::from_json_bytes(json).unwrap();
        assert_eq!(
            (body.mode, body.pop_share_queue_num),
            (MessageRequestMode::Pop, 2)
        );
    }
}
