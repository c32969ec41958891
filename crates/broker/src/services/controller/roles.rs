//! Switching roles at run time (reference controller.md §4.2, §4.3).
//! Each role's tasks run under a token the next switch cancels: a master
//! runs delay, timer, transaction-check and POP-revive delivery and the
//! SyncStateSet upkeep, and serves HA links; a slave follows the master's
//! commit log and copies its metadata. Every switch ends with an immediate
//! registration with every NameServer (the register loop waits on
//! `role.changed`), carrying stateVersion = masterEpoch.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::fence::fence;
use super::link::ControllerLink;
use crate::config::BrokerRole;
use crate::state::BrokerState;
use crate::tables::ha::RegisterOutcome;
use crate::tables::role::Replicas;

/// The tasks of the current role that must stop before the next starts.
pub struct RoleTasks {
    tracker: TaskTracker,
}

impl Default for RoleTasks {
    fn default() -> Self {
        RoleTasks {
            tracker: TaskTracker::new(),
        }
    }
}

impl RoleTasks {
    /// Cancels the current role's tasks, waits for the ones that write the
    /// store (the HA follower), and returns the next role's token.
    async fn switch(
        &mut self,
        state: &BrokerState,
        parent: &CancellationToken,
    ) -> CancellationToken {
        let token = state.role.next_token(parent);
        self.tracker.close();
        self.tracker.wait().await;
        self.tracker = TaskTracker::new();
        token
    }
}

/// Becomes the master of `replicas.master_epoch`, holding the lease from
/// `confirmed` (when the request the controller's answer named us in
/// left). A local epoch file that already holds a newer epoch refuses
/// (fail closed: the broker stays a fenced slave).
pub async fn become_master(
    state: &Arc<BrokerState>,
    link: &Arc<ControllerLink>,
    tasks: &mut RoleTasks,
    parent: &CancellationToken,
    replicas: Replicas,
    confirmed: Instant,
) {
    let token = tasks.switch(state, parent).await;
    let epoch = replicas.master_epoch;
    if !state
        .store
        .adopt_replicated_queues(std::time::Duration::from_secs(30))
        .await
    {
        tracing::error!(
            epoch,
            "consume queues did not catch up with the commit log; staying fenced"
        );
        fence(state, replicas);
        return;
    }
    let end = state.store.commitlog_max_offset();
    if let Some(epochs) = &state.epochs {
        if let Err(e) = epochs.begin(epoch, end) {
            tracing::error!(epoch, error = %e, "cannot become master; staying fenced");
            fence(state, replicas);
            return;
        }
    }
    state.ha.master_since.store(end, Ordering::Relaxed);
    tracing::info!(
        broker = %state.config.broker_name,
        epoch,
        start = end,
        sync_state_set = ?replicas.sync_state_set,
        "became master"
    );
    state.role.lease.renew(confirmed);
    state.role.set(BrokerRole::SyncMaster, 0, replicas);
    crate::services::delay::spawn(state, &token);
    crate::services::timer::spawn(state, &token);
    crate::services::transaction::spawn(state, &token);
    crate::pop::spawn(state, &token);
    tasks
        .tracker
        .spawn(super::sync_set::run(state.clone(), link.clone(), token));
}

/// Becomes a slave of the master in `replicas`.
pub async fn become_slave(
    state: &Arc<BrokerState>,
    tasks: &mut RoleTasks,
    parent: &CancellationToken,
    replicas: Replicas,
) {
    let token = tasks.switch(state, parent).await;
    let id = replicas.controller_id.unwrap_or(-1);
    tracing::info!(
        broker = %state.config.broker_name,
        id,
        epoch = replicas.master_epoch,
        master = ?replicas.master_addr,
        "became slave"
    );
    // The HA address comes from the next registration (the master's).
    state.set_master(RegisterOutcome::default());
    state.role.lease.release();
    state.role.set(BrokerRole::Slave, id, replicas);
    tasks.tracker.spawn(crate::services::ha::slave::run(
        state.clone(),
        token.clone(),
    ));
    tasks
        .tracker
        .spawn(crate::services::ha::metadata::run(state.clone(), token));
}

/// Stops the current role's tasks at shutdown.
pub async fn stop(tasks: &mut RoleTasks, state: &BrokerState, parent: &CancellationToken) {
    let _ = tasks.switch(state, parent).await;
}
