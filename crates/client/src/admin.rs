//! Admin calls (mqadmin-style) as a library: topics, groups, cluster
//! state, consumer progress, message lookup and offset resets. The
//! `apogee admin` CLI is a thin shell over these.

mod ops;

use std::collections::BTreeMap;
use std::time::Duration;

use protocol::body::cluster::ClusterInfo;
use protocol::body::consumer::{ConsumeStats, ConsumerConnection};
use protocol::body::group::SubscriptionGroupConfig;
use protocol::body::kv::KvTable;
use protocol::body::reset_offset::ResetOffsetBody;
use protocol::body::route::TopicRouteData;
use protocol::body::stats::TopicStatsTable;
use protocol::body::topic::TopicList;
use protocol::body::MessageQueue;
use protocol::header::admin::{
    CreateTopicRequestHeader, DeleteSubscriptionGroupRequestHeader, DeleteTopicRequestHeader,
    GetConsumeStatsRequestHeader, GetTopicStatsInfoRequestHeader,
};
use protocol::header::consumer::GetConsumerConnectionListRequestHeader;
use protocol::header::namesrv::DeleteTopicFromNamesrvRequestHeader;
use protocol::header::offset::ResetOffsetRequestHeader;
use protocol::header::query::{QueryMessageRequestHeader, ViewMessageRequestHeader};
use protocol::message::{decode_offset_msg_id, sysflag::perm, topics};
use protocol::{RemotingCommand, RequestCode, ResponseCode};

use crate::error::{ClientError, Result};
use crate::instance::{expect_success, Client};
use crate::message::{validate_topic, MessageExt};

const ADMIN_TIMEOUT: Duration = Duration::from_secs(5);

/// What to create: a topic's queue counts and permission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicSpec {
    /// Topic name.
    pub name: String,
    /// Readable queues per broker.
    pub read_queues: i32,
    /// Writable queues per broker.
    pub write_queues: i32,
    /// Permission bits (6 = read + write).
    pub perm: i32,
    /// Ordered topic flag.
    pub order: bool,
    /// 5.x attribute edits, `+key=value,-key` (e.g. `+message.type=FIFO`).
    pub attributes: Option<String>,
}

impl TopicSpec {
    /// `queues` read and write queues per broker, perm 6.
    pub fn new(name: impl Into<String>, queues: i32) -> Self {
        TopicSpec {
            name: name.into(),
            read_queues: queues,
            write_queues: queues,
            perm: perm::READ_WRITE,
            order: false,
            attributes: None,
        }
    }
}

/// Admin operations over a client instance.
pub struct Admin {
    client: Client,
    owns_client: bool,
}

impl Admin {
    /// An admin with its own client for `namesrv` (`;`-separated).
    ///
    /// # Errors
    /// [`ClientError::NoNameServer`] for an empty list.
    pub fn connect(namesrv: &str) -> Result<Admin> {
        Ok(Admin {
            client: Client::connect(namesrv)?,
            owns_client: true,
        })
    }

    /// An admin with its own client started with `options` (TLS,
    /// credentials).
    ///
    /// # Errors
    /// As [`Client::start`].
    pub fn start(options: crate::ClientOptions) -> Result<Admin> {
        Ok(Admin {
            client: Client::start(options)?,
            owns_client: true,
        })
    }

    /// An admin sharing `client`.
    pub fn with_client(client: &Client) -> Admin {
        Admin {
            client: client.clone(),
            owns_client: false,
        }
    }

    /// The client in use.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Closes the admin's own client, if it has one.
    pub async fn shutdown(&self) {
        if self.owns_client {
            self.client.shutdown().await;
        }
    }

    async fn call(&self, addr: &str, req: RemotingCommand) -> Result<RemotingCommand> {
        self.client.invoke_ok(addr, req, ADMIN_TIMEOUT).await
    }

    /// GET_BROKER_CLUSTER_INFO: clusters, brokers and addresses.
    ///
    /// # Errors
    /// NameServer or decode errors.
    pub async fn cluster_info(&self) -> Result<ClusterInfo> {
        let (addr, resp) = self
            .client
            .invoke_namesrv(RemotingCommand::request(
                RequestCode::GET_BROKER_CLUSTER_INFO,
            ))
            .await?;
        Ok(ClusterInfo::decode(&expect_success(&addr, resp)?.body)?)
    }

