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

mod client;
mod connection;
mod driver;
mod error;
mod server;
mod writer;

use std::future::Future;
use std::pin::Pin;

use protocol::{RemotingCommand, ResponseCode};

pub use client::{ClientConfig, RemotingClient};
pub use connection::{next_opaque, Connection};
pub use error::RemotingError;
pub use server::{Server, ServerConfig};

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
