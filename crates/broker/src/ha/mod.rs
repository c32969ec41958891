//! Classic master/slave replication (storage-format §10): the master
//! streams its commit log to each connected slave over plain TCP; slaves
//! append the bytes verbatim and rebuild queues and index locally, copy
//! metadata over remoting, and serve reads. SYNC_MASTER sends wait for a
//! slave's acknowledgement.
//!
//! Wire format: slave → master 8-byte big-endian offsets (its commit-log
//! end); master → slave frames of 8-byte offset + 4-byte size + bytes
//! (size 0: a heartbeat carrying the master's next offset).

pub mod master;
pub mod metadata;
pub mod replica_topics;
pub mod slave;
pub mod sync;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::{watch, Notify};
use tokio_util::sync::CancellationToken;

use crate::config::BrokerRole;
use crate::state::{now_ms, BrokerState};

/// Length of a master → slave frame header.
pub const FRAME_HEADER_LEN: usize = 12;

/// Replication bookkeeping shared by the master and slave sides.
pub struct HaService {
    links: Mutex<BTreeMap<u64, SlaveLink>>,
    next_link: AtomicU64,
    /// Highest offset any connected slave acknowledged.
    acked: watch::Sender<u64>,
    /// Poked after local appends so streams do not wait for a poll.
    new_data: Notify,
    follow: Mutex<FollowState>,
    /// Masters: the commit-log end when this broker started as master.
    /// Data a slave holds beyond it may come from another master.
    master_since: AtomicU64,
    /// Slaves: the master topic-table version last copied.
    topics_version: Mutex<Option<protocol::body::topic::DataVersion>>,
}

impl Default for HaService {
    fn default() -> Self {
        HaService {
            links: Mutex::new(BTreeMap::new()),
            next_link: AtomicU64::new(1),
            acked: watch::channel(0).0,
            new_data: Notify::new(),
            follow: Mutex::new(FollowState::default()),
            topics_version: Mutex::new(None),
            master_since: AtomicU64::new(0),
        }
    }
}

/// One slave connected to this master.
#[derive(Debug, Clone)]
struct SlaveLink {
    addr: SocketAddr,
    acked: u64,
    /// When the slave last acknowledged everything we had.
    caught_up_ms: i64,
}

/// A slave's view of its master.
#[derive(Debug, Clone, Default)]
struct FollowState {
    master_ha_addr: Option<String>,
    connected: bool,
    /// The master's position as its last frame told us.
    master_offset: u64,
    /// When our end last reached the master's known position.
    caught_up_ms: i64,
}

/// A slave as the master sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlaveStatus {
    pub addr: String,
    pub acked_offset: u64,
    pub lag_bytes: u64,
    pub lag_seconds: u64,
}

/// Replication state for GET_BROKER_RUNTIME_INFO and `apogee admin haStatus`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HaStatus {
    /// `ASYNC_MASTER`, `SYNC_MASTER` or `SLAVE`.
    pub role: &'static str,
    /// Master: our commit-log end. Slave: the master's, as last reported.
    pub master_offset: u64,
    /// Master: the best slave acknowledgement. Slave: our commit-log end.
    pub slave_ack_offset: u64,
    pub lag_bytes: u64,
    pub lag_seconds: u64,
    /// Master: connected slaves. Slave: empty.
    pub slaves: Vec<SlaveStatus>,
    /// Slave: the master HA address it follows, and whether it is connected.
    pub master_ha_addr: Option<String>,
    pub connected: bool,
}

impl HaStatus {
    /// The fields as runtime-info key/value pairs.
    pub fn kv_pairs(&self) -> Vec<(String, String)> {
        let slaves: Vec<String> = self
            .slaves
            .iter()
            .map(|s| {
                format!(
                    "{}@{}(lag {} B, {} s)",
                    s.addr, s.acked_offset, s.lag_bytes, s.lag_seconds
                )
            })
            .collect();
        vec![
            ("haRole".into(), self.role.into()),
            ("masterOffset".into(), self.master_offset.to_string()),
            ("slaveAckOffset".into(), self.slave_ack_offset.to_string()),
            ("haLagBytes".into(), self.lag_bytes.to_string()),
            ("haLagSeconds".into(), self.lag_seconds.to_string()),
            ("slaves".into(), slaves.join(";")),
            (
                "haMasterAddr".into(),
                self.master_ha_addr.clone().unwrap_or_default(),
            ),
            ("haConnected".into(), self.connected.to_string()),
        ]
    }
}

impl HaService {
    /// Wakes every stream waiting for new commit-log bytes.
    pub fn notify_new_data(&self) {
        self.new_data.notify_waiters();
    }

    fn link_opened(&self, addr: SocketAddr, acked: u64) -> u64 {
        let id = self.next_link.fetch_add(1, Ordering::Relaxed);
        self.links.lock().insert(
            id,
            SlaveLink {
                addr,
                acked,
                caught_up_ms: now_ms(),
            },
        );
        self.publish_best();
        id
    }

    fn link_closed(&self, id: u64) {
        self.links.lock().remove(&id);
        self.publish_best();
    }

    fn link_acked(&self, id: u64, acked: u64, master_end: u64) {
        if let Some(link) = self.links.lock().get_mut(&id) {
            link.acked = acked;
            if acked >= master_end {
                link.caught_up_ms = now_ms();
            }
        }
        self.publish_best();
    }

    fn publish_best(&self) {
        let best = self.best_ack();
        self.acked.send_if_modified(|v| {
            let changed = *v != best;
            *v = best;
            changed
        });
    }

