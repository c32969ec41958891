//! LOCK_BATCH_MQ (41) / UNLOCK_BATCH_MQ (42) bodies: orderly consumers ask
//! the broker for exclusive ownership of queues (remoting-protocol §4.6).

use serde::{Deserialize, Serialize};

use crate::body::heartbeat::nullable_list;
use crate::body::lenient::{self, json_body};
use crate::body::MessageQueue;

/// LOCK_BATCH_MQ request body.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct LockBatchRequestBody {
    #[serde(rename = "clientId", default, deserialize_with = "lenient::de")]
    pub client_id: String,
    #[serde(rename = "consumerGroup", default, deserialize_with = "lenient::de")]
    pub consumer_group: String,
    #[serde(rename = "mqSet", default, deserialize_with = "nullable_list")]
    pub mq_set: Vec<MessageQueue>,
    /// Lock only on the receiving broker (5.x proxies send false to fan out).
    #[serde(rename = "onlyThisBroker", default, deserialize_with = "lenient::de")]
    pub only_this_broker: bool,
}

/// UNLOCK_BATCH_MQ request body: the same fields as the lock request.
pub type UnlockBatchRequestBody = LockBatchRequestBody;

/// LOCK_BATCH_MQ response body: the queues the caller now owns.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct LockBatchResponseBody {
    #[serde(rename = "lockOKMQSet", default, deserialize_with = "nullable_list")]
    pub lock_ok_mq_set: Vec<MessageQueue>,
}

json_body!(LockBatchRequestBody => "LockBatchRequestBody", LockBatchResponseBody => "LockBatchResponseBody");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn golden_lock_request() {
        let body = LockBatchRequestBody {
            client_id: "10.0.0.9@1".into(),
            consumer_group: "G1".into(),
            mq_set: vec![MessageQueue::new("T1", "broker-a", 0)],
            only_this_broker: false,
        };
        let json = r#"{"clientId":"10.0.0.9@1","consumerGroup":"G1","mqSet":[{"brokerName":"broker-a","queueId":0,"topic":"T1"}],"onlyThisBroker":false}"#;
        assert_eq!(
            String::from_utf8(body.to_json_bytes().unwrap()).unwrap(),
            json
        );
        assert_eq!(
            LockBatchRequestBody::from_json_bytes(json.as_bytes()).unwrap(),
            body
        );
    }

    #[test]
    fn lenient_lock_request_and_response() {
        let body = UnlockBatchRequestBody::from_json_bytes(
            br#"{"consumerGroup":"G","clientId":"c","mqSet":[{"topic":"T","brokerName":"b","queueId":"1"}],"x":0}"#,
        )
        .unwrap();
        assert_eq!(body.mq_set, [MessageQueue::new("T", "b", 1)]);
        assert!(!body.only_this_broker);
        let resp = LockBatchResponseBody {
            lock_ok_mq_set: vec![MessageQueue::new("T", "b", 1)],
        };
        let json = r#"{"lockOKMQSet":[{"brokerName":"b","queueId":1,"topic":"T"}]}"#;
        assert_eq!(
            String::from_utf8(resp.to_json_bytes().unwrap()).unwrap(),
            json
        );
        assert_eq!(
            LockBatchResponseBody::from_json_bytes(json.as_bytes()).unwrap(),
            resp
        );
        assert!(LockBatchResponseBody::from_json_bytes(br#"{"lockOKMQSet":{}}"#).is_err());
    }
}
