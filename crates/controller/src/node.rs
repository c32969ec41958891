//! One controller: its Raft node, the applied state, the liveness table and
//! the operations the request handlers and the scan build on (leader checks,
//! committing commands, elections, role-change notifications).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use openraft::error::RaftError;
use openraft::BasicNode;
use parking_lot::RwLock;
use protocol::body::controller::SyncStateSet;
use protocol::header::controller::MasterInfoHeader;
use protocol::{RemotingCommand, RequestCode};
use remoting::RemotingClient;
use tokio_util::task::TaskTracker;

use crate::config::ControllerConfig;
use crate::elect;
use crate::error::ControllerError;
use crate::liveness::{Liveness, DEFAULT_HEARTBEAT_TIMEOUT_MS};
use crate::raft::state_machine::Applied;
use crate::raft::Raft;
use crate::replicas::{BrokerSet, Command};

/// How long a write may wait for a quorum before the caller gets an error.
pub const COMMIT_TIMEOUT: Duration = Duration::from_secs(5);

/// Who asked for an election.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// A broker or an admin tool (no candidate: ELECT_MASTER_FAILED, nothing changes).
    Request,
    /// The controller itself, because the master died (no candidate: the set becomes masterless).
    Controller,
}

/// The result of an election.
#[derive(Debug, Clone)]
pub enum Elected {
    /// A new master; the set afterwards.
    New(BrokerSet),
    /// The old master stays (Java's MASTER_STILL_EXIST).
    StillMaster(BrokerSet),
}

/// A running controller's shared state.
pub struct Node {
    pub config: RwLock<ControllerConfig>,
    pub raft: Raft,
    pub applied: Arc<RwLock<Applied>>,
    pub liveness: Liveness,
    pub client: RemotingClient,
    pub self_id: u64,
    pub started: Instant,
    /// The Raft term this node leads and when a scan first saw it leading.
    pub leading_since: parking_lot::Mutex<Option<(u64, Instant)>>,
    pub tracker: TaskTracker,
    /// Serializes leader-side decisions (read state, decide, commit), so two
    /// requests never decide against the same stale state.
    pub decide: tokio::sync::Mutex<()>,
}

fn leader_error<E>(node: &Node, e: &RaftError<u64, E>) -> ControllerError
where
    E: std::error::Error + openraft::TryAsRef<openraft::error::ForwardToLeader<u64, BasicNode>>,
{
    match e.forward_to_leader() {
        Some(fwd) => ControllerError::NotLeader {
            leader: fwd
                .leader_node
                .as_ref()
                .map(|n| n.addr.clone())
                .or_else(|| fwd.leader_id.and_then(|id| node.peer_addr(id))),
        },
        None => ControllerError::Raft(e.to_string()),
    }
}

impl Node {
    /// The peer address of Raft node `id`.
    pub fn peer_addr(&self, id: u64) -> Option<String> {
        let idx = usize::try_from(id).ok()?;
        self.config.read().peers.get(idx).map(|p| p.addr.clone())
    }

    /// The current leader as this node sees it (may be stale).
    pub fn current_leader(&self) -> Option<u64> {
        self.raft.metrics().borrow().current_leader
    }

    /// Whether this node believes it leads (cheap; writes still go through Raft).
    pub fn is_leader(&self) -> bool {
        self.current_leader() == Some(self.self_id)
    }

