//! `apogee broker`: a broker process, and the broker half of `standalone`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use broker::{Broker, BrokerConfig, StoreConfig};
use grpc::GrpcServer;
use serde::{Deserialize, Serialize};

use crate::{config_load, logging};

/// A broker.conf sets broker and store keys side by side, as in Java.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct BrokerFile {
    #[serde(flatten)]
    pub broker: BrokerConfig,
    #[serde(flatten)]
    pub store: StoreConfig,
    #[serde(flatten)]
    pub http: crate::web::HttpFile,
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
    /// Address of the 5.x gRPC endpoint; overrides `grpcListenPort`
    /// (default 0.0.0.0:8081).
    #[arg(long, value_name = "ADDR")]
    pub grpc_listen: Option<SocketAddr>,
    /// Serve /metrics, /health, /ready and the console here; overrides
    /// `httpListenPort` (which binds 127.0.0.1).
    #[arg(long, value_name = "ADDR")]
    pub http_listen: Option<SocketAddr>,
}

/// A broker and the gRPC endpoint beside it.
pub struct Running {
    pub broker: Broker,
    /// None when the default gRPC port was taken (see [`start`]).
    pub grpc: Option<GrpcServer>,
}

impl Running {
    /// Stops the endpoint, then the broker.
    pub async fn shutdown(self) {
        if let Some(g) = self.grpc {
            g.shutdown().await;
        }
        self.broker.shutdown().await;
    }

    /// Where gRPC is served, for the start-up line.
    pub fn grpc_addr(&self) -> String {
        self.grpc
            .as_ref()
            .map_or_else(|| "off".to_string(), |g| g.local_addr().to_string())
    }
}

/// Where to serve gRPC: an address the user asked for must be bound; the
/// default one may be taken (a Java proxy or another broker on the host),
/// and then the broker runs without gRPC, as a Java broker would.
#[derive(Debug, Clone, Copy)]
pub struct GrpcListen {
    pub addr: SocketAddr,
    pub required: bool,
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

/// Starts a broker from a loaded config, and its gRPC endpoint.
pub async fn start(mut file: BrokerFile, listen: SocketAddr, grpc: GrpcListen) -> Result<Running> {
    let root = file.store.store_path_root_dir.clone();
    let listener = match GrpcServer::bind(grpc.addr).await {
        Ok(l) => Some(l),
        Err(e) if !grpc.required => {
            tracing::warn!("gRPC endpoint off: {e}");
            None
        }
        Err(e) => return Err(e.into()),
    };
    // The bound port, so that a port of 0 is announced as the real one
    // (0 without an endpoint: other endpoints then know there is none).
    file.broker.grpc_listen_port = listener
        .as_ref()
        .and_then(|l| l.local_addr().ok())
        .map_or(0, |a| a.port());
    let broker = Broker::start(file.broker, file.store, listen)
        .await
        .with_context(|| {
            format!(
                "cannot start the broker on {listen} with data in {}",
                root.display()
            )
        })?;
    let Some(listener) = listener else {
        return Ok(Running { broker, grpc: None });
    };
    match GrpcServer::start(broker.state().clone(), listener).await {
        Ok(grpc) => Ok(Running {
            broker,
            grpc: Some(grpc),
        }),
        Err(e) => {
            broker.shutdown().await;
            Err(e.into())
        }
    }
}

/// Runs a broker until Ctrl-C or SIGTERM.
pub async fn run(args: BrokerArgs) -> Result<()> {
    let mut file = load(args.config.as_deref(), args.namesrv, args.data_dir)?;
    let listen = args
        .listen
        .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], file.broker.listen_port)));
    let http_addr = args.http_listen.or_else(|| file.http.addr());
    let http_file = std::mem::take(&mut file.http);
    let namesrv = file.broker.namesrv_addr.clone();
    let grpc = GrpcListen {
        addr: args
            .grpc_listen
            .unwrap_or_else(|| SocketAddr::new(listen.ip(), file.broker.grpc_listen_port)),
        required: args.grpc_listen.is_some(),
    };
    let running = start(file, listen, grpc).await?;
    if let Some(path) = args.config {
        // updateBrokerConfig writes back to the file the broker started from.
        running.broker.state().live.set_file(path);
    }
    tracing::info!(
        "broker listening on {} (clients dial {}), gRPC on {}",
        running.broker.local_addr(),
        running.broker.advertised_addr(),
        running.grpc_addr()
    );
    let sources = http::Sources {
        broker: Some(running.broker.state().clone()),
        admin: crate::web::admin_for(
            &namesrv,
            running.broker.state().config.tls_client_settings(),
        ),
        auth: match http_file.auth(&running.broker, &namesrv) {
            Ok(a) => a,
            Err(e) => {
                running.shutdown().await;
                return Err(e);
            }
        },
        ..http::Sources::default()
    };
    let server = match http_addr {
        Some(addr) => match crate::web::start(addr, sources.clone()).await {
            Ok(s) => Some(s),
            Err(e) => {
                running.shutdown().await;
                return Err(e);
            }
        },
        None => None,
    };
    logging::shutdown_signal().await;
    tracing::info!("broker shutting down");
    crate::web::stop(server, &sources).await;
    running.shutdown().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../conf/examples")
            .join(name)
    }

    /// The Apache distribution's broker files, and a tuned one full of keys
    /// we have no setting for, load unchanged and mean what they say.
    #[test]
    fn java_broker_files_load_unchanged() {
        let f = load(Some(&example("broker.conf")), None, None).unwrap();
        assert_eq!(f.broker.broker_name, "broker-a");
        assert_eq!(
            f.broker.broker_role,
            broker::config::BrokerRole::AsyncMaster
        );
        assert_eq!(f.store.file_reserved_time, 48);
        f.store.validate().unwrap();
        for (name, id, role) in [
            (
                "broker-a.properties",
                0,
                broker::config::BrokerRole::SyncMaster,
            ),
            (
                "broker-a-s.properties",
                1,
                broker::config::BrokerRole::Slave,
            ),
            (
                "broker-b.properties",
                0,
                broker::config::BrokerRole::SyncMaster,
            ),
            (
                "broker-b-s.properties",
                1,
                broker::config::BrokerRole::Slave,
            ),
        ] {
            let f = load(Some(&example(&format!("2m-2s-sync/{name}"))), None, None).unwrap();
            assert_eq!(
                (f.broker.broker_id, f.broker.broker_role),
                (id, role),
                "{name}"
            );
            f.store.validate().unwrap();
        }
        let f = load(Some(&example("broker-tuned.conf")), None, None).unwrap();
        assert_eq!(
            f.store.store_path_root_dir,
            Path::new("/data/rocketmq/store")
        );
        assert_eq!(f.store.disk_max_used_space_ratio, 88);
        f.store.validate().unwrap();
    }

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
