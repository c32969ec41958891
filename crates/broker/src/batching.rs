//! Saving the metadata tables (topics, groups) without stalling the async
//! workers, and once per batch of changes rather than once per change: a
//! heartbeat naming a thousand new groups writes each file once.

use std::sync::atomic::{AtomicUsize, Ordering};

/// How many batches of changes are open on a table; saves wait for the
/// last one to close.
#[derive(Default)]
pub struct Batching {
    open: AtomicUsize,
}

impl Batching {
    /// Whether a change should leave saving to the end of a batch.
    pub fn deferring(&self) -> bool {
        self.open.load(Ordering::Acquire) > 0
    }

    pub fn begin(&self) {
        self.open.fetch_add(1, Ordering::AcqRel);
    }

    /// Closes a batch; true when it was the last open one (time to save).
    pub fn end(&self) -> bool {
        self.open.fetch_sub(1, Ordering::AcqRel) == 1
    }
}

/// Runs blocking file work. On a multi-threaded runtime's worker the
/// worker's other tasks move to another thread first, so a slow fsync does
/// not hold up unrelated requests; elsewhere it just runs.
pub fn off_worker<R>(work: impl FnOnce() -> R) -> R {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current() {
        Ok(h) if h.runtime_flavor() == RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(work)
        }
        _ => work(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_last_batch_to_close_saves() {
        let b = Batching::default();
        assert!(!b.deferring());
        b.begin();
        b.begin();
        assert!(b.deferring());
        assert!(!b.end());
        assert!(b.end());
        assert!(!b.deferring());
    }

    #[test]
    fn blocking_work_runs_on_any_runtime() {
        assert_eq!(off_worker(|| 7), 7);
        let current = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        assert_eq!(current.block_on(async { off_worker(|| 8) }), 8);
        let multi = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .build()
            .unwrap();
        let on_worker = multi.spawn(async { off_worker(|| 9) });
        assert_eq!(multi.block_on(on_worker).unwrap(), 9);
    }
}