    /// `(broker name, master address)` of every broker of `cluster` (all
    /// clusters when None).
    ///
    /// # Errors
    /// As [`Admin::cluster_info`]; [`ClientError::InvalidArgument`] for an unknown cluster.
    pub async fn masters(&self, cluster: Option<&str>) -> Result<Vec<(String, String)>> {
        let info = self.cluster_info().await?;
        let names: Vec<String> = match cluster {
            Some(c) => info
                .cluster_addr_table
                .get(c)
                .ok_or_else(|| ClientError::InvalidArgument {
                    field: "cluster",
                    reason: format!("cluster {c} is unknown to the NameServer"),
                })?
                .iter()
                .cloned()
                .collect(),
            None => info.broker_addr_table.keys().cloned().collect(),
        };
        Ok(names
            .into_iter()
            .filter_map(|n| {
                let addr = info.broker_addr_table.get(&n)?.master_addr()?.to_string();
                Some((n, addr))
            })
            .collect())
    }

    /// UPDATE_AND_CREATE_TOPIC on one broker.
    ///
    /// # Errors
    /// Invalid names; broker errors.
    pub async fn create_topic_on_broker(&self, addr: &str, spec: &TopicSpec) -> Result<()> {
        validate_topic(&spec.name)?;
        let header = CreateTopicRequestHeader {
            topic: spec.name.clone(),
            default_topic: Some(topics::AUTO_CREATE_TOPIC.to_string()),
            read_queue_nums: spec.read_queues,
            write_queue_nums: spec.write_queues,
            perm: spec.perm,
            topic_filter_type: Some("SINGLE_TAG".into()),
            topic_sys_flag: Some(0),
            order: Some(spec.order),
            attributes: spec.attributes.clone(),
            force: None,
        };
        let req =
            RemotingCommand::request_with_header(RequestCode::UPDATE_AND_CREATE_TOPIC, &header);
        self.call(addr, req).await?;
        Ok(())
    }

    /// Creates the topic on every master of `cluster` (all when None);
    /// returns the broker names it was created on. Routes show it once the
    /// brokers re-register (at once with Apogee, within 30 s elsewhere).
    ///
    /// # Errors
    /// The first broker error.
    pub async fn create_topic(
        &self,
        cluster: Option<&str>,
        spec: &TopicSpec,
    ) -> Result<Vec<String>> {
        let mut done = Vec::new();
        for (name, addr) in self.masters(cluster).await? {
            self.create_topic_on_broker(&addr, spec).await?;
            done.push(name);
        }
        self.client.forget_route(&spec.name);
        Ok(done)
    }

    /// Deletes the topic from every master of `cluster` and from every NameServer.
    ///
    /// # Errors
    /// The first broker or NameServer error.
    pub async fn delete_topic(&self, cluster: Option<&str>, topic: &str) -> Result<()> {
        let header = DeleteTopicRequestHeader {
            topic: topic.to_string(),
        };
        for (_, addr) in self.masters(cluster).await? {
            let req =
                RemotingCommand::request_with_header(RequestCode::DELETE_TOPIC_IN_BROKER, &header);
            self.call(&addr, req).await?;
        }
        let ns = DeleteTopicFromNamesrvRequestHeader {
            topic: topic.to_string(),
            cluster_name: cluster.map(str::to_string),
        };
        for addr in &self.client.options().namesrv {
            let req =
                RemotingCommand::request_with_header(RequestCode::DELETE_TOPIC_IN_NAMESRV, &ns);
            self.call(addr, req).await?;
        }
        self.client.forget_route(topic);
        Ok(())
    }

    /// GET_ALL_TOPIC_LIST_FROM_NAMESERVER.
    ///
    /// # Errors
    /// NameServer or decode errors.
    pub async fn topic_list(&self) -> Result<Vec<String>> {
        let req = RemotingCommand::request(RequestCode::GET_ALL_TOPIC_LIST_FROM_NAMESERVER);
        let (addr, resp) = self.client.invoke_namesrv(req).await?;
        let list = TopicList::decode(&expect_success(&addr, resp)?.body)?;
        Ok(list.topic_list.into_iter().collect())
    }

    /// The NameServer's route of `topic`.
    ///
    /// # Errors
    /// TOPIC_NOT_EXIST as [`ClientError::Response`].
    pub async fn topic_route(&self, topic: &str) -> Result<TopicRouteData> {
        self.client.fetch_route(topic).await
    }

    /// GET_TOPIC_STATS_INFO from every master holding `topic`, merged.
    ///
    /// # Errors
    /// Routing and broker errors.
    pub async fn topic_stats(&self, topic: &str) -> Result<TopicStatsTable> {
        let mut out = TopicStatsTable::default();
        for addr in self.topic_masters(topic).await? {
            let header = GetTopicStatsInfoRequestHeader {
                topic: topic.to_string(),
            };
            let req =
                RemotingCommand::request_with_header(RequestCode::GET_TOPIC_STATS_INFO, &header);
            let t = TopicStatsTable::from_json_bytes(&self.call(&addr, req).await?.body)?;
            out.offset_table.extend(t.offset_table);
            out.topic_put_tps += t.topic_put_tps;
        }
        Ok(out)
    }

