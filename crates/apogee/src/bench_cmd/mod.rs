//! `apogee bench produce|consume`: load through the client library, with
//! the figures RocketMQ's benchmark prints (Send TPS, Max RT, Average RT,
//! Send Failed, Response Failed) plus p50/p99/p999, every `--interval`
//! seconds and as a final summary.

mod consume;
pub mod cpu;
mod grpc_load;
mod grpc_send;
pub mod meter;
mod produce;
mod timer;

use std::time::Duration;

use anyhow::Result;
use clap::{Args, Subcommand};

pub use consume::ConsumeArgs;
pub use produce::ProduceArgs;
pub use timer::TimerArgs;

/// Options of `apogee bench`.
#[derive(Args, Debug)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub command: BenchCommand,
}

/// What to load.
#[derive(Subcommand, Debug)]
pub enum BenchCommand {
    /// Send messages as fast as the in-flight window allows.
    Produce(ProduceArgs),
    /// Consume a topic with a push consumer and measure the rate.
    Consume(ConsumeArgs),
    /// Timed-message accuracy (lateness of TIMER_DELIVER_MS deliveries), or
    /// with --delay-cost the send cost of delayed and timed messages.
    Timer(TimerArgs),
}

pub use crate::access_args::AccessArgs;

/// Flags every bench mode has.
#[derive(Args, Debug, Clone)]
pub struct CommonArgs {
    /// NameServer address(es), `;`-separated.
    #[arg(short = 'n', long = "namesrvAddr", env = "NAMESRV_ADDR", default_value = client::DEFAULT_NAMESRV)]
    pub namesrv: String,
    #[command(flatten)]
    pub access: AccessArgs,
    /// Topic.
    #[arg(short = 't', long = "topic", default_value = "BenchmarkTest")]
    pub topic: String,
    /// Measured seconds (ignored with --count).
    #[arg(short = 'd', long = "duration", default_value_t = 20)]
    pub duration: u64,
    /// Stop after this many messages instead of after --duration.
    #[arg(long = "count")]
    pub count: Option<u64>,
    /// Seconds between progress lines.
    #[arg(long = "interval", default_value_t = 5)]
    pub interval: u64,
    /// Print the final summary as one JSON line (progress stays on stderr).
    #[arg(long)]
    pub json: bool,
    /// The broker (or standalone) process whose CPU per message is
    /// reported (from /proc/PID/stat); without it, the one local
    /// `apogee broker|standalone` process if there is exactly one.
    #[arg(long = "broker-pid")]
    pub broker_pid: Option<u32>,
}

impl CommonArgs {
    fn interval(&self) -> Duration {
        Duration::from_secs(self.interval.max(1))
    }
}

/// Runs one bench mode.
///
/// # Errors
/// Client start-up failures and bad arguments.
pub async fn run(args: BenchArgs) -> Result<()> {
    match args.command {
        BenchCommand::Produce(a) => produce::run(a).await,
        BenchCommand::Consume(a) => consume::run(a).await,
        BenchCommand::Timer(a) => timer::run(a).await,
    }
}

/// Prints the periodic lines: the figures on stdout (people's mode only)
/// and a short progress line on stderr.
fn print_window(common: &CommonArgs, elapsed: Duration, line: &str, total: u64, failed: u64) {
    if !common.json {
        let _ = crate::admin_cmd::emit(&format!("{line}\n"));
    }
    eprintln!(
        "[bench {:>4}s] {total} msgs, {failed} failed",
        elapsed.as_secs()
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser, Debug)]
    struct Cli {
        #[command(flatten)]
        bench: BenchArgs,
    }

    #[test]
    fn produce_flags() {
        let c = Cli::try_parse_from([
            "bench",
            "produce",
            "-t",
            "T",
            "--size",
            "512",
            "--concurrency",
            "32",
            "--producers",
            "2",
            "--count",
            "200",
            "--batch",
            "4",
            "--json",
        ])
        .unwrap();
        let BenchCommand::Produce(p) = c.bench.command else {
            panic!("wrong mode")
        };
        assert_eq!(
            (p.size, p.concurrency, p.producers, p.batch),
            (512, 32, 2, 4)
        );
        assert_eq!(p.common.count, Some(200));
        assert!(p.common.json);
        assert_eq!(p.common.namesrv, "127.0.0.1:9876");
    }

    #[test]
    fn consume_flags_and_defaults() {
        let c = Cli::try_parse_from(["bench", "consume", "-g", "G", "-d", "3"]).unwrap();
        let BenchCommand::Consume(a) = c.bench.command else {
            panic!("wrong mode")
        };
        assert_eq!(a.group, "G");
        assert_eq!(a.common.topic, "BenchmarkTest");
        assert_eq!(a.common.duration, 3);
        assert!(Cli::try_parse_from(["bench", "produce", "--size", "0"]).is_err());
    }
}
