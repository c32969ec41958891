//! The client instance shared by the producers and consumers of a process:
//! one connection pool, the NameServer list, the topic route cache
//! (refreshed every 30 s and after failures), heartbeats to every broker
//! every 30 s, and the handler of broker-initiated requests.

mod processor;
pub mod route;

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, Ipv4Addr, UdpSocket};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use protocol::body::heartbeat::{ConsumerData, HeartbeatData, ProducerData};
use protocol::body::route::TopicRouteData;
use protocol::header::consumer::UnregisterClientRequestHeader;
use protocol::header::namesrv::GetRouteInfoRequestHeader;
use protocol::message::{topics, UniqIdGenerator};
use protocol::{RemotingCommand, RequestCode, ResponseCode};
use remoting::{ClientConfig as TransportConfig, RemotingClient};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, warn};

use crate::error::{ClientError, Result};
use crate::message::MessageExt;
pub use route::TopicRoute;
use route::{BrokerAddrTable, MASTER_ID};

/// Default NameServer address of `apogee standalone`.
pub const DEFAULT_NAMESRV: &str = "127.0.0.1:9876";

/// Settings of a [`Client`].
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// NameServer addresses (`host:port`).
    pub namesrv: Vec<String>,
    /// Instance name: the part after `@` in the client id (default: the pid,
    /// plus `#n` for the n-th further instance of the process).
    pub instance_name: Option<String>,
    /// The IP the client reports (default: the local address used to reach
    /// the first NameServer).
    pub client_ip: Option<IpAddr>,
    /// Timeout of ordinary requests.
    pub request_timeout: Duration,
    /// How often cached routes are refreshed.
    pub route_refresh_interval: Duration,
    /// How often heartbeats go to every broker.
    pub heartbeat_interval: Duration,
    /// ACL 1.0 account: when both are set, every request is signed.
    pub access_key: Option<String>,
    pub secret_key: Option<String>,
    /// Sent (and signed) as `SecurityToken` with every signed request, as
    /// Java's `SessionCredentials` does; needs `access_key`/`secret_key`.
    pub security_token: Option<String>,
    /// TLS to NameServers and brokers (None: plaintext). The settings take
    /// a CA file (`trust_cert_path`; empty: the system's roots) and an
    /// optional client certificate.
    pub tls: Option<remoting::TlsClientSettings>,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            namesrv: Vec::new(),
            instance_name: None,
            client_ip: None,
            request_timeout: Duration::from_secs(3),
            route_refresh_interval: Duration::from_secs(30),
            heartbeat_interval: Duration::from_secs(30),
            access_key: None,
            secret_key: None,
            security_token: None,
            tls: None,
        }
    }
}

impl ClientOptions {
    /// Adds NameServer addresses; `;`-separated lists are split as the
    /// Java `namesrvAddr` is.
    pub fn add_namesrv(&mut self, addrs: &str) {
        self.namesrv.extend(
            addrs
                .split(';')
                .map(str::trim)
                .filter(|a| !a.is_empty())
                .map(str::to_string),
        );
    }
}

/// What the instance needs from a running consumer.
pub(crate) trait ConsumerHook: Send + Sync + 'static {
    /// The group's entry in heartbeats.
    fn consumer_data(&self) -> ConsumerData;
    /// The broker said the group's members changed: rebalance soon.
    fn on_ids_changed(&self);
    /// An admin reset the group's offsets of `topic`.
    fn reset_offsets(&self, topic: &str, table: BTreeMap<protocol::body::MessageQueue, i64>);
    /// The GET_CONSUMER_RUNNING_INFO body (ConsumerRunningInfo JSON), if
    /// this kind of consumer reports one.
    fn running_info(&self) -> Option<Vec<u8>> {
        None
    }
}

/// What the instance needs from a transactional producer.
pub(crate) trait CheckHook: Send + Sync + 'static {
    /// A broker asks for the state of a half message; answer on `conn`.
    fn check(
        &self,
        conn: remoting::Connection,
        header: protocol::header::transaction::CheckTransactionStateRequestHeader,
        msg: MessageExt,
    );
}

#[derive(Default)]
struct Registry {
    producers: HashMap<String, Option<Arc<dyn CheckHook>>>,
    consumers: HashMap<String, Arc<dyn ConsumerHook>>,
}

