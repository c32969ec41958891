//! `apogee standalone`: a NameServer and a broker in one process, data in
//! one directory — the quick start.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, Result};
use namesrv::{NameServer, NamesrvConfig};

use crate::{broker_cmd, logging};

/// Options of `apogee standalone`.
#[derive(clap::Args)]
pub struct StandaloneArgs {
    /// NameServer address.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9876")]
    pub namesrv_listen: SocketAddr,
    /// Broker address (its port − 2 is served too).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:10911")]
    pub broker_listen: SocketAddr,
    /// Data directory (store and NameServer KV config); default
    /// `$HOME/.apogee`.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Broker config file (any broker.conf key, e.g. flushDiskType=SYNC_FLUSH).
    #[arg(short = 'c', long = "config", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Address of the 5.x gRPC endpoint (default 127.0.0.1:8081; when
    /// that port is taken, standalone runs without gRPC and says so).
    #[arg(long, value_name = "ADDR")]
    pub grpc_listen: Option<SocketAddr>,
    /// Where to serve the console, /metrics, /health and /ready (default
    /// 127.0.0.1:8080; `httpListenPort` in the config file also sets it).
    #[arg(long, value_name = "ADDR")]
    pub http_listen: Option<SocketAddr>,
    /// Run without the HTTP listener.
    #[arg(long, conflicts_with = "http_listen")]
    pub no_http: bool,
}

fn default_data_dir() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."))
        .join(".apogee")
}

/// Runs both roles until Ctrl-C or SIGTERM.
pub async fn run(args: StandaloneArgs) -> Result<()> {
    let started = std::time::Instant::now();
    let data = args.data_dir.unwrap_or_else(default_data_dir);
    std::fs::create_dir_all(&data)
        .with_context(|| format!("cannot create the data directory {}", data.display()))?;
    let mut file = broker_cmd::load(args.config.as_deref(), None, None)?;
    // The NameServer serves TLS as the broker's file says (one process,
    // one certificate).
    let b = &file.broker;
    let ns_config = NamesrvConfig {
        kv_config_path: data.join("namesrv").join("kvConfig.json"),
        config_store_path: data.join("namesrv").join("namesrv.properties"),
        server: b.server.tls_only(),
        ..NamesrvConfig::default()
    };
    let namesrv = NameServer::start(ns_config, args.namesrv_listen)
        .await
        .with_context(|| format!("cannot start the NameServer on {}", args.namesrv_listen))?;
    let namesrv_addr = namesrv.local_addr().to_string();
    file.broker.namesrv_addr = namesrv_addr.clone();
    file.store.store_path_root_dir = data.join("store");
    let http_addr = args.http_listen.or_else(|| file.http.addr());
    let http_file = std::mem::take(&mut file.http);
    let grpc = broker_cmd::GrpcListen {
        addr: args
            .grpc_listen
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8081))),
        required: args.grpc_listen.is_some(),
    };
    let running = match broker_cmd::start(file, args.broker_listen, grpc).await {
        Ok(b) => b,
        Err(e) => {
            namesrv.shutdown().await;
            return Err(e);
        }
    };
    if let Some(path) = args.config {
        // updateBrokerConfig writes back to the file the broker started from.
        running.broker.state().live.set_file(path);
    }
    tracing::info!(
        "standalone ready in {} ms: NameServer {namesrv_addr}, broker {}, gRPC {} (data in {})",
        started.elapsed().as_millis(),
        running.broker.advertised_addr(),
        running.grpc_addr(),
        data.display()
    );
    let sources = http::Sources {
        broker: Some(running.broker.state().clone()),
        namesrv: Some(namesrv.state().clone()),
        admin: crate::web::admin_for(
            &namesrv_addr,
            running.broker.state().config.tls_client_settings(),
        ),
        auth: match http_file.auth(&running.broker, &namesrv_addr) {
            Ok(a) => a,
            Err(e) => {
                running.shutdown().await;
                namesrv.shutdown().await;
                return Err(e);
            }
        },
        ..http::Sources::default()
    };
    let server = if args.no_http {
        None
    } else {
        match start_http(http_addr, &sources).await {
            Ok(s) => s,
            Err(e) => {
                running.shutdown().await;
                namesrv.shutdown().await;
                return Err(e);
            }
        }
    };
    logging::shutdown_signal().await;
    tracing::info!("standalone shutting down");
    crate::web::stop(server, &sources).await;
    running.shutdown().await;
    namesrv.shutdown().await;
    Ok(())
}

/// The console's listener: an address the user chose must bind; the
/// default (127.0.0.1:8080) may be taken, which only costs the console.
async fn start_http(
    chosen: Option<SocketAddr>,
    sources: &http::Sources,
) -> Result<Option<http::HttpServer>> {
    let addr = chosen.unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080)));
    match crate::web::start(addr, sources.clone()).await {
        Ok(s) => {
            println!("Apogee console: http://{}/", s.local_addr());
            Ok(Some(s))
        }
        Err(e) if chosen.is_none() => {
            tracing::warn!("{e:#}; running without the console");
            Ok(None)
        }
        Err(e) => Err(e),
    }
}
