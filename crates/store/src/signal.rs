//! A stop signal that background threads can sleep on, so shutdown never
//! waits for a sleeping thread's interval to run out.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use parking_lot::{Condvar, Mutex};

/// Set once at shutdown; wakes every sleeper.
#[derive(Default)]
pub struct StopSignal {
    stopped: AtomicBool,
    lock: Mutex<()>,
    cond: Condvar,
}

impl StopSignal {
    /// Not stopped yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether `stop` was called.
    pub fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::Acquire)
    }

    /// Stops; returns true if it was already stopped.
    pub fn stop(&self) -> bool {
        let was = self.stopped.swap(true, Ordering::AcqRel);
        let _g = self.lock.lock();
        self.cond.notify_all();
        was
    }

    /// Sleeps up to `d` or until stopped; returns whether stopped.
    pub fn sleep(&self, d: Duration) -> bool {
        let mut g = self.lock.lock();
        if !self.is_stopped() {
            self.cond.wait_for(&mut g, d);
        }
        self.is_stopped()
    }
}
