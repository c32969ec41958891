//! POP consumption: the broker owns each group's progress and hands out
//! messages that stay invisible to the group's other pops until they are
//! acked or their invisible time passes (then they come back, with a higher
//! delivery attempt, until the group's maximum sends them to the DLQ).
//!
//! The operations (used by the remoting handlers in `pop::remoting` and by
//! the gRPC endpoint):
//! - [`pop()`]: up to 32 messages of a topic (one queue or any queue of
//!   this broker, the group's retry topic mixed in), each with a receipt
//!   handle, its delivery attempt, queue id and offset; long polling
//!   answers as soon as one message is there. `order` serves each queue
//!   in order with one message in flight per queue.
//! - [`ack()`]: the message is consumed.
//! - [`change_invisible()`]: a new invisible time from now; returns the new
//!   handle (the old one still acks the same delivery).
//! - [`dead_letter()`]: the message goes to `%DLQ%{group}` now.
//! - [`peek()`] and [`has_message()`]: look without taking.
//!
//! Errors are [`PopError`]; [`PopError::is_bad_handle`] marks expired,
//! forged, foreign or other-group handles (gRPC INVALID_RECEIPT_HANDLE).
//!
//! Durability: every change is journaled (journal.rs) before it takes
//! effect or is answered, so after a kill -9 acked messages stay acked and
//! unacked ones come back after their invisible time. Revive (revive.rs)
//! writes the retry copy before settling, so a crash can duplicate a
//! message being revived at that moment, never lose it.

use crate::tables::pop::{error, handle, table, waiters};

mod api;
pub mod assignment;
mod peek;
pub mod remoting;
mod revive;
mod rules;
mod service;
mod settle;

pub use api::{FilterKind, InitMode, PopOutcome, PopRequest, PoppedMessage, Renewed};
pub use error::{PopError, PopResult};
pub use handle::{ReceiptHandle, NORMAL_REVIVE_QID, ORDER_REVIVE_QID};
pub use peek::{has_message, peek};
pub use revive::{revive_expired, spawn};
pub use rules::{pop_retry_topic, MAX_BATCH, MAX_INVISIBLE_MS, MAX_POLL, MIN_INVISIBLE_MS};
pub use service::pop;
pub use settle::{ack, change_invisible, dead_letter};
pub use waiters::PopWaiters;

pub use crate::tables::pop::core;
pub use core::PopService;
