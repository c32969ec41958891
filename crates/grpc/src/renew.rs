//! Auto-renewal for push consumers: their receives carry no invisible
//! duration, so their messages are popped for 60 s and extended while the
//! client's Telemetry stream is open (for at most 3 hours). The client
//! keeps the first handle: the broker's POP service accepts older handles
//! of a delivery for ack and change, so no handle translation is needed.

use std::collections::HashMap;
use std::time::Duration;

use parking_lot::Mutex;

/// Invisible time of push consumers' messages (the proxy's).
pub const AUTO_RENEW_INVISIBLE: Duration = Duration::from_secs(60);
/// How often the renewals are looked at.
pub const TICK: Duration = Duration::from_secs(5);
/// Renew when less than this is left of the invisible time.
const RENEW_BEFORE_MS: i64 = 15_000;
/// Longest a message is kept invisible by renewals.
const MAX_RENEW_MS: i64 = 3 * 3600 * 1000;

struct Renewal {
    client: String,
    group: String,
    topic: String,
    latest: String,
    deadline_ms: i64,
    until_ms: i64,
}

/// Messages being kept invisible for push consumers, by first handle.
#[derive(Default)]
pub struct Renewals {
    by_handle: Mutex<HashMap<String, Renewal>>,
}

impl Renewals {
    /// Starts renewing a message handed to `client`.
    pub fn track(
        &self,
        client: &str,
        group: &str,
        topic: &str,
        handle: &str,
        now_ms: i64,
        invisible_ms: i64,
    ) {
        self.by_handle.lock().insert(
            handle.to_string(),
            Renewal {
                client: client.to_string(),
                group: group.to_string(),
                topic: topic.to_string(),
                latest: handle.to_string(),
                deadline_ms: now_ms + invisible_ms,
                until_ms: now_ms + MAX_RENEW_MS,
            },
        );
    }

    /// Stops renewing (acked, dead-lettered, or given a new time by the client).
    pub fn settle(&self, handle: &str) {
        self.by_handle.lock().remove(handle);
    }

    /// How many messages are being renewed.
    pub fn len(&self) -> usize {
        self.by_handle.lock().len()
    }

    /// Whether nothing is being renewed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The renewals due at `now_ms` (first handle, group, topic, latest
    /// handle) for clients still connected; the ones of departed clients
    /// or past the limit are dropped (their messages come back after the
    /// invisible time).
    pub fn due(
        &self,
        now_ms: i64,
        connected: impl Fn(&str) -> bool,
    ) -> Vec<(String, String, String, String)> {
        let mut map = self.by_handle.lock();
        map.retain(|_, r| now_ms < r.until_ms && now_ms < r.deadline_ms && connected(&r.client));
        map.iter()
            .filter(|(_, r)| r.deadline_ms - now_ms < RENEW_BEFORE_MS)
            .map(|(h, r)| {
                (
                    h.clone(),
                    r.group.clone(),
                    r.topic.clone(),
                    r.latest.clone(),
                )
            })
            .collect()
    }

    /// Records a renewal's new handle and deadline.
    pub fn renewed(&self, first: &str, latest: String, deadline_ms: i64) {
        if let Some(r) = self.by_handle.lock().get_mut(first) {
            r.latest = latest;
            r.deadline_ms = deadline_ms;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_renewals_and_departed_clients() {
        let r = Renewals::default();
        r.track("c1", "g", "t", "h1", 0, 60_000);
        r.track("c2", "g", "t", "h2", 0, 60_000);
        assert!(r.due(10_000, |_| true).is_empty(), "nothing is due early");
        let due = r.due(50_000, |c| c == "c1");
        assert_eq!(due.len(), 1, "c2 left: its message is not renewed");
        assert_eq!(r.len(), 1);
        r.renewed("h1", "h1b".into(), 110_000);
        assert!(r.due(60_000, |_| true).is_empty());
        assert_eq!(r.due(100_000, |_| true)[0].3, "h1b");
        r.settle("h1");
        assert!(r.is_empty());
    }
}
