//! The way to the brokers: routes from the NameServers (through the
//! client crate's route cache) and remoting requests to the broker that
//! owns a queue, whichever group it belongs to. Every gRPC call becomes
//! the remoting request a 4.x/5.x Java client would send.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use client::instance::TopicRoute;
use parking_lot::Mutex;
use protocol::body::group::SubscriptionGroupConfig;
use protocol::body::topic::TopicConfig;
use protocol::header::admin::{
    GetSubscriptionGroupConfigRequestHeader, GetTopicConfigRequestHeader,
};
use protocol::{RemotingCommand, RequestCode, ResponseCode};
use remoting::{ClientConfig, Processor, RemotingClient};

use crate::error::{GrpcError, GrpcResult};
use crate::pb::MessageType;

/// How long a topic's message type is trusted before it is asked again.
const TYPE_TTL: Duration = Duration::from_secs(10);

/// How long another broker's gRPC port is trusted.
const PORT_TTL: Duration = Duration::from_secs(60);

/// Topic attribute naming the accepted message type.
pub const MESSAGE_TYPE_ATTRIBUTE: &str = "message.type";

/// Routes and broker connections shared by every gRPC call.
pub struct Upstream {
    names: client::Client,
    brokers: RemotingClient,
    timeout: Duration,
    types: Mutex<HashMap<String, (Instant, Vec<MessageType>)>>,
    orderly: Mutex<HashMap<String, (Instant, bool)>>,
    grpc_ports: Mutex<HashMap<String, (Instant, u16)>>,
}

impl Upstream {
    /// A route client for `namesrv` (`;`-separated).
    ///
    /// # Errors
    /// No NameServer address, or not inside a Tokio runtime.
    pub fn names(
        namesrv: &str,
        credentials: Option<&remoting::Credentials>,
        tls: Option<remoting::TlsClientSettings>,
    ) -> GrpcResult<client::Client> {
        let mut options = client::ClientOptions {
            tls,
            ..client::ClientOptions::default()
        };
        options.add_namesrv(namesrv);
        if let Some(c) = credentials {
            options.access_key = Some(c.access_key.clone());
            options.secret_key = Some(c.secret_key.clone());
        }
        options.instance_name = Some(format!("grpc-{}", std::process::id()));
        Ok(client::Client::start(options)?)
    }

    /// Routes through `names`; brokers are called with `transport` (the
    /// local broker's TLS settings, and its `accessKey`/`secretKey`: callers
    /// were checked against the ACL here, so brokers with ACL on must let
    /// this endpoint's account through); broker-initiated requests
    /// (transaction checks) arrive at `processor`.
    pub fn new(
        names: client::Client,
        processor: Arc<dyn Processor>,
        transport: ClientConfig,
    ) -> Self {
        Upstream {
            names,
            brokers: RemotingClient::new(transport, Some(processor)),
            timeout: Duration::from_secs(3),
            types: Mutex::new(HashMap::new()),
            orderly: Mutex::new(HashMap::new()),
            grpc_ports: Mutex::new(HashMap::new()),
        }
    }

    /// The route of `topic`; an unknown topic gets the auto-create
    /// template's route when a broker allows auto-creation.
    ///
    /// # Errors
    /// TOPIC_NOT_FOUND when neither exists.
    pub async fn route(&self, topic: &str) -> GrpcResult<Arc<TopicRoute>> {
        match self.names.publish_route(topic, 8).await {
            Ok(r) => Ok(r),
            Err(e) => Err(GrpcError::invalid(
                crate::pb::Code::TopicNotFound,
                format!("topic `{topic}` not found: {e}"),
            )),
        }
    }

    /// As [`Upstream::route`], but asks the NameServer first: clients call
    /// QueryRoute every 30 s, which keeps the cache used by sends fresh and
    /// replaces a template route once the topic exists.
    ///
    /// # Errors
    /// TOPIC_NOT_FOUND when neither exists.
    pub async fn fresh_route(&self, topic: &str) -> GrpcResult<Arc<TopicRoute>> {
        match self.names.update_route(topic).await {
            Ok(r) if !r.data.queue_datas.is_empty() => Ok(r),
            _ => self.route(topic).await,
        }
    }

    /// Forgets a cached route (after a failure that may mean it changed).
    pub fn forget(&self, topic: &str) {
        self.names.forget_route(topic);
    }

    /// The master address of `broker` (as known from `topic`'s route).
    ///
    /// # Errors
    /// The broker has no known master.
    pub async fn master(&self, broker: &str, topic: &str) -> GrpcResult<String> {
        Ok(self.names.master_addr(broker, topic).await?)
    }

    /// Sends `request` to `addr` and returns whatever it answers.
    ///
    /// # Errors
    /// Transport failures and timeouts.
    pub async fn call(
        &self,
        addr: &str,
        request: RemotingCommand,
        timeout: Option<Duration>,
    ) -> GrpcResult<RemotingCommand> {
        Ok(self
            .brokers
            .invoke(addr, request, timeout.unwrap_or(self.timeout))
            .await?)
    }

    /// As [`Upstream::call`], but any code except SUCCESS is an error.
    ///
    /// # Errors
    /// Transport failures; [`GrpcError::Broker`] for error codes.
    pub async fn call_ok(
        &self,
        addr: &str,
        request: RemotingCommand,
    ) -> GrpcResult<RemotingCommand> {
        let resp = self.call(addr, request, None).await?;
        if resp.code == ResponseCode::SUCCESS.code() {
            Ok(resp)
        } else {
            Err(broker_error(addr, &resp))
        }
    }

