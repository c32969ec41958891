//! CHECK_CLIENT_CONFIG (46) body: a push consumer with a SQL92 subscription
//! asks the broker whether it can evaluate the expression.

use serde::{Deserialize, Serialize};

use crate::body::heartbeat::SubscriptionData;
use crate::body::lenient::{self, json_body};

/// CHECK_CLIENT_CONFIG request body.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct CheckClientRequestBody {
    #[serde(rename = "clientId", default, deserialize_with = "lenient::de")]
    pub client_id: String,
    #[serde(default, deserialize_with = "lenient::de")]
    pub group: String,
    /// 5.x clients add their namespace.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::de"
    )]
    pub namespace: Option<String>,
    #[serde(rename = "subscriptionData", default)]
    pub subscription_data: Option<SubscriptionData>,
}

json_body!(CheckClientRequestBody => "CheckClientRequestBody");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn golden_and_parse() {
        let body = CheckClientRequestBody {
            client_id: "c@1".into(),
            group: "G".into(),
            namespace: None,
            subscription_data: Some(SubscriptionData {
                expression_type: "SQL92".into(),
                sub_string: "a > 1".into(),
                sub_version: 5,
                topic: "T".into(),
                ..SubscriptionData::default()
            }),
        };
        let json = r#"{"clientId":"c@1","group":"G","subscriptionData":{"classFilterMode":false,"codeSet":[],"expressionType":"SQL92","subString":"a > 1","subVersion":5,"tagsSet":[],"topic":"T"}}"#;
        assert_eq!(
            String::from_utf8(body.to_json_bytes().unwrap()).unwrap(),
            json
        );
        assert_eq!(
            CheckClientRequestBody::from_json_bytes(json.as_bytes()).unwrap(),
            body
        );
        let lenient = CheckClientRequestBody::from_json_bytes(
            br#"{"clientId":1,"group":"G","namespace":"ns","subscriptionData":null}"#,
        )
        .unwrap();
        assert_eq!(lenient.client_id, "1");
        assert_eq!(lenient.namespace.as_deref(), Some("ns"));
        assert_eq!(lenient.subscription_data, None);
    }
}
