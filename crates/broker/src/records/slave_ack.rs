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
