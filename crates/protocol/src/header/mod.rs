//! Typed request and response headers, one module per request family.

pub mod namesrv;
