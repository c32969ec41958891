//! The `apogee` binary: one executable for every role.

#![forbid(unsafe_code)]

mod access_args;
mod admin_cmd;
mod alloc;
mod bench_cmd;
mod broker_cmd;
mod config_load;
mod controller_cmd;
mod docs_cmd;
mod embedded_controller;
mod java_keys;
mod logging;
mod namesrv_cmd;
mod standalone_cmd;
mod tls_args;
mod web;

use clap::{CommandFactory, Parser, Subcommand};

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
    /// Run a controller of controller mode (automatic master failover; three form a group).
    Controller(controller_cmd::ControllerArgs),
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
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions(docs_cmd::CompletionsArgs),
    /// Print the man page (roff) of apogee and all its subcommands.
    Manpage,
}

fn main() -> std::process::ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            // --help and --version.
            let _ = e.print();
            return std::process::ExitCode::SUCCESS;
        }
        Err(e) => {
            // One line (clap's first) and exit 1, like every other failure.
            let text = e.render().to_string();
            let line = text.lines().next().unwrap_or("invalid arguments");
            eprintln!("apogee: {}", line.trim_start_matches("error: "));
            return std::process::ExitCode::FAILURE;
        }
    };
    match &cli.command {
        Command::Completions(args) => return finish(docs_cmd::completions(Cli::command(), args)),
        Command::Manpage => return finish(docs_cmd::manpage(Cli::command())),
        _ => {}
    }
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
            Command::Controller(args) => controller_cmd::run(args).await,
            Command::Broker(args) => broker_cmd::run(args).await,
            Command::Standalone(args) => standalone_cmd::run(args).await,
            Command::Admin(args) => admin_cmd::run(args).await,
            Command::Bench(args) => bench_cmd::run(args).await,
            Command::Console(args) => web::run_console(args).await,
            Command::Completions(_) | Command::Manpage => Ok(()),
        }
    });
    finish(result)
}

fn finish(result: anyhow::Result<()>) -> std::process::ExitCode {
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("apogee: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
