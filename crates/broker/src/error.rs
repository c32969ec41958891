//! The broker's error type and its mapping to wire response codes — the one
//! place where an error becomes a code and a remark.

use protocol::{ProtocolError, RemotingCommand, ResponseCode};
use thiserror::Error;

/// Everything a broker request can fail with.
#[derive(Debug, Error)]
pub enum BrokerError {
    #[error("bad configuration: {0}")]
    Config(String),
    #[error("{0}")]
    Protocol(#[from] ProtocolError),
    #[error("topic[{0}] not exist, apply first please!")]
    TopicNotExist(String),
    #[error("{0}")]
    NoPermission(String),
    #[error("{0}")]
    InvalidParameter(String),
    #[error("{0}")]
    MessageIllegal(String),
    #[error("subscription group [{0}] does not exist")]
    GroupNotExist(String),
    #[error("the consumer group[{0}]'s subscription to topic[{1}] does not exist; send a heartbeat first")]
    SubscriptionNotExist(String, String),
    #[error("the consumer group[{0}]'s subscription is not the latest")]
    SubscriptionNotLatest(String),
    #[error("{0}")]
    SubscriptionParseFailed(String),
    #[error("{0}")]
    ServiceNotAvailable(String),
    #[error("{0}")]
    SystemBusy(String),
    #[error("flush disk timeout: the message is stored but not yet durable")]
    FlushDiskTimeout,
    #[error("{0}")]
    Store(String),
    #[error("{0}")]
    System(String),
}

impl BrokerError {
    /// The response code this error is answered with.
    pub fn code(&self) -> ResponseCode {
        match self {
            BrokerError::Config(_) | BrokerError::Store(_) | BrokerError::System(_) => {
                ResponseCode::SYSTEM_ERROR
            }
            BrokerError::Protocol(_) | BrokerError::InvalidParameter(_) => {
                ResponseCode::INVALID_PARAMETER
            }
            BrokerError::TopicNotExist(_) => ResponseCode::TOPIC_NOT_EXIST,
            BrokerError::NoPermission(_) => ResponseCode::NO_PERMISSION,
            BrokerError::MessageIllegal(_) => ResponseCode::MESSAGE_ILLEGAL,
            BrokerError::GroupNotExist(_) => ResponseCode::SUBSCRIPTION_GROUP_NOT_EXIST,
            BrokerError::SubscriptionNotExist(..) => ResponseCode::SUBSCRIPTION_NOT_EXIST,
            BrokerError::SubscriptionNotLatest(_) => ResponseCode::SUBSCRIPTION_NOT_LATEST,
            BrokerError::SubscriptionParseFailed(_) => ResponseCode::SUBSCRIPTION_PARSE_FAILED,
            BrokerError::ServiceNotAvailable(_) => ResponseCode::SERVICE_NOT_AVAILABLE,
            BrokerError::SystemBusy(_) => ResponseCode::SYSTEM_BUSY,
            BrokerError::FlushDiskTimeout => ResponseCode::FLUSH_DISK_TIMEOUT,
        }
    }

    /// The response carrying this error's code and message as the remark.
    pub fn to_response(&self) -> RemotingCommand {
        RemotingCommand::error(self.code(), self.to_string())
    }
}

/// Result of a broker request handler.
pub type BrokerResult<T> = Result<T, BrokerError>;
