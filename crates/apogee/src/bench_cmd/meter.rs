//! Counters and latency histograms of a bench run: one window for the
//! periodic lines, one for the whole run.

use std::sync::Mutex;

use hdrhistogram::Histogram;
use serde_json::json;

/// Largest latency tracked exactly (60 s, in µs); larger ones saturate.
const MAX_TRACKED_US: u64 = 60_000_000;

/// What went wrong with one request, as RocketMQ's benchmark splits it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The request did not get an answer (connect, timeout, closed).
    Send,
    /// The broker answered with an error code.
    Response,
}

/// Counts of one window.
#[derive(Debug, Clone)]
pub struct Stats {
    hist: Histogram<u64>,
    /// Messages that succeeded (a batch counts each message).
    pub msgs: u64,
    /// Requests that succeeded.
    pub requests: u64,
    pub send_failed: u64,
    pub response_failed: u64,
    /// Sum and max of the secondary latency (consume: store → consume).
    pub aux_sum_us: u64,
    pub aux_max_us: u64,
}

impl Stats {
    fn empty(template: &Histogram<u64>) -> Stats {
        let mut hist = template.clone();
        hist.reset();
        Stats {
            hist,
            msgs: 0,
            requests: 0,
            send_failed: 0,
            response_failed: 0,
            aux_sum_us: 0,
            aux_max_us: 0,
        }
    }

    /// The figures of this window over `secs` seconds.
    pub fn figures(&self, secs: f64) -> Figures {
        let h = &self.hist;
        let pct = |q: f64| {
            if h.is_empty() {
                0
            } else {
                h.value_at_quantile(q)
            }
        };
        Figures {
            secs,
            msgs: self.msgs,
            requests: self.requests,
            send_failed: self.send_failed,
            response_failed: self.response_failed,
            tps: if secs > 0.0 {
                self.msgs as f64 / secs
            } else {
                0.0
            },
            max_us: if h.is_empty() { 0 } else { h.max() },
            avg_us: if h.is_empty() { 0.0 } else { h.mean() },
            p50_us: pct(0.50),
            p99_us: pct(0.99),
            p999_us: pct(0.999),
            aux_avg_us: if self.msgs > 0 {
                self.aux_sum_us as f64 / self.msgs as f64
            } else {
                0.0
            },
            aux_max_us: self.aux_max_us,
        }
    }
}

/// Shared by every sender or listener of a run.
pub struct Meter {
    template: Histogram<u64>,
    windows: Mutex<(Stats, Stats)>,
}

impl Meter {
    /// An empty meter.
    ///
    /// # Errors
    /// Only if the histogram bounds were invalid (they are constants).
    pub fn new() -> anyhow::Result<Meter> {
        // Three significant figures between 1 µs and 60 s.
        let template = Histogram::new_with_bounds(1, MAX_TRACKED_US, 3)
            .map_err(|e| anyhow::anyhow!("cannot create a latency histogram: {e:?}"))?;
        Ok(Meter {
            windows: Mutex::new((Stats::empty(&template), Stats::empty(&template))),
            template,
        })
    }

    fn with<R>(&self, f: impl FnOnce(&mut Stats, &mut Stats) -> R) -> R {
        let mut g = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        let (w, t) = &mut *g;
        f(w, t)
    }

    /// One successful request of `msgs` messages taking `latency_us`
    /// (`aux_us`: the secondary latency, 0 if none).
    pub fn ok(&self, msgs: u64, latency_us: u64, aux_us: u64) {
        self.with(|w, t| {
            for s in [w, t] {
                s.msgs += msgs;
                s.requests += 1;
                s.hist.saturating_record(latency_us.max(1));
                s.aux_sum_us += aux_us * msgs;
                s.aux_max_us = s.aux_max_us.max(aux_us);
            }
        });
    }

    /// One failed request.
    pub fn failed(&self, kind: Failure) {
        self.with(|w, t| {
            for s in [w, t] {
                match kind {
                    Failure::Send => s.send_failed += 1,
                    Failure::Response => s.response_failed += 1,
                }
            }
        });
    }

    /// The window since the last call (a new window starts).
    pub fn take_window(&self) -> Stats {
        let fresh = Stats::empty(&self.template);
        self.with(|w, _| std::mem::replace(w, fresh))
    }

    /// The whole run so far.
    pub fn total(&self) -> Stats {
        self.with(|_, t| t.clone())
    }

