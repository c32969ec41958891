//! `apogee bench produce`: `--concurrency` sends in flight, spread over
//! `--producers` producers (each with its own connections).

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use bytes::Bytes;
use clap::Args;
use client::{ClientError, Message, Producer};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::cpu::{find_broker, CpuProbe};
use super::grpc_load::{claim, Protocol};
use super::grpc_send;
use super::meter::{Failure, Meter};
use super::{print_window, CommonArgs};

/// Flags of `bench produce`.
#[derive(Args, Debug)]
pub struct ProduceArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Body size in bytes.
    #[arg(short = 's', long = "size", default_value_t = 1024,
          value_parser = clap::value_parser!(u32).range(1..=4 * 1024 * 1024))]
    pub size: u32,
    /// Sends in flight in total (RocketMQ's benchmark: threads).
    #[arg(short = 'w', long = "concurrency", visible_alias = "threads", default_value_t = 64,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub concurrency: u32,
    /// Producers (each with its own client and connections).
    #[arg(long = "producers", default_value_t = 1,
          value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub producers: u32,
    /// Connections of each producer to each broker that its sends are
    /// spread over (a broker stores one connection's sends one core at a
    /// time; the neutral load generator's `--connections`).
    #[arg(long = "connections", default_value_t = 1,
          value_parser = clap::value_parser!(u16).range(1..=64))]
    pub connections: u16,
    /// Messages per request (above 1: batch sends).
    #[arg(long = "batch", default_value_t = 1,
          value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub batch: u32,
    /// Seconds of load before measuring (not counted).
    #[arg(long = "warmup", default_value_t = 0)]
    pub warmup: u64,
    /// Producer group.
    #[arg(long = "group", default_value = "apogee_bench_producer")]
    pub group: String,
    /// Threads of the load's own runtime (1: producers, connections and
    /// senders all on one thread, the cheapest, as the neutral load
    /// generator does); 0: the process's shared runtime. Not to be confused
    /// with `--threads`, RocketMQ's name for `--concurrency`.
    #[arg(long = "runtime-threads", default_value_t = 1,
          value_parser = clap::value_parser!(u16).range(0..=256))]
    pub runtime_threads: u16,
    /// Send with the ROCKETMQ binary header instead of JSON.
    #[arg(long = "binary-header")]
    pub binary_header: bool,
    /// Remoting (through the NameServer) or the 5.x gRPC endpoint.
    #[arg(long = "protocol", value_enum, default_value_t = Protocol::Remoting)]
    pub protocol: Protocol,
    /// The gRPC endpoint (`--protocol grpc`).
    #[arg(long = "endpoint", default_value = "127.0.0.1:8081")]
    pub endpoint: String,
    /// Messages per second in all (0: as fast as the window allows). Sends
    /// are spaced evenly; a sender that falls behind does not burst.
    #[arg(long = "rate", default_value_t = 0)]
    pub rate: u64,
}

fn classify(e: &ClientError) -> Failure {
    match e {
        ClientError::Response { .. } => Failure::Response,
        ClientError::SendFailed { last, .. } => classify(last),
        _ => Failure::Send,
    }
}

/// Spaces sends evenly at `--rate` messages a second: each request takes
/// the next slot of the schedule and waits for its time.
pub(crate) struct Pacer {
    start: tokio::time::Instant,
    per_sec: u64,
    issued: AtomicU64,
}

impl Pacer {
    pub(crate) fn new(per_sec: u64) -> Option<Pacer> {
        (per_sec > 0).then(|| Pacer {
            start: tokio::time::Instant::now(),
            per_sec,
            issued: AtomicU64::new(0),
        })
    }

    /// When the request of `n` messages taking the next slot may go. A
    /// slot whose time has passed by more than a second is moved up, so a
    /// stall is not followed by a burst.
    fn slot(&self, n: u64) -> tokio::time::Instant {
        let k = self.issued.fetch_add(n, Ordering::Relaxed);
        let due = self.start + Duration::from_nanos(k.saturating_mul(1_000_000_000) / self.per_sec);
        let now = tokio::time::Instant::now();
        if due + Duration::from_secs(1) < now {
            // Behind: skip the missed slots (k + n is the next request's).
            let at = now.duration_since(self.start).as_nanos() as u64;
            let k_now = at.saturating_mul(self.per_sec) / 1_000_000_000;
            let _ = self.issued.fetch_max(k_now, Ordering::Relaxed);
            return now;
        }
        due
    }

    pub(crate) async fn wait(&self, n: u64) {
        tokio::time::sleep_until(self.slot(n)).await;
    }
}