    async fn topic_masters(&self, topic: &str) -> Result<Vec<String>> {
        let route = self.client.fetch_route(topic).await?;
        Ok(route
            .broker_datas
            .iter()
            .filter_map(|b| b.master_addr().map(str::to_string))
            .collect())
    }

    /// UPDATE_AND_CREATE_SUBSCRIPTIONGROUP on every master of `cluster`.
    ///
    /// # Errors
    /// The first broker error.
    pub async fn create_group(
        &self,
        cluster: Option<&str>,
        config: &SubscriptionGroupConfig,
    ) -> Result<()> {
        let body = bytes::Bytes::from(config.to_json_bytes()?);
        for (_, addr) in self.masters(cluster).await? {
            let req = RemotingCommand::request(RequestCode::UPDATE_AND_CREATE_SUBSCRIPTIONGROUP)
                .with_body(body.clone());
            self.call(&addr, req).await?;
        }
        Ok(())
    }

    /// DELETE_SUBSCRIPTIONGROUP on every master of `cluster`.
    ///
    /// # Errors
    /// The first broker error.
    pub async fn delete_group(
        &self,
        cluster: Option<&str>,
        group: &str,
        clean_offsets: bool,
    ) -> Result<()> {
        let header = DeleteSubscriptionGroupRequestHeader {
            group_name: group.to_string(),
            clean_offset: Some(clean_offsets),
        };
        for (_, addr) in self.masters(cluster).await? {
            let req = RemotingCommand::request_with_header(
                RequestCode::DELETE_SUBSCRIPTIONGROUP,
                &header,
            );
            self.call(&addr, req).await?;
        }
        Ok(())
    }

    /// GET_CONSUME_STATS of `group` (for `topic`, or all its topics) from
    /// every broker holding the group's retry topic (else every master), merged.
    ///
    /// # Errors
    /// Broker errors.
    pub async fn consume_stats(&self, group: &str, topic: Option<&str>) -> Result<ConsumeStats> {
        let addrs = match self.topic_masters(&topics::retry_topic(group)).await {
            Ok(a) if !a.is_empty() => a,
            _ => self
                .masters(None)
                .await?
                .into_iter()
                .map(|(_, a)| a)
                .collect(),
        };
        let header = GetConsumeStatsRequestHeader {
            consumer_group: group.to_string(),
            topic: topic.map(str::to_string),
            topic_list: None,
        };
        let mut out = ConsumeStats::default();
        for addr in addrs {
            let req = RemotingCommand::request_with_header(RequestCode::GET_CONSUME_STATS, &header);
            let s = ConsumeStats::from_json_bytes(&self.call(&addr, req).await?.body)?;
            out.offset_table.extend(s.offset_table);
            out.consume_tps += s.consume_tps;
        }
        Ok(out)
    }

