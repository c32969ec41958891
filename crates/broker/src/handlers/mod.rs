//! Request handlers, one file per request family.

pub mod clients;
pub mod offsets;
pub mod pull;
pub mod query;
pub mod send;
