//! Starting and stopping a broker: open the store, load metadata, bind the
//! ports, start the background services, and undo it all in order.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use remoting::{RemotingClient, Server};
use store::{MessageStore, StoreConfig};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::BrokerConfig;
use crate::error::BrokerError;
use crate::processor::BrokerProcessor;
use crate::services;
use crate::state::BrokerState;
use crate::tables::arrivals::QueueArrivals;
use crate::tables::clients::Clients;
use crate::tables::delay::ScheduleService;
use crate::tables::groups::{GroupTable, GROUPS_FILE};
use crate::tables::locks::LockTable;
use crate::tables::offsets::{OffsetTable, OFFSETS_FILE};
use crate::tables::timer::TimerService;
use crate::tables::topics::{TopicTable, TOPICS_FILE};
use crate::tables::transactions::TransactionService;
use protocol::clock::now_ms;

/// A running broker.
pub struct Broker {
    state: Arc<BrokerState>,
    servers: Vec<Server>,
    cancel: CancellationToken,
    /// The ACL accounts when `aclEnable` is on (the console's login).
    acl: Option<Arc<acl::SharedAcl>>,
}

impl Broker {
    /// Opens the store under `store_config`, binds `listen` (and, when its
    /// port is 2 or more and free, the VIP port `listen − 2` that Java
    /// clients up to 4.5 use), registers with the NameServers and starts
    /// the background services.
    ///
    /// # Errors
    /// Bad configuration, a store that cannot be opened or recovered, or a
    /// port that cannot be bound.
    pub async fn start(
        config: BrokerConfig,
        store_config: StoreConfig,
        listen: SocketAddr,
    ) -> Result<Broker, BrokerError> {
        config.validate()?;
        let acl = load_acl(&config, &store_config.store_path_root_dir)?;
        let store = tokio::task::spawn_blocking(move || MessageStore::open(store_config))
            .await
            .map_err(|e| BrokerError::System(format!("store open task failed: {e}")))?
            .map_err(BrokerError::from)?;
        let store = Arc::new(store);
        let topics = TopicTable::new(&config);
        let groups = GroupTable::default();
        let offsets = OffsetTable::default();
        load_metadata(&store, &topics, &groups, &offsets)?;
        let schedule = ScheduleService::new(store.config().delay_levels()?);
        schedule.load(&store)?;
        let timer = TimerService::default();
        timer.load(&store)?;
        let transactions = TransactionService::default();
        transactions.load(&offsets, &store)?;
        let locks = LockTable::new(Duration::from_millis(config.rebalance_lock_max_live_time));
        locks.load(&store);

        let pop = crate::pop::PopService::open(&store.config().store_path_root_dir.join("pop"))
            .map_err(|e| BrokerError::Metadata {
                file: "pop journal",
                reason: e.to_string(),
            })?;
        pop.modes.load(&store).map_err(|e| BrokerError::Metadata {
            file: "message request modes",
            reason: e.to_string(),
        })?;
        let arrivals = Arc::new(QueueArrivals::default());
        let wake = arrivals.clone();
        let pop_wake = pop.waiters.clone();
        store.set_arrival_listener(Arc::new(move |topic: &str, queue_id: i32, _max, _tag| {
            wake.wake(topic, queue_id);
            pop_wake.wake(topic);
        }));

        // Bind first: the advertised address needs the real port.
        let placeholder = Arc::new(LateProcessor::default());
        let main = Server::bind(listen, config.server_config()?, placeholder.clone())
            .await
            .map_err(|e| BrokerError::System(format!("cannot listen on {listen}: {e}")))?;
        let local = main.local_addr();
        let advertised = advertised_addr(&config, local);
        let store_host: SocketAddr = advertised.parse().map_err(|_| {
            BrokerError::Config(format!("brokerIP1: `{advertised}` is not ip:port"))
        })?;
        let ha_ip = if config.broker_ip2.is_empty() {
            store_host.ip().to_string()
        } else {
            config.broker_ip2.clone()
        };
        let ha_listener = services::ha::bind(&config, local, listen.port())
            .await
            .map_err(|e| BrokerError::System(format!("cannot bind the HA port: {e}")))?;
        let ha_port = match &ha_listener {
            Some(l) => l.local_addr().map_or(0, |a| a.port()),
            None => services::ha::ha_port(&config, local, listen.port()),
        };
        let client = RemotingClient::new(config.client_config()?, None);
        let epochs = open_epochs(&config, &store)?;
        let state = Arc::new(BrokerState {
            role: crate::tables::role::RoleCell::new(&config),
            epochs,
            ha_addr: format!("{ha_ip}:{ha_port}"),
            ha: Default::default(),
            live: crate::live_config::LiveConfig::new(
                config.clone(),
                store.config().clone(),
                now_ms(),
            ),
            rates: Default::default(),
            config,
            store,
            topics,
            groups,
            offsets,
            clients: Clients::default(),
            arrivals,
            sql: Default::default(),
            client,
            advertised_addr: advertised,
            store_host,
            master: Mutex::new(Default::default()),
            start_ms: now_ms(),
            tasks: TaskTracker::new(),
            uniq: Mutex::new(protocol::message::UniqIdGenerator::new(
                store_host.ip(),
                std::process::id(),
                now_ms() as i32,
            )),
            random: std::sync::atomic::AtomicU64::new(now_ms() as u64),
            schedule,
            timer,
            transactions,
            locks,
            pop,
            metrics: Default::default(),
            acl: acl.clone(),
            events: Default::default(),
        });
        state.metrics.set_enabled(state.config.metrics_enable);
        let processor = Arc::new(BrokerProcessor::new(state.clone()).with_acl(acl.clone()));
        placeholder.set(processor.clone());
        let mut servers = vec![main];
        if local.port() > 2 && listen.port() != 0 {
            let vip = SocketAddr::new(local.ip(), local.port() - 2);
            match Server::bind(vip, state.config.server_config()?, processor.clone()).await {
                Ok(s) => servers.push(s),
                Err(e) => tracing::warn!("cannot listen on the VIP port {vip}: {e}"),
            }
        }
        if !state.is_slave() || state.role.controller_mode() {
            // A slave's table is the master's, saved as it arrives (in
            // controller mode any broker may become master: always save).
            state.topics.save_changes_to(state.store.clone());
            state.groups.save_changes_to(state.store.clone());
            state.locks.save_changes_to(state.store.clone());
        }
        let cancel = CancellationToken::new();
        spawn_services(&state, &cancel);
        services::ha::spawn(&state, ha_listener, &cancel);
        services::controller::spawn(&state, &cancel);
        tracing::info!(
            broker = %state.config.broker_name,
            listen = %local,
            advertised = %state.advertised_addr,
            "broker started"
        );
        Ok(Broker {
            state,
            servers,
            cancel,
            acl,
        })
    }

