//! JSON bodies, with the fastjson quirks of remoting-protocol §6.

// NameServer bodies (route tables, registration, KV).
pub mod cluster;
pub mod kv;
pub mod lenient;
pub mod register;
pub mod route;
pub mod topic;
