//! `apogee bench timer`: how punctually the broker delivers timed messages
//! (5.x `TIMER_DELIVER_MS`), and, with `--delay-cost`, what a delayed send
//! costs the producer compared with a plain one.
//!
//! Accuracy: `--count` messages get delivery times evenly spread over
//! `[start + lead, start + lead + spread]` and are sent in a shuffled order
//! (so the broker's timer sees times out of queue order, as in real use).
//! The body carries the message's index and its delivery time; a push
//! consumer started before the first send records, for each message,
//! receive time − delivery time (end to end) and store time − delivery time
//! (the broker's part: the delivered copy is stored when the timer fires).
//! A message whose send completed after its own delivery time is stored at
//! once by the broker; it says nothing about the timer and is counted apart
//! (`sent_after_due`: raise `--lead-secs`).
//!
//! Delay cost: the same producer and concurrency send `--count` plain
//! messages, `--count` with delay level `--delay-level` and `--count` with a
//! delivery time a minute ahead, alternating in `--rounds` rounds, and the
//! figures of each kind are compared with the plain ones.

use std::sync::atomic::{AtomicI64, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use bytes::Bytes;
use clap::{Args, ValueEnum};
use client::{Admin, ConsumeFrom, ConsumeResult, Message, MessageExt, Producer, PushConsumer};
use client::{ClientError, TopicSpec};
use serde_json::{json, Value};
use tokio_util::task::TaskTracker;

use crate::admin_cmd::time::now_ms;

mod delay_cost;

/// A receipt this much (µs) before its time is still "on time": the
/// client's and the broker's clocks are read at millisecond precision.
const EARLY_TOLERANCE_US: i64 = 1_000;
/// The figure the requirement names: delivered within 100 ms of its time.
const ON_TIME_US: i64 = 100_000;

/// In which order the messages are sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Order {
    /// A fixed pseudo-random permutation of the delivery times.
    Shuffled,
    /// Earliest delivery time first.
    Sorted,
}

/// Flags of `bench timer`.
#[derive(Args, Debug, Clone)]
pub struct TimerArgs {
    /// NameServer address(es), `;`-separated.
    #[arg(short = 'n', long = "namesrvAddr", env = "NAMESRV_ADDR", default_value = client::DEFAULT_NAMESRV)]
    pub namesrv: String,
    #[command(flatten)]
    pub access: super::AccessArgs,
    /// Topic, created with --queues queues (default: a fresh `BenchTimer_<ms>`).
    #[arg(short = 't', long = "topic")]
    pub topic: Option<String>,
    /// Queues of the topic when it is created.
    #[arg(long = "queues", default_value_t = 8,
          value_parser = clap::value_parser!(i32).range(1..=1024))]
    pub queues: i32,
    /// Timed messages to send (with --delay-cost: messages of each kind).
    #[arg(long = "count", default_value_t = 100_000)]
    pub count: u64,
    /// Delivery times are spread evenly over this many seconds.
    #[arg(long = "spread-secs", default_value_t = 60)]
    pub spread_secs: u64,
    /// Seconds between the start of the sends and the first delivery time.
    #[arg(long = "lead-secs", default_value_t = 5)]
    pub lead_secs: u64,
    /// Seconds to wait after the last delivery time before counting losses.
    #[arg(long = "margin-secs", default_value_t = 10)]
    pub margin_secs: u64,
    /// Sends in flight.
    #[arg(short = 'w', long = "concurrency", default_value_t = 64,
          value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub concurrency: u32,
    /// Order of the sends.
    #[arg(long = "order", value_enum, default_value_t = Order::Shuffled)]
    pub order: Order,
    /// Instead of accuracy: compare plain, delay-level and timed sends.
    #[arg(long = "delay-cost")]
    pub delay_cost: bool,
    /// Delay level of the delayed kind of --delay-cost (3 = 10 s by default).
    #[arg(long = "delay-level", default_value_t = 3,
          value_parser = clap::value_parser!(u8).range(1..=18))]
    pub delay_level: u8,
    /// Rounds of --delay-cost (each sends count/rounds of every kind).
    #[arg(long = "rounds", default_value_t = 3,
          value_parser = clap::value_parser!(u32).range(1..=100))]
    pub rounds: u32,
    /// Body size of --delay-cost messages.
    #[arg(short = 's', long = "size", default_value_t = 1024,
          value_parser = clap::value_parser!(u32).range(16..=4 * 1024 * 1024))]
    pub size: u32,
    /// Print the final summary as one JSON line (progress stays on stderr).
    #[arg(long)]
    pub json: bool,
    /// Also write one CSV line per message (index, delivery ms, send
    /// outcome, receive − time µs, store − time µs) to this file, to see
    /// when the late ones fell due.
    #[arg(long = "csv", value_name = "FILE")]
    pub csv: Option<std::path::PathBuf>,
}

