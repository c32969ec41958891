//! Request handlers, one file per request family.

pub mod admin;
pub mod clients;
pub mod offsets;
pub mod pull;
pub mod query;
pub mod reset;
pub mod send;
pub mod stats;
