//! `apogee broker`: a broker process, and the broker half of `standalone`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use broker::{Broker, BrokerConfig, StoreConfig};
use serde::{Deserialize, Serialize};

use crate::{config_load, logging};

/// A broker.conf sets broker and store keys side by side, as in Java.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct BrokerFile {
    #[serde(flatten)]
    pub broker: BrokerConfig,
    #[serde(flatten)]
    pub store: StoreConfig,
}

/// Options of `apogee broker`.
#[derive(clap::Args)]
pub struct BrokerArgs {
    /// NameServer addresses, `;`-separated; overrides `namesrvAddr`.
    #[arg(short = 'n', long = "namesrv", value_name = "ADDRS")]
    pub namesrv: Option<String>,
    /// Address to listen on; overrides `listenPort` (default 0.0.0.0:10911).
    /// The port two below it (10909) is served too, for old Java clients.
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// Store directory; overrides `storePathRootDir`.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Config file: Java `broker.conf` keys, or TOML when the name ends in
    /// `.toml`. `APOGEE_BROKER_<KEY>` variables override.
    #[arg(short = 'c', long = "config", value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// Loads a broker config file (or the defaults) and applies the flags.
pub fn load(
    config: Option<&Path>,
    namesrv: Option<String>,
    data_dir: Option<PathBuf>,
) -> Result<BrokerFile> {
    let mut file: BrokerFile = config_load::load(config, "BROKER")?;
    if let Some(n) = namesrv {
        file.broker.namesrv_addr = n;
    }
    if let Some(d) = data_dir {
        file.store.store_path_root_dir = d;
    }
    Ok(file)
}

/// Starts a broker from a loaded config.
pub async fn start(file: BrokerFile, listen: SocketAddr) -> Result<Broker> {
    let root = file.store.store_path_root_dir.clone();
    Broker::start(file.broker, file.store, listen)
        .await
        .with_context(|| {
            format!(
                "cannot start the broker on {listen} with data in {}",
                root.display()
            )
        })
}

/// Runs a broker until Ctrl-C or SIGTERM.
pub async fn run(args: BrokerArgs) -> Result<()> {
    let file = load(args.config.as_deref(), args.namesrv, args.data_dir)?;
    let listen = args
        .listen
        .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], file.broker.listen_port)));
    let broker = start(file, listen).await?;
    if let Some(path) = args.config {
        // updateBrokerConfig writes back to the file the broker started from.
        broker.state().live.set_file(path);
    }
    tracing::info!(
        "broker listening on {} (clients dial {})",
        broker.local_addr(),
        broker.advertised_addr()
    );
    logging::shutdown_signal().await;
    tracing::info!("broker shutting down");
    broker.shutdown().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_deploy_confs_load_and_validate() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/compose");
        for (name, role) in [
            ("broker-a-master.conf", broker::BrokerRole::AsyncMaster),
            ("broker-a-slave.conf", broker::BrokerRole::Slave),
        ] {
            let file = load(Some(&dir.join(name)), None, None).unwrap();
            file.broker.validate().unwrap();
            file.store.validate().unwrap();
            assert_eq!(file.broker.broker_role, role, "{name}");
        }
    }
}