impl TimerArgs {
    /// Checks what clap cannot.
    ///
    /// # Errors
    /// A combination that cannot measure anything.
    pub fn validate(&self) -> Result<()> {
        if self.count == 0 || self.count > 10_000_000 {
            bail!("--count must be between 1 and 10000000");
        }
        if self.delay_cost {
            if self.count < u64::from(self.rounds) {
                bail!("--count must be at least --rounds with --delay-cost");
            }
            return Ok(());
        }
        if self.lead_secs == 0 {
            bail!("--lead-secs must be at least 1: a time already past is not a timed message");
        }
        // The broker refuses times beyond timerMaxDelaySec (7 days by default).
        if self.lead_secs + self.spread_secs > 24 * 3600 {
            bail!("--lead-secs + --spread-secs must not exceed a day");
        }
        Ok(())
    }

    fn topic(&self) -> String {
        self.topic
            .clone()
            .unwrap_or_else(|| format!("BenchTimer_{}", now_ms()))
    }
}

/// Runs `bench timer`.
///
/// # Errors
/// Bad arguments, client start-up failures.
pub async fn run(args: TimerArgs) -> Result<()> {
    args.validate()?;
    let topic = args.topic();
    create_topic(&args, &topic).await?;
    let (text, j) = if args.delay_cost {
        let r = delay_cost::run(&args, &topic).await?;
        (r.text(), r.json())
    } else {
        let r = accuracy(&args, &topic).await?;
        (r.text(), r.json())
    };
    if args.json {
        crate::admin_cmd::emit(&format!("{j}\n"))
    } else {
        crate::admin_cmd::emit(&text)
    }
}

async fn create_topic(args: &TimerArgs, topic: &str) -> Result<()> {
    let admin =
        Admin::start(args.access.options(&args.namesrv)).context("cannot start an admin client")?;
    let created = admin
        .create_topic(None, &TopicSpec::new(topic, args.queues))
        .await
        .with_context(|| format!("cannot create topic {topic}"));
    admin.shutdown().await;
    created.map(|_| ())
}

fn now_us() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

// ---------------------------------------------------------------------------
// Pure parts: the schedule and the statistics.

/// Offsets (ms from the first delivery time) of `count` messages spread
/// evenly over `spread_ms`, in sending order.
fn schedule(count: u64, spread_ms: i64, order: Order) -> Vec<i64> {
    let n = count as usize;
    let step = |k: usize| {
        if n <= 1 {
            0
        } else {
            (k as i128 * i128::from(spread_ms) / (n as i128 - 1)) as i64
        }
    };
    let mut times: Vec<i64> = (0..n).map(step).collect();
    if order == Order::Shuffled {
        // Fisher–Yates with xorshift64: reproducible, no dependency.
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for i in (1..n).rev() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            times.swap(i, (x % (i as u64 + 1)) as usize);
        }
    }
    times
}

/// Percentiles of a set of lateness values (µs, negative = early).
#[derive(Debug, Clone, PartialEq)]
pub struct Lateness {
    pub n: usize,
    /// Values earlier than the tolerance.
    pub early: usize,
    /// Values within [`ON_TIME_US`] of their time (early ones excluded).
    pub on_time: usize,
    pub min_us: i64,
    pub p50_us: i64,
    pub p90_us: i64,
    pub p99_us: i64,
    pub p999_us: i64,
    pub max_us: i64,
    pub mean_us: f64,
}

impl Lateness {
    /// Sorts `values` and computes nearest-rank percentiles.
    fn of(mut values: Vec<i64>) -> Lateness {
        values.sort_unstable();
        let n = values.len();
        let rank = |q: f64| -> i64 {
            if n == 0 {
                return 0;
            }
            let r = (q * n as f64).ceil() as usize;
            values[r.clamp(1, n) - 1]
        };
        let sum: i128 = values.iter().map(|&v| i128::from(v)).sum();
        Lateness {
            n,
            early: values.iter().filter(|&&v| v < -EARLY_TOLERANCE_US).count(),
            on_time: values
                .iter()
                .filter(|&&v| (-EARLY_TOLERANCE_US..=ON_TIME_US).contains(&v))
                .count(),
            min_us: values.first().copied().unwrap_or(0),
            p50_us: rank(0.50),
            p90_us: rank(0.90),
            p99_us: rank(0.99),
            p999_us: rank(0.999),
            max_us: values.last().copied().unwrap_or(0),
            mean_us: if n == 0 { 0.0 } else { sum as f64 / n as f64 },
        }
    }

