//! POP consumption state: per group and queue what was handed out and is
//! still invisible, the journal that makes it durable, the request modes,
//! receipt handles and the parked pops. The rules that change it live in
//! `crate::pop`, above the broker state that holds this.

pub mod core;
pub mod error;
pub mod handle;
pub mod journal;
pub mod modes;
pub mod table;
pub mod waiters;
