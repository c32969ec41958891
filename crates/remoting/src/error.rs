//! The one error type of the remoting crate.

use protocol::ProtocolError;
use thiserror::Error;

/// Everything that can go wrong while sending a request or running a
/// server. Every variant names the peer (or the address) it concerns.
#[derive(Debug, Error)]
pub enum RemotingError {
    /// The TCP connection to `addr` could not be opened.
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    /// The TCP connection to `addr` was not opened within the connect timeout.
    #[error("connecting to {addr} timed out after {millis} ms")]
    ConnectTimeout { addr: String, millis: u64 },
    /// No response arrived from `addr` within the request timeout.
    #[error("request to {addr} timed out after {millis} ms")]
    Timeout { addr: String, millis: u64 },
    /// The connection to `addr` closed before the response arrived (or was
    /// already closed when the request was sent).
    #[error("connection to {addr} is closed")]
    ConnectionClosed { addr: String },
    /// The server could not listen on `addr`.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: std::net::SocketAddr,
        #[source]
        source: std::io::Error,
    },
    /// The client was shut down; it opens no new connections.
    #[error("the remoting client is shut down")]
    Shutdown,
    /// A listener setting is wrong; `key` is the config key to fix.
    #[error("{key}: {why}")]
    Config { key: String, why: String },
    /// A TLS setting is wrong; `key` is the config key to fix.
    #[error("{key}: {why}")]
    TlsConfig { key: String, why: String },
    /// The TLS handshake with `addr` failed (an untrusted certificate, a
    /// server that does not speak TLS, a refused client certificate...).
    #[error("TLS handshake with {addr} failed: {source}")]
    TlsHandshake {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    /// Another socket error.
    #[error("socket error: {0}")]
    Io(#[from] std::io::Error),
    /// A frame or header could not be decoded.
    #[error("protocol error: {0}")]
    Protocol(#[from] ProtocolError),
}
