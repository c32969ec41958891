//! Request handlers, one file per request family.

pub mod admin;
pub mod clients;
pub mod delay;
pub mod lock;
pub mod offsets;
pub mod pull;
pub mod query;
pub mod reset;
pub mod retry;
pub mod send;
pub mod stats;
pub mod transaction;