    /// The highest offset a connected slave acknowledged (0: none).
    pub fn best_ack(&self) -> u64 {
        self.links
            .lock()
            .values()
            .map(|l| l.acked)
            .max()
            .unwrap_or(0)
    }

    /// Connected slaves.
    pub fn slave_count(&self) -> usize {
        self.links.lock().len()
    }

    /// A slave is connected and within `max_gap` bytes of `master_end`.
    pub fn slave_ok(&self, master_end: u64, max_gap: u64) -> bool {
        self.slave_count() > 0 && master_end.saturating_sub(self.best_ack()) < max_gap
    }

    /// Waits until a slave acknowledged `end`, at most `timeout`.
    pub async fn wait_acked(&self, end: u64, timeout: Duration) -> bool {
        let mut rx = self.acked.subscribe();
        let waited = tokio::time::timeout(timeout, rx.wait_for(|a| *a >= end)).await;
        matches!(waited, Ok(Ok(_)))
    }

    fn follow_connected(&self, addr: &str) {
        let mut f = self.follow.lock();
        f.master_ha_addr = Some(addr.to_owned());
        f.connected = true;
    }

    fn follow_disconnected(&self) {
        self.follow.lock().connected = false;
    }

    fn follow_progress(&self, master_offset: u64, local_end: u64) {
        let mut f = self.follow.lock();
        f.master_offset = f.master_offset.max(master_offset);
        if local_end >= f.master_offset {
            f.caught_up_ms = now_ms();
        }
    }

    fn follow_reset(&self, master_offset: u64) {
        let mut f = self.follow.lock();
        f.master_offset = master_offset;
    }
}

/// The replication state of this broker now.
pub fn status(state: &BrokerState) -> HaStatus {
    let end = state.store.commitlog_max_offset();
    let now = now_ms();
    let secs = |since: i64| (now.saturating_sub(since).max(0) / 1000) as u64;
    if state.is_slave() {
        let f = state.ha.follow.lock().clone();
        let lag_bytes = f.master_offset.saturating_sub(end);
        return HaStatus {
            role: "SLAVE",
            master_offset: f.master_offset,
            slave_ack_offset: end,
            lag_bytes,
            lag_seconds: if lag_bytes == 0 {
                0
            } else {
                secs(f.caught_up_ms)
            },
            slaves: Vec::new(),
            master_ha_addr: f.master_ha_addr,
            connected: f.connected,
        };
    }
    let links: Vec<SlaveLink> = state.ha.links.lock().values().cloned().collect();
    let slaves: Vec<SlaveStatus> = links
        .iter()
        .map(|l| {
            let lag_bytes = end.saturating_sub(l.acked);
            SlaveStatus {
                addr: l.addr.to_string(),
                acked_offset: l.acked,
                lag_bytes,
                lag_seconds: if lag_bytes == 0 {
                    0
                } else {
                    secs(l.caught_up_ms)
                },
            }
        })
        .collect();
    let best = slaves.iter().max_by_key(|s| s.acked_offset);
    HaStatus {
        role: match state.config.broker_role {
            BrokerRole::SyncMaster => "SYNC_MASTER",
            _ => "ASYNC_MASTER",
        },
        master_offset: end,
        slave_ack_offset: best.map_or(0, |s| s.acked_offset),
        lag_bytes: best.map_or(end, |s| s.lag_bytes),
        lag_seconds: best.map_or(0, |s| s.lag_seconds),
        master_ha_addr: None,
        connected: !slaves.is_empty(),
        slaves,
    }
}

/// Starts the replication services of this broker's role: the HA listener
/// on a master, the follower and metadata copier on a slave.
pub fn spawn(
    state: &Arc<BrokerState>,
    listener: Option<tokio::net::TcpListener>,
    cancel: &CancellationToken,
) {
    if let Some(listener) = listener {
        state
            .ha
            .master_since
            .store(state.store.commitlog_max_offset(), Ordering::Relaxed);
        state
            .tasks
            .spawn(master::serve(state.clone(), listener, cancel.clone()));
    }
    if state.is_slave() {
        state.tasks.spawn(slave::run(state.clone(), cancel.clone()));
        state
            .tasks
            .spawn(metadata::run(state.clone(), cancel.clone()));
    }
}

/// Binds the HA port for a master (none for a slave): haListenPort, else
/// listenPort + 1, else (listening on port 0) an ephemeral port.
///
/// # Errors
/// The port cannot be bound.
pub async fn bind(
    config: &crate::config::BrokerConfig,
    local: SocketAddr,
    requested_port: u16,
) -> std::io::Result<Option<tokio::net::TcpListener>> {
    if config.broker_role == BrokerRole::Slave {
        return Ok(None);
    }
    let port = ha_port(config, local, requested_port);
    match tokio::net::TcpListener::bind(SocketAddr::new(local.ip(), port)).await {
        Ok(listener) => Ok(Some(listener)),
        // The default port (listen + 1) is taken: take any port. Slaves
        // learn the HA address from the NameServer's registration answer,
        // so they still find it; an explicit haListenPort stays an error.
        Err(e) if config.ha_listen_port == 0 => {
            tracing::warn!("HA port {port} is not available ({e}); using an ephemeral port");
            let listener = tokio::net::TcpListener::bind(SocketAddr::new(local.ip(), 0)).await?;
            Ok(Some(listener))
        }
        Err(e) => Err(e),
    }
}

/// The HA port a broker uses (see [`bind`]).
pub fn ha_port(
    config: &crate::config::BrokerConfig,
    local: SocketAddr,
    requested_port: u16,
) -> u16 {
    if config.ha_listen_port != 0 {
        config.ha_listen_port
    } else if requested_port == 0 {
        0
    } else {
        local.port().saturating_add(1)
    }
}
