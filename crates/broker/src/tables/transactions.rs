//! Transaction bookkeeping (remoting-protocol §9.7): which half messages
//! an op marker resolved, how often each unresolved one was checked, and
//! the progress offsets kept in the offset table under `CID_RMQ_SYS_TRANS`.
//! Check counts persist in `config/transactionCheck.json`. The check task
//! lives in `services/transaction.rs`; the send-path rule in `rules/half.rs`.

use std::collections::BTreeMap;

use parking_lot::Mutex;
use protocol::message::topics;

use crate::error::BrokerResult;
use crate::tables::metadata;
use crate::tables::offsets::OffsetTable;

/// Check counts under `config/`.
pub const CHECK_FILE: &str = "transactionCheck.json";

#[derive(Default)]
pub(crate) struct Inner {
    /// Half offsets (≥ `half_offset`) resolved by an op marker → the
    /// op-queue offset of that marker.
    pub(crate) resolved: BTreeMap<u64, u64>,
    /// Next op-queue offset to read.
    pub(crate) op_scanned: u64,
    /// Lowest half offset not known to be resolved.
    pub(crate) half_offset: u64,
    /// Checks sent per unresolved half offset, and when the next is due.
    pub(crate) checks: BTreeMap<u64, (i32, i64)>,
    pub(crate) checks_dirty: bool,
}

/// Transaction bookkeeping.
#[derive(Default)]
pub struct TransactionService {
    pub(crate) inner: Mutex<Inner>,
}

impl TransactionService {
    /// Loads progress from the offset table and check counts from disk.
    ///
    /// # Errors
    /// A check file that cannot be read or parsed.
    pub fn load(
        &self,
        state_offsets: &OffsetTable,
        store: &store::MessageStore,
    ) -> BrokerResult<()> {
        let mut inner = self.inner.lock();
        let group = topics::TRANS_CHECK_GROUP;
        inner.half_offset = state_offsets
            .committed(group, topics::TRANS_HALF_TOPIC, 0)
            .map_or(0, |o| o.max(0) as u64);
        inner.op_scanned = state_offsets
            .committed(group, topics::TRANS_OP_HALF_TOPIC, 0)
            .map_or(0, |o| o.max(0) as u64);
        let parse = |text: &str| {
            serde_json::from_str::<BTreeMap<u64, i32>>(text).map_err(|e| e.to_string())
        };
        if let Some(map) = metadata::load(store, CHECK_FILE, parse)? {
            inner.checks = map.into_iter().map(|(k, v)| (k, (v, 0))).collect();
        }
        Ok(())
    }

    /// Saves check counts when they changed, and always the progress offsets.
    pub fn persist(&self, offsets: &OffsetTable, store: &store::MessageStore) {
        let (half, op, checks) = {
            let mut inner = self.inner.lock();
            let op = inner
                .resolved
                .values()
                .min()
                .copied()
                .unwrap_or(inner.op_scanned);
            let checks = std::mem::take(&mut inner.checks_dirty).then(|| {
                inner
                    .checks
                    .iter()
                    .map(|(k, v)| (*k, v.0))
                    .collect::<BTreeMap<u64, i32>>()
            });
            (inner.half_offset, op, checks)
        };
        let group = topics::TRANS_CHECK_GROUP;
        offsets.commit(group, topics::TRANS_HALF_TOPIC, 0, half as i64);
        offsets.commit(group, topics::TRANS_OP_HALF_TOPIC, 0, op as i64);
        if let Some(checks) = checks {
            let text = serde_json::to_string(&checks).map_err(|e| e.to_string());
            metadata::save(store, CHECK_FILE, text);
        }
    }

    /// Whether a half offset is already committed, rolled back or discarded.
    pub fn is_resolved(&self, half_offset: u64) -> bool {
        let inner = self.inner.lock();
        half_offset < inner.half_offset || inner.resolved.contains_key(&half_offset)
    }

    /// Half messages neither committed, rolled back nor discarded, given
    /// the half queue's max offset (`rocketmq_half_messages`).
    pub fn pending(&self, half_max: u64) -> u64 {
        let inner = self.inner.lock();
        let resolved = inner.resolved.range(inner.half_offset..half_max).count() as u64;
        half_max
            .saturating_sub(inner.half_offset)
            .saturating_sub(resolved)
    }

    /// `op_offset` is the marker's op-queue offset (`None`: no marker).
    pub(crate) fn mark_resolved(&self, half_offset: u64, op_offset: Option<u64>) {
        let mut inner = self.inner.lock();
        if half_offset >= inner.half_offset {
            let op = op_offset.unwrap_or(inner.op_scanned);
            inner.resolved.insert(half_offset, op);
        }
        if inner.checks.remove(&half_offset).is_some() {
            inner.checks_dirty = true;
        }
    }
}