async fn send_loop(
    producer: Producer,
    args: Arc<ProduceArgs>,
    body: Bytes,
    budget: Arc<AtomicI64>,
    meter: Arc<Meter>,
    stop: CancellationToken,
    pacer: Option<Arc<Pacer>>,
) {
    let topic = &args.common.topic;
    while !stop.is_cancelled() {
        let n = claim(&budget, args.batch);
        if n == 0 {
            break;
        }
        if let Some(p) = &pacer {
            tokio::select! {
                _ = p.wait(u64::from(n)) => {}
                _ = stop.cancelled() => break,
            }
        }
        let started = Instant::now();
        let result = if n == 1 {
            producer
                .send(Message::new(topic.clone(), body.clone()))
                .await
        } else {
            let msgs = (0..n)
                .map(|_| Message::new(topic.clone(), body.clone()))
                .collect();
            producer.send_batch(msgs).await
        };
        match result {
            Ok(_) => meter.ok(u64::from(n), started.elapsed().as_micros() as u64, 0),
            Err(ClientError::Shutdown) => break,
            Err(e) => {
                tracing::debug!(error = %e, "bench send failed");
                meter.failed(classify(&e));
            }
        }
    }
}

async fn start_producers(args: &ProduceArgs) -> Result<Vec<Producer>> {
    let mut out = Vec::new();
    for i in 0..args.producers {
        let mut builder = Producer::builder();
        if let Some((ak, sk)) = args.common.access.credentials() {
            builder = builder.credentials(ak, sk);
        }
        if let Some(tls) = args.common.access.tls.settings() {
            builder = builder.tls(tls);
        }
        let p = builder
            .namesrv(&args.common.namesrv)
            .group(args.group.clone())
            .send_connections(usize::from(args.connections))
            .header(if args.binary_header {
                protocol::SerializeType::RocketMq
            } else {
                protocol::SerializeType::Json
            })
            .build()
            .await
            .with_context(|| format!("cannot start producer {i}"))?;
        out.push(p);
    }
    Ok(out)
}

/// Runs the load (on its own runtime unless `--runtime-threads 0`) and prints the
/// summary.
///
/// # Errors
/// Producer start-up failures; a runtime that cannot start.
pub async fn run(args: ProduceArgs) -> Result<()> {
    let threads = usize::from(args.runtime_threads);
    if threads == 0 {
        return run_load(args).await;
    }
    // A blocking-pool thread hosts the load's runtime; awaiting the handle
    // keeps it owned.
    tokio::task::spawn_blocking(move || {
        let mut builder = if threads == 1 {
            tokio::runtime::Builder::new_current_thread()
        } else {
            let mut b = tokio::runtime::Builder::new_multi_thread();
            b.worker_threads(threads);
            b
        };
        let runtime = builder
            .enable_all()
            .build()
            .context("cannot start the bench runtime")?;
        runtime.block_on(run_load(args))
    })
    .await
    .context("bench runtime thread failed")?
}

async fn run_load(args: ProduceArgs) -> Result<()> {
    let args = Arc::new(args);
    let meter = Arc::new(Meter::new()?);
    if args.protocol == Protocol::Grpc {
        return run_grpc(args, meter).await;
    }
    let producers = start_producers(&args).await?;
    let budget = Arc::new(AtomicI64::new(match args.common.count {
        Some(c) => i64::try_from(c).unwrap_or(i64::MAX),
        None => i64::MAX,
    }));
    let body = Bytes::from(vec![b'a'; args.size as usize]);
    let stop = CancellationToken::new();
    let tracker = TaskTracker::new();
    let pacer = Pacer::new(args.rate).map(Arc::new);
    for i in 0..args.concurrency as usize {
        let producer = producers[i % producers.len()].clone();
        tracker.spawn(send_loop(
            producer,
            args.clone(),
            body.clone(),
            budget.clone(),
            meter.clone(),
            stop.clone(),
            pacer.clone(),
        ));
    }
    tracker.close();
    let (secs, cpu) = drive(&args, &meter, &stop, &tracker).await;
    stop.cancel();
    tracker.wait().await;
    for p in &producers {
        p.shutdown().await;
    }
    report(&args, &meter, secs, &cpu)
}

async fn run_grpc(args: Arc<ProduceArgs>, meter: Arc<Meter>) -> Result<()> {
    let conns = args.producers.max(1) as usize;
    let mut tcp = Vec::new();
    for _ in 0..conns {
        tcp.push(grpc_send::connect(&args.endpoint).await?);
    }
    let budget = Arc::new(AtomicI64::new(match args.common.count {
        Some(c) => i64::try_from(c).unwrap_or(i64::MAX),
        None => i64::MAX,
    }));
    let spec = Arc::new(grpc_send::SendSpec {
        topic: args.common.topic.clone(),
        body: Bytes::from(vec![b'a'; args.size as usize]),
    });
    let stop = CancellationToken::new();
    let tracker = TaskTracker::new();
    let total = args.concurrency.max(1) as usize;
    for (i, conn) in tcp.into_iter().enumerate() {
        // The sends in flight, spread over the connections.
        let inflight = total / conns + usize::from(i < total % conns);
        if inflight == 0 {
            continue;
        }
        tracker.spawn(grpc_send::send_conn(
            conn,
            spec.clone(),
            inflight,
            budget.clone(),
            meter.clone(),
            stop.clone(),
        ));
    }
    tracker.close();
    let (secs, cpu) = drive(&args, &meter, &stop, &tracker).await;
    stop.cancel();
    tracker.wait().await;
    report(&args, &meter, secs, &cpu)
}

