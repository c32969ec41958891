//! SYNC_MASTER: a send that asks to wait (WAIT ≠ false) is answered only
//! once a slave acknowledged its end offset, within `syncFlushTimeout`.

use protocol::ResponseCode;

use crate::config::BrokerRole;
use crate::state::BrokerState;

/// Why a stored message is answered with something other than SUCCESS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlaveShortfall {
    /// No slave is connected, or the best one lags `haMaxGapNotInSync` or more.
    NotAvailable,
    /// No slave acknowledged the message in time.
    Timeout,
}

impl SlaveShortfall {
    /// The response code and remark (the message stays stored).
    pub fn response(self) -> (ResponseCode, &'static str) {
        match self {
            SlaveShortfall::NotAvailable => (
                ResponseCode::SLAVE_NOT_AVAILABLE,
                "the message is stored on the master but no slave is available in sync",
            ),
            SlaveShortfall::Timeout => (
                ResponseCode::FLUSH_SLAVE_TIMEOUT,
                "the message is stored on the master but the slave did not confirm it in time",
            ),
        }
    }
}

/// Called after a put ending at commit-log offset `end`: wakes the
/// replication streams and, on a SYNC_MASTER with `wait`, waits for a slave.
pub async fn await_slaves(state: &BrokerState, end: u64, wait: bool) -> Option<SlaveShortfall> {
    state.ha.notify_new_data();
    if state.broker_role() != BrokerRole::SyncMaster || !wait {
        return None;
    }
    if state.role.controller_mode() {
        return await_in_sync(state, end).await;
    }
    let master_end = state.store.commitlog_max_offset();
    if !state
        .ha
        .slave_ok(master_end, state.config.ha_max_gap_not_in_sync)
    {
        return Some(SlaveShortfall::NotAvailable);
    }
    let timeout = state.store.config().sync_flush_timeout();
    if state.ha.wait_acked(end, timeout).await {
        None
    } else {
        Some(SlaveShortfall::Timeout)
    }
}

/// Controller mode (reference controller.md §4.8): with
/// `allAckInSyncStateSet`, every member of the (effective) SyncStateSet
/// but us must have acked `end`; else `inSyncReplicas` acks, ours
/// included, from any slave link; within `slaveTimeout`.
async fn await_in_sync(state: &BrokerState, end: u64) -> Option<SlaveShortfall> {
    let replicas = state.role.replicas();
    let me = replicas.controller_id;
    let timeout = std::time::Duration::from_millis(state.config.slave_timeout);
    let done = if state.config.all_ack_in_sync_state_set {
        let members: Vec<i64> = replicas
            .effective_set()
            .into_iter()
            .filter(|id| Some(*id) != me)
            .collect();
        if members.is_empty() {
            return None;
        }
        state
            .ha
            .wait_links(timeout, |links| {
                members.iter().all(|m| {
                    links
                        .iter()
                        .any(|(id, _, acked)| *id == Some(*m) && *acked >= end)
                })
            })
            .await
    } else {
        let need = usize::try_from(state.config.in_sync_replicas.max(1) - 1).unwrap_or(0);
        if need == 0 {
            return None;
        }
        state
            .ha
            .wait_links(timeout, |links| {
                links.iter().filter(|(_, _, acked)| *acked >= end).count() >= need
            })
            .await
    };
    (!done).then_some(SlaveShortfall::Timeout)
}

/// Controller mode: a SYNC master refuses client writes (sends, send-backs,
/// transaction ends) before storing them when
/// its lease ran out (no controller leader confirmed it as master lately:
/// another may be elected) or its SyncStateSet has fewer than
/// `minInSyncReplicas` members.
pub fn check_in_sync_replicas(state: &BrokerState) -> Result<(), String> {
    if !state.role.controller_mode() || state.broker_role() != BrokerRole::SyncMaster {
        return Ok(());
    }
    if let Err(silent) = state.role.lease.check(std::time::Instant::now()) {
        return Err(format!(
            "controller quorum lost: no controller leader answered for {} ms; writes stop until a quorum is back",
            silent.as_millis()
        ));
    }
    let have = state.role.replicas().in_sync_count();
    let min = usize::try_from(state.config.min_in_sync_replicas).unwrap_or(1);
    if have < min {
        return Err(format!(
            "in-sync replicas not enough: the SyncStateSet has {have} member(s), minInSyncReplicas is {min}"
        ));
    }
    Ok(())
}
