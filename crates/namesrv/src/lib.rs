//! The NameServer: route tables of clusters, brokers and topics, broker
//! liveness, the KV config, and the request handlers that serve them over
//! the remoting transport.
//!
//! Depends on `protocol` (codecs) and `remoting` (transport) only; never on
//! the broker or the store.

#![forbid(unsafe_code)]

pub mod config;
pub mod error;
pub mod handlers;
pub mod kv;
pub mod routes;
pub mod server;
pub mod stats;

pub use config::NamesrvConfig;
pub use error::NamesrvError;
pub use handlers::NamesrvState;
pub use kv::KvConfigStore;
pub use routes::{
    BrokerRegistration, RegisterOptions, RegisterOutcome, RemovedBroker, RouteTable, UnitTopicKind,
};
pub use server::NameServer;
