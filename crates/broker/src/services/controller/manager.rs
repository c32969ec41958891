//! The replicas manager (Java's ReplicasManager, reference controller.md
//! §3.3, §4.1): finds the controller leader, gets a broker id (persisted in
//! the brokerIdentity file), registers, asks for an election when the set
//! has no master, and applies every master change the controller reports
//! (register and elect answers, NOTIFY_BROKER_ROLE_CHANGED, the
//! GET_REPLICA_INFO poll), acting only on a newer master epoch.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::{Instant, Interval, MissedTickBehavior};

use protocol::body::controller::{ElectMasterResponseBody, SyncStateSet};
use protocol::header::controller::{
    ApplyBrokerIdRequestHeader, ElectMasterRequestHeader, GetNextBrokerIdRequestHeader,
    GetNextBrokerIdResponseHeader, GetReplicaInfoRequestHeader, MasterInfoHeader,
    RegisterBrokerToControllerRequestHeader,
};
use protocol::{RemotingCommand, RequestCode, ResponseCode};
use tokio_util::sync::CancellationToken;

use super::error::ControllerModeError as E;
use super::identity::{Identity, IdentityFile};
use super::link::ControllerLink;
use super::roles::{self, RoleTasks};
use crate::config::BrokerRole;
use crate::state::BrokerState;
use crate::tables::role::Replicas;

/// Runs until the broker shuts down.
pub async fn run(state: Arc<BrokerState>, cancel: CancellationToken) {
    let link = Arc::new(ControllerLink::new(
        state.config.controller_list(),
        state.client.clone(),
    ));
    let Some(mut notices) = state.role.take_notices() else {
        return;
    };
    let me = loop {
        match join(&state, &link).await {
            Ok(id) => break id,
            Err(e) => {
                tracing::warn!(error = %e, "cannot get a broker id from the controller; retrying")
            }
        }
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_secs(2)) => {}
        }
    };
    tracing::info!(broker = %state.config.broker_name, id = me, "controller id");
    state.role.update_replicas(|r| r.controller_id = Some(me));
    state.tasks.spawn(super::heartbeat::run(
        state.clone(),
        link.clone(),
        me,
        cancel.clone(),
    ));
    let mut m = Manager {
        state,
        link,
        me,
        cancel,
        tasks: RoleTasks::default(),
    };
    m.register().await;
    let mut poll = every(m.poll_period());
    let mut meta = every(Duration::from_millis(
        m.state.config.sync_controller_metadata_period,
    ));
    loop {
        tokio::select! {
            _ = m.cancel.cancelled() => break,
            Some((h, set)) = notices.recv() => m.apply(&h, set, Instant::now()).await,
            _ = poll.tick() => m.poll().await,
            _ = meta.tick() => {
                if let Err(e) = m.link.find_leader().await {
                    tracing::warn!(error = %e, "controller leader unknown");
                }
            }
        }
        // A fenced master (refused by the controller) asks again at once.
        if m.state.is_slave() && m.state.role.replicas().master_id.is_none() {
            m.poll().await;
        }
        // A master polls often enough to keep its lease (one lost answer
        // must not stop writes); a slave as syncBrokerMetadataPeriod says.
        if poll.period() != m.poll_period() {
            poll = every(m.poll_period());
        }
    }
    let cancel = m.cancel.clone();
    roles::stop(&mut m.tasks, &m.state, &cancel).await;
}

/// A ticker whose first tick is one `period` away and that, after a slow
/// turn, waits a whole period again instead of catching up.
fn every(period: Duration) -> Interval {
    let mut i = tokio::time::interval_at(Instant::now() + period, period);
    i.set_missed_tick_behavior(MissedTickBehavior::Delay);
    i
}

struct Manager {
    state: Arc<BrokerState>,
    link: Arc<ControllerLink>,
    me: i64,
    cancel: CancellationToken,
    tasks: RoleTasks,
}

fn identity_path(state: &BrokerState) -> PathBuf {
    if state.config.store_path_broker_identity.is_empty() {
        state
            .store
            .config()
            .store_path_root_dir
            .join("brokerIdentity")
    } else {
        PathBuf::from(&state.config.store_path_broker_identity)
    }
}

/// A controller's answer about this broker set.
enum Answer {
    /// The master (if any), its epoch and the SyncStateSet.
    Info(MasterInfoHeader, SyncStateSet),
    /// The controller does not know the set (it lost its state): register.
    Unknown,
    /// Any other refusal (logged).
    Refused,
}

