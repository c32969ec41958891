//! The replicated state: per broker set (keyed by brokerName, as Java) the
//! controller-assigned ids with their addresses, the master, its epoch and
//! the SyncStateSet. It changes only by applying a committed [`Command`];
//! every command carries the preconditions the leader checked (epochs), and
//! they are checked again here, so two leaders' commands can never both
//! take effect on the same epoch.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

/// One broker set.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct BrokerSet {
    pub cluster: String,
    /// Next id GET_NEXT_BROKER_ID offers; never decreases.
    pub next_assign_id: i64,
    /// id -> (address, registerCheckCode).
    pub brokers: BTreeMap<i64, (String, String)>,
    pub master: Option<i64>,
    pub master_epoch: i32,
    pub sync_state_set: BTreeSet<i64>,
    pub sync_state_set_epoch: i32,
}

impl BrokerSet {
    /// The master's address, if there is a master.
    pub fn master_addr(&self) -> Option<&str> {
        self.master
            .and_then(|id| self.brokers.get(&id))
            .map(|(addr, _)| addr.as_str())
    }
}

/// Every broker set, by brokerName.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Replicas {
    pub sets: BTreeMap<String, BrokerSet>,
}

/// A change to [`Replicas`] (the payload of a Raft entry).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Command {
    /// APPLY_BROKER_ID: take `id` for the broker at `address`.
    ApplyBrokerId {
        cluster: String,
        broker_name: String,
        id: i64,
        address: String,
        check_code: String,
    },
    /// REGISTER_BROKER with a new address for a known id.
    UpdateBrokerAddress {
        broker_name: String,
        id: i64,
        address: String,
    },
    /// An election: `new_master` None = the set has no master now. Takes
    /// effect only if the master epoch is still `expected_master_epoch`.
    ElectMaster {
        broker_name: String,
        new_master: Option<i64>,
        expected_master_epoch: i32,
    },
    /// ALTER_SYNC_STATE_SET from the master of `master_epoch`.
    AlterSyncStateSet {
        broker_name: String,
        master: i64,
        master_epoch: i32,
        sync_state_set_epoch: i32,
        new_set: BTreeSet<i64>,
    },
    /// CLEAN_BROKER_DATA: drop these ids (None = the whole set).
    CleanBrokerData {
        broker_name: String,
        ids: Option<BTreeSet<i64>>,
    },
}

/// Why a command was refused; each maps to one response code (error.rs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum Refusal {
    #[error("broker set `{0}` does not exist")]
    NoSuchSet(String),
    #[error("broker id {id} of `{broker_name}` is not registered; apply for an id first")]
    NeedRegister { broker_name: String, id: i64 },
    #[error("broker id {id} of `{broker_name}` is taken by another broker")]
    IdTaken { broker_name: String, id: i64 },
    #[error("broker id {id} is invalid for the new broker set `{broker_name}` (expected 1)")]
    IdInvalid { broker_name: String, id: i64 },
    #[error("master epoch {claimed} of `{broker_name}` is fenced; the current master epoch is {current}")]
    FencedMasterEpoch {
        broker_name: String,
        claimed: i32,
        current: i32,
    },
    #[error(
        "sync state set epoch {claimed} of `{broker_name}` is fenced; the current one is {current}"
    )]
    FencedSyncStateSetEpoch {
        broker_name: String,
        claimed: i32,
        current: i32,
    },
    #[error("broker {claimed} is not the master of `{broker_name}` (master: {current:?})")]
    InvalidMaster {
        broker_name: String,
        claimed: i64,
        current: Option<i64>,
    },
    #[error("replica {id} of `{broker_name}` is not registered")]
    InvalidReplicas { broker_name: String, id: i64 },
    #[error("alter sync state set of `{broker_name}` failed: {reason}")]
    AlterFailed { broker_name: String, reason: String },
    #[error("clean broker data of `{broker_name}` failed: {reason}")]
    CleanFailed { broker_name: String, reason: String },
}

