//! `apogee controller`: one member of a controller group (controller mode's
//! Raft-backed failover brain), configured with Java's `controller.conf` keys.

use std::path::PathBuf;

use anyhow::{Context, Result};
use controller::{Controller, ControllerConfig};

use crate::logging;

/// Options of `apogee controller`.
#[derive(clap::Args)]
pub struct ControllerArgs {
    /// Config file of Java controller keys: `controllerDLegerGroup`,
    /// `controllerDLegerPeers` (`n0-host:port;n1-host:port;...`),
    /// `controllerDLegerSelfId`, `controllerStorePath`, ...
    #[arg(short = 'c', long = "config", value_name = "FILE")]
    pub config: PathBuf,
}

/// Runs a controller until Ctrl-C or SIGTERM. It listens on its own entry
/// of `controllerDLegerPeers`.
pub async fn run(args: ControllerArgs) -> Result<()> {
    let text = std::fs::read_to_string(&args.config)
        .with_context(|| format!("cannot read {}", args.config.display()))?;
    let config = ControllerConfig::from_properties(&text)
        .with_context(|| format!("bad controller config {}", args.config.display()))?;
    let controller = Controller::start(config)
        .await
        .context("cannot start the controller")?;
    tracing::info!("controller listening on {}", controller.local_addr());
    logging::shutdown_signal().await;
    tracing::info!("controller shutting down");
    controller.shutdown().await;
    Ok(())
}
