//! The server side of a new connection before any frame is read: telling
//! a TLS client from a plaintext one by the first byte (as Java's remoting
//! server does), refusing what `tls.server.mode` forbids, and running the
//! TLS handshake.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::net::TcpStream;
use tracing::{debug, warn};

use crate::stream::Stream;
use crate::tls::{ServerTls, TlsMode};

/// The first byte of a TLS handshake record. A plaintext frame starts with
/// the high byte of its length, which is 0 below 16 MiB.
const TLS_HANDSHAKE: u8 = 0x16;
/// How long a new connection may take to send its first byte and finish
/// the TLS handshake.
pub(crate) const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Refusals are logged at most this often (each line says how many).
const LOG_INTERVAL: Duration = Duration::from_secs(1);

/// Whether a connection must be looked at before it is served: only when
/// TLS is possible. Plaintext-only servers start serving at once (a TLS
/// client then fails on its first "frame", whose length is too big).
pub(crate) fn needed(tls: &ServerTls) -> bool {
    tls.effective_mode() != TlsMode::Disabled
}

/// Counts refused connections and logs them at WARN at most once a second
/// (each line says how many were refused since the last one; the others go
/// to DEBUG). The gRPC port uses it too.
pub struct RefusalLog {
    started: Instant,
    last_ms: AtomicU64,
    unlogged: AtomicU64,
}

impl Default for RefusalLog {
    fn default() -> Self {
        RefusalLog::new()
    }
}

impl RefusalLog {
    pub fn new() -> Self {
        RefusalLog {
            started: Instant::now(),
            // So the very first refusal is logged.
            last_ms: AtomicU64::new(0),
            unlogged: AtomicU64::new(0),
        }
    }

    /// A connection from `peer` closed because of `why`.
    pub fn refuse(&self, peer: SocketAddr, why: &str) {
        let now = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
            + u64::try_from(LOG_INTERVAL.as_millis()).unwrap_or(0);
        let last = self.last_ms.load(Ordering::Relaxed);
        let interval = u64::try_from(LOG_INTERVAL.as_millis()).unwrap_or(0);
        if now.saturating_sub(last) >= interval
            && self
                .last_ms
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            let others = self.unlogged.swap(0, Ordering::Relaxed);
            warn!(%peer, refused_since_last_line = others, "closing connection: {why}");
        } else {
            self.unlogged.fetch_add(1, Ordering::Relaxed);
            debug!(%peer, "closing connection: {why}");
        }
    }
}

/// Looks at the first byte and returns the stream to serve, or None when
/// the connection was refused (logged) or gave up.
pub(crate) async fn accept(
    tls: &ServerTls,
    stream: TcpStream,
    peer: SocketAddr,
    log: &RefusalLog,
) -> Option<Stream> {
    let mut first = [0u8; 1];
    let peeked = tokio::time::timeout(HANDSHAKE_TIMEOUT, stream.peek(&mut first)).await;
    match peeked {
        Ok(Ok(1)) => {}
        Ok(Ok(_)) => {
            debug!(%peer, "connection closed before its first byte");
            return None;
        }
        Ok(Err(e)) => {
            debug!(%peer, "connection failed before its first byte: {e}");
            return None;
        }
        Err(_) => {
            log.refuse(
                peer,
                &format!(
                    "no byte arrived within {} s of connecting",
                    HANDSHAKE_TIMEOUT.as_secs()
                ),
            );
            return None;
        }
    }
    if first[0] != TLS_HANDSHAKE {
        if tls.mode == TlsMode::Enforcing {
            log.refuse(
                peer,
                "plaintext connection refused: tls.server.mode is enforcing (TLS only)",
            );
            return None;
        }
        return Some(Stream::Plain(stream));
    }
    let Some(acceptor) = &tls.acceptor else {
        log.refuse(peer, "TLS handshake refused: TLS is disabled on this port");
        return None;
    };
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
        Ok(Ok(tls_stream)) => Some(Stream::Tls(Box::new(tls_stream.into()))),
        Ok(Err(e)) => {
            log.refuse(peer, &format!("TLS handshake failed: {e}"));
            None
        }
        Err(_) => {
            log.refuse(
                peer,
                &format!(
                    "TLS handshake not finished within {} s",
                    HANDSHAKE_TIMEOUT.as_secs()
                ),
            );
            None
        }
    }
}