/// The answer to an applied command: the set as it is afterwards, or why
/// nothing changed.
pub type Outcome = Result<Option<BrokerSet>, Refusal>;

impl Replicas {
    /// The set called `name`.
    pub fn get(&self, name: &str) -> Option<&BrokerSet> {
        self.sets.get(name)
    }

    /// The id GET_NEXT_BROKER_ID offers.
    pub fn next_broker_id(&self, name: &str) -> i64 {
        self.sets.get(name).map_or(1, |s| s.next_assign_id)
    }

    /// Applies one committed command (deterministic: every node gets the same result).
    pub fn apply(&mut self, command: &Command) -> Outcome {
        match command {
            Command::ApplyBrokerId {
                cluster,
                broker_name,
                id,
                address,
                check_code,
            } => self.apply_broker_id(cluster, broker_name, *id, address, check_code),
            Command::UpdateBrokerAddress {
                broker_name,
                id,
                address,
            } => {
                let set = self.set_mut(broker_name)?;
                let entry = set
                    .brokers
                    .get_mut(id)
                    .ok_or_else(|| Refusal::NeedRegister {
                        broker_name: broker_name.clone(),
                        id: *id,
                    })?;
                entry.0.clone_from(address);
                Ok(Some(set.clone()))
            }
            Command::ElectMaster {
                broker_name,
                new_master,
                expected_master_epoch,
            } => {
                let set = self.set_mut(broker_name)?;
                if set.master_epoch != *expected_master_epoch {
                    return Err(Refusal::FencedMasterEpoch {
                        broker_name: broker_name.clone(),
                        claimed: *expected_master_epoch,
                        current: set.master_epoch,
                    });
                }
                if let Some(id) = new_master {
                    if !set.brokers.contains_key(id) {
                        return Err(Refusal::NeedRegister {
                            broker_name: broker_name.clone(),
                            id: *id,
                        });
                    }
                    set.sync_state_set = BTreeSet::from([*id]);
                    set.sync_state_set_epoch += 1;
                }
                set.master = *new_master;
                set.master_epoch += 1;
                Ok(Some(set.clone()))
            }
            Command::AlterSyncStateSet {
                broker_name,
                master,
                master_epoch,
                sync_state_set_epoch,
                new_set,
            } => self.alter(
                broker_name,
                *master,
                *master_epoch,
                *sync_state_set_epoch,
                new_set,
            ),
            Command::CleanBrokerData { broker_name, ids } => self.clean(broker_name, ids.as_ref()),
        }
    }

    fn set_mut(&mut self, name: &str) -> Result<&mut BrokerSet, Refusal> {
        self.sets
            .get_mut(name)
            .ok_or_else(|| Refusal::NoSuchSet(name.to_owned()))
    }

    fn apply_broker_id(
        &mut self,
        cluster: &str,
        broker_name: &str,
        id: i64,
        address: &str,
        check_code: &str,
    ) -> Outcome {
        let Some(set) = self.sets.get_mut(broker_name) else {
            if id != 1 {
                return Err(Refusal::IdInvalid {
                    broker_name: broker_name.to_owned(),
                    id,
                });
            }
            let set = BrokerSet {
                cluster: cluster.to_owned(),
                next_assign_id: 2,
                brokers: BTreeMap::from([(1, (address.to_owned(), check_code.to_owned()))]),
                ..BrokerSet::default()
            };
            self.sets.insert(broker_name.to_owned(), set.clone());
            return Ok(Some(set));
        };
        if id <= 0 {
            return Err(Refusal::IdInvalid {
                broker_name: broker_name.to_owned(),
                id,
            });
        }
        match set.brokers.get(&id) {
            // An idempotent retry of the same broker's application.
            Some((_, code)) if code == check_code => {}
            Some(_) => {
                return Err(Refusal::IdTaken {
                    broker_name: broker_name.to_owned(),
                    id,
                })
            }
            None => {
                set.brokers
                    .insert(id, (address.to_owned(), check_code.to_owned()));
                set.next_assign_id = set.next_assign_id.max(id + 1);
            }
        }
        Ok(Some(set.clone()))
    }

