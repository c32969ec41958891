//! Fencing: a broker that may no longer write (deposed, refused as master,
//! or its set has no master) drops to slave until the controller names a
//! master. Used by `roles`, `sync_set` and `manager`, below all of them.
//! (A master whose lease ran out, `tables::lease`, stays master and
//! refuses sends until the controller leader confirms it again.)

use crate::config::BrokerRole;
use crate::state::BrokerState;
use crate::tables::role::Replicas;

/// Stops taking writes without a master to follow (deposed, or refused
/// to become master); the role tasks of the old role are cancelled.
pub fn fence(state: &BrokerState, mut replicas: Replicas) {
    let id = replicas.controller_id.unwrap_or(-1);
    replicas.master_id = None;
    replicas.master_addr = None;
    state.role.token().cancel();
    state.role.lease.release();
    state.role.set(BrokerRole::Slave, id, replicas);
    tracing::warn!(broker = %state.config.broker_name, "fenced: no writes until the controller names a master");
}
