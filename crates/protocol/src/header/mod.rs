//! Typed request and response headers, one module per request family.

// Broker <-> client families.
pub mod admin;
pub mod consumer;
pub mod offset;
pub mod ops;
pub mod pop;
pub mod pull;
pub mod query;
pub mod send;
pub mod transaction;

// NameServer requests.
pub mod namesrv;

// Controller mode (controller <-> broker, admin).
pub mod controller;

#[cfg(test)]
mod test_util;