    /// The ACL 1.0 accounts the broker checks requests against, when
    /// `aclEnable` is on.
    pub fn acl(&self) -> Option<&Arc<acl::SharedAcl>> {
        self.acl.as_ref()
    }

    /// The main listening address.
    pub fn local_addr(&self) -> SocketAddr {
        self.servers
            .first()
            .map(Server::local_addr)
            .unwrap_or_else(|| SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0))
    }

    /// The address clients are told to dial.
    pub fn advertised_addr(&self) -> &str {
        &self.state.advertised_addr
    }

    /// The shared state (tests and the admin paths use it).
    pub fn state(&self) -> &Arc<BrokerState> {
        &self.state
    }

    /// Unregisters, stops the services and servers, persists metadata and
    /// closes the store cleanly.
    pub async fn shutdown(self) {
        // The connections closing below must not release the saved queue
        // owners: they keep their queues across the restart.
        self.state.locks.stop_saving();
        self.cancel.cancel();
        self.state.arrivals.wake_all();
        self.state.pop.shut_down();
        for server in self.servers {
            server.shutdown().await;
        }
        self.state.tasks.close();
        self.state.tasks.wait().await;
        persist_delivery(&self.state);
        persist(&self.state, true);
        self.state.client.shutdown().await;
        let store = self.state.store.clone();
        let closed = tokio::task::spawn_blocking(move || store.shutdown()).await;
        match closed {
            Ok(Ok(())) => tracing::info!("broker stopped"),
            Ok(Err(e)) => tracing::error!("store shutdown failed: {e}"),
            Err(e) => tracing::error!("store shutdown task failed: {e}"),
        }
    }
}

