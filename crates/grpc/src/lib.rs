//! The RocketMQ 5.x gRPC endpoint (`apache.rocketmq.v2.MessagingService`)
//! served beside a broker: 5.x clients (Java 5, Go, Python, Node.js, C#,
//! Rust) talk to it unchanged.
//!
//! Routes come from the NameServers; sends, transactions and offset
//! requests go as remoting requests to the broker that owns the queue (any
//! group of the cluster); POP consumption runs on the local broker, and a
//! route sends clients to each broker's own gRPC endpoint for its queues.
//!
//! Depends on `broker` (its state and POP service), `client` (route
//! cache), `remoting` and `protocol`; the broker never depends on it.

#![forbid(unsafe_code)]

/// Code generated from `proto/apache/rocketmq/v2/*.proto`.
#[allow(clippy::all, clippy::pedantic, missing_docs)]
pub mod pb {
    tonic::include_proto!("apache.rocketmq.v2");
}

pub mod auth;
pub mod conn;
pub mod convert;
pub mod core;
pub mod error;
pub mod gather;
pub mod offsets;
pub mod pop;
pub mod recall;
pub mod renew;
pub mod route;
pub mod send;
pub mod server;
pub mod service;
pub mod sessions;
pub mod settings;
pub mod telemetry;
pub mod tls;
pub mod transaction;
pub mod upstream;

pub use error::{GrpcError, GrpcResult};
pub use server::GrpcServer;
