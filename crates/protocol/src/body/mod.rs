//! JSON bodies, with the fastjson quirks of remoting-protocol §6.

// Broker <-> client bodies and the fastjson dialect they use.
pub mod assignment;
pub mod check_client;
pub mod consumer;
pub mod fastjson;
pub mod group;
pub mod heartbeat;
pub mod lenient;
pub mod lock;
pub mod message_queue;
pub mod mq_map;
pub mod ops;
pub mod pop;
pub mod reset_offset;
pub mod stats;

pub use message_queue::MessageQueue;

// NameServer bodies (route tables, registration, KV).
pub mod cluster;
pub mod kv;
pub mod register;
pub mod route;
pub mod topic;

// Controller mode.
pub mod controller;