    /// The group's live connections (GET_CONSUMER_CONNECTION_LIST) from
    /// the first master that knows the group.
    ///
    /// # Errors
    /// The last broker error when none knows it.
    pub async fn consumer_connections(&self, group: &str) -> Result<ConsumerConnection> {
        let header = GetConsumerConnectionListRequestHeader {
            consumer_group: group.to_string(),
        };
        let mut last = ClientError::InvalidArgument {
            field: "group",
            reason: format!("no broker knows consumer group {group}"),
        };
        for (_, addr) in self.masters(None).await? {
            let req = RemotingCommand::request_with_header(
                RequestCode::GET_CONSUMER_CONNECTION_LIST,
                &header,
            );
            match self.call(&addr, req).await {
                Ok(resp) => return Ok(ConsumerConnection::from_json_bytes(&resp.body)?),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    /// QUERY_MESSAGE by business key in `[begin_ms, end_ms]` on every
    /// master of `topic`; keys are re-checked (the index hashes them).
    ///
    /// # Errors
    /// Routing and broker errors.
    pub async fn query_message_by_key(
        &self,
        topic: &str,
        key: &str,
        max: i32,
        begin_ms: i64,
        end_ms: i64,
    ) -> Result<Vec<MessageExt>> {
        let mut msgs = self.query(topic, key, max, begin_ms, end_ms, false).await?;
        msgs.retain(|m| m.keys().contains(&key));
        Ok(msgs)
    }

    /// Finds a message by its id (UNIQ_KEY) in `topic`.
    ///
    /// # Errors
    /// Routing and broker errors.
    pub async fn query_message_by_id(&self, topic: &str, msg_id: &str) -> Result<Vec<MessageExt>> {
        let mut msgs = self.query(topic, msg_id, 32, 0, i64::MAX, true).await?;
        msgs.retain(|m| m.msg_id == msg_id);
        Ok(msgs)
    }

    async fn query(
        &self,
        topic: &str,
        key: &str,
        max: i32,
        begin: i64,
        end: i64,
        unique: bool,
    ) -> Result<Vec<MessageExt>> {
        let route = self.client.fetch_route(topic).await?;
        let header = QueryMessageRequestHeader {
            topic: topic.to_string(),
            key: key.to_string(),
            max_num: max,
            begin_timestamp: begin,
            end_timestamp: end,
            unique_key_query: unique.then_some(true),
        };
        let mut out = Vec::new();
        for bd in &route.broker_datas {
            let Some(addr) = bd.master_addr() else {
                continue;
            };
            let req = RemotingCommand::request_with_header(RequestCode::QUERY_MESSAGE, &header);
            let resp = self
                .client
                .remoting()
                .invoke(addr, req, ADMIN_TIMEOUT)
                .await?;
            if resp.code == ResponseCode::QUERY_NOT_FOUND.code() {
                continue;
            }
            let resp = expect_success(addr, resp)?;
            out.extend(MessageExt::decode_all(&resp.body, &bd.broker_name)?);
        }
        Ok(out)
    }

    /// VIEW_MESSAGE_BY_ID: the message an offset id names (the id holds
    /// the broker address and commit-log offset).
    ///
    /// # Errors
    /// A malformed id; broker errors; [`ClientError::Response`] if absent.
    pub async fn view_message(&self, offset_msg_id: &str) -> Result<MessageExt> {
        let (addr, offset) = decode_offset_msg_id(offset_msg_id)?;
        let addr = addr.to_string();
        let header = ViewMessageRequestHeader {
            offset,
            topic: None,
        };
        let req = RemotingCommand::request_with_header(RequestCode::VIEW_MESSAGE_BY_ID, &header);
        let resp = self.call(&addr, req).await?;
        let broker = self.broker_name_of(&addr).await.unwrap_or_default();
        MessageExt::decode_all(&resp.body, &broker)?
            .into_iter()
            .next()
            .ok_or_else(|| {
                ClientError::response(
                    &addr,
                    ResponseCode::SYSTEM_ERROR.code(),
                    Some("empty view body"),
                )
            })
    }

    async fn broker_name_of(&self, addr: &str) -> Option<String> {
        let info = self.cluster_info().await.ok()?;
        info.broker_addr_table
            .values()
            .find(|b| b.broker_addrs.values().any(|a| a == addr))
            .map(|b| b.broker_name.clone())
    }

    /// INVOKE_BROKER_TO_RESET_OFFSET on every master of `topic`: moves the
    /// group's offsets to the first messages stored at or after
    /// `timestamp_ms` (`force`: also forward). Returns the new offsets.
    ///
    /// # Errors
    /// Routing and broker errors (CONSUMER_NOT_ONLINE when the group has no
    /// live member on a 4.x-style broker).
    pub async fn reset_offset_by_time(
        &self,
        group: &str,
        topic: &str,
        timestamp_ms: i64,
        force: bool,
    ) -> Result<BTreeMap<MessageQueue, i64>> {
        let header = ResetOffsetRequestHeader {
            topic: topic.to_string(),
            group: group.to_string(),
            queue_id: Some(-1),
            offset: None,
            timestamp: timestamp_ms,
            is_force: force,
        };
        let mut out = BTreeMap::new();
        for addr in self.topic_masters(topic).await? {
            let req = RemotingCommand::request_with_header(
                RequestCode::INVOKE_BROKER_TO_RESET_OFFSET,
                &header,
            );
            let resp = self.call(&addr, req).await?;
            if !resp.body.is_empty() {
                out.extend(ResetOffsetBody::from_json_bytes(&resp.body)?.offset_table);
            }
        }
        Ok(out)
    }

    /// GET_BROKER_RUNTIME_INFO of the broker at `addr`.
    ///
    /// # Errors
    /// Broker and decode errors.
    pub async fn broker_runtime_info(&self, addr: &str) -> Result<BTreeMap<String, String>> {
        let resp = self
            .call(
                addr,
                RemotingCommand::request(RequestCode::GET_BROKER_RUNTIME_INFO),
            )
            .await?;
        Ok(KvTable::decode(&resp.body)?.table)
    }
}
