//! The broker's shared state: configuration, the store, and the managers
//! each handler reads and updates. Each manager guards itself with a short
//! lock; none is held across `.await`.

use std::net::SocketAddr;
use std::sync::Arc;

use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;
use protocol::message::UniqIdGenerator;
use remoting::RemotingClient;
use store::MessageStore;
use tokio_util::task::TaskTracker;

use crate::config::{BrokerConfig, BrokerRole};
use crate::live_config::LiveConfig;
use crate::tables::arrivals::QueueArrivals;
use crate::tables::clients::Clients;
use crate::tables::delay::ScheduleService;
use crate::tables::groups::GroupTable;
use crate::tables::ha::{HaService, HaStatus, RegisterOutcome};
use crate::tables::locks::LockTable;
use crate::tables::offsets::OffsetTable;
use crate::tables::subscription::SqlCache;
use crate::tables::timer::TimerService;
use crate::tables::topics::TopicTable;
use crate::tables::transactions::TransactionService;
use protocol::clock::now_ms;

/// Everything handlers share.
pub struct BrokerState {
    pub config: BrokerConfig,
    pub store: Arc<MessageStore>,
    pub topics: TopicTable,
    pub groups: GroupTable,
    pub offsets: OffsetTable,
    pub clients: Clients,
    /// Per-queue arrival signals: parked pulls and the delivery services
    /// wait on them; the store's dispatcher fires them.
    pub arrivals: Arc<QueueArrivals>,
    /// Compiled SQL92 subscriptions.
    pub sql: SqlCache,
    /// Client for NameServers and, on slaves, the master.
    pub client: RemotingClient,
    /// `ip:port` clients dial (brokerIP1 or the listen address).
    pub advertised_addr: String,
    /// Replication bookkeeping (both roles).
    pub ha: HaService,
    /// The store host written into every record (the advertised address).
    pub store_host: SocketAddr,
    /// `ip:port` of the HA service.
    pub ha_addr: String,
    /// What the NameServers said about our master (slaves).
    pub master: Mutex<RegisterOutcome>,
    /// When the broker started (ms since the epoch).
    pub start_ms: i64,
    /// Every task the broker spawns (awaited at shutdown).
    pub tasks: TaskTracker,
    /// UNIQ_KEYs for messages that arrive without one.
    pub uniq: Mutex<UniqIdGenerator>,
    /// State of a cheap pseudo-random sequence (random queue choice).
    pub random: AtomicU64,
    /// Delay-level delivery progress.
    pub schedule: ScheduleService,
    /// Timed messages waiting.
    pub timer: TimerService,
    /// Half messages and their checks.
    pub transactions: TransactionService,
    /// Ordered-consumption queue locks.
    pub locks: LockTable,
    /// POP consumption state.
    pub pop: crate::tables::pop::core::PopService,
    /// Counters the send, pull and request paths bump (read by `/metrics`).
    pub metrics: crate::metrics::BrokerMetrics,
    /// ACL 1.0 rules when `aclEnable` is on (the gRPC endpoint checks them too).
    pub acl: Option<Arc<acl::SharedAcl>>,
    /// Transaction, DLQ, POP and timer counters (read by `/metrics`).
    pub events: crate::event_metrics::EventMetrics,
    /// Settings changed at run time (UPDATE_BROKER_CONFIG).
    pub live: LiveConfig,
    /// Sampled counters behind every rate reported.
    pub rates: crate::rates::Rates,
    /// The role now (changes at run time in controller mode).
    pub role: crate::tables::role::RoleCell,
    /// The epoch file (controller mode only).
    pub epochs: Option<store::epoch::EpochFile>,
}

impl BrokerState {
    /// Whether this broker refuses sends (a slave).
    pub fn is_slave(&self) -> bool {
        self.role.role() == BrokerRole::Slave
    }

    /// The role now (the file's, or the controller's in controller mode).
    pub fn broker_role(&self) -> BrokerRole {
        self.role.role()
    }

    /// The id registered with the NameServers now.
    pub fn broker_id(&self) -> i64 {
        self.role.broker_id()
    }

    /// A fresh UNIQ_KEY.
    pub fn next_uniq_id(&self) -> String {
        self.uniq.lock().next(now_ms())
    }

    /// A pseudo-random number (splitmix64 over a counter).
    pub fn next_random(&self) -> u64 {
        let mut z = self
            .random
            .fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed)
            .wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// The replication state of this broker now.
    pub fn ha_status(&self) -> HaStatus {
        self.ha
            .status(self.role.role(), self.store.commitlog_max_offset())
    }

    /// Records the master address learned from registration.
    pub fn set_master(&self, outcome: RegisterOutcome) {
        *self.master.lock() = outcome;
    }
}
