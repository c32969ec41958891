//! Operations calls behind mqadmin's daily tools: broker and NameServer
//! configuration, KV config, write permission, producer connections,
//! consumer running info, broker-wide stats, consume-queue views, manual
//! cleaning and offset cloning. Each call goes to the address it is given
//! (a broker) or to every configured NameServer.

use std::collections::BTreeMap;

use protocol::body::ops::{
    BrokerStatsData, ConsumeStatsList, ProducerConnection, QueryConsumeQueueResponseBody,
};
use protocol::body::topic::TopicConfig;
use protocol::header::admin::GetTopicConfigRequestHeader;
use protocol::header::consumer::GetConsumerRunningInfoRequestHeader;
use protocol::header::namesrv::{
    AddWritePermOfBrokerRequestHeader, AddWritePermOfBrokerResponseHeader,
    DeleteKvConfigRequestHeader, GetKvConfigRequestHeader, GetKvConfigResponseHeader,
    PutKvConfigRequestHeader, WipeWritePermOfBrokerRequestHeader,
    WipeWritePermOfBrokerResponseHeader,
};
use protocol::header::offset::UpdateConsumerOffsetRequestHeader;
use protocol::header::ops::{
    CloneGroupOffsetRequestHeader, ConsumeMessageDirectlyResultRequestHeader,
    GetConsumeStatsInBrokerHeader, GetProducerConnectionListRequestHeader,
    QueryConsumeQueueRequestHeader, ViewBrokerStatsDataRequestHeader,
};
use protocol::{RemotingCommand, RequestCode, ResponseCode};

use super::{Admin, ADMIN_TIMEOUT};
use crate::error::{ClientError, Result};

/// Renders `key=value` lines, the body UPDATE_*_CONFIG takes.
fn properties(pairs: &BTreeMap<String, String>) -> Vec<u8> {
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}\n"))
        .collect::<String>()
        .into_bytes()
}

impl Admin {
    /// Every configured NameServer address.
    pub fn namesrv_addrs(&self) -> Vec<String> {
        self.client.options().namesrv.clone()
    }

    /// Sends `req` to the NameServer at `addr`; SUCCESS or an error.
    async fn call_namesrv(&self, addr: &str, req: RemotingCommand) -> Result<RemotingCommand> {
        self.client.invoke_ok(addr, req, ADMIN_TIMEOUT).await
    }

    /// UPDATE_BROKER_CONFIG: returns the broker's remark (which keys apply
    /// now and which after a restart).
    ///
    /// # Errors
    /// Broker errors (an unknown key or bad value changes nothing).
    pub async fn update_broker_config(
        &self,
        addr: &str,
        pairs: &BTreeMap<String, String>,
    ) -> Result<String> {
        let req = RemotingCommand::request(RequestCode::UPDATE_BROKER_CONFIG)
            .with_body(properties(pairs));
        Ok(self.call(addr, req).await?.remark.unwrap_or_default())
    }

    /// GET_BROKER_CONFIG as `key → value`.
    ///
    /// # Errors
    /// Broker errors.
    pub async fn broker_config(&self, addr: &str) -> Result<BTreeMap<String, String>> {
        let req = RemotingCommand::request(RequestCode::GET_BROKER_CONFIG);
        Ok(parse_properties(&self.call(addr, req).await?.body))
    }

    /// GET_NAMESRV_CONFIG of the NameServer at `addr`.
    ///
    /// # Errors
    /// NameServer errors.
    pub async fn namesrv_config(&self, addr: &str) -> Result<BTreeMap<String, String>> {
        let req = RemotingCommand::request(RequestCode::GET_NAMESRV_CONFIG);
        Ok(parse_properties(&self.call_namesrv(addr, req).await?.body))
    }

    /// UPDATE_NAMESRV_CONFIG on the NameServer at `addr`.
    ///
    /// # Errors
    /// NameServer errors (unknown or black-listed keys).
    pub async fn update_namesrv_config(
        &self,
        addr: &str,
        pairs: &BTreeMap<String, String>,
    ) -> Result<()> {
        let req = RemotingCommand::request(RequestCode::UPDATE_NAMESRV_CONFIG)
            .with_body(properties(pairs));
        self.call_namesrv(addr, req).await.map(|_| ())
    }

    /// PUT_KV_CONFIG on every NameServer.
    ///
    /// # Errors
    /// The first NameServer error.
    pub async fn put_kv_config(&self, namespace: &str, key: &str, value: &str) -> Result<()> {
        let header = PutKvConfigRequestHeader {
            namespace: namespace.into(),
            key: key.into(),
            value: value.into(),
        };
        for addr in self.namesrv_addrs() {
            let req = RemotingCommand::request_with_header(RequestCode::PUT_KV_CONFIG, &header);
            self.call_namesrv(&addr, req).await?;
        }
        Ok(())
    }

