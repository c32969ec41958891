//! The Rust client of Apogee (and of any RocketMQ 4.x/5.x broker speaking
//! the remoting protocol): producers, push and lite-pull consumers,
//! transactional producers and admin calls.
//!
//! It depends on `protocol` (codecs) and `remoting` (transport) only, never
//! on the broker or the store.

#![forbid(unsafe_code)]

pub mod consumer;
pub mod error;
pub mod instance;
pub mod message;
pub mod producer;

pub use consumer::{
    AllocateStrategy, ConsumeFrom, ConsumeResult, LitePullConsumer, MessageModel, PushConsumer,
};
pub use error::{ClientError, Result};
pub use instance::{Client, ClientOptions, DEFAULT_NAMESRV};
pub use message::{Message, MessageExt};
pub use producer::transaction::{TransactionProducer, TransactionSendResult, TransactionState};
pub use producer::{Producer, SendResult, SendStatus};
pub use protocol::body::MessageQueue;
