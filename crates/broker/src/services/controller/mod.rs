//! The broker side of controller mode (RocketMQ 5's automatic failover,
//! reference controller.md §3.3, §4): the replicas manager applies for an
//! id, registers with the controller, heartbeats every controller, learns
//! its role (from register and elect answers, NOTIFY_BROKER_ROLE_CHANGED
//! and a GET_REPLICA_INFO poll) and switches between master and slave at
//! run time; the master keeps the SyncStateSet in step with its slaves.
//!
//! A master writes only while its lease holds (`tables::lease`): the
//! manager renews it with every answer of the controller leader that
//! names it master at its epoch, and polls often enough to keep it.
//!
//! Layers, bottom up: `link` (calls to the controllers), `error` (why a
//! step failed), `identity` (the brokerIdentity file), `heartbeat`,
//! `fence` (drop to slave without a master), `roles` (start/stop the
//! services of a role), `sync_set` (the master's SyncStateSet upkeep),
//! `manager`.

pub mod error;
pub mod fence;
pub mod heartbeat;
pub mod identity;
pub mod link;
pub mod manager;
pub mod roles;
pub mod sync_set;

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::state::BrokerState;

/// Starts the replicas manager (controller mode only).
pub fn spawn(state: &Arc<BrokerState>, cancel: &CancellationToken) {
    if state.role.controller_mode() {
        state
            .tasks
            .spawn(manager::run(state.clone(), cancel.clone()));
    }
}
