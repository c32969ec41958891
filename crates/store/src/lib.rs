//! The message store: commit log of memory-mapped segments, consume queues,
//! key index, flush (async and group-commit sync), crash recovery,
//! retention, and atomic metadata files — RocketMQ's on-disk format.
//!
//! Depends on `protocol` only for shared definitions; never on `remoting`
//! or the broker. `unsafe` is confined to the `mmap` module.

pub mod checkpoint;
pub mod commitlog;
pub mod config;
pub mod consume_queue;
pub mod dispatch;
pub mod epoch;
pub mod error;
pub mod flush;
pub mod health;
pub mod index;
pub mod mapped_file;
pub mod metadata;
pub mod mmap;
pub mod prefault;
pub mod read;
pub mod record;
pub mod recovery;
pub mod retention;
pub mod signal;
pub mod space;
pub mod store;

pub use commitlog::Appended;
pub use config::{FlushDiskType, StoreConfig};
pub use consume_queue::CqEntry;
pub use dispatch::ArrivalListener;
pub use error::{Result, StoreError};
pub use metadata::MetadataFile;
pub use read::{BoundaryType, GetResult, GetStatus};
pub use store::{BatchPutResult, MessageStore, PutResult, RuntimeInfo};
