//! Supervision of the store threads. A panic or fatal I/O error in flush,
//! dispatch, pre-fault, queue-flush or retention is recorded here; from then
//! on puts are refused with the thread's name and reason, and the failure is
//! logged at ERROR and shown in the broker's runtime info.
//!
//! Refusing writes (rather than aborting the process) was chosen because
//! everything already stored stays readable and consumers keep consuming
//! while an operator (or a supervisor watching `brokerStatus` / the logs)
//! restarts the broker; an abort would also cut every consumer off, and a
//! crash loop on a bad disk would serve nothing at all.

use std::panic::{catch_unwind, AssertUnwindSafe};

use parking_lot::Mutex;

use crate::error::{Result, StoreError};

/// The first failure of a store thread, if any.
#[derive(Default)]
pub struct StoreHealth {
    failed: Mutex<Option<(String, String)>>,
}

impl StoreHealth {
    /// Healthy.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records that `thread` failed (the first failure is kept).
    pub fn fail(&self, thread: &str, reason: &str) {
        tracing::error!(
            thread,
            reason,
            "store thread failed: writes are refused from now on"
        );
        let mut failed = self.failed.lock();
        if failed.is_none() {
            *failed = Some((thread.to_owned(), reason.to_owned()));
        }
    }

    /// The failure, as "thread: reason".
    pub fn failure(&self) -> Option<String> {
        self.failed
            .lock()
            .as_ref()
            .map(|(t, r)| format!("{t}: {r}"))
    }

    /// `Ok` while no thread failed.
    ///
    /// # Errors
    /// `ThreadFailed` naming the thread and reason.
    pub fn check(&self) -> Result<()> {
        match self.failed.lock().as_ref() {
            None => Ok(()),
            Some((thread, reason)) => Err(StoreError::ThreadFailed {
                thread: thread.clone(),
                reason: reason.clone(),
            }),
        }
    }

    /// Runs a thread body; a panic in it is recorded instead of going
    /// unnoticed until shutdown joins the thread.
    pub fn supervise(&self, thread: &str, body: impl FnOnce()) {
        if let Err(panic) = catch_unwind(AssertUnwindSafe(body)) {
            let reason = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "panicked".to_owned());
            self.fail(thread, &format!("panicked: {reason}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panicking_body_is_recorded_and_refuses_writes() {
        let h = StoreHealth::new();
        assert!(h.check().is_ok());
        h.supervise("store-dispatch", || panic!("injected"));
        let err = h.check().unwrap_err().to_string();
        assert!(err.contains("store-dispatch"), "{err}");
        assert!(err.contains("injected"), "{err}");
        h.fail("store-flush", "later");
        assert!(h.failure().unwrap().starts_with("store-dispatch"));
    }
}