/// The processor the first server starts with, forwarding to the real one
/// once the state exists (the state needs the bound port first).
#[derive(Default)]
struct LateProcessor {
    inner: std::sync::OnceLock<Arc<BrokerProcessor>>,
}

impl LateProcessor {
    fn set(&self, p: Arc<BrokerProcessor>) {
        let _ = self.inner.set(p);
    }
}

impl remoting::Processor for LateProcessor {
    fn process(
        &self,
        conn: remoting::Connection,
        request: protocol::RemotingCommand,
    ) -> remoting::BoxFuture<Option<protocol::RemotingCommand>> {
        match self.inner.get() {
            Some(p) => p.process(conn, request),
            None => Box::pin(async move {
                Some(protocol::RemotingCommand::error(
                    protocol::ResponseCode::SYSTEM_BUSY,
                    "[OVERLOAD] the broker is still starting",
                ))
            }),
        }
    }

    fn on_connection_closed(&self, conn: &remoting::Connection) {
        if let Some(p) = self.inner.get() {
            p.on_connection_closed(conn);
        }
    }
}

/// brokerIP1 when set; else the listen address; else (listening on every
/// interface) the first non-loopback IPv4 address, or loopback.
fn advertised_addr(config: &BrokerConfig, local: SocketAddr) -> String {
    if !config.broker_ip1.is_empty() {
        return format!("{}:{}", config.broker_ip1, local.port());
    }
    if !local.ip().is_unspecified() {
        return local.to_string();
    }
    let ip = primary_ipv4().unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
    format!("{ip}:{}", local.port())
}

/// The address the OS would use for outside traffic (no packet is sent:
/// connecting a UDP socket only picks a route).
fn primary_ipv4() -> Option<IpAddr> {
    let socket = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    socket.connect("192.0.2.1:9").ok()?;
    let ip = socket.local_addr().ok()?.ip();
    (!ip.is_loopback() && !ip.is_unspecified()).then_some(ip)
}

/// The epoch file in controller mode (`storePathEpochFile`, else
/// `<storePathRootDir>/epochFileCheckpoint`).
fn open_epochs(
    config: &BrokerConfig,
    store: &MessageStore,
) -> Result<Option<store::epoch::EpochFile>, BrokerError> {
    if !config.enable_controller_mode {
        return Ok(None);
    }
    let path = if config.store_path_epoch_file.is_empty() {
        store
            .config()
            .store_path_root_dir
            .join("epochFileCheckpoint")
    } else {
        std::path::PathBuf::from(&config.store_path_epoch_file)
    };
    store::epoch::EpochFile::open(&path)
        .map(Some)
        .map_err(|e| BrokerError::Metadata {
            file: "epoch file",
            reason: format!("{}: {e}", path.display()),
        })
}

fn load_metadata(
    store: &MessageStore,
    topics: &TopicTable,
    groups: &GroupTable,
    offsets: &OffsetTable,
) -> Result<(), BrokerError> {
    // Each file is read through its table's own parser, so fastjson's
    // unquoted integer keys (consumerOffset.json) load and a file the table
    // rejects falls back to its `.bak`. Parsers change a table only on success.
    let load = |name: &str, parse: &dyn Fn(&str) -> Result<(), String>| {
        store
            .metadata_file(name)
            .load_with(parse)
            .map(|_| ())
            .map_err(BrokerError::from)
    };
    load(TOPICS_FILE, &|text| topics.load_json(text))?;
    load(GROUPS_FILE, &|text| groups.load_json(text.as_bytes()))?;
    load(OFFSETS_FILE, &|text| offsets.load_json(text.as_bytes()))?;
    Ok(())
}