    fn json(&self) -> Value {
        json!({
            "n": self.n, "early": self.early, "within_100ms": self.on_time,
            "min_ms": ms(self.min_us), "p50_ms": ms(self.p50_us), "p90_ms": ms(self.p90_us),
            "p99_ms": ms(self.p99_us), "p999_ms": ms(self.p999_us), "max_ms": ms(self.max_us),
            "mean_ms": self.mean_us / 1000.0,
        })
    }

    fn line(&self) -> String {
        format!(
            "p50 {:.1} | p90 {:.1} | p99 {:.1} | p999 {:.1} | max {:.1} | mean {:.1} (ms); \
             within 100 ms: {}/{}",
            ms(self.p50_us),
            ms(self.p90_us),
            ms(self.p99_us),
            ms(self.p999_us),
            ms(self.max_us),
            self.mean_us / 1000.0,
            self.on_time,
            self.n
        )
    }
}

fn ms(us: i64) -> f64 {
    us as f64 / 1000.0
}

// ---------------------------------------------------------------------------
// Accuracy.

/// What became of one message on the sending side.
const SEND_PENDING: u8 = 0;
const SEND_OK: u8 = 1;
/// Sent, but the send completed after its delivery time.
const SEND_AFTER_DUE: u8 = 2;
const SEND_FAILED: u8 = 3;

/// The first receipt of a message: (receive − time, store − time), µs.
type Receipt = Option<(i64, i64)>;

#[derive(Default)]
struct Receipts {
    first: Vec<Receipt>,
    distinct: usize,
    duplicates: u64,
    foreign: u64,
}

/// State shared by the senders and the listener.
struct Run {
    /// Delivery time of message i, in ms after `first_ms`.
    offsets: Vec<i64>,
    /// The first delivery time (set once the consumer listens).
    first_ms: AtomicI64,
    sent: Vec<AtomicU8>,
    next: AtomicUsize,
    receipts: Mutex<Receipts>,
}

impl Run {
    fn new(offsets: Vec<i64>) -> Run {
        let n = offsets.len();
        Run {
            offsets,
            first_ms: AtomicI64::new(0),
            sent: (0..n).map(|_| AtomicU8::new(SEND_PENDING)).collect(),
            next: AtomicUsize::new(0),
            receipts: Mutex::new(Receipts {
                first: vec![None; n],
                ..Receipts::default()
            }),
        }
    }

    fn receipts(&self) -> std::sync::MutexGuard<'_, Receipts> {
        self.receipts.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The next message to send, if any is left.
    fn claim(&self) -> Option<(usize, i64)> {
        let i = self.next.fetch_add(1, Ordering::Relaxed);
        let offset = self.offsets.get(i)?;
        Some((i, self.first_ms.load(Ordering::Relaxed) + offset))
    }

    /// Records what one listener call got, at one receive time.
    fn record(&self, msgs: &[MessageExt], now_us: i64) {
        let mut g = self.receipts();
        for m in msgs {
            let Some((i, at)) = parse_body(&m.body).filter(|(i, _)| *i < g.first.len()) else {
                g.foreign += 1;
                continue;
            };
            if g.first[i].is_some() {
                g.duplicates += 1;
            } else {
                g.first[i] = Some((now_us - at * 1000, (m.store_timestamp - at) * 1000));
                g.distinct += 1;
            }
        }
    }

    fn count_sent(&self, state: u8) -> u64 {
        self.sent
            .iter()
            .filter(|s| s.load(Ordering::Relaxed) == state)
            .count() as u64
    }

    /// Messages the broker accepted.
    fn accepted(&self) -> u64 {
        self.count_sent(SEND_OK) + self.count_sent(SEND_AFTER_DUE)
    }

