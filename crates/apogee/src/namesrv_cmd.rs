//! `apogee namesrv`: a NameServer process, with a controller inside when
//! `enableControllerInNamesrv=true`.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, Result};
use namesrv::{NameServer, NamesrvConfig};

use crate::{config_load, embedded_controller, logging};

/// Options of `apogee namesrv`.
#[derive(clap::Args)]
pub struct NamesrvArgs {
    /// Address to listen on; overrides `listenPort` of the config
    /// (default 0.0.0.0:9876).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// Config file: Java `namesrv.conf` keys (`listenPort=9876`), or TOML
    /// when the name ends in `.toml`. `APOGEE_NAMESRV_<KEY>` variables override.
    /// With `enableControllerInNamesrv=true` it also holds the controller's
    /// keys (`controllerDLegerPeers`, ...), as Java's does.
    #[arg(short = 'c', long = "config", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Serve /metrics, /health, /ready and the console (over this
    /// NameServer) here; overrides `httpListenPort` (which binds 127.0.0.1).
    #[arg(long, value_name = "ADDR")]
    pub http_listen: Option<SocketAddr>,
}

/// Runs a NameServer (and its embedded controller) until Ctrl-C or SIGTERM.
pub async fn run(args: NamesrvArgs) -> Result<()> {
    let config: NamesrvConfig = config_load::load_sharing(
        args.config.as_deref(),
        "NAMESRV",
        controller::ControllerConfig::is_key,
    )?;
    // Checked before anything listens, so a bad key stops the start at once.
    let controller_config = if config.enable_controller_in_namesrv {
        Some(embedded_controller::config_from(args.config.as_deref())?)
    } else {
        None
    };
    let addr = args
        .listen
        .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], config.listen_port)));
    let http_addr = args.http_listen.or_else(|| {
        (config.http_listen_port != 0)
            .then(|| SocketAddr::from(([127, 0, 0, 1], config.http_listen_port)))
    });
    // The console's clients (to this NameServer and the brokers) speak TLS
    // when `tls.enable` is set, as a broker's own connections do.
    let console_tls = config.client_tls.settings();
    let server = NameServer::start(config, addr)
        .await
        .with_context(|| format!("cannot start the NameServer on {addr}"))?;
    tracing::info!("NameServer listening on {}", server.local_addr());
    let controller = match controller_config {
        Some(c) => match embedded_controller::start(c).await {
            Ok(c) => Some(c),
            Err(e) => {
                server.shutdown().await;
                return Err(e);
            }
        },
        None => None,
    };
    let sources = http::Sources {
        namesrv: Some(server.state().clone()),
        admin: crate::web::admin_for(&loopback_of(server.local_addr()).to_string(), console_tls),
        ..http::Sources::default()
    };
    let http_server = match http_addr {
        Some(addr) => match crate::web::start(addr, sources.clone()).await {
            Ok(s) => Some(s),
            Err(e) => {
                if let Some(c) = controller {
                    c.shutdown().await;
                }
                server.shutdown().await;
                return Err(e);
            }
        },
        None => None,
    };
    logging::shutdown_signal().await;
    tracing::info!("NameServer shutting down");
    crate::web::stop(http_server, &sources).await;
    if let Some(c) = controller {
        c.shutdown().await;
    }
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