pub(crate) struct Inner {
    pub(crate) options: ClientOptions,
    pub(crate) client_id: String,
    pub(crate) client_ip: IpAddr,
    pub(crate) remoting: RemotingClient,
    namesrv_index: AtomicUsize,
    routes: Mutex<HashMap<String, Arc<TopicRoute>>>,
    brokers: Mutex<BrokerAddrTable>,
    registry: Mutex<Registry>,
    uniq: Mutex<UniqIdGenerator>,
    pub(crate) shutdown: CancellationToken,
    pub(crate) tracker: TaskTracker,
}

/// A client instance: shared (cheaply cloned) by the producers and
/// consumers of one process that talk to the same NameServers.
#[derive(Clone)]
pub struct Client {
    pub(crate) inner: Arc<Inner>,
}

static INSTANCES: AtomicUsize = AtomicUsize::new(0);

impl Client {
    /// Starts a client instance with its background route refresh and
    /// heartbeat tasks. Must be called inside a Tokio runtime.
    ///
    /// # Errors
    /// [`ClientError::NoNameServer`] if `options.namesrv` is empty;
    /// [`ClientError::IllegalState`] outside a Tokio runtime;
    /// [`ClientError::Remoting`] when a TLS file of `options.tls` is bad.
    pub fn start(options: ClientOptions) -> Result<Client> {
        if options.namesrv.is_empty() {
            return Err(ClientError::NoNameServer);
        }
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(ClientError::IllegalState(
                "a client must be started inside a Tokio runtime".into(),
            ));
        }
        let transport = transport_config(&options)?;
        let client_ip = options
            .client_ip
            .unwrap_or_else(|| local_ip(&options.namesrv[0]));
        let n = INSTANCES.fetch_add(1, Ordering::Relaxed);
        let pid = std::process::id();
        let instance = options.instance_name.clone().unwrap_or_else(|| {
            if n == 0 {
                pid.to_string()
            } else {
                format!("{pid}#{n}")
            }
        });
        let client_id = format!("{client_ip}@{instance}");
        let hash = (protocol::message::java_string_hash(&client_id) as u32 ^ (n as u32)) as i32;
        let start = usize::try_from(pid).unwrap_or(0).wrapping_add(n);
        let inner = Arc::new_cyclic(|weak| {
            let processor = Arc::new(processor::ClientProcessor::new(weak.clone()));
            Inner {
                client_id,
                client_ip,
                remoting: RemotingClient::new(transport, Some(processor)),
                namesrv_index: AtomicUsize::new(start % options.namesrv.len()),
                options,
                routes: Mutex::new(HashMap::new()),
                brokers: Mutex::new(BTreeMap::new()),
                registry: Mutex::new(Registry::default()),
                uniq: Mutex::new(UniqIdGenerator::new(client_ip, pid, hash)),
                shutdown: CancellationToken::new(),
                tracker: TaskTracker::new(),
            }
        });
        let client = Client { inner };
        client.spawn_background();
        Ok(client)
    }

    /// A client for one NameServer list (`;`-separated) with default
    /// options. Must be called inside a Tokio runtime.
    ///
    /// # Errors
    /// As [`Client::start`].
    pub fn connect(namesrv: &str) -> Result<Client> {
        let mut options = ClientOptions::default();
        options.add_namesrv(namesrv);
        Client::start(options)
    }

    /// This client's id (`ip@instance`), as brokers see it.
    pub fn client_id(&self) -> &str {
        &self.inner.client_id
    }

    /// The IP this client reports to brokers.
    pub fn client_ip(&self) -> IpAddr {
        self.inner.client_ip
    }

    /// The options the client runs with.
    pub fn options(&self) -> &ClientOptions {
        &self.inner.options
    }

    /// The transport (for admin calls to arbitrary addresses).
    pub fn remoting(&self) -> &RemotingClient {
        &self.inner.remoting
    }

    /// Settings for another transport like this client's own (the same
    /// account and TLS), e.g. a producer's extra send connections.
    ///
    /// # Errors
    /// A TLS file of the options that cannot be read or parsed.
    pub(crate) fn transport_config(&self) -> Result<TransportConfig> {
        transport_config(&self.inner.options)
    }

    pub(crate) fn next_uniq_id(&self) -> String {
        self.inner
            .uniq
            .lock()
            .next(crate::consumer::subscription::now_ms())
    }

    fn spawn_background(&self) {
        let weak = Arc::downgrade(&self.inner);
        let token = self.inner.shutdown.clone();
        let every = self.inner.options.route_refresh_interval;
        self.inner
            .tracker
            .spawn(periodic(token, every, weak, |c| async move {
                c.refresh_all_routes().await;
            }));
        let weak = Arc::downgrade(&self.inner);
        let token = self.inner.shutdown.clone();
        let every = self.inner.options.heartbeat_interval;
        self.inner
            .tracker
            .spawn(periodic(token, every, weak, |c| async move {
                c.send_heartbeat_to_all().await;
            }));
    }

    /// Stops the background tasks and closes every connection. Producers
    /// and consumers using this client must be shut down first.
    pub async fn shutdown(&self) {
        self.inner.shutdown.cancel();
        self.inner.tracker.close();
        self.inner.tracker.wait().await;
        self.inner.remoting.shutdown().await;
    }

    /// Whether [`Client::shutdown`] was called.
    pub fn is_shutdown(&self) -> bool {
        self.inner.shutdown.is_cancelled()
    }

    // ---- requests -------------------------------------------------------

    /// Sends `request` to a NameServer, trying the next one after a
    /// transport failure. Error responses are returned as they are.
    ///
    /// # Errors
    /// The last transport error when every NameServer failed.
    pub async fn invoke_namesrv(
        &self,
        request: RemotingCommand,
    ) -> Result<(String, RemotingCommand)> {
        let addrs = &self.inner.options.namesrv;
        let start = self.inner.namesrv_index.load(Ordering::Relaxed);
        let mut last = ClientError::NoNameServer;
        for i in 0..addrs.len() {
            let idx = (start + i) % addrs.len();
            let addr = &addrs[idx];
            match self
                .inner
                .remoting
                .invoke(addr, request.clone(), self.inner.options.request_timeout)
                .await
            {
                Ok(resp) => {
                    self.inner.namesrv_index.store(idx, Ordering::Relaxed);
                    return Ok((addr.clone(), resp));
                }
                Err(e) => {
                    debug!(%addr, error = %e, "NameServer request failed");
                    last = e.into();
                }
            }
        }
        Err(last)
    }

    /// Sends `request` to `addr` and returns the response if its code is
    /// SUCCESS.
    ///
    /// # Errors
    /// Transport errors; [`ClientError::Response`] for any other code.
    pub async fn invoke_ok(
        &self,
        addr: &str,
        request: RemotingCommand,
        timeout: Duration,
    ) -> Result<RemotingCommand> {
        let resp = self.inner.remoting.invoke(addr, request, timeout).await?;
        expect_success(addr, resp)
    }

    // ---- routes ---------------------------------------------------------

    /// Asks a NameServer for the route of `topic`.
    ///
    /// # Errors
    /// [`ClientError::Response`] with TOPIC_NOT_EXIST when the topic is unknown.
    pub async fn fetch_route(&self, topic: &str) -> Result<TopicRouteData> {
        let header = GetRouteInfoRequestHeader {
            topic: topic.to_string(),
            accept_standard_json_only: Some(true),
        };
        let req =
            RemotingCommand::request_with_header(RequestCode::GET_ROUTEINFO_BY_TOPIC, &header);
        let (addr, resp) = self.invoke_namesrv(req).await?;
        let resp = expect_success(&addr, resp)?;
        Ok(TopicRouteData::decode(&resp.body)?)
    }

    /// Fetches the route of `topic` and stores it in the cache.
    ///
    /// # Errors
    /// As [`Client::fetch_route`].
    pub async fn update_route(&self, topic: &str) -> Result<Arc<TopicRoute>> {
        let data = self.fetch_route(topic).await?;
        Ok(self.store_route(TopicRoute::new(topic, data)))
    }

    fn store_route(&self, route: TopicRoute) -> Arc<TopicRoute> {
        let mut new_broker = false;
        {
            let mut brokers = self.inner.brokers.lock();
            for bd in &route.data.broker_datas {
                let old = brokers.insert(bd.broker_name.clone(), bd.broker_addrs.clone());
                new_broker |= old.as_ref() != Some(&bd.broker_addrs);
            }
        }
        // A broker we never talked to must learn our groups before it can
        // route transaction checks or list us as a group member.
        if new_broker && !self.inner.shutdown.is_cancelled() {
            let client = self.clone();
            self.inner
                .tracker
                .spawn(async move { client.send_heartbeat_to_all().await });
        }
        let route = Arc::new(route);
        self.inner
            .routes
            .lock()
            .insert(route.topic.clone(), Arc::clone(&route));
        route
    }

    /// The cached route of `topic`, fetching it when not cached.
    ///
    /// # Errors
    /// As [`Client::fetch_route`].
    pub async fn route(&self, topic: &str) -> Result<Arc<TopicRoute>> {
        if let Some(r) = self.inner.routes.lock().get(topic) {
            return Ok(Arc::clone(r));
        }
        self.update_route(topic).await
    }

    /// The route a producer writes `topic` through: the cached or fetched
    /// route, or, when the NameServer has none, the auto-create template's
    /// route (`TBW102`) with `queue_nums` queues per broker (the broker then
    /// creates the topic on the first send).
    ///
    /// # Errors
    /// [`ClientError::NoRoute`] when neither route has a writable queue.
    pub async fn publish_route(&self, topic: &str, queue_nums: i32) -> Result<Arc<TopicRoute>> {
        if let Some(r) = self.inner.routes.lock().get(topic) {
            if !r.write_queues.is_empty() {
                return Ok(Arc::clone(r));
            }
        }
        match self.update_route(topic).await {
            Ok(r) if !r.write_queues.is_empty() => return Ok(r),
            Ok(_) => {}
            Err(e) if e.response_code() == Some(ResponseCode::TOPIC_NOT_EXIST.code()) => {}
            Err(e) => return Err(e),
        }
        let template = self
            .fetch_route(topics::AUTO_CREATE_TOPIC)
            .await
            .map_err(|e| ClientError::NoRoute {
                topic: topic.to_string(),
                reason: format!("unknown topic and no auto-create route: {e}"),
            })?;
        let route = TopicRoute::from_template(topic, &template, queue_nums);
        if route.write_queues.is_empty() {
            return Err(ClientError::NoRoute {
                topic: topic.to_string(),
                reason: "no writable queue, and no broker allows auto-create".into(),
            });
        }
        Ok(self.store_route(route))
    }

    /// Drops the cached route of `topic` (the next use fetches it again).
    pub fn forget_route(&self, topic: &str) {
        self.inner.routes.lock().remove(topic);
    }

    async fn refresh_all_routes(&self) {
        let topics: Vec<String> = self.inner.routes.lock().keys().cloned().collect();
        for topic in topics {
            match self.fetch_route(&topic).await {
                Ok(data) => {
                    let route = TopicRoute::new(&topic, data);
                    let changed = self
                        .inner
                        .routes
                        .lock()
                        .get(&topic)
                        .map(|r| r.data != route.data);
                    if changed != Some(false) {
                        debug!(%topic, "route changed");
                    }
                    self.store_route(route);
                }
                // Keep a template-derived route until the broker registers the topic.
                Err(e) => debug!(%topic, error = %e, "route refresh failed"),
            }
        }
    }

    /// The address of broker `broker_name`'s node `broker_id`; with
    /// `fallback`, any address of that broker when that node is missing.
    pub fn broker_addr(&self, broker_name: &str, broker_id: i64, fallback: bool) -> Option<String> {
        let brokers = self.inner.brokers.lock();
        let addrs = brokers.get(broker_name)?;
        addrs
            .get(&broker_id)
            .or_else(|| fallback.then(|| addrs.values().next()).flatten())
            .cloned()
    }

    /// The master address of `broker_name`, fetching `topic`'s route when
    /// the broker is not known yet.
    ///
    /// # Errors
    /// [`ClientError::NoBrokerAddr`] when the broker has no known master.
    pub async fn master_addr(&self, broker_name: &str, topic: &str) -> Result<String> {
        if let Some(a) = self.broker_addr(broker_name, MASTER_ID, false) {
            return Ok(a);
        }
        let _ = self.update_route(topic).await;
        self.broker_addr(broker_name, MASTER_ID, false)
            .ok_or_else(|| ClientError::NoBrokerAddr {
                broker: broker_name.to_string(),
            })
    }

    /// Every known broker address: masters only, or every node.
    pub(crate) fn broker_addrs(&self, masters_only: bool) -> Vec<String> {
        self.inner
            .brokers
            .lock()
            .values()
            .flat_map(|addrs| {
                addrs
                    .iter()
                    .filter(|(id, _)| !masters_only || **id == MASTER_ID)
                    .map(|(_, a)| a.clone())
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    // ---- registry and heartbeats ---------------------------------------

    /// Registers a producer group (`check` for transactional producers).
    ///
    /// # Errors
    /// [`ClientError::InvalidArgument`] if the group is already registered here.
    pub(crate) fn register_producer(
        &self,
        group: &str,
        check: Option<Arc<dyn CheckHook>>,
    ) -> Result<()> {
        let mut reg = self.inner.registry.lock();
        if reg.producers.contains_key(group) {
            return Err(ClientError::InvalidArgument {
                field: "group",
                reason: format!("producer group {group} is already running on this client"),
            });
        }
        reg.producers.insert(group.to_string(), check);
        Ok(())
    }

    /// Registers a consumer group.
    ///
    /// # Errors
    /// [`ClientError::InvalidArgument`] if the group is already registered here.
    pub(crate) fn register_consumer(&self, group: &str, hook: Arc<dyn ConsumerHook>) -> Result<()> {
        let mut reg = self.inner.registry.lock();
        if reg.consumers.contains_key(group) {
            return Err(ClientError::InvalidArgument {
                field: "group",
                reason: format!("consumer group {group} is already running on this client"),
            });
        }
        reg.consumers.insert(group.to_string(), hook);
        Ok(())
    }

    pub(crate) fn consumer_hook(&self, group: &str) -> Option<Arc<dyn ConsumerHook>> {
        self.inner.registry.lock().consumers.get(group).cloned()
    }

    pub(crate) fn check_hook(&self, group: &str) -> Option<Arc<dyn CheckHook>> {
        self.inner
            .registry
            .lock()
            .producers
            .get(group)
            .cloned()
            .flatten()
    }

    /// Removes a producer group and tells every broker (UNREGISTER_CLIENT).
    pub(crate) async fn unregister_producer(&self, group: &str) {
        self.inner.registry.lock().producers.remove(group);
        self.unregister(Some(group), None).await;
    }

    /// Removes a consumer group and tells every broker (UNREGISTER_CLIENT).
    pub(crate) async fn unregister_consumer(&self, group: &str) {
        self.inner.registry.lock().consumers.remove(group);
        self.unregister(None, Some(group)).await;
    }

    async fn unregister(&self, producer: Option<&str>, consumer: Option<&str>) {
        let header = UnregisterClientRequestHeader {
            client_id: self.inner.client_id.clone(),
            producer_group: producer.map(str::to_string),
            consumer_group: consumer.map(str::to_string),
        };
        for addr in self.broker_addrs(false) {
            let req = RemotingCommand::request_with_header(RequestCode::UNREGISTER_CLIENT, &header);
            if let Err(e) = self
                .invoke_ok(&addr, req, self.inner.options.request_timeout)
                .await
            {
                debug!(%addr, error = %e, "unregister failed");
            }
        }
    }

    fn heartbeat_data(&self) -> Option<HeartbeatData> {
        let reg = self.inner.registry.lock();
        if reg.producers.is_empty() && reg.consumers.is_empty() {
            return None;
        }
        let mut producer_data_set: Vec<ProducerData> = reg
            .producers
            .keys()
            .map(|g| ProducerData {
                group_name: g.clone(),
            })
            .collect();
        producer_data_set.sort_by(|a, b| a.group_name.cmp(&b.group_name));
        let mut consumer_data_set: Vec<ConsumerData> =
            reg.consumers.values().map(|c| c.consumer_data()).collect();
        consumer_data_set.sort_by(|a, b| a.group_name.cmp(&b.group_name));
        Some(HeartbeatData {
            client_id: self.inner.client_id.clone(),
            consumer_data_set,
            heartbeat_fingerprint: 0,
            producer_data_set,
            without_sub: false,
        })
    }

    /// Sends a heartbeat with every registered group to every known broker
    /// (slaves too when consumers run, since they may serve pulls).
    pub async fn send_heartbeat_to_all(&self) {
        let Some(data) = self.heartbeat_data() else {
            return;
        };
        let body = match data.to_json_bytes() {
            Ok(b) => bytes::Bytes::from(b),
            Err(e) => {
                warn!(error = %e, "cannot encode heartbeat");
                return;
            }
        };
        let masters_only = data.consumer_data_set.is_empty();
        for addr in self.broker_addrs(masters_only) {
            let req = RemotingCommand::request(RequestCode::HEART_BEAT).with_body(body.clone());
            if let Err(e) = self
                .invoke_ok(&addr, req, self.inner.options.request_timeout)
                .await
            {
                warn!(%addr, error = %e, "heartbeat failed");
            }
        }
    }
}

/// Turns a non-SUCCESS response into an error.
///
/// # Errors
/// [`ClientError::Response`] naming the code and remark.
pub(crate) fn expect_success(addr: &str, resp: RemotingCommand) -> Result<RemotingCommand> {
    if resp.code == ResponseCode::SUCCESS.code() {
        Ok(resp)
    } else {
        Err(ClientError::response(
            addr,
            resp.code,
            resp.remark.as_deref(),
        ))
    }
}

/// Runs `job` every `every` until `token` is cancelled or the client is gone.
async fn periodic<F, Fut>(
    token: CancellationToken,
    every: Duration,
    weak: std::sync::Weak<Inner>,
    job: F,
) where
    F: Fn(Client) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = token.cancelled() => return,
            _ = ticker.tick() => {}
        }
        let Some(inner) = weak.upgrade() else { return };
        tokio::select! {
            _ = token.cancelled() => return,
            _ = job(Client { inner }) => {}
        }
    }
}

