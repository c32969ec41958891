//! The request and answer types of the POP service (see the module doc of
//! `pop` for the operations).

use std::time::Duration;

use bytes::Bytes;

/// How a filter expression is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FilterKind {
    /// `*`, `TagA || TagB`.
    #[default]
    Tag,
    /// An SQL92 expression over message properties.
    Sql92,
}

/// Where a group that never consumed a queue starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InitMode {
    /// The oldest message still stored (Java `ConsumeInitMode.MIN`, 0).
    Min,
    /// The newest end (Java `ConsumeInitMode.MAX`, 1): the last message
    /// stored, or the start of a queue that never lost a file (as Java does
    /// when the first message is still in memory).
    #[default]
    Max,
}

/// One pop: take up to `max_messages` visible messages.
#[derive(Debug, Clone)]
pub struct PopRequest {
    pub group: String,
    /// The topic as the client names it (never the retry topic).
    pub topic: String,
    /// `None`: any readable queue of the topic on this broker.
    pub queue_id: Option<i32>,
    /// 1..=32.
    pub max_messages: u32,
    /// How long handed-out messages stay invisible to other pops.
    pub invisible_time: Duration,
    /// Filter expression (`*` when empty).
    pub expression: String,
    pub filter_kind: FilterKind,
    /// FIFO: serve each queue in order, one message in flight per queue, and
    /// redeliver expired messages in place instead of via the retry topic.
    pub order: bool,
    /// Long polling: how long to wait for a first message (zero: answer at
    /// once). The answer comes as soon as one message is there.
    pub poll_time: Duration,
    pub init_mode: InitMode,
}

/// A message handed out by a pop.
#[derive(Debug, Clone)]
pub struct PoppedMessage {
    /// The stored record, byte for byte (the pull-response format). Its
    /// topic is the group's retry topic when `retry`; its reconsume times
    /// are stale for orderly redeliveries (use `delivery_attempt`).
    pub record: Bytes,
    /// Receipt handle: pass it to `ack`, `change_invisible`, `dead_letter`.
    pub handle: String,
    /// 1 for the first delivery, then 2, 3, …
    pub delivery_attempt: u32,
    /// The topic the client asked for.
    pub topic: String,
    /// Queue and offset the message was read from (of the retry topic when
    /// `retry`).
    pub queue_id: i32,
    pub queue_offset: u64,
    /// Read from the group's retry topic (a redelivery).
    pub retry: bool,
}

/// What a pop returns.
#[derive(Debug, Clone, Default)]
pub struct PopOutcome {
    /// In queue order per queue; may be empty when the poll time ran out.
    pub messages: Vec<PoppedMessage>,
    /// When the messages were handed out, ms since the epoch.
    pub pop_time: i64,
    /// Their invisible time, ms.
    pub invisible_ms: i64,
    /// Revive queue id the handles carry.
    pub revive_qid: i32,
    /// Messages still waiting in the queues looked at (an estimate).
    pub rest: u64,
}

/// A new handle from `change_invisible`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Renewed {
    /// The handle to use from now on (the old one keeps working for ack).
    pub handle: String,
    pub pop_time: i64,
    pub invisible_ms: i64,
    pub revive_qid: i32,
}