fn report(args: &ProduceArgs, meter: &Meter, secs: f64, cpu: &CpuProbe) -> Result<()> {
    let total = meter.total().figures(secs);
    let spent = cpu.total(total.msgs);
    if args.common.json {
        let mut j = total.json("produce");
        spent.add_to(&mut j);
        j["size"] = args.size.into();
        j["batch"] = args.batch.into();
        j["concurrency"] = args.concurrency.into();
        j["producers"] = args.producers.into();
        crate::admin_cmd::emit(&format!("{j}\n"))?;
    } else {
        crate::admin_cmd::emit(&format!(
            "[Complete] Send Total: {} | {}{}\n",
            total.msgs,
            total.produce_line(),
            spent.line()
        ))?;
    }
    Ok(())
}

/// Waits out the warm-up, prints a window every interval, stops the
/// senders at the end of the duration (or when the count is sent), and
/// returns the measured seconds and the CPU probe of the measured part.
async fn drive(
    args: &ProduceArgs,
    meter: &Meter,
    stop: &CancellationToken,
    tracker: &TaskTracker,
) -> (f64, CpuProbe) {
    let common = &args.common;
    if args.warmup > 0 && common.count.is_none() {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(args.warmup)) => {}
            _ = tracker.wait() => {}
        }
        meter.reset();
    }
    let mut cpu = CpuProbe::new(find_broker(common.broker_pid));
    let started = Instant::now();
    let end = tokio::time::Instant::now() + Duration::from_secs(common.duration);
    let mut ticker = tokio::time::interval_at(
        tokio::time::Instant::now() + common.interval(),
        common.interval(),
    );
    let mut last = Instant::now();
    loop {
        tokio::select! {
            _ = ticker.tick() => {
                let w = meter.take_window().figures(last.elapsed().as_secs_f64());
                last = Instant::now();
                let t = meter.total();
                let line = format!("{}{}", w.produce_line(), cpu.window(w.msgs).line());
                print_window(common, started.elapsed(), &line, t.msgs,
                    t.send_failed + t.response_failed);
            }
            _ = tokio::time::sleep_until(end), if common.count.is_none() => {
                stop.cancel();
                break;
            }
            _ = tracker.wait() => break,
        }
    }
    (started.elapsed().as_secs_f64(), cpu)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runtime_threads_is_not_the_concurrency_alias() {
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            p: ProduceArgs,
        }
        use clap::Parser;
        let c = Cli::try_parse_from(["p", "--threads", "8", "--runtime-threads", "0"]).unwrap();
        assert_eq!((c.p.concurrency, c.p.runtime_threads), (8, 0));
        let c = Cli::try_parse_from(["p"]).unwrap();
        assert_eq!((c.p.concurrency, c.p.runtime_threads), (64, 1));
    }

    #[tokio::test(start_paused = true)]
    async fn the_pacer_spaces_slots_and_skips_a_stall() {
        let p = Pacer::new(1000).unwrap();
        let t0 = p.start;
        assert_eq!(p.slot(1), t0);
        assert_eq!(p.slot(10), t0 + Duration::from_millis(1));
        assert_eq!(p.slot(1), t0 + Duration::from_millis(11));
        // Two seconds late: the next slot is now, not a burst of old ones.
        tokio::time::advance(Duration::from_secs(2)).await;
        assert_eq!(p.slot(1), tokio::time::Instant::now());
        assert!(p.slot(1) >= tokio::time::Instant::now());
        assert!(Pacer::new(0).is_none());
    }

    #[test]
    fn claims_never_exceed_the_budget() {
        let b = AtomicI64::new(5);
        assert_eq!(claim(&b, 2), 2);
        assert_eq!(claim(&b, 2), 2);
        assert_eq!(claim(&b, 2), 1);
        assert_eq!(claim(&b, 2), 0);
        assert_eq!(claim(&b, 1), 0);
    }

    #[test]
    fn failures_are_split_like_rocketmq() {
        let resp = ClientError::Response {
            addr: "a".into(),
            code: 14,
            code_name: "SERVICE_NOT_AVAILABLE".into(),
            remark: String::new(),
        };
        assert_eq!(classify(&resp), Failure::Response);
        let wrapped = ClientError::SendFailed {
            topic: "T".into(),
            attempts: 3,
            last: Box::new(resp),
        };
        assert_eq!(classify(&wrapped), Failure::Response);
        assert_eq!(classify(&ClientError::NoNameServer), Failure::Send);
    }
}