    /// One line per message; a message never received has empty figures.
    fn csv(&self) -> String {
        let g = self.receipts();
        let first = self.first_ms.load(Ordering::Relaxed);
        let mut out = String::from("index,at_ms,sent,e2e_us,broker_us\n");
        for (i, (state, receipt)) in self.sent.iter().zip(&g.first).enumerate() {
            let (e2e, broker) = match receipt {
                Some((a, b)) => (a.to_string(), b.to_string()),
                None => (String::new(), String::new()),
            };
            let at = first + self.offsets[i];
            let state = ["pending", "ok", "after_due", "failed"]
                .get(usize::from(state.load(Ordering::Relaxed)))
                .copied()
                .unwrap_or("?");
            out.push_str(&format!("{i},{at},{state},{e2e},{broker}\n"));
        }
        out
    }

    fn report(&self, topic: &str, send_secs: f64) -> AccuracyReport {
        let g = self.receipts();
        let (mut e2e, mut broker, mut lost) = (Vec::new(), Vec::new(), 0);
        for (state, receipt) in self.sent.iter().zip(&g.first) {
            match (state.load(Ordering::Relaxed), receipt) {
                (SEND_OK, Some((a, b))) => {
                    e2e.push(*a);
                    broker.push(*b);
                }
                (SEND_OK | SEND_AFTER_DUE, None) => lost += 1,
                _ => {}
            }
        }
        AccuracyReport {
            topic: topic.to_owned(),
            count: self.offsets.len() as u64,
            sent: self.accepted(),
            sent_after_due: self.count_sent(SEND_AFTER_DUE),
            send_failed: self.count_sent(SEND_FAILED) + self.count_sent(SEND_PENDING),
            send_secs,
            received: g.distinct as u64,
            duplicates: g.duplicates,
            lost,
            foreign: g.foreign,
            end_to_end: Lateness::of(e2e),
            broker: Lateness::of(broker),
        }
    }
}

fn body_of(index: usize, at_ms: i64) -> Bytes {
    Bytes::from(format!("{index} {at_ms}"))
}

fn parse_body(body: &[u8]) -> Option<(usize, i64)> {
    let text = std::str::from_utf8(body).ok()?;
    let (i, at) = text.split_once(' ')?;
    Some((i.parse().ok()?, at.parse().ok()?))
}

/// The figures of one accuracy run.
#[derive(Debug)]
pub struct AccuracyReport {
    pub topic: String,
    pub count: u64,
    /// Sends the broker accepted (including `sent_after_due`).
    pub sent: u64,
    pub sent_after_due: u64,
    pub send_failed: u64,
    pub send_secs: f64,
    /// Distinct messages received.
    pub received: u64,
    pub duplicates: u64,
    /// Accepted and never received.
    pub lost: u64,
    /// Received messages of another writer.
    pub foreign: u64,
    /// Receive time − delivery time, of messages sent before their time.
    pub end_to_end: Lateness,
    /// Store time of the delivered copy − delivery time (ms precision).
    pub broker: Lateness,
}

impl AccuracyReport {
    fn json(&self) -> Value {
        json!({
            "mode": "timer", "topic": self.topic, "count": self.count, "sent": self.sent,
            "sent_after_due": self.sent_after_due, "send_failed": self.send_failed,
            "send_secs": self.send_secs, "received": self.received,
            "duplicates": self.duplicates, "lost": self.lost, "foreign": self.foreign,
            "early": self.end_to_end.early,
            "lateness": self.end_to_end.json(), "broker_lateness": self.broker.json(),
        })
    }

    fn text(&self) -> String {
        format!(
            "[Timer] topic {} | sent {} of {} in {:.1} s ({} after their time, {} failed) | \
             received {} | lost {} | duplicates {} | early {}\n\
             Lateness (receive - time):      {}\n\
             Broker lateness (store - time): {}\n",
            self.topic,
            self.sent,
            self.count,
            self.send_secs,
            self.sent_after_due,
            self.send_failed,
            self.received,
            self.lost,
            self.duplicates,
            self.end_to_end.early,
            self.end_to_end.line(),
            self.broker.line()
        )
    }
}

async fn start_producer(args: &TimerArgs) -> Result<Producer> {
    let mut builder = Producer::builder();
    if let Some((ak, sk)) = args.access.credentials() {
        builder = builder.credentials(ak, sk);
    }
    if let Some(tls) = args.access.tls.settings() {
        builder = builder.tls(tls);
    }
    builder
        .namesrv(&args.namesrv)
        .group("apogee_bench_timer_producer")
        .build()
        .await
        .context("cannot start the producer")
}

