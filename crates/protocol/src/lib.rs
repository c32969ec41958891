//! Pure codecs of RocketMQ's remoting protocol: frames, the JSON and ROCKETMQ
//! headers, request and response codes, typed headers carried in `extFields`,
//! JSON bodies (with fastjson's quirks) and stored message records.
//!
//! This crate never imports tokio and never does I/O: every codec is a pure
//! function over bytes, so it can be pinned with golden bytes and fuzzed.

#![forbid(unsafe_code)]

pub mod body;
pub mod clock;
pub mod codes;
pub mod command;
pub mod error;
pub mod ext;
pub mod fields;
pub mod frame;
pub mod header;
pub mod header_binary;
pub mod header_json;
mod header_json_fast;
pub mod java_properties;
pub mod message;
pub mod signature;

pub use codes::{LanguageCode, RequestCode, ResponseCode};
pub use command::{CommandFields, ExtFields, RemotingCommand, SerializeType};
pub use error::ProtocolError;
pub use ext::CommandHeader;

/// The `version` we put in every header we emit: the MQVersion ordinal of
/// V5_3_3. Clients store the broker's version from heartbeat answers and
/// refuse SQL92 pulls to brokers that report anything below 4.1.0.
pub const CURRENT_VERSION: i32 = 479;