    /// The message types `topic` accepts: the one in its `message.type`
    /// attribute, or every type for untyped (and auto-created) topics.
    pub async fn accepted_types(&self, topic: &str, route: &TopicRoute) -> Vec<MessageType> {
        if let Some((at, types)) = self.types.lock().get(topic) {
            if at.elapsed() < TYPE_TTL {
                return types.clone();
            }
        }
        let types = match self.topic_config(topic, route).await {
            Some(c) => types_of(c.attributes.get(MESSAGE_TYPE_ATTRIBUTE).map(String::as_str)),
            None => types_of(None),
        };
        self.types
            .lock()
            .insert(topic.to_string(), (Instant::now(), types.clone()));
        types
    }

    async fn topic_config(&self, topic: &str, route: &TopicRoute) -> Option<TopicConfig> {
        for q in &route.data.queue_datas {
            let Ok(addr) = self.master(&q.broker_name, topic).await else {
                continue;
            };
            let header = GetTopicConfigRequestHeader {
                topic: topic.to_string(),
                lo: None,
            };
            let req = RemotingCommand::request_with_header(RequestCode::GET_TOPIC_CONFIG, &header);
            if let Ok(resp) = self.call_ok(&addr, req).await {
                if let Ok(c) = TopicConfig::decode(&resp.body) {
                    return Some(c);
                }
            }
        }
        None
    }

    /// Whether consumer `group` consumes orderly (FIFO), as its config on
    /// the first master of `route` says; false for an unknown group.
    pub async fn group_orderly(&self, group: &str, route: &TopicRoute) -> bool {
        if let Some((at, v)) = self.orderly.lock().get(group) {
            if at.elapsed() < TYPE_TTL {
                return *v;
            }
        }
        let mut orderly = false;
        for b in &route.data.broker_datas {
            let Some(addr) = b.broker_addrs.get(&0) else {
                continue;
            };
            let header = GetSubscriptionGroupConfigRequestHeader {
                group: group.to_string(),
            };
            let req = RemotingCommand::request_with_header(
                RequestCode::GET_SUBSCRIPTIONGROUP_CONFIG,
                &header,
            );
            if let Ok(resp) = self.call_ok(addr, req).await {
                if let Ok(c) = SubscriptionGroupConfig::from_json_bytes(&resp.body) {
                    orderly = c.consume_message_orderly;
                    break;
                }
            }
        }
        self.orderly
            .lock()
            .insert(group.to_string(), (Instant::now(), orderly));
        orderly
    }

    /// The gRPC port of the broker at `addr` (its `grpcListenPort`).
    ///
    /// # Errors
    /// The broker cannot be asked, or does not announce a gRPC port.
    pub async fn grpc_port(&self, addr: &str) -> GrpcResult<u16> {
        if let Some((at, port)) = self.grpc_ports.lock().get(addr) {
            if at.elapsed() < PORT_TTL {
                return Ok(*port);
            }
        }
        let req = RemotingCommand::request(RequestCode::GET_BROKER_CONFIG);
        let resp = self.call_ok(addr, req).await?;
        let text = String::from_utf8_lossy(&resp.body);
        let port = text
            .lines()
            .filter_map(|l| l.split_once('='))
            .find(|(k, _)| k.trim() == "grpcListenPort")
            .and_then(|(_, v)| v.trim().parse::<u16>().ok())
            .filter(|p| *p != 0)
            .ok_or_else(|| {
                GrpcError::invalid(
                    crate::pb::Code::InternalServerError,
                    format!("broker {addr} announces no grpcListenPort"),
                )
            })?;
        self.grpc_ports
            .lock()
            .insert(addr.to_string(), (Instant::now(), port));
        Ok(port)
    }

    /// Every master address currently known for `topics`' routes.
    pub async fn masters_of(&self, topics: &[String]) -> Vec<String> {
        let mut out = Vec::new();
        for t in topics {
            let Ok(route) = self.route(t).await else {
                continue;
            };
            for b in &route.data.broker_datas {
                if let Some(a) = b.broker_addrs.get(&0) {
                    if !out.contains(a) {
                        out.push(a.clone());
                    }
                }
            }
        }
        out
    }

    /// Closes the connections.
    pub async fn shutdown(&self) {
        self.brokers.shutdown().await;
        self.names.shutdown().await;
    }
}

/// The types a `message.type` attribute value allows.
pub fn types_of(attribute: Option<&str>) -> Vec<MessageType> {
    match attribute.map(str::to_ascii_uppercase).as_deref() {
        Some("NORMAL") => vec![MessageType::Normal],
        Some("FIFO") => vec![MessageType::Fifo],
        Some("DELAY") => vec![MessageType::Delay],
        Some("TRANSACTION") => vec![MessageType::Transaction],
        _ => vec![
            MessageType::Normal,
            MessageType::Fifo,
            MessageType::Delay,
            MessageType::Transaction,
        ],
    }
}

/// The error for a broker's non-success answer.
pub fn broker_error(addr: &str, resp: &RemotingCommand) -> GrpcError {
    GrpcError::Broker {
        addr: addr.to_string(),
        code: resp.code,
        remark: resp.remark.clone().unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attribute_values_pick_the_accepted_types() {
        assert_eq!(types_of(Some("FIFO")), vec![MessageType::Fifo]);
        assert_eq!(
            types_of(Some("transaction")),
            vec![MessageType::Transaction]
        );
        assert_eq!(types_of(None).len(), 4);
        assert_eq!(types_of(Some("MIXED")).len(), 4);
    }
}