/// The id in the brokerIdentity file, else a new one from the controller.
async fn join(state: &BrokerState, link: &ControllerLink) -> Result<i64, E> {
    let file = IdentityFile::new(
        &identity_path(state),
        &state.config.broker_cluster_name,
        &state.config.broker_name,
    );
    match file.load()? {
        Identity::Confirmed(id) => return Ok(id),
        Identity::Pending { id, check_code } => {
            if apply_id(state, link, id, &check_code).await? {
                file.confirm(id)?;
                return Ok(id);
            }
            file.drop_pending()?;
        }
        Identity::None => {}
    }
    const WHAT: &str = "GET_NEXT_BROKER_ID";
    let (cluster, name) = (&state.config.broker_cluster_name, &state.config.broker_name);
    let r = link
        .call(|| {
            RemotingCommand::request_with_header(
                RequestCode::CONTROLLER_GET_NEXT_BROKER_ID,
                &GetNextBrokerIdRequestHeader {
                    cluster_name: cluster.clone(),
                    broker_name: name.clone(),
                },
            )
        })
        .await
        .map_err(|source| E::NotSent { what: WHAT, source })?;
    if r.code != ResponseCode::SUCCESS.code() {
        return Err(E::refused(WHAT, &r));
    }
    let id = r
        .decode_header::<GetNextBrokerIdResponseHeader>()
        .map_err(|e| E::Malformed {
            what: WHAT,
            part: "header",
            why: e.to_string(),
        })?
        .next_broker_id
        .ok_or(E::Missing {
            what: WHAT,
            field: "nextBrokerId",
        })?;
    let code = format!("{};{}", state.advertised_addr, protocol::clock::now_ms());
    file.write_pending(id, &code)?;
    if apply_id(state, link, id, &code).await? {
        file.confirm(id)?;
        Ok(id)
    } else {
        file.drop_pending()?;
        Err(E::IdTaken(id))
    }
}

/// APPLY_BROKER_ID: Ok(false) when the id is taken by another broker.
async fn apply_id(
    state: &BrokerState,
    link: &ControllerLink,
    id: i64,
    code: &str,
) -> Result<bool, E> {
    const WHAT: &str = "APPLY_BROKER_ID";
    let r = link
        .call(|| {
            RemotingCommand::request_with_header(
                RequestCode::CONTROLLER_APPLY_BROKER_ID,
                &ApplyBrokerIdRequestHeader {
                    cluster_name: state.config.broker_cluster_name.clone(),
                    broker_name: state.config.broker_name.clone(),
                    applied_broker_id: id,
                    register_check_code: code.to_owned(),
                },
            )
        })
        .await
        .map_err(|source| E::NotSent { what: WHAT, source })?;
    if r.code == ResponseCode::SUCCESS.code() {
        Ok(true)
    } else if r.code == ResponseCode::CONTROLLER_BROKER_ID_INVALID.code() {
        Ok(false)
    } else {
        Err(E::refused(WHAT, &r))
    }
}

impl Manager {
    /// REGISTER_BROKER; then the master it names, or an election.
    async fn register(&mut self) {
        let s = &self.state;
        let header = RegisterBrokerToControllerRequestHeader {
            cluster_name: s.config.broker_cluster_name.clone(),
            broker_name: s.config.broker_name.clone(),
            broker_id: self.me,
            broker_address: s.advertised_addr.clone(),
            invoke_time: Some(protocol::clock::now_ms()),
        };
        let sent = Instant::now();
        match self
            .master_info(
                RequestCode::CONTROLLER_REGISTER_BROKER,
                "REGISTER_BROKER",
                &header,
            )
            .await
        {
            Ok(Answer::Info(h, set)) if h.master_broker_id.is_some() => {
                self.apply(&h, set, sent).await
            }
            Ok(Answer::Info(..)) => self.elect().await,
            Ok(Answer::Unknown) => {
                tracing::warn!("REGISTER_BROKER refused: the controller does not know this broker")
            }
            Ok(Answer::Refused) => {}
            Err(e) => tracing::warn!("{e}"),
        }
    }

    /// Sends a request the controller answers with a MasterInfoHeader and a
    /// SyncStateSet body; an error names `what` when it was not sent or its
    /// answer does not decode.
    async fn master_info<H: protocol::CommandHeader>(
        &self,
        code: RequestCode,
        what: &'static str,
        header: &H,
    ) -> Result<Answer, E> {
        let r = self
            .link
            .call(|| RemotingCommand::request_with_header(code, header))
            .await
            .map_err(|source| E::NotSent { what, source })?;
        if r.code == ResponseCode::CONTROLLER_BROKER_METADATA_NOT_EXIST.code() {
            return Ok(Answer::Unknown);
        }
        if r.code != ResponseCode::SUCCESS.code() {
            tracing::warn!("{}", E::refused(what, &r));
            return Ok(Answer::Refused);
        }
        let malformed = |part, why: String| E::Malformed { what, part, why };
        let h = r
            .decode_header::<MasterInfoHeader>()
            .map_err(|e| malformed("header", e.to_string()))?;
        let set =
            SyncStateSet::decode(&r.body).map_err(|e| malformed("SyncStateSet", e.to_string()))?;
        Ok(Answer::Info(h, set))
    }

