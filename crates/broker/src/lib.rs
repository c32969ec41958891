//! The broker: request handlers over the message store, topic, group and
//! offset tables, client membership, long polling, delivery services, and
//! registration with the NameServers.
//!
//! Depends on `protocol`, `remoting` and `store`; never on `namesrv`,
//! `client` or `grpc`. Inside, modules are layered and import downwards
//! only; docs/broker.md draws the layers.

#![forbid(unsafe_code)]

pub mod batching;
pub mod config;
pub mod error;
pub mod event_metrics;
pub mod live_config;
pub mod metrics;
pub mod rates;
pub mod tables;

pub mod state;

pub mod notify;
pub mod records;
pub mod rules;

pub mod handlers;
pub mod services;

/// POP consumption: its state, service tasks and remoting handlers.
pub mod pop;

pub mod processor;

mod lifecycle;

pub use config::{BrokerConfig, BrokerRole};
pub use error::BrokerError;
pub use lifecycle::Broker;
pub use store::StoreConfig;

// Module paths from before the layering, so that callers keep compiling.
pub use services::ha;
pub use tables::{clients, groups, locks, offsets, subscription, topics};