    fn alter(
        &mut self,
        broker_name: &str,
        master: i64,
        master_epoch: i32,
        ss_epoch: i32,
        new_set: &BTreeSet<i64>,
    ) -> Outcome {
        let name = || broker_name.to_owned();
        let set = self
            .sets
            .get_mut(broker_name)
            .ok_or_else(|| Refusal::AlterFailed {
                broker_name: name(),
                reason: "the broker set does not exist".into(),
            })?;
        if set.sync_state_set == *new_set {
            return Err(Refusal::AlterFailed {
                broker_name: name(),
                reason: "the sync state set is unchanged".into(),
            });
        }
        if set.master != Some(master) {
            return Err(Refusal::InvalidMaster {
                broker_name: name(),
                claimed: master,
                current: set.master,
            });
        }
        if set.master_epoch != master_epoch {
            return Err(Refusal::FencedMasterEpoch {
                broker_name: name(),
                claimed: master_epoch,
                current: set.master_epoch,
            });
        }
        if set.sync_state_set_epoch != ss_epoch {
            return Err(Refusal::FencedSyncStateSetEpoch {
                broker_name: name(),
                claimed: ss_epoch,
                current: set.sync_state_set_epoch,
            });
        }
        if let Some(id) = new_set.iter().find(|id| !set.brokers.contains_key(id)) {
            return Err(Refusal::InvalidReplicas {
                broker_name: name(),
                id: *id,
            });
        }
        if !new_set.contains(&master) {
            return Err(Refusal::AlterFailed {
                broker_name: name(),
                reason: "the new sync state set lacks the master".into(),
            });
        }
        set.sync_state_set.clone_from(new_set);
        set.sync_state_set_epoch += 1;
        Ok(Some(set.clone()))
    }

