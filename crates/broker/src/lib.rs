//! The broker: request handlers over the message store, topic, group and
//! offset tables, client membership, long polling, and registration with
//! the NameServers.
//!
//! Depends on `protocol`, `remoting` and `store`; never on `namesrv`,
//! `client` or `grpc`.

#![forbid(unsafe_code)]

pub mod clients;
pub mod config;
pub mod delay;
pub mod divert;
pub mod error;
pub mod groups;
pub mod ha;
pub mod handlers;
pub mod live_config;
pub mod locks;
pub mod long_poll;
pub mod offsets;
pub mod processor;
pub mod rates;
pub mod register;
pub mod schedule;
pub mod state;
pub mod subscription;
pub mod timer;
pub mod topics;
pub mod transaction;

mod lifecycle;

pub use config::{BrokerConfig, BrokerRole};
pub use error::BrokerError;
pub use lifecycle::Broker;
pub use store::StoreConfig;
