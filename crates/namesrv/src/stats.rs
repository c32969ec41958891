//! Requests answered, by request and response code: the NameServer's
//! `/metrics` counters (read by the `http` crate at scrape time). One read
//! lock and one relaxed atomic add per request once a pair has been seen.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::RwLock;

/// Counts of answered requests.
#[derive(Debug, Default)]
pub struct RequestStats {
    by_code: RwLock<HashMap<(i32, i32), AtomicU64>>,
}

impl RequestStats {
    /// Counts one request `request_code` answered with `response_code`.
    pub fn record(&self, request_code: i32, response_code: i32) {
        let key = (request_code, response_code);
        if let Some(c) = self.by_code.read().get(&key) {
            c.fetch_add(1, Ordering::Relaxed);
            return;
        }
        self.by_code
            .write()
            .entry(key)
            .or_default()
            .fetch_add(1, Ordering::Relaxed);
    }

    /// `(request code, response code, count)`, sorted.
    pub fn rows(&self) -> Vec<(i32, i32, u64)> {
        let mut rows: Vec<_> = self
            .by_code
            .read()
            .iter()
            .map(|(k, v)| (k.0, k.1, v.load(Ordering::Relaxed)))
            .collect();
        rows.sort_unstable();
        rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_per_code_pair() {
        let s = RequestStats::default();
        s.record(105, 0);
        s.record(105, 0);
        s.record(105, 17);
        s.record(106, 0);
        assert_eq!(s.rows(), vec![(105, 0, 2), (105, 17, 1), (106, 0, 1)]);
    }
}
