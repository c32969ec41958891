//! The broker's role at run time. In classic mode it is `brokerRole` and
//! `brokerId` from the file, for the broker's whole life; in controller
//! mode the controller decides it (reference controller.md §4.2-§4.3):
//! brokerId 0 and SYNC_MASTER as master, the controller-assigned id and
//! SLAVE otherwise, plus the master epoch and the SyncStateSet the
//! controller last told us. Until a master is known the broker stays a
//! slave (fenced: it takes no writes).

use std::collections::BTreeSet;
use std::time::Duration;

use parking_lot::{Mutex, RwLock};
use protocol::body::controller::SyncStateSet;
use protocol::header::controller::MasterInfoHeader;
use tokio::sync::{mpsc, Notify};
use tokio_util::sync::CancellationToken;

use super::lease::MasterLease;
use crate::config::{BrokerConfig, BrokerRole};

/// What the controller said about our broker set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Replicas {
    /// The controller-assigned id of this broker (None before it applied).
    pub controller_id: Option<i64>,
    pub master_id: Option<i64>,
    /// The master's remoting address.
    pub master_addr: Option<String>,
    pub master_epoch: i32,
    pub sync_state_set: BTreeSet<i64>,
    pub sync_state_set_epoch: i32,
    /// Members the master asked to add or remove and the controller has not
    /// confirmed yet: while set, the effective set is the union (§4.7).
    pub pending: Option<BTreeSet<i64>>,
}

impl Replicas {
    /// The set acks are counted against: local ∪ pending.
    pub fn effective_set(&self) -> BTreeSet<i64> {
        let mut set = self.sync_state_set.clone();
        if let Some(p) = &self.pending {
            set.extend(p.iter().copied());
        }
        set
    }

    /// The minInSyncReplicas count: the larger of local and pending.
    pub fn in_sync_count(&self) -> usize {
        self.sync_state_set
            .len()
            .max(self.pending.as_ref().map_or(0, BTreeSet::len))
    }
}

#[derive(Debug, Clone)]
struct Inner {
    role: BrokerRole,
    broker_id: i64,
    replicas: Replicas,
}

/// A NOTIFY_BROKER_ROLE_CHANGED the controller pushed.
pub type RoleNotice = (MasterInfoHeader, SyncStateSet);

/// The role cell every reader shares.
pub struct RoleCell {
    inner: RwLock<Inner>,
    controller_mode: bool,
    /// Fired after every role change (the registration loop, its only
    /// waiter, registers again at once).
    pub changed: Notify,
    /// Cancelled when the role changes: the tasks of the old role (and the
    /// master's HA links) watch it.
    token: Mutex<CancellationToken>,
    notices: mpsc::UnboundedSender<RoleNotice>,
    notices_rx: Mutex<Option<mpsc::UnboundedReceiver<RoleNotice>>>,
    /// Controller mode: a master writes only while this holds.
    pub lease: MasterLease,
}

impl RoleCell {
    /// The starting role: the file's, or a fenced slave in controller mode.
    pub fn new(config: &BrokerConfig) -> RoleCell {
        let (role, broker_id) = if config.enable_controller_mode {
            (BrokerRole::Slave, -1)
        } else {
            (config.broker_role, config.broker_id)
        };
        let (tx, rx) = mpsc::unbounded_channel();
        RoleCell {
            inner: RwLock::new(Inner {
                role,
                broker_id,
                replicas: Replicas::default(),
            }),
            controller_mode: config.enable_controller_mode,
            changed: Notify::new(),
            token: Mutex::new(CancellationToken::new()),
            notices: tx,
            notices_rx: Mutex::new(Some(rx)),
            lease: MasterLease::new(Duration::from_millis(config.master_lease_ms())),
        }
    }

    /// Whether the controller decides the role.
    pub fn controller_mode(&self) -> bool {
        self.controller_mode
    }

    pub fn role(&self) -> BrokerRole {
        self.inner.read().role
    }

    /// The id registered with the NameServers (0 for a master).
    pub fn broker_id(&self) -> i64 {
        self.inner.read().broker_id
    }

    /// The controller's view of our set.
    pub fn replicas(&self) -> Replicas {
        self.inner.read().replicas.clone()
    }

    pub fn master_epoch(&self) -> i32 {
        self.inner.read().replicas.master_epoch
    }

    /// Sets role, id and replicas at once.
    pub fn set(&self, role: BrokerRole, broker_id: i64, replicas: Replicas) {
        {
            let mut inner = self.inner.write();
            inner.role = role;
            inner.broker_id = broker_id;
            inner.replicas = replicas;
        }
        self.changed.notify_one();
    }

    /// The token of the current role's tasks.
    pub fn token(&self) -> CancellationToken {
        self.token.lock().clone()
    }

    /// Cancels the current role's tasks and hands out the next role's
    /// token, a child of `parent` (the broker's shutdown token).
    pub fn next_token(&self, parent: &CancellationToken) -> CancellationToken {
        let next = parent.child_token();
        let old = std::mem::replace(&mut *self.token.lock(), next.clone());
        old.cancel();
        next
    }

    /// Queues a notice from the controller for the replicas manager.
    pub fn push_notice(&self, notice: RoleNotice) {
        let _ = self.notices.send(notice);
    }

    /// The notice queue (taken once, by the replicas manager).
    pub fn take_notices(&self) -> Option<mpsc::UnboundedReceiver<RoleNotice>> {
        self.notices_rx.lock().take()
    }

    /// Changes the replicas record in place (role unchanged).
    pub fn update_replicas(&self, f: impl FnOnce(&mut Replicas)) {
        f(&mut self.inner.write().replicas);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controller_mode_starts_fenced_and_effective_set_is_the_union() {
        let config = BrokerConfig {
            enable_controller_mode: true,
            broker_id: 3,
            broker_role: BrokerRole::SyncMaster,
            ..BrokerConfig::default()
        };
        let cell = RoleCell::new(&config);
        assert_eq!((cell.role(), cell.broker_id()), (BrokerRole::Slave, -1));
        cell.update_replicas(|r| {
            r.sync_state_set = BTreeSet::from([1, 2]);
            r.pending = Some(BTreeSet::from([1]));
        });
        let r = cell.replicas();
        assert_eq!(r.effective_set(), BTreeSet::from([1, 2]));
        assert_eq!(r.in_sync_count(), 2);
        let classic = RoleCell::new(&BrokerConfig::default());
        assert_eq!(classic.role(), BrokerRole::AsyncMaster);
    }
}
