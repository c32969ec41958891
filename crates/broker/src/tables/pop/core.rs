//! The broker's POP state as one value on `BrokerState`: the in-memory
//! tables, their journal and the parked pops. It depends on nothing above
//! it, so the broker state can hold it without an import circle.

use std::path::Path;

use super::error::PopResult;
use super::journal::Journal;
use super::modes::RequestModes;
use super::table::Tables;
use super::waiters::PopWaiters;

/// The broker's POP state: tables, their journal and the parked pops.
pub struct PopService {
    pub(crate) tables: Tables,
    pub(crate) journal: Journal,
    /// Parked pops (the store's arrival listener wakes them).
    pub waiters: std::sync::Arc<PopWaiters>,
    /// Which groups pop which topics (server-side rebalance).
    pub modes: RequestModes,
}

impl PopService {
    /// Opens (and replays) the POP state kept under `dir`.
    ///
    /// # Errors
    /// [`PopError::Journal`] when the files cannot be read or written.
    pub fn open(dir: &Path) -> PopResult<PopService> {
        let tables = Tables::default();
        let journal = Journal::open(dir, &tables)?;
        Ok(PopService {
            tables,
            journal,
            waiters: Default::default(),
            modes: RequestModes::default(),
        })
    }

    /// Messages handed out and not yet settled, over all groups.
    pub fn inflight_count(&self) -> usize {
        self.tables.inflight_count()
    }

    /// Messages in flight per `(group, topic)` (the topic a message is
    /// stored in: a retry topic for redeliveries), sorted.
    pub fn inflight_by_group(&self) -> Vec<(String, String, u64)> {
        let mut sums: std::collections::BTreeMap<(String, String), u64> = Default::default();
        for (key, q) in self.tables.all() {
            let n = q.lock().inflight.len() as u64;
            if n > 0 {
                *sums.entry((key.group, key.topic)).or_default() += n;
            }
        }
        sums.into_iter().map(|((g, t), n)| (g, t, n)).collect()
    }

    /// Stops parked pops and flushes the journal (clean shutdown).
    pub fn shut_down(&self) {
        self.waiters.shut_down();
        self.journal.sync();
    }
}
