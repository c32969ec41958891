//! The master's lease in controller mode (docs/ha.md, "The master's
//! lease"): a master takes writes only while the controller leader has,
//! within the last `BrokerConfig::master_lease_ms`, confirmed with a
//! quorum that it is still master at its epoch. The replicas manager
//! renews it with the send time of each such answer; the send path checks
//! it. Lock-free: the check runs on every send.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// When the last confirmation was sent, and whether the lapse was logged.
pub struct MasterLease {
    length: Duration,
    base: Instant,
    /// Nanoseconds after `base` + 1 of the last confirmation; 0 = none.
    confirmed: AtomicU64,
    /// The lapse was logged (WARN once; INFO once when renewed).
    lapsed: AtomicBool,
}

impl MasterLease {
    pub fn new(length: Duration) -> MasterLease {
        MasterLease {
            length,
            base: Instant::now(),
            confirmed: AtomicU64::new(0),
            lapsed: AtomicBool::new(false),
        }
    }

    /// How long a confirmation lasts.
    pub fn length(&self) -> Duration {
        self.length
    }

    fn stamp(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.base).as_nanos()).unwrap_or(u64::MAX - 1)
            + 1
    }

    fn confirmed_at(&self) -> Option<Instant> {
        match self.confirmed.load(Ordering::Acquire) {
            0 => None,
            n => Some(self.base + Duration::from_nanos(n - 1)),
        }
    }

    /// The controller leader confirmed us as master, answering a request
    /// sent at `sent`. Logs at INFO when this ends a lapse.
    pub fn renew(&self, sent: Instant) {
        self.confirmed.fetch_max(self.stamp(sent), Ordering::AcqRel);
        if self.check(Instant::now()).is_ok() && self.lapsed.swap(false, Ordering::AcqRel) {
            tracing::info!(
                "controller quorum back: the leader confirmed this master; writes resume"
            );
        }
    }

    /// Forgets the lease (the broker is no longer master).
    pub fn release(&self) {
        self.confirmed.store(0, Ordering::Release);
        self.lapsed.store(false, Ordering::Release);
    }

    /// When the lease runs out (None: not held).
    pub fn deadline(&self) -> Option<Instant> {
        self.confirmed_at().map(|at| at + self.length)
    }

    /// Ok while the lease holds at `now`; else how long ago the last
    /// confirmation was sent (the whole length when there was none). Logs
    /// at WARN on the first lapse.
    ///
    /// # Errors
    /// The lease ran out: the time since the last confirmation.
    pub fn check(&self, now: Instant) -> Result<(), Duration> {
        let silent = match self.confirmed_at() {
            Some(at) => now.saturating_duration_since(at),
            None => self.length,
        };
        if silent < self.length {
            return Ok(());
        }
        if !self.lapsed.swap(true, Ordering::AcqRel) {
            tracing::warn!(
                silent_ms = silent.as_millis() as u64,
                lease_ms = self.length.as_millis() as u64,
                "controller quorum lost: no controller leader confirmed this master within its lease; writes stop until a quorum is back"
            );
        }
        Err(silent)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_for_its_length_after_each_renewal_and_never_moves_back() {
        let lease = MasterLease::new(Duration::from_millis(100));
        let t0 = Instant::now();
        assert!(lease.check(t0).is_err(), "not held before a confirmation");
        lease.renew(t0);
        assert!(lease.check(t0 + Duration::from_millis(99)).is_ok());
        assert_eq!(
            lease.check(t0 + Duration::from_millis(150)),
            Err(Duration::from_millis(150))
        );
        // An older confirmation answered late does not move it back.
        lease.renew(t0 + Duration::from_millis(120));
        lease.renew(t0 + Duration::from_millis(10));
        assert_eq!(lease.deadline(), Some(t0 + Duration::from_millis(220)));
        assert!(lease.check(t0 + Duration::from_millis(219)).is_ok());
        lease.release();
        assert_eq!(lease.deadline(), None);
        assert!(lease.check(t0).is_err());
    }
}
