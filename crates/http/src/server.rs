//! The listener: binds, serves the router until shut down, and lets the
//! caller await the serving task.

use std::net::SocketAddr;

use axum::middleware::from_fn_with_state;
use axum::routing::get;
use axum::Router;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::error::HttpError;
use crate::sources::Sources;
use crate::{api, assets, gate, metrics, probes};

/// A running HTTP listener.
pub struct HttpServer {
    local: SocketAddr,
    cancel: CancellationToken,
    task: JoinHandle<()>,
}

/// Every route of the HTTP side.
pub fn router(sources: Sources) -> Router {
    Router::new()
        .route("/health", get(probes::health))
        .route("/ready", get(probes::ready))
        .route(
            "/metrics",
            get(metrics::handler)
                .route_layer(from_fn_with_state(sources.clone(), gate::protect_metrics)),
        )
        .nest(
            "/api",
            api::routes().route_layer(from_fn_with_state(sources.clone(), gate::require_session)),
        )
        .merge(assets::routes())
        .with_state(sources)
}

impl HttpServer {
    /// Binds `addr` (port 0 picks one) and serves in a background task.
    ///
    /// # Errors
    /// [`HttpError::Io`] when the address cannot be bound.
    pub async fn start(addr: SocketAddr, sources: Sources) -> Result<HttpServer, HttpError> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let local = listener.local_addr()?;
        let cancel = CancellationToken::new();
        let stop = cancel.clone();
        let app = router(sources);
        let task = tokio::spawn(async move {
            let served = axum::serve(listener, app)
                .with_graceful_shutdown(stop.cancelled_owned())
                .await;
            if let Err(e) = served {
                tracing::warn!("http listener stopped: {e}");
            }
        });
        Ok(HttpServer {
            local,
            cancel,
            task,
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Stops accepting, lets open requests finish, and waits.
    pub async fn shutdown(self) {
        self.cancel.cancel();
        if let Err(e) = self.task.await {
            tracing::warn!("http listener task failed: {e}");
        }
    }
}
