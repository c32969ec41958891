//! The `apogee` binary: one executable for every role.

#![forbid(unsafe_code)]

mod admin_cmd;
mod alloc;
mod bench_cmd;
mod broker_cmd;
mod config_load;
mod java_keys;
mod logging;
mod namesrv_cmd;
mod standalone_cmd;
mod web;

use clap::{Parser, Subcommand};

/// Apogee: a RocketMQ-compatible message queue.
#[derive(Parser)]
#[command(name = "apogee", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a NameServer (default port 9876).
    Namesrv(namesrv_cmd::NamesrvArgs),
    /// Run a broker (default port 10911, and 10909 for old Java clients).
    Broker(broker_cmd::BrokerArgs),
    /// Run a NameServer and a broker in one process (the quick start).
    Standalone(standalone_cmd::StandaloneArgs),
    /// mqadmin's operations: topics, groups, offsets, messages, brokers.
    Admin(admin_cmd::AdminArgs),
    /// Load generation: produce or consume, with RocketMQ's benchmark figures.
    Bench(bench_cmd::BenchArgs),
    /// The web console alone, against a running cluster's NameServers.
    Console(web::ConsoleArgs),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    // Admin and bench print reports; only warnings of the client belong
    // beside them unless RUST_LOG asks for more.
    match cli.command {
        Command::Admin(_) | Command::Bench(_) => logging::init_with_default("warn"),
        _ => logging::init(),
    }
    alloc::start_purging();
    tracing::debug!(allocator = alloc::name(), "allocator");
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("apogee: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Namesrv(args) => namesrv_cmd::run(args).await,
            Command::Broker(args) => broker_cmd::run(args).await,
            Command::Standalone(args) => standalone_cmd::run(args).await,
            Command::Admin(args) => admin_cmd::run(args).await,
            Command::Bench(args) => bench_cmd::run(args).await,
            Command::Console(args) => web::run_console(args).await,
        }
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("apogee: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
