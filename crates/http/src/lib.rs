//! The HTTP side of broker and NameServer processes: Prometheus `/metrics`,
//! `/health` and `/ready`, and the web console (static assets embedded at
//! build time plus a JSON API over the client crate's admin calls, so the
//! console also runs against a remote cluster with no local broker).
//!
//! Depends on `broker`, `namesrv` and `client` (read-only use of their
//! state); nothing depends on it but the `apogee` binary.
//!
//! Access: the listener binds loopback by default. When the broker checks
//! ACL accounts, the console's API needs a login with an admin account
//! (`auth`), and `/metrics` can be protected too.

#![forbid(unsafe_code)]

pub mod api;
mod assets;
pub mod auth;
pub mod error;
mod gate;
pub mod metrics;
mod probes;
pub mod server;
pub mod sources;

pub use error::HttpError;
pub use server::HttpServer;
pub use sources::Sources;