/// Writes whatever changed (or everything, with `force`).
fn persist(state: &BrokerState, force: bool) {
    state.offsets.persist(&state.store, force);
    state.groups.persist(&state.store, force);
    state.topics.persist(&state.store, force);
}

/// Saves the delivery services' progress (their tasks have stopped).
fn persist_delivery(state: &BrokerState) {
    state.schedule.persist(&state.store);
    state.timer.persist(&state.store);
    state.transactions.persist(&state.offsets, &state.store);
}

fn spawn_services(state: &Arc<BrokerState>, cancel: &CancellationToken) {
    let tasks = &state.tasks;
    // In controller mode the replicas manager starts these on becoming master.
    if !state.is_slave() && !state.role.controller_mode() {
        services::delay::spawn(state, cancel);
        services::timer::spawn(state, cancel);
        services::transaction::spawn(state, cancel);
        crate::pop::spawn(state, cancel);
    }
    tasks.spawn(services::register::run(state.clone(), cancel.clone()));
    let (s, c) = (state.clone(), cancel.clone());
    tasks.spawn(async move {
        let period = Duration::from_millis(s.config.flush_consumer_offset_interval.max(100));
        loop {
            tokio::select! {
                _ = c.cancelled() => break,
                _ = tokio::time::sleep(period) => {}
            }
            let s2 = s.clone();
            let _ = tokio::task::spawn_blocking(move || persist(&s2, false)).await;
        }
    });
    services::clients::spawn(state, cancel);
    if let Some(acl) = &state.acl {
        tasks.spawn(acl::shared::watch(
            acl.clone(),
            acl::shared::WATCH_INTERVAL,
            cancel.clone(),
        ));
    }
    let (s, c) = (state.clone(), cancel.clone());
    tasks.spawn(async move {
        let keyed = || keyed_totals(&s.metrics);
        crate::rates::run(&s.rates, &s.store, now_ms, keyed, c).await;
    });
}

/// The totals the rates' keyed series are sampled from: the metrics
/// registry's per-topic puts and per-group gets (counted once, there).
fn keyed_totals(metrics: &crate::metrics::BrokerMetrics) -> Vec<crate::rates::KeyedCount> {
    use crate::rates::KeyedCount;
    let mut out = Vec::new();
    for (topic, c) in metrics.put_counts() {
        out.extend(KeyedCount::topic_put(
            &topic, c.messages, c.bytes, c.requests,
        ));
    }
    for (topic, group, c) in metrics.get_counts() {
        out.extend(KeyedCount::group_get(
            &topic, &group, c.messages, c.bytes, c.requests,
        ));
    }
    out
}

/// The ACL file when `aclEnable` is on; a file that is missing or malformed
/// stops the start, naming the file and field.
fn load_acl(
    config: &BrokerConfig,
    root: &std::path::Path,
) -> Result<Option<Arc<acl::SharedAcl>>, BrokerError> {
    if !config.acl_enable {
        return Ok(None);
    }
    let path = if config.acl_file_path.is_empty() {
        root.join("conf").join("plain_acl.yml")
    } else {
        std::path::PathBuf::from(&config.acl_file_path)
    };
    // Java 4.9.x also reads every *.yml of <home>/conf/acl/.
    let dir = root.join("conf").join("acl");
    let acl = acl::SharedAcl::load_with_dir(&path, Some(&dir))
        .map_err(|e| BrokerError::Config(format!("aclEnable: {}: {e}", path.display())))?;
    let accounts = acl.current().accounts.len();
    tracing::info!(file = %path.display(), dir = %dir.display(), accounts, "ACL enabled (reloaded when a file changes)");
    Ok(Some(acl))
}