    /// GET_KV_CONFIG from the first NameServer that answers; None when the
    /// key is not set.
    ///
    /// # Errors
    /// Transport errors.
    pub async fn kv_config(&self, namespace: &str, key: &str) -> Result<Option<String>> {
        let header = GetKvConfigRequestHeader {
            namespace: namespace.into(),
            key: key.into(),
        };
        let req = RemotingCommand::request_with_header(RequestCode::GET_KV_CONFIG, &header);
        let (_, resp) = self.client.invoke_namesrv(req).await?;
        if resp.code != ResponseCode::SUCCESS.code() {
            return Ok(None);
        }
        Ok(resp.decode_header::<GetKvConfigResponseHeader>()?.value)
    }

    /// DELETE_KV_CONFIG on every NameServer.
    ///
    /// # Errors
    /// The first NameServer error.
    pub async fn delete_kv_config(&self, namespace: &str, key: &str) -> Result<()> {
        let header = DeleteKvConfigRequestHeader {
            namespace: namespace.into(),
            key: key.into(),
        };
        for addr in self.namesrv_addrs() {
            let req = RemotingCommand::request_with_header(RequestCode::DELETE_KV_CONFIG, &header);
            self.call_namesrv(&addr, req).await?;
        }
        Ok(())
    }

    /// WIPE_WRITE_PERM_OF_BROKER (`add`: ADD_WRITE_PERM_OF_BROKER) on the
    /// NameServer at `addr`; the number of topics changed.
    ///
    /// # Errors
    /// NameServer errors.
    pub async fn set_write_perm(&self, addr: &str, broker_name: &str, add: bool) -> Result<i32> {
        if add {
            let header = AddWritePermOfBrokerRequestHeader {
                broker_name: broker_name.into(),
            };
            let req = RemotingCommand::request_with_header(
                RequestCode::ADD_WRITE_PERM_OF_BROKER,
                &header,
            );
            let resp = self.call_namesrv(addr, req).await?;
            Ok(resp
                .decode_header::<AddWritePermOfBrokerResponseHeader>()?
                .add_topic_count)
        } else {
            let header = WipeWritePermOfBrokerRequestHeader {
                broker_name: broker_name.into(),
            };
            let req = RemotingCommand::request_with_header(
                RequestCode::WIPE_WRITE_PERM_OF_BROKER,
                &header,
            );
            let resp = self.call_namesrv(addr, req).await?;
            Ok(resp
                .decode_header::<WipeWritePermOfBrokerResponseHeader>()?
                .wipe_topic_count)
        }
    }

    /// GET_TOPIC_CONFIG of `topic` on the broker at `addr`.
    ///
    /// # Errors
    /// TOPIC_NOT_EXIST and other broker errors.
    pub async fn topic_config(&self, addr: &str, topic: &str) -> Result<TopicConfig> {
        let header = GetTopicConfigRequestHeader {
            topic: topic.into(),
            lo: None,
        };
        let req = RemotingCommand::request_with_header(RequestCode::GET_TOPIC_CONFIG, &header);
        Ok(TopicConfig::decode(&self.call(addr, req).await?.body)?)
    }

    /// GET_PRODUCER_CONNECTION_LIST of `group` on the broker at `addr`.
    ///
    /// # Errors
    /// Broker errors (a group with no live producer is one).
    pub async fn producer_connections(
        &self,
        addr: &str,
        group: &str,
    ) -> Result<ProducerConnection> {
        let header = GetProducerConnectionListRequestHeader {
            producer_group: group.into(),
        };
        let req = RemotingCommand::request_with_header(
            RequestCode::GET_PRODUCER_CONNECTION_LIST,
            &header,
        );
        Ok(ProducerConnection::from_json_bytes(
            &self.call(addr, req).await?.body,
        )?)
    }

    /// GET_CONSUMER_RUNNING_INFO of one client, relayed by the broker at
    /// `addr`: the client's ConsumerRunningInfo JSON as it sent it.
    ///
    /// # Errors
    /// Broker errors (the client is not online) and the client's own.
    pub async fn consumer_running_info(
        &self,
        addr: &str,
        group: &str,
        client_id: &str,
    ) -> Result<Vec<u8>> {
        let header = GetConsumerRunningInfoRequestHeader {
            consumer_group: group.into(),
            client_id: client_id.into(),
            jstack_enable: Some(false),
        };
        let req =
            RemotingCommand::request_with_header(RequestCode::GET_CONSUMER_RUNNING_INFO, &header);
        Ok(self.call(addr, req).await?.body.to_vec())
    }

    /// CONSUME_MESSAGE_DIRECTLY: the broker at `addr` hands the message
    /// `msg_id` to one client of `group`; the client's result JSON.
    ///
    /// # Errors
    /// Broker and client errors.
    pub async fn consume_message_directly(
        &self,
        addr: &str,
        group: &str,
        client_id: &str,
        msg_id: &str,
    ) -> Result<Vec<u8>> {
        let header = ConsumeMessageDirectlyResultRequestHeader {
            consumer_group: group.into(),
            client_id: Some(client_id.into()),
            msg_id: Some(msg_id.into()),
            ..ConsumeMessageDirectlyResultRequestHeader::default()
        };
        let req =
            RemotingCommand::request_with_header(RequestCode::CONSUME_MESSAGE_DIRECTLY, &header);
        Ok(self.call(addr, req).await?.body.to_vec())
    }

