//! What a POP operation can fail with, and the one mapping of those
//! failures onto remoting response codes. The gRPC endpoint maps the same
//! variants onto its own `Code`s.

use protocol::{RemotingCommand, ResponseCode};
use thiserror::Error;

use crate::error::BrokerError;

/// Everything `pop`, `ack`, `change_invisible` and `peek` can fail with.
#[derive(Debug, Error)]
pub enum PopError {
    /// The topic does not exist (or has no readable queue on this broker).
    #[error("topic[{0}] not exist, apply first please!")]
    TopicNotExist(String),
    /// The consumer group does not exist and auto-creation is off.
    #[error("subscription group [{0}] does not exist")]
    GroupNotExist(String),
    /// The broker, topic or group refuses consumption.
    #[error("{0}")]
    NoPermission(String),
    /// A field of the request is out of range; the text names it.
    #[error("{0}")]
    InvalidParameter(String),
    /// The invisible time is outside what the broker accepts.
    #[error("invisibleTime {0} ms is out of range [{1}, {2}] ms")]
    InvalidInvisibleTime(i64, i64, i64),
    /// The filter expression does not compile (or SQL92 is disabled).
    #[error("{0}")]
    InvalidFilter(String),
    /// The receipt handle does not parse.
    #[error("receipt handle (extraInfo) `{0}` is malformed: {1}")]
    MalformedHandle(String, String),
    /// The receipt handle was issued by another broker.
    #[error("receipt handle was issued by broker [{0}], not by this broker")]
    ForeignHandle(String),
    /// The message the handle names is no longer in flight for this group:
    /// it was acked, its invisible time passed (it was or will be
    /// redelivered), or the handle belongs to another group or delivery.
    #[error("receipt handle `{0}` is expired or unknown to group [{1}]")]
    HandleExpired(String, String),
    /// Too many requests are already parked on this queue.
    #[error("too many pop requests are waiting on topic [{0}]")]
    PollingFull(String),
    /// The POP journal could not be written: nothing was changed.
    #[error("pop state could not be saved: {0}")]
    Journal(String),
    /// The store refused a read or write.
    #[error(transparent)]
    Broker(#[from] BrokerError),
}

impl PopError {
    /// The remoting response code of this error.
    pub fn code(&self) -> ResponseCode {
        match self {
            PopError::TopicNotExist(_) => ResponseCode::TOPIC_NOT_EXIST,
            PopError::GroupNotExist(_) => ResponseCode::SUBSCRIPTION_GROUP_NOT_EXIST,
            PopError::NoPermission(_) => ResponseCode::NO_PERMISSION,
            PopError::InvalidParameter(_)
            | PopError::InvalidInvisibleTime(..)
            | PopError::MalformedHandle(..)
            | PopError::ForeignHandle(_) => ResponseCode::INVALID_PARAMETER,
            PopError::InvalidFilter(_) => ResponseCode::SUBSCRIPTION_PARSE_FAILED,
            // Java answers an ack or change for a message that is no longer
            // in flight with NO_MESSAGE.
            PopError::HandleExpired(..) => ResponseCode::NO_MESSAGE,
            PopError::PollingFull(_) => ResponseCode::POLLING_FULL,
            PopError::Journal(_) => ResponseCode::SYSTEM_ERROR,
            PopError::Broker(e) => e.code(),
        }
    }

    /// Whether the receipt handle itself is the problem (gRPC answers
    /// INVALID_RECEIPT_HANDLE, and clients stop retrying).
    pub fn is_bad_handle(&self) -> bool {
        matches!(
            self,
            PopError::MalformedHandle(..)
                | PopError::ForeignHandle(_)
                | PopError::HandleExpired(..)
        )
    }

    /// The response carrying this error's code and message as the remark.
    pub fn to_response(&self) -> RemotingCommand {
        match self {
            PopError::Broker(e) => e.to_response(),
            other => RemotingCommand::error(other.code(), other.to_string()),
        }
    }
}

impl From<protocol::ProtocolError> for PopError {
    fn from(e: protocol::ProtocolError) -> Self {
        PopError::Broker(BrokerError::Protocol(e))
    }
}

/// Result of a POP operation.
pub type PopResult<T> = Result<T, PopError>;
