//! ACL 1.0 (`plain_acl.yml`) for every server of Apogee: the file model,
//! address patterns and permission bits; the remoting check (whitelists,
//! the request signature, admin-only codes, per-resource permissions); the
//! gRPC `authorization` check; and the file watcher that swaps in a new
//! file when it changes, keeping the old rules when the new file is broken.
//!
//! Used by the broker, the NameServer and the gRPC endpoint. Depends on
//! `protocol` only (no transport, no broker state).

#![forbid(unsafe_code)]

pub mod address;
pub mod check;
pub mod file;
pub mod grpc;
pub mod perm;
pub mod shared;

pub use check::{Denied, Verdict};
pub use file::{Account, AclFileError, PlainAcl, Resource, RETRY_PREFIX};
pub use perm::Perm;
pub use shared::SharedAcl;