    /// Confirms leadership with a quorum and waits until every committed
    /// entry is applied, so a read sees all acknowledged writes.
    ///
    /// # Errors
    /// [`ControllerError::NotLeader`] naming the leader; [`ControllerError::Raft`]
    /// when no quorum answers within [`COMMIT_TIMEOUT`].
    pub async fn ensure_leader(&self) -> Result<(), ControllerError> {
        if !self.is_leader() {
            return Err(ControllerError::NotLeader {
                leader: self.current_leader().and_then(|id| self.peer_addr(id)),
            });
        }
        match tokio::time::timeout(COMMIT_TIMEOUT, self.raft.ensure_linearizable()).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(leader_error(self, &e)),
            Err(_) => Err(ControllerError::Raft(
                "no quorum of controllers answered within 5 s".into(),
            )),
        }
    }

    /// Commits `command` and returns the set as it is afterwards.
    ///
    /// # Errors
    /// As [`Node::ensure_leader`], and [`ControllerError::Refused`] when the
    /// state machine refuses the command.
    pub async fn commit(&self, command: Command) -> Result<Option<BrokerSet>, ControllerError> {
        match tokio::time::timeout(COMMIT_TIMEOUT, self.raft.client_write(command)).await {
            Ok(Ok(resp)) => resp.data.map_err(ControllerError::from),
            Ok(Err(e)) => Err(leader_error(self, &e)),
            Err(_) => Err(ControllerError::Raft(
                "no quorum of controllers acknowledged the change within 5 s".into(),
            )),
        }
    }

    /// A copy of one broker set, from the applied state.
    pub fn broker_set(&self, name: &str) -> Option<BrokerSet> {
        self.applied.read().replicas.get(name).cloned()
    }

    /// Runs an election in `broker_name`. Call on the leader, holding `decide`.
    ///
    /// # Errors
    /// [`ControllerError::Refused`] for an unknown set or a lost race,
    /// [`ControllerError::ElectFailed`] / [`ControllerError::MasterNotAvailable`]
    /// when no broker can be elected, and as [`Node::commit`].
    /// `requester` is the broker that asked (it wins the set's very first
    /// election, as Java); `preferred` is a designated winner (admin switchover).
    pub async fn elect(
        &self,
        broker_name: &str,
        requester: Option<i64>,
        preferred: Option<i64>,
        trigger: Trigger,
    ) -> Result<Elected, ControllerError> {
        let set = self
            .broker_set(broker_name)
            .ok_or_else(|| crate::replicas::Refusal::NoSuchSet(broker_name.to_owned()))?;
        let now = protocol::clock::now_ms();
        let first = set.master_epoch == 0 && set.master.is_none();
        let winner = if first && preferred.or(requester).is_some() {
            preferred.or(requester)
        } else {
            let unclean = self.config.read().enable_elect_unclean_master;
            elect::choose(
                &set,
                |id| self.liveness.alive(broker_name, id, now),
                preferred,
                unclean,
            )
        };
        match winner {
            Some(w) if set.master == Some(w) => Ok(Elected::StillMaster(set)),
            Some(w) => {
                let after = self
                    .commit(Command::ElectMaster {
                        broker_name: broker_name.to_owned(),
                        new_master: Some(w),
                        expected_master_epoch: set.master_epoch,
                    })
                    .await?
                    .ok_or_else(|| {
                        ControllerError::Raft("election applied without a set".into())
                    })?;
                tracing::info!(
                    broker = broker_name,
                    master = w,
                    epoch = after.master_epoch,
                    "elected a new master"
                );
                self.notify_role_change(broker_name, &after);
                Ok(Elected::New(after))
            }
            None if trigger == Trigger::Controller && set.master.is_some() => {
                // Fence the dead master: the epoch moves on without it.
                self.commit(Command::ElectMaster {
                    broker_name: broker_name.to_owned(),
                    new_master: None,
                    expected_master_epoch: set.master_epoch,
                })
                .await?;
                tracing::warn!(
                    broker = broker_name,
                    "master lost and no in-sync replica is alive; the set has no master"
                );
                Err(ControllerError::MasterNotAvailable(broker_name.to_owned()))
            }
            None if trigger == Trigger::Controller => {
                Err(ControllerError::MasterNotAvailable(broker_name.to_owned()))
            }
            None => Err(ControllerError::ElectFailed(broker_name.to_owned())),
        }
    }

    /// Sends NOTIFY_BROKER_ROLE_CHANGED (oneway) to every alive broker of the set.
    fn notify_role_change(&self, broker_name: &str, set: &BrokerSet) {
        if !self.config.read().notify_broker_role_changed {
            return;
        }
        let now = protocol::clock::now_ms();
        let targets: Vec<String> = set
            .brokers
            .keys()
            .filter_map(|id| self.liveness.alive(broker_name, *id, now).map(|b| b.addr))
            .collect();
        let header = MasterInfoHeader {
            cluster_name: Some(set.cluster.clone()),
            broker_name: Some(broker_name.to_owned()),
            master_broker_id: set.master,
            master_address: set.master_addr().map(str::to_owned),
            master_epoch: Some(set.master_epoch),
            sync_state_set_epoch: Some(set.sync_state_set_epoch),
        };
        let body = SyncStateSet {
            sync_state_set: set.sync_state_set.clone(),
            sync_state_set_epoch: set.sync_state_set_epoch,
        }
        .encode();
        for addr in targets {
            let client = self.client.clone();
            let mut request = RemotingCommand::request_with_header(
                RequestCode::NOTIFY_BROKER_ROLE_CHANGED,
                &header,
            )
            .with_body(body.clone());
            request.set_oneway();
            self.tracker.spawn(async move {
                if let Err(e) = client.invoke_oneway(&addr, request).await {
                    tracing::debug!(%addr, error = %e, "role change notification not sent");
                }
            });
        }
    }

    /// How long this node has led in its current term (from the first call
    /// that saw it leading; later than the real start, never earlier).
    fn leading_for(&self) -> Duration {
        let term = self.raft.metrics().borrow().current_term;
        let mut since = self.leading_since.lock();
        match *since {
            Some((t, at)) if t == term => at.elapsed(),
            _ => {
                *since = Some((term, Instant::now()));
                Duration::ZERO
            }
        }
    }

    /// Leader only: elects a new master in every set whose master is not
    /// alive, and tries again in masterless sets. Waits `scan_wait` after
    /// start so brokers can heartbeat a freshly started controller first.
    ///
    /// A master that only went quiet (no closed connection) is replaced
    /// only once this node has led for the brokers' heartbeat timeout: a
    /// new leader's liveness table may have missed heartbeats the old
    /// leader got, and the master's lease (renewed by the old leader, and
    /// shorter than that timeout) must run out before anyone else may
    /// take writes. A master whose connection closed is gone for sure and
    /// is replaced at once.
    pub async fn scan_inactive_masters(&self, scan_wait: Duration) {
        if !self.is_leader() || self.started.elapsed() < scan_wait {
            return;
        }
        let settled = self.leading_for()
            >= Duration::from_millis(
                u64::try_from(
                    self.liveness
                        .longest_timeout_ms(DEFAULT_HEARTBEAT_TIMEOUT_MS),
                )
                .unwrap_or(0),
            );
        let now = protocol::clock::now_ms();
        let sets: BTreeMap<String, BrokerSet> = self.applied.read().replicas.sets.clone();
        for (name, set) in sets {
            let needs = match set.master {
                Some(m) => {
                    self.liveness.alive(&name, m, now).is_none()
                        && (settled || self.liveness.closed(&name, m))
                }
                None => set.master_epoch > 0,
            };
            if !needs {
                continue;
            }
            let _guard = self.decide.lock().await;
            match self.elect(&name, None, None, Trigger::Controller).await {
                Ok(_) => {}
                Err(ControllerError::MasterNotAvailable(_)) => {}
                Err(e) => {
                    tracing::warn!(broker = %name, error = %e, "controller-triggered election failed")
                }
            }
        }
    }
}
