//! The accepting side: a listener, a connection limit, and shutdown that
//! waits for every task it started.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use protocol::frame::DEFAULT_MAX_FRAME;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, info, warn};

use crate::driver::{self, Endpoint};
use crate::error::RemotingError;
use crate::Processor;

/// Limits of a server's connections.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The largest frame accepted (the `length` word); a peer that sends a
    /// bigger one is disconnected.
    pub max_frame: usize,
    /// Connections open at the same time; more are accepted and closed at once.
    pub max_connections: usize,
    /// A connection with no traffic in either direction for this long is closed
    /// (zero: never).
    pub idle_timeout: Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            max_frame: DEFAULT_MAX_FRAME,
            max_connections: 10_000,
            idle_timeout: Duration::from_secs(120),
        }
    }
}

/// A listening remoting server. Dropping it stops it without waiting;
/// [`Server::shutdown`] stops it and waits.
pub struct Server {
    local_addr: SocketAddr,
    shutdown: CancellationToken,
    tracker: TaskTracker,
}

/// Pause after a failed accept (out of file descriptors, say), so the loop
/// does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

impl Server {
    /// Binds (use "127.0.0.1:0" in tests) and starts accepting in the
    /// background; every connection's requests go to `processor`.
    ///
    /// # Errors
    /// [`RemotingError::Bind`] if the address cannot be listened on.
    pub async fn bind(
        addr: SocketAddr,
        config: ServerConfig,
        processor: Arc<dyn Processor>,
    ) -> Result<Server, RemotingError> {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| RemotingError::Bind { addr, source })?;
        let local_addr = listener
            .local_addr()
            .map_err(|source| RemotingError::Bind { addr, source })?;
        let shutdown = CancellationToken::new();
        let tracker = TaskTracker::new();
        let ep = Arc::new(Endpoint {
            processor,
            max_frame: config.max_frame,
            idle_timeout: config.idle_timeout,
            shutdown: shutdown.clone(),
            tracker: tracker.clone(),
            yield_after_dispatch: false,
        });
        let slots = config.max_connections.min(Semaphore::MAX_PERMITS);
        tracker.spawn(accept_loop(
            listener,
            ep,
            Arc::new(Semaphore::new(slots)),
            slots,
        ));
        info!(%local_addr, "remoting server listening");
        Ok(Server {
            local_addr,
            shutdown,
            tracker,
        })
    }

    /// The address actually bound (the port chosen for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops accepting, closes every connection, abandons requests still
    /// being processed, and waits until every task it started has ended.
    pub async fn shutdown(self) {
        self.shutdown.cancel();
        self.tracker.close();
        self.tracker.wait().await;
        info!(local_addr = %self.local_addr, "remoting server stopped");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

async fn accept_loop(listener: TcpListener, ep: Arc<Endpoint>, slots: Arc<Semaphore>, max: usize) {
    loop {
        let accepted = tokio::select! {
            _ = ep.shutdown.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(pair) => pair,
            Err(e) => {
                warn!("accept failed: {e}");
                tokio::select! {
                    _ = ep.shutdown.cancelled() => return,
                    _ = tokio::time::sleep(ACCEPT_BACKOFF) => continue,
                }
            }
        };
        let Ok(permit) = Arc::clone(&slots).try_acquire_owned() else {
            warn!(%peer, max_connections = max, "connection limit reached; closing the new connection");
            drop(stream);
            continue;
        };
        match driver::start(&ep, stream, Some(permit)) {
            Ok(conn) => debug!(conn = conn.id(), %peer, "connection accepted"),
            Err(e) => warn!(%peer, "cannot set up accepted connection: {e}"),
        }
    }
}