    /// Forgets everything (end of the warm-up).
    pub fn reset(&self) {
        let (a, b) = (Stats::empty(&self.template), Stats::empty(&self.template));
        self.with(|w, t| {
            *w = a;
            *t = b;
        });
    }
}

/// The figures RocketMQ's benchmark prints, plus percentiles.
#[derive(Debug, Clone, PartialEq)]
pub struct Figures {
    pub secs: f64,
    pub msgs: u64,
    pub requests: u64,
    pub send_failed: u64,
    pub response_failed: u64,
    pub tps: f64,
    pub max_us: u64,
    pub avg_us: f64,
    pub p50_us: u64,
    pub p99_us: u64,
    pub p999_us: u64,
    pub aux_avg_us: f64,
    pub aux_max_us: u64,
}

fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

impl Figures {
    /// The producer line: `Send TPS: … | Max RT(ms): … | …`.
    pub fn produce_line(&self) -> String {
        format!(
            "Send TPS: {:.0} | Max RT(ms): {:.3} | Average RT(ms): {:.3} | Send Failed: {} | \
             Response Failed: {} | p50(ms): {:.3} | p99(ms): {:.3} | p999(ms): {:.3}",
            self.tps,
            ms(self.max_us),
            self.avg_us / 1000.0,
            self.send_failed,
            self.response_failed,
            ms(self.p50_us),
            ms(self.p99_us),
            ms(self.p999_us)
        )
    }

    /// The consumer line: born → consume (B2C) and store → consume (S2C).
    pub fn consume_line(&self) -> String {
        format!(
            "Consume TPS: {:.0} | AVG(B2C) RT(ms): {:.3} | AVG(S2C) RT(ms): {:.3} | \
             MAX(B2C) RT(ms): {:.3} | MAX(S2C) RT(ms): {:.3} | p50(B2C ms): {:.3} | \
             p99(B2C ms): {:.3} | p999(B2C ms): {:.3}",
            self.tps,
            self.avg_us / 1000.0,
            self.aux_avg_us / 1000.0,
            ms(self.max_us),
            ms(self.aux_max_us),
            ms(self.p50_us),
            ms(self.p99_us),
            ms(self.p999_us)
        )
    }

    /// The summary as JSON (latencies in µs).
    pub fn json(&self, mode: &str) -> serde_json::Value {
        json!({
            "mode": mode, "msgs": self.msgs, "requests": self.requests, "secs": self.secs,
            "tps": self.tps, "send_failed": self.send_failed,
            "response_failed": self.response_failed, "max_us": self.max_us,
            "avg_us": self.avg_us, "p50_us": self.p50_us, "p99_us": self.p99_us,
            "p999_us": self.p999_us,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_and_totals_count_separately() {
        let m = Meter::new().unwrap();
        for us in 1..=1000 {
            m.ok(1, us, 0);
        }
        m.failed(Failure::Send);
        m.failed(Failure::Response);
        let w = m.take_window().figures(2.0);
        assert_eq!((w.msgs, w.send_failed, w.response_failed), (1000, 1, 1));
        assert_eq!(w.tps, 500.0);
        assert!((495..=505).contains(&w.p50_us), "{}", w.p50_us);
        assert!((985..=1000).contains(&w.p99_us), "{}", w.p99_us);
        assert_eq!(w.max_us, 1000);
        m.ok(10, 5, 7);
        let w = m.take_window().figures(1.0);
        assert_eq!((w.msgs, w.requests, w.aux_max_us), (10, 1, 7));
        let t = m.total().figures(3.0);
        assert_eq!((t.msgs, t.requests, t.send_failed), (1010, 1001, 1));
        m.reset();
        assert_eq!(m.total().figures(1.0).msgs, 0);
    }

    #[test]
    fn lines_name_rocketmq_figures() {
        let m = Meter::new().unwrap();
        m.ok(1, 1500, 0);
        let f = m.total().figures(1.0);
        let line = f.produce_line();
        for word in [
            "Send TPS: 1",
            "Max RT(ms): 1.5",
            "Send Failed: 0",
            "Response Failed: 0",
            "p999(ms)",
        ] {
            assert!(line.contains(word), "{line}");
        }
        assert!(f.consume_line().starts_with("Consume TPS: 1 |"));
        assert_eq!(f.json("produce")["msgs"], 1);
    }

    #[test]
    fn empty_window_has_zero_figures() {
        let f = Meter::new().unwrap().take_window().figures(0.0);
        assert_eq!((f.tps, f.p99_us, f.max_us), (0.0, 0, 0));
    }
}
