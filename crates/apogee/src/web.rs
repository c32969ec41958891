//! The HTTP listener of every role (`/metrics`, `/health`, `/ready`, the
//! console) and `apogee console`, the console alone against a remote
//! cluster.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{Context, Result};
use http::{HttpServer, Sources};
use serde::{Deserialize, Serialize};

use crate::logging;

/// The broker.conf keys of the listener: its port (0: none; it binds
/// loopback) and whether `/metrics` needs an admin account too (with
/// `aclEnable`; see docs/security.md, "The console").
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct HttpFile {
    #[serde(rename = "httpListenPort", default)]
    pub http_listen_port: u16,
    #[serde(rename = "httpMetricsRequireAuth", default)]
    pub http_metrics_require_auth: bool,
}

impl HttpFile {
    /// The console's login over the broker's ACL accounts, when it has any.
    ///
    /// # Errors
    /// `httpMetricsRequireAuth` without `aclEnable` (no account to log in
    /// with).
    pub fn auth(
        &self,
        broker: &broker::Broker,
        namesrv: &str,
    ) -> Result<Option<Arc<http::auth::Auth>>> {
        match broker.acl() {
            Some(acl) => Ok(Some(Arc::new(
                http::auth::Auth::from_acl(
                    Arc::clone(acl),
                    namesrv,
                    self.http_metrics_require_auth,
                )
                .with_tls(broker.state().config.tls_client_settings()),
            ))),
            None if self.http_metrics_require_auth => anyhow::bail!(
                "httpMetricsRequireAuth=true needs aclEnable=true: the admin accounts of plain_acl.yml are who may scrape"
            ),
            None => Ok(None),
        }
    }

    /// The address `httpListenPort` asks for, if any.
    pub fn addr(&self) -> Option<SocketAddr> {
        (self.http_listen_port != 0)
            .then(|| SocketAddr::from(([127, 0, 0, 1], self.http_listen_port)))
    }
}

/// An admin client for `namesrv` (none when the list is empty or `tls`'s
/// files cannot be used), speaking TLS when `tls` is some: the broker's
/// outbound settings (`tls.enable`, `tls.client.*`), so the console reaches
/// a cluster whose servers are `enforcing`.
pub fn admin_for(
    namesrv: &str,
    tls: Option<client::TlsClientSettings>,
) -> Option<Arc<client::Admin>> {
    let mut options = client::ClientOptions {
        tls,
        ..client::ClientOptions::default()
    };
    options.add_namesrv(namesrv);
    match client::Admin::start(options) {
        Ok(a) => Some(Arc::new(a)),
        Err(e) => {
            tracing::warn!("the console API is off: {e}");
            None
        }
    }
}

/// Starts the listener on `addr` over `sources`.
///
/// # Errors
/// The address cannot be bound.
pub async fn start(addr: SocketAddr, sources: Sources) -> Result<HttpServer> {
    let server = HttpServer::start(addr, sources)
        .await
        .with_context(|| format!("cannot start the HTTP listener on {addr}"))?;
    tracing::info!("console and metrics on http://{}/", server.local_addr());
    Ok(server)
}

/// Stops the listener and the console's clients.
pub async fn stop(server: Option<HttpServer>, sources: &Sources) {
    if let Some(s) = server {
        s.shutdown().await;
    }
    sources.shutdown().await;
}

/// Options of `apogee console`.
#[derive(clap::Args)]
pub struct ConsoleArgs {
    /// NameServer addresses of the cluster to show, `;`-separated.
    #[arg(
        short = 'n',
        long = "namesrv",
        value_name = "ADDRS",
        default_value = "127.0.0.1:9876"
    )]
    pub namesrv: String,
    /// Address to serve the console on.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// ACL 1.0 account the console's requests are signed with (for a
    /// cluster with `aclEnable=true`), and TLS.
    #[command(flatten)]
    pub access: crate::access_args::AccessArgs,
}

/// Serves the console against a remote cluster until Ctrl-C or SIGTERM.
pub async fn run_console(args: ConsoleArgs) -> Result<()> {
    let options = args.access.options(&args.namesrv);
    let admin = client::Admin::start(options)
        .with_context(|| format!("cannot reach the cluster of `{}`", args.namesrv))?;
    let sources = Sources {
        admin: Some(Arc::new(admin)),
        ..Sources::default()
    };
    let server = start(args.listen, sources.clone()).await?;
    println!(
        "Apogee console: http://{}/ (cluster {})",
        server.local_addr(),
        args.namesrv
    );
    logging::shutdown_signal().await;
    stop(Some(server), &sources).await;
    Ok(())
}
