//! The controller of RocketMQ 5's controller mode, on `openraft`: per broker
//! set it keeps the controller-assigned broker ids, the master, the master
//! epoch and the SyncStateSet, replicated by Raft with the log and snapshots
//! on disk; it elects a new master when the master's heartbeats stop, and
//! answers Java's controller request codes (904, 1001-1013) on each
//! controller's own peer address, so Java's `controllerAddr` lists work.
//!
//! Layers, bottom up: `config`, `error`, `replicas` (the pure state
//! machine), `liveness`, `elect`; `raft/` (types, log store, state machine,
//! network); `node` (leader checks, commits, elections); `handlers`;
//! `server`. It depends on `protocol` and `remoting` only, never on the
//! broker, the store or the NameServer.

#![forbid(unsafe_code)]

pub mod config;
pub mod elect;
pub mod error;
pub mod handlers;
pub mod liveness;
pub mod node;
pub mod raft;
pub mod replicas;
pub mod server;

pub use config::{ControllerConfig, Peer};
pub use error::ControllerError;
pub use server::{BoundController, Controller};
