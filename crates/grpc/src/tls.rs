//! TLS on the gRPC port with the broker's `tls.server.*` keys: accepted
//! connections are told apart by their first byte (0x16: a TLS handshake;
//! plaintext HTTP/2 starts with "PRI"), as the remoting port does, and
//! handshakes run in their own tasks so a slow client holds up nobody.

use std::io::{self, IoSlice};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use remoting::{RefusalLog, TlsMode};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;
use tokio_util::either::Either;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tonic::transport::server::{Connected, TcpConnectInfo};

/// First byte of a TLS handshake record.
const TLS_HANDSHAKE: u8 = 0x16;
/// How long a new connection may take to send its first byte and finish
/// the handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections handed to tonic but not taken yet.
const READY_QUEUE: usize = 64;

/// What the gRPC port accepts.
#[derive(Clone)]
pub struct GrpcTls {
    pub mode: TlsMode,
    /// None: plaintext only (no certificate configured).
    pub config: Option<Arc<tokio_rustls::rustls::ServerConfig>>,
}

impl GrpcTls {
    /// From the broker's `tls.server.*` settings; gRPC needs ALPN `h2`.
    pub fn from_remoting(tls: &remoting::ServerTls) -> GrpcTls {
        GrpcTls {
            mode: tls.effective_mode(),
            config: tls.rustls_config(&[b"h2"]),
        }
    }
}

/// One accepted gRPC connection, plain or TLS (`Either` forwards reads and
/// writes to the side it holds; the wrapper is for tonic's `Connected`).
pub struct GrpcConn(Either<TcpStream, Box<TlsStream<TcpStream>>>);

impl GrpcConn {
    fn plain(stream: TcpStream) -> GrpcConn {
        GrpcConn(Either::Left(stream))
    }

    fn tcp(&self) -> &TcpStream {
        match &self.0 {
            Either::Left(s) => s,
            Either::Right(s) => s.get_ref().0,
        }
    }
}

impl Connected for GrpcConn {
    type ConnectInfo = TcpConnectInfo;

    fn connect_info(&self) -> TcpConnectInfo {
        TcpConnectInfo {
            local_addr: self.tcp().local_addr().ok(),
            remote_addr: self.tcp().peer_addr().ok(),
        }
    }
}

impl AsyncRead for GrpcConn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_read(cx, buf)
    }
}

impl AsyncWrite for GrpcConn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().0).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().0).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.0.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_shutdown(cx)
    }
}

/// Accepts on `listener` until `cancel`, and yields every connection that
/// passed the mode's checks and its handshake (Nagle off: a small response
/// must not wait for the client's delayed ACK).
pub fn incoming(
    listener: TcpListener,
    tls: GrpcTls,
    cancel: CancellationToken,
    tasks: TaskTracker,
) -> impl tokio_stream::Stream<Item = io::Result<GrpcConn>> {
    let (tx, rx) = mpsc::channel(READY_QUEUE);
    let tls = Arc::new(tls);
    // Refusals are logged at most once a second, as on the remoting ports:
    // a client retrying in a loop must not flood the log.
    let log = Arc::new(RefusalLog::new());
    let handshakes = tasks.clone();
    tasks.spawn(async move {
        loop {
            let accepted = tokio::select! {
                _ = cancel.cancelled() => return,
                a = listener.accept() => a,
            };
            let (stream, peer) = match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    tracing::warn!("gRPC accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            if let Err(e) = stream.set_nodelay(true) {
                tracing::debug!(%peer, "gRPC connection lost before set-up: {e}");
                continue;
            }
            let (tx, tls, cancel) = (tx.clone(), Arc::clone(&tls), cancel.clone());
            let log = Arc::clone(&log);
            handshakes.spawn(async move {
                let conn = tokio::select! {
                    _ = cancel.cancelled() => return,
                    c = accept(&tls, stream, peer, &log) => c,
                };
                if let Some(conn) = conn {
                    let _ = tx.send(Ok(conn)).await;
                }
            });
        }
    });
    tokio_stream::wrappers::ReceiverStream::new(rx)
}

async fn accept(
    tls: &GrpcTls,
    stream: TcpStream,
    peer: SocketAddr,
    log: &RefusalLog,
) -> Option<GrpcConn> {
    let config = match (&tls.config, tls.mode) {
        (None, _) | (_, TlsMode::Disabled) => return Some(GrpcConn::plain(stream)),
        (Some(config), _) => Arc::clone(config),
    };
    let mut first = [0u8; 1];
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, stream.peek(&mut first)).await {
        Ok(Ok(1)) => {}
        Ok(Ok(_)) => {
            tracing::debug!(%peer, "gRPC connection closed before its first byte");
            return None;
        }
        Ok(Err(e)) => {
            tracing::debug!(%peer, "gRPC connection failed before its first byte: {e}");
            return None;
        }
        Err(_) => {
            log.refuse(
                peer,
                &format!(
                    "gRPC: no byte arrived within {} s of connecting",
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
                "gRPC: plaintext connection refused: tls.server.mode is enforcing (TLS only)",
            );
            return None;
        }
        return Some(GrpcConn::plain(stream));
    }
    let handshake = TlsAcceptor::from(config).accept(stream);
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake).await {
        Ok(Ok(s)) => Some(GrpcConn(Either::Right(Box::new(s)))),
        Ok(Err(e)) => {
            log.refuse(peer, &format!("gRPC: TLS handshake failed: {e}"));
            None
        }
        Err(_) => {
            log.refuse(
                peer,
                &format!(
                    "gRPC: TLS handshake not finished within {} s",
                    HANDSHAKE_TIMEOUT.as_secs()
                ),
            );
            None
        }
    }
}
