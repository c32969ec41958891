//! The accepting side: a listener, a connection limit, and shutdown that
//! waits for every task it started.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use protocol::frame::DEFAULT_MAX_FRAME;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, info, warn};

use crate::admission::{Admission, AdmissionLimits};
use crate::backlog::FrameBudget;
use crate::driver::{self, Endpoint, Limits};
use crate::error::RemotingError;
use crate::handshake::{self, RefusalLog};
use crate::stream::Stream;
use crate::tls::ServerTls;
use crate::Processor;

/// Limits of a server's connections.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The largest frame accepted (the `length` word); a peer that sends a
    /// bigger one is disconnected.
    pub max_frame: usize,
    /// Connections open at the same time; more are accepted and closed at once.
    pub max_connections: usize,
    /// Connections one remote address may hold.
    pub max_connections_per_ip: usize,
    /// The last this many of `max_connections` only go to addresses holding
    /// fewer than four connections, so a flood from one address cannot
    /// lock the others out.
    pub reserved_connections: usize,
    /// A connection with no traffic in either direction for this long is closed
    /// (zero: never).
    pub idle_timeout: Duration,
    /// Requests of one connection being processed at the same time (parked
    /// long-polling pulls included); past it requests are answered
    /// SYSTEM_BUSY `[REJECTREQUEST]system busy`.
    pub max_in_flight_per_connection: usize,
    /// Bytes of answers queued for one peer past which its connection is not
    /// read until the peer takes them.
    pub write_buffer_high_water_mark: usize,
    /// A write that makes no progress for this long closes the connection
    /// (zero: never).
    pub write_stall_timeout: Duration,
    /// Bytes all connections together may hold for frames that have not
    /// fully arrived; a connection whose frame would pass it is closed.
    pub max_unfinished_frame_bytes: usize,
    /// TLS on this port (`tls.server.*`); plaintext only by default.
    pub tls: ServerTls,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            max_frame: DEFAULT_MAX_FRAME,
            max_connections: 10_000,
            max_connections_per_ip: 2_000,
            reserved_connections: 100,
            idle_timeout: Duration::from_secs(120),
            max_in_flight_per_connection: 4_096,
            write_buffer_high_water_mark: 4 << 20,
            write_stall_timeout: Duration::from_secs(30),
            max_unfinished_frame_bytes: 64 << 20,
            tls: ServerTls::disabled(),
        }
    }
}

/// A listening remoting server. Dropping it stops it without waiting;
/// [`Server::shutdown`] stops it and waits.
pub struct Server {
    local_addr: SocketAddr,
    admission: Arc<Admission>,
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
            limits: Limits {
                max_in_flight: config.max_in_flight_per_connection.max(1),
                high_water: config.write_buffer_high_water_mark,
                write_stall: config.write_stall_timeout,
                frames: FrameBudget::new(config.max_unfinished_frame_bytes),
            },
            shutdown: shutdown.clone(),
            tracker: tracker.clone(),
            yield_after_dispatch: false,
            inline_first_poll: true,
        });
        let admission = Admission::new(AdmissionLimits {
            max_total: config.max_connections,
            max_per_ip: config.max_connections_per_ip,
            reserved: config.reserved_connections,
        });
        let tls_mode = config.tls.effective_mode();
        tracker.spawn(accept_loop(
            listener,
            ep,
            Arc::clone(&admission),
            Arc::new(config.tls),
        ));
        info!(%local_addr, tls = %tls_mode, "remoting server listening");
        Ok(Server {
            local_addr,
            admission,
            shutdown,
            tracker,
        })
    }

    /// The address actually bound (the port chosen for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Connections refused by the connection limits since the server started.
    pub fn refused_connections(&self) -> u64 {
        self.admission.refused()
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

async fn accept_loop(
    listener: TcpListener,
    ep: Arc<Endpoint>,
    admission: Arc<Admission>,
    tls: Arc<ServerTls>,
) {
    let refusals = Arc::new(RefusalLog::new());
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
        // Refusals are counted and logged (now and then) by admit().
        let Ok(permit) = admission.admit(peer) else {
            drop(stream);
            continue;
        };
        if !handshake::needed(&tls) {
            serve(&ep, Stream::Plain(stream), peer, permit);
            continue;
        }
        // The first byte (and a TLS handshake) may take a while: not on
        // the accept loop.
        let (ep, tls, refusals) = (Arc::clone(&ep), Arc::clone(&tls), Arc::clone(&refusals));
        let shutdown = ep.shutdown.clone();
        ep.tracker.clone().spawn(async move {
            let accepted = tokio::select! {
                _ = shutdown.cancelled() => return,
                s = handshake::accept(&tls, stream, peer, &refusals) => s,
            };
            if let Some(stream) = accepted {
                serve(&ep, stream, peer, permit);
            }
        });
    }
}

fn serve(ep: &Arc<Endpoint>, stream: Stream, peer: SocketAddr, permit: crate::admission::Ticket) {
    match driver::start(ep, stream, Some(permit)) {
        Ok(conn) => debug!(conn = conn.id(), %peer, "connection accepted"),
        Err(e) => warn!(%peer, "cannot set up accepted connection: {e}"),
    }
}
