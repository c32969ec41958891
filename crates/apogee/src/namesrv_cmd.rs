//! `apogee namesrv`: a NameServer process.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, Result};
use namesrv::{NameServer, NamesrvConfig};

use crate::{config_load, logging};

/// Options of `apogee namesrv`.
#[derive(clap::Args)]
pub struct NamesrvArgs {
    /// Address to listen on; overrides `listenPort` of the config
    /// (default 0.0.0.0:9876).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// Config file: Java `namesrv.conf` keys (`listenPort=9876`), or TOML
    /// when the name ends in `.toml`. `APOGEE_NAMESRV_<KEY>` variables override.
    #[arg(short = 'c', long = "config", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Serve /metrics, /health, /ready and the console (over this
    /// NameServer) here; overrides `httpListenPort` (which binds 127.0.0.1).
    #[arg(long, value_name = "ADDR")]
    pub http_listen: Option<SocketAddr>,
}

/// Runs a NameServer until Ctrl-C or SIGTERM.
pub async fn run(args: NamesrvArgs) -> Result<()> {
    let config: NamesrvConfig = config_load::load(args.config.as_deref(), "NAMESRV")?;
    let addr = args
        .listen
        .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], config.listen_port)));
    let http_addr = args.http_listen.or_else(|| {
        (config.http_listen_port != 0)
            .then(|| SocketAddr::from(([127, 0, 0, 1], config.http_listen_port)))
    });
    let server = NameServer::start(config, addr)
        .await
        .with_context(|| format!("cannot start the NameServer on {addr}"))?;
    tracing::info!("NameServer listening on {}", server.local_addr());
    let sources = http::Sources {
        namesrv: Some(server.state().clone()),
        admin: crate::web::admin_for(&loopback_of(server.local_addr()).to_string(), None),
        ..http::Sources::default()
    };
    let http_server = match http_addr {
        Some(addr) => match crate::web::start(addr, sources.clone()).await {
            Ok(s) => Some(s),
            Err(e) => {
                server.shutdown().await;
                return Err(e);
            }
        },
        None => None,
    };
    logging::shutdown_signal().await;
    tracing::info!("NameServer shutting down");
    crate::web::stop(http_server, &sources).await;
    server.shutdown().await;
    Ok(())
}

/// The address to dial our own listener on (a wildcard bind is dialled on
/// loopback).
fn loopback_of(addr: SocketAddr) -> SocketAddr {
    if addr.ip().is_unspecified() {
        SocketAddr::from(([127, 0, 0, 1], addr.port()))
    } else {
        addr
    }
}