/// The local address used to reach `namesrv` (no packet is sent), or
/// 127.0.0.1 when it cannot be found.
fn local_ip(namesrv: &str) -> IpAddr {
    let probe = || -> std::io::Result<IpAddr> {
        let sock = UdpSocket::bind("0.0.0.0:0")?;
        sock.connect(namesrv)?;
        Ok(sock.local_addr()?.ip())
    };
    probe().unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST))
}

/// Transport settings: the defaults, plus the ACL account when both keys are set.
/// # Errors
/// A TLS file that cannot be read or parsed (the error names the setting).
fn transport_config(options: &ClientOptions) -> Result<TransportConfig> {
    let credentials = match (&options.access_key, &options.secret_key) {
        (Some(access_key), Some(secret_key)) => Some(remoting::Credentials {
            access_key: access_key.clone(),
            secret_key: secret_key.clone(),
            security_token: options.security_token.clone(),
        }),
        _ => None,
    };
    let tls = match &options.tls {
        Some(settings) => Some(settings.build()?),
        None => None,
    };
    Ok(TransportConfig {
        credentials,
        tls,
        ..TransportConfig::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_to_start_outside_a_runtime_or_without_namesrv() {
        assert!(matches!(
            Client::connect(""),
            Err(ClientError::NoNameServer)
        ));
        assert!(matches!(
            Client::connect("127.0.0.1:9876"),
            Err(ClientError::IllegalState(_))
        ));
    }

    #[test]
    fn namesrv_lists_split_on_semicolons() {
        let mut o = ClientOptions::default();
        o.add_namesrv(" a:1; b:2 ;;");
        assert_eq!(o.namesrv, vec!["a:1", "b:2"]);
    }

    #[tokio::test]
    async fn client_ids_differ_per_instance() {
        let a = Client::connect("127.0.0.1:9").unwrap();
        let b = Client::connect("127.0.0.1:9").unwrap();
        assert_ne!(a.client_id(), b.client_id());
        assert!(a.client_id().starts_with("127.0.0.1@"));
        assert!(a.heartbeat_data().is_none(), "nothing registered yet");
        a.shutdown().await;
        b.shutdown().await;
        assert!(a.is_shutdown());
    }
}
