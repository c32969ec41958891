//! The master's SyncStateSet upkeep (reference controller.md §4.7): a
//! slave that has caught up joins, one that has not been caught up for
//! `haMaxTimeSlaveNotCatchup` (or whose link closed) leaves, each change
//! through CONTROLLER_ALTER_SYNC_STATE_SET (1001) with our master epoch
//! and the set's epoch. Until the controller confirms, acks count against
//! the union of the old and the proposed set. A FENCED or INVALID_MASTER
//! answer means another broker is master now: we stop taking writes.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use protocol::body::controller::SyncStateSet;
use protocol::header::controller::{
    AlterSyncStateSetRequestHeader, AlterSyncStateSetResponseHeader,
};
use protocol::{RemotingCommand, RequestCode, ResponseCode};
use tokio_util::sync::CancellationToken;

use super::link::ControllerLink;
use crate::config::BrokerRole;
use crate::state::BrokerState;
use crate::tables::role::Replicas;

/// The set the master should ask for now, or None when it is right.
pub fn wanted(
    r: &Replicas,
    members: &std::collections::BTreeMap<i64, (u64, i64)>,
    end: u64,
    epoch_start: u64,
    now_ms: i64,
    max_not_caught_up_ms: i64,
    fresh_ms: i64,
) -> Option<BTreeSet<i64>> {
    let me = r.controller_id?;
    let mut next = r.sync_state_set.clone();
    next.insert(me);
    for (id, (acked, caught_up)) in members {
        let caught = *acked >= end || (*caught_up > 0 && now_ms - caught_up <= fresh_ms);
        if !next.contains(id) && caught && *acked >= epoch_start {
            next.insert(*id);
        }
    }
    next.retain(|id| {
        *id == me
            || members
                .get(id)
                .is_some_and(|(_, c)| now_ms - c <= max_not_caught_up_ms)
    });
    (next != r.sync_state_set).then_some(next)
}

/// Keeps the set in step until the role changes.
pub async fn run(state: Arc<BrokerState>, link: Arc<ControllerLink>, token: CancellationToken) {
    let period = Duration::from_millis(state.config.check_sync_state_set_period);
    let mut changes = state.ha.ack_changes();
    loop {
        tokio::select! {
            _ = token.cancelled() => return,
            _ = changes.changed() => {}
            _ = tokio::time::sleep(period) => {}
        }
        if state.broker_role() != BrokerRole::SyncMaster {
            return;
        }
        let r = state.role.replicas();
        let end = state.store.commitlog_max_offset();
        let epoch_start = state
            .epochs
            .as_ref()
            .and_then(|e| e.entries().last().map(|e| e.start_offset))
            .unwrap_or(0);
        let Some(next) = wanted(
            &r,
            &state.ha.members(),
            end,
            epoch_start,
            protocol::clock::now_ms(),
            state.config.ha_max_time_slave_not_catchup as i64,
            state.config.check_sync_state_set_period as i64,
        ) else {
            continue;
        };
        if r.pending.as_ref() == Some(&next) {
            // Asked already and refused: do not hammer the controller.
            tokio::select! {
                _ = token.cancelled() => return,
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
        alter(&state, &link, &r, next).await;
    }
}

async fn alter(state: &BrokerState, link: &ControllerLink, r: &Replicas, next: BTreeSet<i64>) {
    let Some(me) = r.controller_id else {
        return;
    };
    state
        .role
        .update_replicas(|x| x.pending = Some(next.clone()));
    let header = AlterSyncStateSetRequestHeader {
        broker_name: state.config.broker_name.clone(),
        master_broker_id: me,
        master_epoch: r.master_epoch,
        invoke_time: Some(protocol::clock::now_ms()),
    };
    let body = SyncStateSet {
        sync_state_set: next.clone(),
        sync_state_set_epoch: r.sync_state_set_epoch,
    }
    .encode();
    let sent = std::time::Instant::now();
    let answer = link
        .call(|| {
            RemotingCommand::request_with_header(
                RequestCode::CONTROLLER_ALTER_SYNC_STATE_SET,
                &header,
            )
            .with_body(body.clone())
        })
        .await;
    use ResponseCode as C;
    match answer {
        Ok(resp) if resp.code == C::SUCCESS.code() => {
            let set = SyncStateSet::decode(&resp.body).ok();
            let epoch = resp
                .decode_header::<AlterSyncStateSetResponseHeader>()
                .map(|h| h.new_sync_state_set_epoch)
                .ok();
            let (set, epoch) = match (set, epoch) {
                (Some(s), _) => (s.sync_state_set, s.sync_state_set_epoch),
                (None, Some(e)) => (next, e),
                (None, None) => (next, r.sync_state_set_epoch + 1),
            };
            tracing::info!(sync_state_set = ?set, epoch, "SyncStateSet changed");
            // The leader committed it at our master epoch: still master.
            state.role.lease.renew(sent);
            state.role.update_replicas(|x| {
                if epoch > x.sync_state_set_epoch {
                    x.sync_state_set = set;
                    x.sync_state_set_epoch = epoch;
                }
                x.pending = None;
            });
        }
        Ok(resp)
            if resp.code == C::CONTROLLER_FENCED_MASTER_EPOCH.code()
                || resp.code == C::CONTROLLER_INVALID_MASTER.code() =>
        {
            tracing::warn!(
                code = resp.code,
                remark = resp.remark.as_deref().unwrap_or(""),
                "the controller no longer takes us as master"
            );
            super::fence::fence(state, state.role.replicas());
        }
        Ok(resp) => tracing::warn!(
            code = resp.code,
            remark = resp.remark.as_deref().unwrap_or(""),
            wanted = ?next,
            "SyncStateSet change refused"
        ),
        Err(e) => tracing::warn!(error = %e, wanted = ?next, "SyncStateSet change not sent"),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn expands_on_catch_up_and_shrinks_on_lag_or_disconnect() {
        let r = Replicas {
            controller_id: Some(1),
            master_id: Some(1),
            sync_state_set: BTreeSet::from([1, 2]),
            ..Replicas::default()
        };
        let now = 100_000;
        // 3 caught up, 2 connected and fresh: add 3.
        let members = BTreeMap::from([(2, (500, now)), (3, (500, now))]);
        assert_eq!(
            wanted(&r, &members, 500, 0, now, 15_000, 5_000),
            Some(BTreeSet::from([1, 2, 3]))
        );
        // 3 behind and not caught up recently: stays out; 2 stale: leaves.
        let members = BTreeMap::from([(2, (400, now - 20_000)), (3, (100, 0))]);
        assert_eq!(
            wanted(&r, &members, 500, 0, now, 15_000, 5_000),
            Some(BTreeSet::from([1]))
        );
        // 2 disconnected: leaves.
        assert_eq!(
            wanted(&r, &BTreeMap::new(), 500, 0, now, 15_000, 5_000),
            Some(BTreeSet::from([1]))
        );
        // Nothing to change.
        let members = BTreeMap::from([(2, (500, now))]);
        assert_eq!(wanted(&r, &members, 500, 0, now, 15_000, 5_000), None);
        // An ack below the epoch's start is not from this epoch.
        let members = BTreeMap::from([(2, (500, now)), (3, (50, now))]);
        assert_eq!(wanted(&r, &members, 500, 100, now, 15_000, 5_000), None);
    }
}