    fn clean(&mut self, broker_name: &str, ids: Option<&BTreeSet<i64>>) -> Outcome {
        let Some(ids) = ids.filter(|ids| !ids.is_empty()) else {
            return match self.sets.remove(broker_name) {
                Some(_) => Ok(None),
                None => Err(Refusal::CleanFailed {
                    broker_name: broker_name.to_owned(),
                    reason: "the broker set does not exist".into(),
                }),
            };
        };
        let set = self
            .sets
            .get_mut(broker_name)
            .ok_or_else(|| Refusal::CleanFailed {
                broker_name: broker_name.to_owned(),
                reason: "the broker set does not exist".into(),
            })?;
        for id in ids {
            set.brokers.remove(id);
            set.sync_state_set.remove(id);
            if set.master == Some(*id) {
                set.master = None;
            }
        }
        if set.brokers.is_empty() {
            self.sets.remove(broker_name);
            return Ok(None);
        }
        Ok(Some(set.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apply_id(r: &mut Replicas, id: i64, code: &str) -> Outcome {
        r.apply(&Command::ApplyBrokerId {
            cluster: "c".into(),
            broker_name: "b".into(),
            id,
            address: format!("h:{id}"),
            check_code: code.into(),
        })
    }

    fn elect(r: &mut Replicas, who: Option<i64>, epoch: i32) -> Outcome {
        r.apply(&Command::ElectMaster {
            broker_name: "b".into(),
            new_master: who,
            expected_master_epoch: epoch,
        })
    }

    #[test]
    fn ids_are_assigned_once_and_retries_are_idempotent() {
        let mut r = Replicas::default();
        assert!(matches!(
            apply_id(&mut r, 2, "x"),
            Err(Refusal::IdInvalid { .. })
        ));
        assert!(apply_id(&mut r, 1, "a").is_ok());
        assert_eq!(r.next_broker_id("b"), 2);
        assert!(apply_id(&mut r, 1, "a").is_ok(), "same check code: a retry");
        assert!(matches!(
            apply_id(&mut r, 1, "other"),
            Err(Refusal::IdTaken { .. })
        ));
        assert!(apply_id(&mut r, 2, "b").is_ok());
        assert_eq!(r.next_broker_id("b"), 3);
        assert_eq!(r.next_broker_id("unknown"), 1);
    }

    #[test]
    fn elections_bump_epochs_and_stale_ones_are_fenced() {
        let mut r = Replicas::default();
        let _ = apply_id(&mut r, 1, "a");
        let _ = apply_id(&mut r, 2, "b");
        let set = elect(&mut r, Some(1), 0).ok().flatten();
        assert_eq!(
            set.as_ref()
                .map(|s| (s.master, s.master_epoch, s.sync_state_set_epoch)),
            Some((Some(1), 1, 1))
        );
        // A second election computed against epoch 0 loses.
        assert!(matches!(
            elect(&mut r, Some(2), 0),
            Err(Refusal::FencedMasterEpoch { current: 1, .. })
        ));
        // No candidate: masterless, epoch still moves, set kept.
        let set = elect(&mut r, None, 1).ok().flatten();
        assert_eq!(
            set.map(|s| (s.master, s.master_epoch, s.sync_state_set)),
            Some((None, 2, BTreeSet::from([1])))
        );
        assert!(matches!(
            elect(&mut r, Some(9), 2),
            Err(Refusal::NeedRegister { id: 9, .. })
        ));
    }

    #[test]
    fn alter_checks_master_epochs_and_members() {
        let mut r = Replicas::default();
        let _ = apply_id(&mut r, 1, "a");
        let _ = apply_id(&mut r, 2, "b");
        let _ = elect(&mut r, Some(1), 0);
        let alter = |r: &mut Replicas, master, me, se, set: &[i64]| {
            r.apply(&Command::AlterSyncStateSet {
                broker_name: "b".into(),
                master,
                master_epoch: me,
                sync_state_set_epoch: se,
                new_set: set.iter().copied().collect(),
            })
        };
        assert!(matches!(
            alter(&mut r, 2, 1, 1, &[1, 2]),
            Err(Refusal::InvalidMaster { .. })
        ));
        assert!(matches!(
            alter(&mut r, 1, 0, 1, &[1, 2]),
            Err(Refusal::FencedMasterEpoch { .. })
        ));
        assert!(matches!(
            alter(&mut r, 1, 1, 0, &[1, 2]),
            Err(Refusal::FencedSyncStateSetEpoch { .. })
        ));
        assert!(matches!(
            alter(&mut r, 1, 1, 1, &[1, 3]),
            Err(Refusal::InvalidReplicas { id: 3, .. })
        ));
        assert!(matches!(
            alter(&mut r, 1, 1, 1, &[2]),
            Err(Refusal::AlterFailed { .. })
        ));
        assert!(matches!(
            alter(&mut r, 1, 1, 1, &[1]),
            Err(Refusal::AlterFailed { .. })
        ));
        let set = alter(&mut r, 1, 1, 1, &[1, 2]).ok().flatten();
        assert_eq!(set.map(|s| s.sync_state_set_epoch), Some(2));
    }

    #[test]
    fn clean_drops_ids_or_the_whole_set() {
        let mut r = Replicas::default();
        let _ = apply_id(&mut r, 1, "a");
        let _ = apply_id(&mut r, 2, "b");
        let _ = elect(&mut r, Some(1), 0);
        let clean = |r: &mut Replicas, ids: Option<&[i64]>| {
            r.apply(&Command::CleanBrokerData {
                broker_name: "b".into(),
                ids: ids.map(|i| i.iter().copied().collect()),
            })
        };
        let set = clean(&mut r, Some(&[1])).ok().flatten();
        assert_eq!(set.map(|s| (s.master, s.brokers.len())), Some((None, 1)));
        assert_eq!(r.next_broker_id("b"), 3, "ids are never reused");
        assert!(clean(&mut r, None).is_ok());
        assert!(r.get("b").is_none());
        assert!(clean(&mut r, None).is_err());
    }
}
