//! ACL 1.0 (`plain_acl.yml`): the file model, address patterns, permission
//! bits and per-request validation. Pure: no broker state; the processor
//! calls [`PlainAcl::validate`] before dispatching.

pub mod address;
pub mod check;
pub mod file;
pub mod perm;

pub use check::Denied;
pub use file::{AclFileError, PlainAcl};
