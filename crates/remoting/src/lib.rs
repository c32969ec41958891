//! The tokio transport of RocketMQ's remoting protocol: a server that
//! accepts connections and hands each request to a [`Processor`], a client
//! that pools one connection per address, and on both sides request/response
//! correlation by `opaque`, requests in both directions on one connection,
//! timeouts, frame limits, idle and connection limits, graceful shutdown.
//!
//! Frames and headers are encoded and decoded by the `protocol` crate; this
//! crate only moves them. It must not depend on `store`, `broker` or
//! `namesrv`: they build on it, never the other way.

#![forbid(unsafe_code)]

mod admission;
mod backlog;
mod client;
mod client_keys;
mod connection;
mod driver;
mod error;
mod handshake;
mod no_other_keys;
mod outbound;
mod server;
mod server_keys;
mod stream;
pub mod tls;
mod writer;

use std::future::Future;
use std::pin::Pin;

use protocol::{RemotingCommand, ResponseCode};

pub use client::{ClientConfig, Credentials, RemotingClient};
pub use client_keys::ClientTlsKeys;
pub use connection::{next_opaque, Connection};
pub use error::RemotingError;
pub use handshake::RefusalLog;
pub use no_other_keys::NoOtherKeys;
pub use outbound::EncodedFrame;
pub use server::{Server, ServerConfig};
pub use server_keys::ServerKeys;
pub use tls::{ClientAuth, ClientTls, ServerTls, TlsClientSettings, TlsMode, TlsServerSettings};

/// A boxed future, as [`Processor::process`] returns.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// Handles requests arriving on a connection (server side: client requests;
/// client side: server-initiated requests such as CHECK_TRANSACTION_STATE).
/// Every request runs in its own task, so a request that waits (a parked
/// long-polling pull, a send waiting for a group commit) does not hold up
/// the others on the same connection.
pub trait Processor: Send + Sync + 'static {
    /// One request. Return the response (the transport sets opaque, the
    /// response flag and the request's serialization), or None to send
    /// nothing. Answers to oneway requests are dropped by the transport.
    /// At shutdown the returned future is dropped unfinished.
    fn process(
        &self,
        conn: Connection,
        request: RemotingCommand,
    ) -> BoxFuture<Option<RemotingCommand>>;

    /// Called once when a connection closes (for liveness bookkeeping).
    fn on_connection_closed(&self, _conn: &Connection) {}
}

/// The standard answer for a code the processor does not handle:
/// REQUEST_CODE_NOT_SUPPORTED with remark " request type N not supported".
pub fn not_supported(request: &RemotingCommand) -> RemotingCommand {
    RemotingCommand::error(
        ResponseCode::REQUEST_CODE_NOT_SUPPORTED,
        format!(" request type {} not supported", request.code),
    )
    .answering(request)
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::SerializeType;

    #[test]
    fn not_supported_answers_the_request() {
        let mut req = RemotingCommand::request_code(777);
        req.opaque = 42;
        req.serialize_type = SerializeType::RocketMq;
        let resp = not_supported(&req);
        assert_eq!(resp.code, ResponseCode::REQUEST_CODE_NOT_SUPPORTED.code());
        assert_eq!(
            resp.remark.as_deref(),
            Some(" request type 777 not supported")
        );
        assert_eq!(resp.opaque, 42);
        assert_eq!(resp.serialize_type, SerializeType::RocketMq);
        assert!(resp.is_response());
    }

    #[test]
    fn opaques_are_distinct() {
        let a = next_opaque();
        let b = next_opaque();
        assert_ne!(a, b);
    }
}
