//! Admin calls that read a broker's whole tables (the web console lists
//! topics with their configs and every subscription group from these).

use std::time::Duration;

use protocol::body::group::SubscriptionGroupWrapper;
use protocol::body::topic::TopicConfigSerializeWrapper;
use protocol::{RemotingCommand, RequestCode};

use crate::admin::Admin;
use crate::error::Result;

const TABLE_TIMEOUT: Duration = Duration::from_secs(5);

impl Admin {
    /// GET_ALL_TOPIC_CONFIG: the broker at `addr`'s topic table.
    ///
    /// # Errors
    /// Transport, broker or decode errors.
    pub async fn topic_configs(&self, addr: &str) -> Result<TopicConfigSerializeWrapper> {
        let req = RemotingCommand::request(RequestCode::GET_ALL_TOPIC_CONFIG);
        let resp = self.client().invoke_ok(addr, req, TABLE_TIMEOUT).await?;
        Ok(TopicConfigSerializeWrapper::decode(&resp.body)?)
    }

    /// GET_ALL_SUBSCRIPTIONGROUP_CONFIG: the broker at `addr`'s groups.
    ///
    /// # Errors
    /// Transport, broker or decode errors.
    pub async fn group_configs(&self, addr: &str) -> Result<SubscriptionGroupWrapper> {
        let req = RemotingCommand::request(RequestCode::GET_ALL_SUBSCRIPTIONGROUP_CONFIG);
        let resp = self.client().invoke_ok(addr, req, TABLE_TIMEOUT).await?;
        Ok(SubscriptionGroupWrapper::from_json_bytes(&resp.body)?)
    }
}

/// Message types a topic may declare (the `message.type` attribute).
pub const MESSAGE_TYPES: [&str; 4] = ["NORMAL", "FIFO", "DELAY", "TRANSACTION"];

impl Admin {
    /// Creates or updates `spec` on every master of `cluster` with the
    /// `message.type` attribute set (5.x brokers check sends against it).
    ///
    /// # Errors
    /// [`crate::ClientError::InvalidArgument`] for a type outside
    /// [`MESSAGE_TYPES`]; invalid names; the first broker error.
    pub async fn create_typed_topic(
        &self,
        cluster: Option<&str>,
        spec: &crate::admin::TopicSpec,
        message_type: &str,
    ) -> Result<Vec<String>> {
        crate::message::validate_topic(&spec.name)?;
        let kind = message_type.to_ascii_uppercase();
        if !MESSAGE_TYPES.contains(&kind.as_str()) {
            return Err(crate::ClientError::InvalidArgument {
                field: "messageType",
                reason: format!("'{message_type}' is not one of {MESSAGE_TYPES:?}"),
            });
        }
        let header = protocol::header::admin::CreateTopicRequestHeader {
            topic: spec.name.clone(),
            default_topic: Some(protocol::message::topics::AUTO_CREATE_TOPIC.to_string()),
            read_queue_nums: spec.read_queues,
            write_queue_nums: spec.write_queues,
            perm: spec.perm,
            topic_filter_type: Some("SINGLE_TAG".into()),
            topic_sys_flag: Some(0),
            order: Some(spec.order),
            attributes: Some(format!("+message.type={kind}")),
            force: None,
        };
        let mut done = Vec::new();
        for (name, addr) in self.masters(cluster).await? {
            let req =
                RemotingCommand::request_with_header(RequestCode::UPDATE_AND_CREATE_TOPIC, &header);
            self.client().invoke_ok(&addr, req, TABLE_TIMEOUT).await?;
            done.push(name);
        }
        self.client().forget_route(&spec.name);
        Ok(done)
    }
}

protocol::command_header! {
    /// QUERY_TOPIC_CONSUME_BY_WHO (300) request.
    pub struct ConsumeByWhoRequestHeader {
        pub topic: String = "topic",
    }
}

impl Admin {
    /// QUERY_TOPIC_CONSUME_BY_WHO on every master of `topic`: the groups
    /// with offsets on it or subscribed to it, merged and sorted.
    ///
    /// # Errors
    /// Routing, transport, broker or decode errors.
    pub async fn groups_consuming(&self, topic: &str) -> Result<Vec<String>> {
        let route = self.client().fetch_route(topic).await?;
        let header = ConsumeByWhoRequestHeader {
            topic: topic.to_string(),
        };
        let mut groups = std::collections::BTreeSet::new();
        for addr in route.broker_datas.iter().filter_map(|b| b.master_addr()) {
            let req = RemotingCommand::request_with_header(
                RequestCode::QUERY_TOPIC_CONSUME_BY_WHO,
                &header,
            );
            let resp = self.client().invoke_ok(addr, req, TABLE_TIMEOUT).await?;
            let body: GroupList = serde_json::from_slice(&resp.body).map_err(|e| {
                protocol::ProtocolError::BadBody(format!("group list from {addr}: {e}"))
            })?;
            groups.extend(body.group_list);
        }
        Ok(groups.into_iter().collect())
    }
}

#[derive(serde::Deserialize)]
struct GroupList {
    #[serde(rename = "groupList", default)]
    group_list: Vec<String>,
}
