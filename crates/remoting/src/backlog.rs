//! What a connection may hold in memory on behalf of its peer: answers
//! queued for a peer that does not read them (the backlog), and the bytes of
//! frames that have not fully arrived (shared by every connection of a
//! server).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::sync::{Notify, Semaphore, SemaphorePermit};

/// Requests of a backed-up connection that may be processed at the same
/// time. A few, not one: a parked long-polling pull holds its turn until it
/// is answered, and must not stall everything else on the connection.
const SLOW_LANE: usize = 4;

/// Bytes queued for the writer of one connection, with a high-water mark
/// past which the connection stops taking new work.
pub(crate) struct Backlog {
    queued: AtomicUsize,
    high_water: usize,
    drained: Notify,
    slow_lane: Semaphore,
}

impl Backlog {
    pub(crate) fn new(high_water: usize) -> Self {
        Backlog {
            queued: AtomicUsize::new(0),
            high_water,
            drained: Notify::new(),
            slow_lane: Semaphore::new(SLOW_LANE),
        }
    }

    pub(crate) fn bytes(&self) -> usize {
        self.queued.load(Ordering::Relaxed)
    }

    pub(crate) fn over(&self) -> bool {
        self.bytes() > self.high_water
    }

    pub(crate) fn add(&self, n: usize) {
        self.queued.fetch_add(n, Ordering::Relaxed);
    }

    /// The writer took `n` bytes off the queue.
    pub(crate) fn remove(&self, n: usize) {
        let before = self
            .queued
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |q| {
                Some(q.saturating_sub(n))
            })
            .unwrap_or(0);
        // Only a drop from above the mark to at or below it can free a
        // waiter (they wait only while the backlog is over the mark, and
        // register before they look), so the common case, a connection
        // that never backs up, takes no lock here.
        if before > self.high_water && before.saturating_sub(n) <= self.high_water {
            self.drained.notify_waiters();
        }
    }

    /// Waits until the backlog is at or below the high-water mark.
    pub(crate) async fn wait_for_room(&self) {
        loop {
            let drained = self.drained.notified();
            tokio::pin!(drained);
            // Registered before the check, so a drain between the check and
            // the await still wakes us.
            drained.as_mut().enable();
            if !self.over() {
                return;
            }
            drained.await;
        }
    }

    /// Lets a request be processed. On a connection whose answers pile up,
    /// only a few requests at a time get through, each once the backlog has
    /// drained, and each keeps its turn until its answer is queued (the
    /// returned permit): otherwise every request already read would build
    /// its answer at once, and the answers are what takes the memory.
    pub(crate) async fn admit(&self) -> Option<SemaphorePermit<'_>> {
        if !self.over() {
            return None;
        }
        let turn = self.slow_lane.acquire().await.ok();
        self.wait_for_room().await;
        turn
    }
}

/// The bytes every connection of a server holds for frames that have not
/// fully arrived, against one cap.
pub(crate) struct FrameBudget {
    held: AtomicUsize,
    cap: usize,
}

impl FrameBudget {
    pub(crate) fn new(cap: usize) -> Arc<Self> {
        Arc::new(FrameBudget {
            held: AtomicUsize::new(0),
            cap,
        })
    }

    pub(crate) fn cap(&self) -> usize {
        self.cap
    }
}

/// One connection's share of a [`FrameBudget`]; released when dropped.
pub(crate) struct FrameHold {
    budget: Arc<FrameBudget>,
    held: usize,
}

impl FrameHold {
    pub(crate) fn new(budget: Arc<FrameBudget>) -> Self {
        FrameHold { budget, held: 0 }
    }

    /// Makes this connection's share `want` bytes. Refused (nothing
    /// changes) when that would take every connection's total past the cap.
    pub(crate) fn set(&mut self, want: usize) -> Result<(), usize> {
        if want <= self.held {
            self.budget
                .held
                .fetch_sub(self.held - want, Ordering::Relaxed);
            self.held = want;
            return Ok(());
        }
        let more = want - self.held;
        let cap = self.budget.cap;
        self.budget
            .held
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |h| {
                let total = h.checked_add(more)?;
                (total <= cap).then_some(total)
            })
            .map_err(|h| h.saturating_add(more))?;
        self.held = want;
        Ok(())
    }
}

impl Drop for FrameHold {
    fn drop(&mut self) {
        self.budget.held.fetch_sub(self.held, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_budget_is_shared_and_returned() {
        let budget = FrameBudget::new(100);
        let mut a = FrameHold::new(budget.clone());
        let mut b = FrameHold::new(budget.clone());
        assert!(a.set(60).is_ok());
        assert_eq!(b.set(50), Err(110));
        assert!(b.set(40).is_ok());
        assert!(a.set(10).is_ok());
        assert!(b.set(90).is_ok());
        drop(b);
        drop(a);
        assert_eq!(budget.held.load(Ordering::Relaxed), 0);
    }

    #[tokio::test]
    async fn a_backed_up_connection_admits_work_once_drained() {
        let backlog = Arc::new(Backlog::new(10));
        assert!(backlog.admit().await.is_none());
        backlog.add(20);
        assert!(backlog.over());
        let waiter = {
            let backlog = backlog.clone();
            tokio::spawn(async move { backlog.admit().await.is_some() })
        };
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        backlog.remove(15);
        assert!(waiter.await.unwrap());
    }
}