    /// GET_BROKER_CONSUME_STATS of the broker at `addr`.
    ///
    /// # Errors
    /// Broker and decode errors.
    pub async fn broker_consume_stats(
        &self,
        addr: &str,
        only_order: bool,
    ) -> Result<ConsumeStatsList> {
        let header = GetConsumeStatsInBrokerHeader {
            is_order: Some(only_order),
        };
        let req =
            RemotingCommand::request_with_header(RequestCode::GET_BROKER_CONSUME_STATS, &header);
        Ok(ConsumeStatsList::from_json_bytes(
            &self.call(addr, req).await?.body,
        )?)
    }

    /// QUERY_CONSUME_QUEUE on the broker at `addr`.
    ///
    /// # Errors
    /// Broker errors (unknown topic, bad queue or range).
    pub async fn query_consume_queue(
        &self,
        addr: &str,
        header: &QueryConsumeQueueRequestHeader,
    ) -> Result<QueryConsumeQueueResponseBody> {
        let req = RemotingCommand::request_with_header(RequestCode::QUERY_CONSUME_QUEUE, header);
        Ok(QueryConsumeQueueResponseBody::from_json_bytes(
            &self.call(addr, req).await?.body,
        )?)
    }

    /// VIEW_BROKER_STATS_DATA; None when the broker has never counted the key.
    ///
    /// # Errors
    /// Transport and decode errors; other broker errors.
    pub async fn broker_stats(
        &self,
        addr: &str,
        name: &str,
        key: &str,
    ) -> Result<Option<BrokerStatsData>> {
        let header = ViewBrokerStatsDataRequestHeader {
            stats_name: name.into(),
            stats_key: key.into(),
        };
        let req =
            RemotingCommand::request_with_header(RequestCode::VIEW_BROKER_STATS_DATA, &header);
        match self.call(addr, req).await {
            Ok(resp) => Ok(Some(BrokerStatsData::from_json_bytes(&resp.body)?)),
            Err(ClientError::Response { code, .. })
                if code == ResponseCode::SYSTEM_ERROR.code() =>
            {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// CLEAN_EXPIRED_CONSUMEQUEUE, DELETE_EXPIRED_COMMITLOG or
    /// CLEAN_UNUSED_TOPIC on the broker at `addr`: the broker's report.
    ///
    /// # Errors
    /// Broker errors.
    pub async fn clean(&self, addr: &str, code: RequestCode) -> Result<String> {
        let resp = self.call(addr, RemotingCommand::request(code)).await?;
        Ok(resp.remark.unwrap_or_default())
    }

    /// QUERY_TOPIC_CONSUME_BY_WHO on the broker at `addr`: the groups with
    /// offsets on or subscriptions to `topic`.
    ///
    /// # Errors
    /// Broker and decode errors.
    pub async fn topic_consumed_by(&self, addr: &str, topic: &str) -> Result<Vec<String>> {
        let mut req = RemotingCommand::request(RequestCode::QUERY_TOPIC_CONSUME_BY_WHO);
        req.ext_fields.insert("topic".into(), topic.into());
        let body = self.call(addr, req).await?.body;
        let value = protocol::body::fastjson::parse_object_value(&body, "GroupList")?;
        Ok(value["groupList"]
            .as_array()
            .map(|l| {
                l.iter()
                    .filter_map(|g| g.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default())
    }

    /// CLONE_GROUP_OFFSET on the broker at `addr`.
    ///
    /// # Errors
    /// Broker errors.
    pub async fn clone_group_offset(
        &self,
        addr: &str,
        header: &CloneGroupOffsetRequestHeader,
    ) -> Result<String> {
        let req = RemotingCommand::request_with_header(RequestCode::CLONE_GROUP_OFFSET, header);
        Ok(self.call(addr, req).await?.remark.unwrap_or_default())
    }

    /// UPDATE_CONSUMER_OFFSET of one queue on the broker at `addr`.
    ///
    /// # Errors
    /// Broker errors.
    pub async fn update_consumer_offset(
        &self,
        addr: &str,
        header: &UpdateConsumerOffsetRequestHeader,
    ) -> Result<()> {
        let req = RemotingCommand::request_with_header(RequestCode::UPDATE_CONSUMER_OFFSET, header);
        self.call(addr, req).await.map(|_| ())
    }
}

/// `key=value` lines (GET_BROKER_CONFIG, GET_NAMESRV_CONFIG bodies).
fn parse_properties(body: &[u8]) -> BTreeMap<String, String> {
    String::from_utf8_lossy(body)
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn properties_round_trip() {
        let pairs = BTreeMap::from([
            ("a".to_owned(), "1".to_owned()),
            ("b".to_owned(), "x=y".to_owned()),
        ]);
        let body = properties(&pairs);
        assert_eq!(body, b"a=1\nb=x=y\n");
        assert_eq!(parse_properties(&body), pairs);
        assert!(parse_properties(b"# c\nnoequals\n").is_empty());
    }
}
