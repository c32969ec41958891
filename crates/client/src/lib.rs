//! The Rust client of Apogee (and of any RocketMQ 4.x/5.x broker speaking
//! the remoting protocol): producers, push and lite-pull consumers,
//! transactional producers and admin calls.
//!
//! It depends on `protocol` (codecs) and `remoting` (transport) only, never
//! on the broker or the store.
//!
//! # Quick start
//!
//! Start a broker (`apogee standalone` listens for NameServer requests on
//! 127.0.0.1:9876), then:
//!
//! ```no_run
//! use client::{ConsumeResult, Message, Producer, PushConsumer};
//!
//! # async fn demo() -> client::Result<()> {
//! let producer = Producer::builder()
//!     .namesrv("127.0.0.1:9876")
//!     .group("PG")
//!     .build()
//!     .await?;
//! let sent = producer
//!     .send(Message::new("TopicTest", "hello").with_tags("TagA").with_keys(["order-1"]))
//!     .await?;
//! println!("sent {} to queue {} at offset {}", sent.msg_id, sent.queue.queue_id, sent.queue_offset);
//!
//! let consumer = PushConsumer::builder()
//!     .namesrv("127.0.0.1:9876")
//!     .group("CG")
//!     .subscribe("TopicTest", "TagA || TagB")
//!     .listener(|msgs| async move {
//!         for m in &msgs {
//!             println!("{} {:?}", m.msg_id, m.body);
//!         }
//!         ConsumeResult::Success
//!     })
//!     .build()
//!     .await?;
//! // ... later
//! consumer.shutdown().await;
//! producer.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! Producers and consumers built with `.namesrv(..)` each start their own
//! [`Client`] (connection pool, route cache, heartbeats); build one with
//! [`Client::connect`] and pass it with `.client(&client)` to share it.
//!
//! Other entry points: [`Producer::send_batch`], [`Producer::send_with_selector`]
//! (ordered sends, e.g. with [`producer::select_by_key`]), [`Producer::send_oneway`],
//! [`Producer::send_async`]; [`TransactionProducer`]; [`PushConsumer`] with
//! `.orderly_listener(..)`, `.broadcasting()`, `.subscribe_sql(..)`;
//! [`LitePullConsumer`] (`assign`/`subscribe`, `poll`, `seek`, `commit`);
//! [`Admin`] for topics, groups, stats, message lookup and offset resets.
//! Examples live in `crates/client/examples/`.

#![forbid(unsafe_code)]

pub mod admin;
mod admin_tables;
pub mod consumer;
pub mod error;
pub mod instance;
pub mod message;
pub mod producer;

pub use admin::{Admin, TopicSpec};
pub use consumer::{
    AllocateStrategy, ConsumeFrom, ConsumeResult, LitePullConsumer, MessageModel, PushConsumer,
};
pub use error::{ClientError, Result};
pub use instance::{Client, ClientOptions, DEFAULT_NAMESRV};
pub use message::{Message, MessageExt};
pub use producer::transaction::{TransactionProducer, TransactionSendResult, TransactionState};
pub use producer::{Producer, SendResult, SendStatus};
pub use protocol::body::MessageQueue;
pub use remoting::TlsClientSettings;