/// A push consumer of a new group, returned once it has queues.
async fn start_consumer(args: &TimerArgs, topic: &str, run: Arc<Run>) -> Result<PushConsumer> {
    let mut builder = PushConsumer::builder();
    if let Some((ak, sk)) = args.access.credentials() {
        builder = builder.credentials(ak, sk);
    }
    if let Some(tls) = args.access.tls.settings() {
        builder = builder.tls(tls);
    }
    let consumer = builder
        .namesrv(&args.namesrv)
        .group(format!("{topic}_consumer"))
        .subscribe(topic, "*")
        .consume_from(ConsumeFrom::FirstOffset)
        .consume_concurrency(16)
        .consume_batch_size(32)
        .listener(move |msgs| {
            // The receive time is read before any other work.
            let now = now_us();
            let run = run.clone();
            async move {
                run.record(&msgs, now);
                ConsumeResult::Success
            }
        })
        .build()
        .await
        .with_context(|| format!("cannot start a consumer of topic {topic}"))?;
    let limit = Instant::now() + Duration::from_secs(30);
    while consumer.assigned_queues().is_empty() {
        if Instant::now() > limit {
            consumer.shutdown().await;
            bail!("the consumer got no queue of {topic} within 30 s");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(consumer)
}

async fn send_timed(producer: Producer, topic: String, run: Arc<Run>) {
    while let Some((i, at)) = run.claim() {
        let msg = Message::new(topic.clone(), body_of(i, at)).with_deliver_time_ms(at);
        let state = match producer.send(msg).await {
            Ok(_) if now_ms() >= at => SEND_AFTER_DUE,
            Ok(_) => SEND_OK,
            Err(ClientError::Shutdown) => break,
            Err(e) => {
                tracing::debug!(error = %e, "timed send failed");
                SEND_FAILED
            }
        };
        run.sent[i].store(state, Ordering::Relaxed);
    }
}

async fn accuracy(args: &TimerArgs, topic: &str) -> Result<AccuracyReport> {
    let spread_ms = args.spread_secs as i64 * 1000;
    let run = Arc::new(Run::new(schedule(args.count, spread_ms, args.order)));
    let consumer = start_consumer(args, topic, run.clone()).await?;
    let producer = match start_producer(args).await {
        Ok(p) => p,
        Err(e) => {
            consumer.shutdown().await;
            return Err(e);
        }
    };
    let first_ms = now_ms() + args.lead_secs as i64 * 1000;
    run.first_ms.store(first_ms, Ordering::Relaxed);
    let started = Instant::now();
    let tracker = TaskTracker::new();
    for _ in 0..args.concurrency {
        tracker.spawn(send_timed(producer.clone(), topic.to_owned(), run.clone()));
    }
    tracker.close();
    let deadline_ms = first_ms + spread_ms + args.margin_secs as i64 * 1000;
    let send_secs = wait_for_receipts(&run, &tracker, started, deadline_ms).await;
    producer.shutdown().await;
    consumer.shutdown().await;
    if let Some(path) = &args.csv {
        std::fs::write(path, run.csv())
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(run.report(topic, send_secs))
}

/// Waits for the sends, then until every accepted message is received or
/// the deadline passes; prints progress on stderr; returns the send time.
async fn wait_for_receipts(
    run: &Run,
    tracker: &TaskTracker,
    started: Instant,
    deadline_ms: i64,
) -> f64 {
    let mut send_secs = None;
    let mut last_line = Instant::now();
    loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if send_secs.is_none() && tracker.is_empty() {
            send_secs = Some(started.elapsed().as_secs_f64());
        }
        let received = run.receipts().distinct as u64;
        if last_line.elapsed() >= Duration::from_secs(5) {
            last_line = Instant::now();
            eprintln!(
                "[timer {:>4}s] {} sends done, {received} received",
                started.elapsed().as_secs(),
                run.next.load(Ordering::Relaxed).min(run.offsets.len())
            );
        }
        if let Some(secs) = send_secs {
            if received >= run.accepted() || now_ms() >= deadline_ms {
                return secs;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser, Debug)]
    struct Cli {
        #[command(flatten)]
        args: TimerArgs,
    }

    fn parse(extra: &[&str]) -> TimerArgs {
        let mut argv = vec!["timer"];
        argv.extend_from_slice(extra);
        Cli::try_parse_from(argv).unwrap().args
    }

    #[test]
    fn defaults_and_validation() {
        let a = parse(&[]);
        assert_eq!((a.count, a.spread_secs, a.lead_secs), (100_000, 60, 5));
        assert_eq!((a.delay_level, a.rounds, a.order), (3, 3, Order::Shuffled));
        a.validate().unwrap();
        assert!(parse(&["--count", "0"]).validate().is_err());
        assert!(parse(&["--lead-secs", "0"]).validate().is_err());
        assert!(parse(&["--spread-secs", "90000"]).validate().is_err());
        // Spread 0: every message due at the same instant (a burst).
        parse(&["--spread-secs", "0"]).validate().unwrap();
        // Delay cost needs at least one message per round, not a lead.
        parse(&["--delay-cost", "--count", "3", "--lead-secs", "0"])
            .validate()
            .unwrap();
        assert!(parse(&["--delay-cost", "--count", "2"]).validate().is_err());
        assert!(Cli::try_parse_from(["timer", "--delay-level", "19"]).is_err());
    }

    #[test]
    fn schedule_spreads_evenly_and_shuffles_reproducibly() {
        let sorted = schedule(5, 1000, Order::Sorted);
        assert_eq!(sorted, vec![0, 250, 500, 750, 1000]);
        let shuffled = schedule(1000, 60_000, Order::Shuffled);
        assert_ne!(shuffled, schedule(1000, 60_000, Order::Sorted));
        assert_eq!(shuffled, schedule(1000, 60_000, Order::Shuffled));
        let mut back = shuffled.clone();
        back.sort_unstable();
        assert_eq!(back, schedule(1000, 60_000, Order::Sorted));
        assert_eq!(schedule(1, 60_000, Order::Shuffled), vec![0]);
    }

    #[test]
    fn lateness_percentiles_and_early_count() {
        // 1..=1000 ms late, plus two early values: one within the
        // tolerance (−0.5 ms), one beyond it (−5 ms).
        let mut v: Vec<i64> = (1..=1000).map(|ms| ms * 1000).collect();
        v.extend([-500, -5000]);
        let l = Lateness::of(v);
        assert_eq!((l.n, l.early), (1002, 1));
        assert_eq!(l.min_us, -5000);
        assert_eq!(l.max_us, 1_000_000);
        // Nearest rank over the sorted 1002 values: the 501st and 992nd.
        assert_eq!(l.p50_us, 499_000);
        assert_eq!(l.p99_us, 990_000);
        // −0.5 ms and 1..=100 ms are on time.
        assert_eq!(l.on_time, 101);
        let empty = Lateness::of(Vec::new());
        assert_eq!((empty.n, empty.p99_us, empty.mean_us), (0, 0, 0.0));
    }

    #[test]
    fn receipts_count_firsts_duplicates_and_strangers() {
        let run = Run::new(vec![0, 10]);
        let host = "127.0.0.1:1".parse().unwrap();
        let msg = |body: &str, store: i64| MessageExt {
            topic: "T".into(),
            body: Bytes::from(body.to_owned()),
            flag: 0,
            properties: Default::default(),
            broker_name: "b".into(),
            queue_id: 0,
            queue_offset: 0,
            commit_log_offset: 0,
            sys_flag: 0,
            born_timestamp: 0,
            born_host: host,
            store_timestamp: store,
            store_host: host,
            reconsume_times: 0,
            prepared_transaction_offset: 0,
            msg_id: String::new(),
            offset_msg_id: String::new(),
            store_size: 0,
        };
        run.sent[0].store(SEND_OK, Ordering::Relaxed);
        run.sent[1].store(SEND_OK, Ordering::Relaxed);
        run.record(&[msg("0 1000", 1002), msg("0 1000", 1002)], 1_003_500);
        run.record(&[msg("7 1000", 0), msg("hello", 0)], 0);
        let r = run.report("T", 1.0);
        assert_eq!((r.sent, r.received, r.duplicates, r.foreign), (2, 1, 1, 2));
        assert_eq!(r.lost, 1);
        assert_eq!((r.end_to_end.p50_us, r.broker.p50_us), (3_500, 2_000));
        assert_eq!(body_of(4, 99), Bytes::from("4 99"));
        assert_eq!(parse_body(b"4 99"), Some((4, 99)));
        let csv = run.csv();
        assert_eq!(csv.lines().nth(1), Some("0,0,ok,3500,2000"), "{csv}");
        assert_eq!(csv.lines().nth(2), Some("1,10,ok,,"), "{csv}");
    }
}
