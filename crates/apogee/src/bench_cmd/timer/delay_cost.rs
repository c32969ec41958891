//! `bench timer --delay-cost`: the same producer and concurrency send plain
//! messages, messages with a delay level and messages with a delivery time
//! a minute ahead, alternating kinds in rounds (so that a drift of the
//! machine's load hits every kind alike), and each kind's send rate and
//! latency are compared with the plain ones.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use anyhow::Result;
use bytes::Bytes;
use client::{ClientError, Message, Producer};
use serde_json::{json, Value};
use tokio_util::task::TaskTracker;

use super::super::meter::{Failure, Figures, Meter};
use super::{start_producer, TimerArgs};
use crate::admin_cmd::time::now_ms;

/// Delivery time of the timed kind.
const TIMER_COST_DELAY_MS: i64 = 60_000;
/// One kind of send of `--delay-cost`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Plain,
    /// A 4.x delay level.
    Level(u8),
    /// A 5.x delivery time a minute ahead.
    Timer,
}

impl Kind {
    fn name(self) -> String {
        match self {
            Kind::Plain => "plain".into(),
            Kind::Level(l) => format!("delay_level_{l}"),
            Kind::Timer => "timer_60s".into(),
        }
    }

    fn message(self, topic: &str, body: Bytes) -> Message {
        let m = Message::new(topic.to_owned(), body);
        match self {
            Kind::Plain => m,
            Kind::Level(l) => m.with_delay_level(l),
            Kind::Timer => m.with_deliver_time_ms(now_ms() + TIMER_COST_DELAY_MS),
        }
    }
}

/// Sends `n` messages of `kind` with `concurrency` in flight; returns the
/// seconds it took.
async fn send_kind(
    producer: &Producer,
    topic: &str,
    kind: Kind,
    n: u64,
    concurrency: u32,
    body: &Bytes,
    meter: &Arc<Meter>,
) -> f64 {
    let budget = Arc::new(AtomicI64::new(n as i64));
    let started = Instant::now();
    let tracker = TaskTracker::new();
    for _ in 0..concurrency {
        let (producer, topic, body) = (producer.clone(), topic.to_owned(), body.clone());
        let (budget, meter) = (budget.clone(), meter.clone());
        tracker.spawn(async move {
            while budget.fetch_sub(1, Ordering::AcqRel) > 0 {
                let t = Instant::now();
                match producer.send(kind.message(&topic, body.clone())).await {
                    Ok(_) => meter.ok(1, t.elapsed().as_micros() as u64, 0),
                    Err(ClientError::Shutdown) => break,
                    Err(e) => {
                        tracing::debug!(error = %e, "send failed");
                        meter.failed(match e {
                            ClientError::Response { .. } => Failure::Response,
                            _ => Failure::Send,
                        });
                    }
                }
            }
        });
    }
    tracker.close();
    tracker.wait().await;
    started.elapsed().as_secs_f64()
}

/// The figures of one kind over every round.
#[derive(Debug)]
pub struct KindFigures {
    pub kind: String,
    pub figures: Figures,
}

/// The figures of a `--delay-cost` run.
#[derive(Debug)]
pub struct DelayCostReport {
    pub topic: String,
    pub rounds: u32,
    pub concurrency: u32,
    pub size: u32,
    /// Plain first.
    pub kinds: Vec<KindFigures>,
}

impl DelayCostReport {
    fn ratio(a: f64, b: f64) -> f64 {
        if b > 0.0 {
            a / b
        } else {
            0.0
        }
    }

    pub fn json(&self) -> Value {
        let plain = self.kinds.first().map(|k| k.figures.clone());
        let kinds: Vec<Value> = self
            .kinds
            .iter()
            .map(|k| {
                let f = &k.figures;
                let mut j = f.json(&k.kind);
                if let Some(p) = &plain {
                    j["tps_ratio"] = Self::ratio(f.tps, p.tps).into();
                    j["p50_ratio"] = Self::ratio(f.p50_us as f64, p.p50_us as f64).into();
                    j["p99_ratio"] = Self::ratio(f.p99_us as f64, p.p99_us as f64).into();
                }
                j
            })
            .collect();
        json!({
            "mode": "delay_cost", "topic": self.topic, "rounds": self.rounds,
            "concurrency": self.concurrency, "size": self.size, "kinds": kinds,
        })
    }

    pub fn text(&self) -> String {
        let mut out = format!(
            "[Delay cost] topic {} | {} rounds | concurrency {} | {} B bodies\n",
            self.topic, self.rounds, self.concurrency, self.size
        );
        let plain = self.kinds.first().map(|k| k.figures.clone());
        for k in &self.kinds {
            let f = &k.figures;
            out.push_str(&format!(
                "{:<16} {} | msgs {}",
                k.kind,
                f.produce_line(),
                f.msgs
            ));
            if let Some(p) = plain.as_ref().filter(|_| k.kind != "plain") {
                out.push_str(&format!(
                    " | vs plain: TPS x{:.2}, p50 x{:.2}, p99 x{:.2}",
                    Self::ratio(f.tps, p.tps),
                    Self::ratio(f.p50_us as f64, p.p50_us as f64),
                    Self::ratio(f.p99_us as f64, p.p99_us as f64)
                ));
            }
            out.push('\n');
        }
        out
    }
}

/// Splits `count` messages over `rounds` (earlier rounds take the rest).
fn per_round(count: u64, rounds: u32, round: u32) -> u64 {
    let r = u64::from(rounds);
    count / r + u64::from(u64::from(round) < count % r)
}

pub async fn run(args: &TimerArgs, topic: &str) -> Result<DelayCostReport> {
    let producer = start_producer(args).await?;
    let body = Bytes::from(vec![b'd'; args.size as usize]);
    let kinds = [Kind::Plain, Kind::Level(args.delay_level), Kind::Timer];
    // Warm-up (connections, routes, page cache): not measured.
    let scratch = Arc::new(Meter::new()?);
    let warm = args.count.min(1000);
    send_kind(
        &producer,
        topic,
        Kind::Plain,
        warm,
        args.concurrency,
        &body,
        &scratch,
    )
    .await;
    let mut measured = Vec::new();
    for _ in kinds {
        measured.push((Arc::new(Meter::new()?), 0.0f64));
    }
    for round in 0..args.rounds {
        let n = per_round(args.count, args.rounds, round);
        for (kind, (meter, secs)) in kinds.iter().zip(measured.iter_mut()) {
            *secs += send_kind(&producer, topic, *kind, n, args.concurrency, &body, meter).await;
            eprintln!(
                "[delay-cost] round {} {}: {} msgs",
                round + 1,
                kind.name(),
                meter.total().msgs
            );
        }
    }
    producer.shutdown().await;
    Ok(DelayCostReport {
        topic: topic.to_owned(),
        rounds: args.rounds,
        concurrency: args.concurrency,
        size: args.size,
        kinds: kinds
            .iter()
            .zip(&measured)
            .map(|(k, (meter, secs))| KindFigures {
                kind: k.name(),
                figures: meter.total().figures(*secs),
            })
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_share_the_count() {
        let split: Vec<u64> = (0..3).map(|r| per_round(10, 3, r)).collect();
        assert_eq!(split, vec![4, 3, 3]);
        assert_eq!(Kind::Level(3).name(), "delay_level_3");
        let m = Kind::Level(3).message("T", Bytes::new());
        assert_eq!(m.delay_level(), Some(3));
        assert!(Kind::Timer
            .message("T", Bytes::new())
            .property("TIMER_DELIVER_MS")
            .is_some());
    }
}