    /// ELECT_MASTER naming ourselves (the controller picks by its policy
    /// when we are not a candidate).
    async fn elect(&mut self) {
        // The controller judges candidates by heartbeat: send one first.
        let req = super::heartbeat::request(&self.state, self.me);
        self.link
            .to_all_oneway(
                || req.clone(),
                Duration::from_millis(self.state.config.send_heartbeat_timeout_millis),
            )
            .await;
        let header = ElectMasterRequestHeader {
            cluster_name: Some(self.state.config.broker_cluster_name.clone()),
            broker_name: self.state.config.broker_name.clone(),
            broker_id: self.me,
            designate_elect: Some(false),
            invoke_time: Some(protocol::clock::now_ms()),
        };
        let sent = Instant::now();
        let r = self
            .link
            .call(|| {
                RemotingCommand::request_with_header(RequestCode::CONTROLLER_ELECT_MASTER, &header)
            })
            .await;
        match r {
            Ok(r)
                if r.code == ResponseCode::SUCCESS.code()
                    || r.code == ResponseCode::CONTROLLER_MASTER_STILL_EXIST.code() =>
            {
                let h = r.decode_header::<MasterInfoHeader>().unwrap_or_default();
                let body = ElectMasterResponseBody::decode(&r.body).unwrap_or_default();
                let set = SyncStateSet {
                    sync_state_set: body.sync_state_set,
                    sync_state_set_epoch: h.sync_state_set_epoch.unwrap_or(0),
                };
                self.apply(&h, set, sent).await;
            }
            Ok(r) => tracing::info!("{}", E::refused("ELECT_MASTER", &r)),
            Err(e) => tracing::warn!(error = %e, "ELECT_MASTER not sent"),
        }
    }

    /// GET_REPLICA_INFO: the controller's view now.
    async fn poll(&mut self) {
        let header = GetReplicaInfoRequestHeader {
            broker_name: self.state.config.broker_name.clone(),
        };
        let sent = Instant::now();
        match self
            .master_info(
                RequestCode::CONTROLLER_GET_REPLICA_INFO,
                "GET_REPLICA_INFO",
                &header,
            )
            .await
        {
            Ok(Answer::Info(h, set)) if h.master_broker_id.is_some() => {
                self.apply(&h, set, sent).await
            }
            Ok(Answer::Info(..)) => self.deposed_without_successor().await,
            Ok(Answer::Unknown) => self.register().await,
            Ok(Answer::Refused) => {}
            Err(e) => tracing::warn!("{e}"),
        }
    }

    /// The set has no master: a master stops writing, then we ask to be
    /// elected.
    async fn deposed_without_successor(&mut self) {
        if !self.state.is_slave() {
            super::fence::fence(&self.state, self.state.role.replicas());
        }
        self.elect().await;
    }

    /// How often GET_REPLICA_INFO goes out: `syncBrokerMetadataPeriod`,
    /// and at least three times per lease on a master.
    fn poll_period(&self) -> Duration {
        let period = Duration::from_millis(self.state.config.sync_broker_metadata_period);
        if self.state.broker_role() == BrokerRole::SyncMaster {
            period.min(self.state.role.lease.length() / 3)
        } else {
            period
        }
    }

    /// Acts on a master report when its epoch is newer than ours (or, at
    /// the same epoch and master, adopts a newer SyncStateSet). `sent`:
    /// when the request it answers left (for a notice: when it came); a
    /// report naming us master at our epoch renews our lease from then.
    async fn apply(&mut self, h: &MasterInfoHeader, set: SyncStateSet, sent: Instant) {
        let Some(master) = h.master_broker_id else {
            return;
        };
        let epoch = h.master_epoch.unwrap_or(0);
        let local = self.state.role.replicas();
        let same_master = local.master_id == Some(master);
        if epoch == local.master_epoch && same_master {
            if master == self.me && self.state.broker_role() == BrokerRole::SyncMaster {
                self.state.role.lease.renew(sent.into_std());
            }
            if set.sync_state_set_epoch > local.sync_state_set_epoch {
                self.state.role.update_replicas(|r| {
                    r.sync_state_set = set.sync_state_set;
                    r.sync_state_set_epoch = set.sync_state_set_epoch;
                    r.pending = None;
                });
            }
            return;
        }
        if epoch < local.master_epoch || (epoch == local.master_epoch && local.master_id.is_some())
        {
            return;
        }
        let replicas = Replicas {
            controller_id: Some(self.me),
            master_id: Some(master),
            master_addr: h.master_address.clone(),
            master_epoch: epoch,
            sync_state_set: set.sync_state_set,
            sync_state_set_epoch: set.sync_state_set_epoch,
            pending: None,
        };
        if master == self.me {
            if self.state.broker_role() == BrokerRole::SyncMaster && same_master {
                // Still master, a new epoch: only the epoch file moves.
                if let Some(e) = &self.state.epochs {
                    if let Err(err) = e.begin(epoch, self.state.store.commitlog_max_offset()) {
                        tracing::error!(epoch, error = %err, "cannot record the new epoch");
                    }
                }
                self.state.role.lease.renew(sent.into_std());
                self.state.role.update_replicas(|r| *r = replicas);
                self.state.role.changed.notify_one();
                return;
            }
            roles::become_master(
                &self.state,
                &self.link,
                &mut self.tasks,
                &self.cancel,
                replicas,
                sent.into_std(),
            )
            .await;
        } else {
            roles::become_slave(&self.state, &mut self.tasks, &self.cancel, replicas).await;
        }
    }
}
