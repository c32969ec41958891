//! Binding and running the gRPC endpoint beside a broker (h2c, and TLS
//! with the broker's `tls.server.*` keys), and stopping it.

use std::net::SocketAddr;
use std::sync::Arc;

use broker::state::BrokerState;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::conn::H2Settings;
use crate::core::Core;
use crate::error::{GrpcError, GrpcResult};
use crate::pb::Code;
use crate::service::Service;
use crate::tls::{incoming, GrpcTls};
use crate::transaction::{heartbeat_loop, CheckProcessor};
use crate::upstream::Upstream;

/// A running gRPC endpoint.
pub struct GrpcServer {
    local: SocketAddr,
    core: Arc<Core>,
}

impl GrpcServer {
    /// Binds the gRPC port before the broker starts, so the broker can
    /// announce the real port (`grpcListenPort`) even when asked for 0.
    ///
    /// # Errors
    /// The port cannot be bound.
    pub async fn bind(listen: SocketAddr) -> GrpcResult<TcpListener> {
        TcpListener::bind(listen).await.map_err(|e| {
            GrpcError::invalid(
                Code::InternalServerError,
                format!("cannot listen for gRPC on {listen}: {e}"),
            )
        })
    }

    /// Serves MessagingService on `listener` for the broker `state`.
    ///
    /// # Errors
    /// The broker has no NameServer address, or a `tls.server.*` key is bad.
    pub async fn start(state: Arc<BrokerState>, listener: TcpListener) -> GrpcResult<GrpcServer> {
        let tls = state
            .config
            .server_config()
            .map_err(|e| GrpcError::invalid(Code::InternalServerError, e.to_string()))?
            .tls;
        let tls = GrpcTls::from_remoting(&tls);
        let namesrv = state.config.namesrv_addr.clone();
        if namesrv.trim().is_empty() {
            return Err(GrpcError::invalid(
                Code::InternalServerError,
                "the gRPC endpoint needs the broker's namesrvAddr",
            ));
        }
        let local = listener.local_addr().map_err(|e| {
            GrpcError::invalid(
                Code::InternalServerError,
                format!("gRPC listener address: {e}"),
            )
        })?;
        let advertised = match state.advertised_addr.rsplit_once(':') {
            Some((host, _)) if local.ip().is_unspecified() => format!("{host}:{}", local.port()),
            _ => local.to_string(),
        };
        let cancel = CancellationToken::new();
        let tasks = TaskTracker::new();
        let credentials = state.config.credentials();
        if state.acl.is_some() && credentials.is_none() {
            tracing::warn!("aclEnable is on but accessKey/secretKey are not set: the gRPC endpoint's requests to brokers go unsigned and are refused unless its address is whitelisted");
        }
        let names = Upstream::names(
            &namesrv,
            credentials.as_ref(),
            state.config.tls_client_settings(),
        )?;
        let transport = state
            .config
            .client_config()
            .map_err(|e| GrpcError::invalid(Code::InternalServerError, e.to_string()))?;
        let core = Arc::new_cyclic(|weak| {
            let processor = Arc::new(CheckProcessor::new(weak.clone()));
            Core::new(
                Upstream::new(names, processor, transport),
                state,
                advertised,
                cancel,
                tasks,
            )
        });
        Ok(GrpcServer::run(core, listener, local, tls))
    }

    fn run(core: Arc<Core>, listener: TcpListener, local: SocketAddr, tls: GrpcTls) -> GrpcServer {
        let service = Service { core: core.clone() };
        let cancel = core.cancel.clone();
        let mode = tls.mode;
        let conns = incoming(listener, tls, cancel.clone(), core.tasks.clone());
        core.tasks.spawn(crate::conn::serve(
            service,
            conns,
            H2Settings::default(),
            cancel,
            core.tasks.clone(),
        ));
        core.tasks
            .spawn(crate::pop::renew_loop(core.clone(), core.cancel.clone()));
        core.tasks.spawn(heartbeat_loop(
            core.clone(),
            core.heartbeat_now.clone(),
            core.cancel.clone(),
        ));
        tracing::info!(%local, tls = %mode, "gRPC endpoint listening");
        GrpcServer { local, core }
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Stops serving: open streams end, tasks are awaited, connections close.
    pub async fn shutdown(self) {
        self.core.cancel.cancel();
        self.core.tasks.close();
        self.core.tasks.wait().await;
        self.core.upstream.shutdown().await;
    }
}
