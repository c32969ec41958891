//! The broker's role at run time. In classic mode it is `brokerRole` and
//! `brokerId` from the file, for the broker's whole life; in controller
//! mode the controller decides it (reference controller.md §4.2-§4.3):
//! brokerId 0 and SYNC_MASTER as master, the controller-assigned id and
//! SLAVE otherwise, plus the master epoch and the SyncStateSet the
//! controller last told us. Until a master is known the broker stays a
//! slave (fenced: it takes no writes).

use std::collections::BTreeSet;

use parking_lot::RwLock;

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

/// The role cell every reader shares.
pub struct RoleCell {
    inner: RwLock<Inner>,
    controller_mode: bool,
}

impl RoleCell {
    /// The starting role: the file's, or a fenced slave in controller mode.
    pub fn new(config: &BrokerConfig) -> RoleCell {
        let (role, broker_id) = if config.enable_controller_mode {
            (BrokerRole::Slave, -1)
        } else {
            (config.broker_role, config.broker_id)
        };
        RoleCell {
            inner: RwLock::new(Inner {
                role,
                broker_id,
                replicas: Replicas::default(),
            }),
            controller_mode: config.enable_controller_mode,
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
        let mut inner = self.inner.write();
        inner.role = role;
        inner.broker_id = broker_id;
        inner.replicas = replicas;
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
