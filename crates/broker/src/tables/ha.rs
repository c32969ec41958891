//! Replication bookkeeping (storage-format §10): which slaves are
//! connected and how far each acknowledged (master side), and how far this
//! broker follows its master (slave side). The services in
//! `services/ha` update it; the send path and runtime info read it.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::{watch, Notify};

use crate::config::BrokerRole;
use protocol::clock::now_ms;

/// What the NameServers told us (a slave learns its master's addresses).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RegisterOutcome {
    pub master_addr: Option<String>,
    pub ha_server_addr: Option<String>,
}

/// Replication bookkeeping shared by the master and slave sides.
pub struct HaService {
    links: Mutex<BTreeMap<u64, SlaveLink>>,
    next_link: AtomicU64,
    /// Highest offset any connected slave acknowledged.
    acked: watch::Sender<u64>,
    /// Bumped on every acknowledgement, link opening and closing (waiters
    /// for several slaves and the SyncStateSet upkeep watch it).
    ack_seq: watch::Sender<u64>,
    /// Poked after local appends so streams do not wait for a poll.
    pub(crate) new_data: Notify,
    follow: Mutex<FollowState>,
    /// Masters: the commit-log end when this broker started as master.
    /// Data a slave holds beyond it may come from another master.
    pub(crate) master_since: AtomicU64,
    /// Slaves: the master topic-table version last copied.
    pub(crate) topics_version: Mutex<Option<protocol::body::topic::DataVersion>>,
}

impl Default for HaService {
    fn default() -> Self {
        HaService {
            links: Mutex::new(BTreeMap::new()),
            next_link: AtomicU64::new(1),
            acked: watch::channel(0).0,
            ack_seq: watch::channel(0).0,
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
    /// The slave's controller-assigned id (controller mode), and whether
    /// it is an async learner (never in the SyncStateSet).
    broker_id: Option<i64>,
    learner: bool,
    acked: u64,
    /// Our commit-log end when we last sent while the slave had acked
    /// everything before: acking it means the slave was caught up then.
    sent_mark: Option<(u64, i64)>,
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
    /// Controller mode: the slave's id.
    pub broker_id: Option<i64>,
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

    pub(crate) fn link_opened(&self, addr: SocketAddr, acked: u64) -> u64 {
        self.link_opened_as(addr, acked, None, false)
    }

    /// A slave connected; `broker_id` is its controller id (controller mode).
    pub(crate) fn link_opened_as(
        &self,
        addr: SocketAddr,
        acked: u64,
        broker_id: Option<i64>,
        learner: bool,
    ) -> u64 {
        let id = self.next_link.fetch_add(1, Ordering::Relaxed);
        self.links.lock().insert(
            id,
            SlaveLink {
                addr,
                broker_id,
                learner,
                acked,
                sent_mark: None,
                // Not caught up until it acks our end.
                caught_up_ms: if broker_id.is_some() { 0 } else { now_ms() },
            },
        );
        self.publish_best();
        id
    }

    pub(crate) fn link_closed(&self, id: u64) {
        self.links.lock().remove(&id);
        self.publish_best();
    }

    pub(crate) fn link_acked(&self, id: u64, acked: u64, master_end: u64) {
        if let Some(link) = self.links.lock().get_mut(&id) {
            link.acked = acked;
            if acked >= master_end {
                link.caught_up_ms = now_ms();
                link.sent_mark = None;
            } else if let Some((mark, at)) = link.sent_mark {
                if acked >= mark {
                    link.caught_up_ms = link.caught_up_ms.max(at);
                    link.sent_mark = None;
                }
            }
        }
        self.publish_best();
    }

    /// The master sent bytes to link `id` while its log ended at `master_end`.
    pub(crate) fn link_sent(&self, id: u64, master_end: u64) {
        if let Some(link) = self.links.lock().get_mut(&id) {
            if link.sent_mark.is_none() {
                link.sent_mark = Some((master_end, now_ms()));
            }
        }
    }

    /// Controller mode: the connected slaves by id, with their ack offset
    /// and when they were last caught up (learners left out).
    pub fn members(&self) -> BTreeMap<i64, (u64, i64)> {
        let mut out = BTreeMap::new();
        for l in self.links.lock().values() {
            if let (Some(id), false) = (l.broker_id, l.learner) {
                let e = out.entry(id).or_insert((l.acked, l.caught_up_ms));
                *e = (e.0.max(l.acked), e.1.max(l.caught_up_ms));
            }
        }
        out
    }

    /// A receiver that changes on every ack, link opening or closing.
    pub fn ack_changes(&self) -> watch::Receiver<u64> {
        self.ack_seq.subscribe()
    }

    /// Waits until `done` holds over the links (each as `(broker id,
    /// learner, acked offset)`), at most `timeout`.
    pub async fn wait_links(
        &self,
        timeout: Duration,
        done: impl Fn(&[(Option<i64>, bool, u64)]) -> bool,
    ) -> bool {
        let mut rx = self.ack_seq.subscribe();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            rx.borrow_and_update();
            let links: Vec<(Option<i64>, bool, u64)> = self
                .links
                .lock()
                .values()
                .map(|l| (l.broker_id, l.learner, l.acked))
                .collect();
            if done(&links) {
                return true;
            }
            match tokio::time::timeout_at(deadline, rx.changed()).await {
                Ok(Ok(())) => {}
                _ => return false,
            }
        }
    }

    fn publish_best(&self) {
        self.ack_seq.send_modify(|v| *v = v.wrapping_add(1));
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

    pub(crate) fn follow_connected(&self, addr: &str) {
        let mut f = self.follow.lock();
        f.master_ha_addr = Some(addr.to_owned());
        f.connected = true;
    }

    pub(crate) fn follow_disconnected(&self) {
        self.follow.lock().connected = false;
    }

    pub(crate) fn follow_progress(&self, master_offset: u64, local_end: u64) {
        let mut f = self.follow.lock();
        f.master_offset = f.master_offset.max(master_offset);
        if local_end >= f.master_offset {
            f.caught_up_ms = now_ms();
        }
    }

    pub(crate) fn follow_reset(&self, master_offset: u64) {
        let mut f = self.follow.lock();
        f.master_offset = master_offset;
    }

    /// The replication state now, for a broker of `role` whose commit log
    /// ends at `end`.
    pub fn status(&self, role: BrokerRole, end: u64) -> HaStatus {
        let now = now_ms();
        let secs = |since: i64| (now.saturating_sub(since).max(0) / 1000) as u64;
        if role == BrokerRole::Slave {
            let f = self.follow.lock().clone();
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
        let links: Vec<SlaveLink> = self.links.lock().values().cloned().collect();
        let slaves: Vec<SlaveStatus> = links
            .iter()
            .map(|l| {
                let lag_bytes = end.saturating_sub(l.acked);
                SlaveStatus {
                    addr: l.addr.to_string(),
                    broker_id: l.broker_id,
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
            role: match role {
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
}
