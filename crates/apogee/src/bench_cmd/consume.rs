//! `apogee bench consume`: a push consumer counting what it receives and
//! how old each message is (born → consume and store → consume).

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use client::{ConsumeFrom, ConsumeResult, PushConsumer};
use tokio::sync::Notify;

use super::cpu::{find_broker, CpuProbe};
use super::grpc_load::{self, Protocol, ReceiveSpec};
use super::meter::Meter;
use super::{print_window, CommonArgs};
use crate::admin_cmd::time::now_ms;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Where a new group starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum From {
    /// The oldest stored message (drain a backlog).
    First,
    /// Messages arriving from now on.
    Last,
}

/// Flags of `bench consume`.
#[derive(Args, Debug)]
pub struct ConsumeArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Consumer group.
    #[arg(short = 'g', long = "group", default_value = "apogee_bench_consumer")]
    pub group: String,
    /// Where a group without offsets starts.
    #[arg(long = "from", value_enum, default_value_t = From::First)]
    pub from: From,
    /// Concurrent listener calls (gRPC: concurrent receive loops).
    #[arg(long = "threads", default_value_t = 20)]
    pub threads: usize,
    /// Remoting (a push consumer) or the 5.x gRPC endpoint (receive + ack).
    #[arg(long = "protocol", value_enum, default_value_t = Protocol::Remoting)]
    pub protocol: Protocol,
    /// The gRPC endpoint (`--protocol grpc`).
    #[arg(long = "endpoint", default_value = "127.0.0.1:8081")]
    pub endpoint: String,
}

fn age_us(now_ms: i64, then_ms: i64) -> u64 {
    u64::try_from(now_ms.saturating_sub(then_ms)).unwrap_or(0) * 1000
}

/// Runs the consumer and prints the summary.
///
/// # Errors
/// Consumer start-up failures.
pub async fn run(args: ConsumeArgs) -> Result<()> {
    if args.protocol == Protocol::Grpc {
        return run_grpc(args).await;
    }
    let meter = Arc::new(Meter::new()?);
    let done = Arc::new(Notify::new());
    let limit = args.common.count;
    let listener_meter = meter.clone();
    let listener_done = done.clone();
    let mut builder = PushConsumer::builder();
    if let Some((ak, sk)) = args.common.access.credentials() {
        builder = builder.credentials(ak, sk);
    }
    if let Some(tls) = args.common.access.tls.settings() {
        builder = builder.tls(tls);
    }
    let consumer = builder
        .namesrv(&args.common.namesrv)
        .group(args.group.clone())
        .subscribe(args.common.topic.clone(), "*")
        .consume_from(match args.from {
            From::First => ConsumeFrom::FirstOffset,
            From::Last => ConsumeFrom::LastOffset,
        })
        .consume_concurrency(args.threads.max(1))
        .listener(move |msgs| {
            let meter = listener_meter.clone();
            let done = listener_done.clone();
            async move {
                let now = now_ms();
                for m in &msgs {
                    meter.ok(
                        1,
                        age_us(now, m.born_timestamp),
                        age_us(now, m.store_timestamp),
                    );
                }
                if limit.is_some_and(|l| meter.total().msgs >= l) {
                    done.notify_one();
                }
                ConsumeResult::Success
            }
        })
        .build()
        .await
        .with_context(|| format!("cannot start a consumer of topic {}", args.common.topic))?;
    let (secs, cpu) = drive(&args.common, &meter, &done).await;
    consumer.shutdown().await;
    report(&args, &meter, secs, &cpu)
}

async fn run_grpc(args: ConsumeArgs) -> Result<()> {
    let meter = Arc::new(Meter::new()?);
    let done = Arc::new(Notify::new());
    let mut client = grpc_load::connect(&args.endpoint).await?;
    let brokers = grpc_load::brokers(&mut client, &args.common.topic).await?;
    let stop = CancellationToken::new();
    let tracker = TaskTracker::new();
    for i in 0..args.threads.max(1) {
        let spec = ReceiveSpec {
            group: args.group.clone(),
            topic: args.common.topic.clone(),
            broker: brokers[i % brokers.len()].clone(),
            limit: args.common.count,
        };
        tracker.spawn(grpc_load::receive_loop(
            client.clone(),
            spec,
            meter.clone(),
            done.clone(),
            stop.clone(),
        ));
    }
    tracker.close();
    let (secs, cpu) = drive(&args.common, &meter, &done).await;
    stop.cancel();
    tracker.wait().await;
    report(&args, &meter, secs, &cpu)
}

fn report(args: &ConsumeArgs, meter: &Meter, secs: f64, cpu: &CpuProbe) -> Result<()> {
    let total = meter.total().figures(secs);
    let spent = cpu.total(total.msgs);
    if args.common.json {
        let mut j = total.json("consume");
        spent.add_to(&mut j);
        j["s2c_avg_us"] = total.aux_avg_us.into();
        j["s2c_max_us"] = total.aux_max_us.into();
        crate::admin_cmd::emit(&format!("{j}\n"))?;
    } else {
        crate::admin_cmd::emit(&format!(
            "[Complete] Consume Total: {} | {}{}\n",
            total.msgs,
            total.consume_line(),
            spent.line()
        ))?;
    }
    Ok(())
}

async fn drive(common: &CommonArgs, meter: &Meter, done: &Notify) -> (f64, CpuProbe) {
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
                let line = format!("{}{}", w.consume_line(), cpu.window(w.msgs).line());
                print_window(common, started.elapsed(), &line, t.msgs, 0);
            }
            // With --count the duration is the time limit.
            _ = tokio::time::sleep_until(end) => break,
            _ = done.notified(), if common.count.is_some() => break,
        }
    }
    (started.elapsed().as_secs_f64(), cpu)
}

#[cfg(test)]
mod tests {
    use super::age_us;

    #[test]
    fn ages_are_never_negative() {
        assert_eq!(age_us(1_000, 400), 600_000);
        assert_eq!(age_us(1_000, 2_000), 0);
    }
}
