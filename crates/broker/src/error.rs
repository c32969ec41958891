//! The broker's error type and its mapping to wire response codes — the one
//! place where an error becomes a code and a remark.

use protocol::{ProtocolError, RemotingCommand, ResponseCode};
use store::StoreError;
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
    /// The store refused or failed; the code depends on why (see `code`).
    #[error("{}", store_remark(.0))]
    Store(#[from] StoreError),
    /// A metadata file of ours (not the store's) that cannot be parsed.
    #[error("{file}: {reason}")]
    Metadata { file: &'static str, reason: String },
    #[error("{0}")]
    System(String),
}

impl BrokerError {
    /// The response code this error is answered with.
    pub fn code(&self) -> ResponseCode {
        match self {
            BrokerError::Config(_) | BrokerError::Metadata { .. } | BrokerError::System(_) => {
                ResponseCode::SYSTEM_ERROR
            }
            BrokerError::Store(e) => match e {
                StoreError::DiskFull { .. }
                | StoreError::ThreadFailed { .. }
                | StoreError::ShutDown => ResponseCode::SERVICE_NOT_AVAILABLE,
                StoreError::MessageTooLarge { .. } | StoreError::BadRecord(_) => {
                    ResponseCode::MESSAGE_ILLEGAL
                }
                _ => ResponseCode::SYSTEM_ERROR,
            },
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
        }
    }

    /// Whether a failed put of a message the broker itself moves (a due
    /// delayed or timed message) may succeed later: the store was full,
    /// busy, stopping or failed on I/O, not the record itself.
    pub fn is_transient(&self) -> bool {
        match self {
            BrokerError::ServiceNotAvailable(_) | BrokerError::SystemBusy(_) => true,
            BrokerError::Store(e) => !matches!(
                e,
                StoreError::MessageTooLarge { .. } | StoreError::BadRecord(_)
            ),
            _ => false,
        }
    }

    /// The response carrying this error's code and message as the remark.
    pub fn to_response(&self) -> RemotingCommand {
        RemotingCommand::error(self.code(), self.to_string())
    }
}

/// The remark a client sees for a store error: the cases a client can act
/// on are worded for it; the rest say what failed.
fn store_remark(e: &StoreError) -> String {
    match e {
        StoreError::MessageTooLarge { size, limit } => {
            format!("the message is {size} bytes; the limit is {limit}")
        }
        StoreError::BadRecord(r) => r.clone(),
        StoreError::ShutDown => "the broker is shutting down".into(),
        other => other.to_string(),
    }
}

/// Result of a broker request handler.
pub type BrokerResult<T> = Result<T, BrokerError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_errors_map_to_their_codes_and_remarks() {
        let full = BrokerError::from(StoreError::DiskFull {
            free: 7,
            path: "/data".into(),
            key: "diskMaxUsedSpaceRatio",
            ratio: 90,
        });
        assert_eq!(full.code(), ResponseCode::SERVICE_NOT_AVAILABLE);
        assert!(full
            .to_string()
            .contains("disk full: 7 bytes free on /data"));
        assert!(full.is_transient());
        let big = BrokerError::from(StoreError::MessageTooLarge { size: 9, limit: 4 });
        assert_eq!(big.code(), ResponseCode::MESSAGE_ILLEGAL);
        assert_eq!(big.to_string(), "the message is 9 bytes; the limit is 4");
        assert!(!big.is_transient());
        let down = BrokerError::from(StoreError::ShutDown);
        assert_eq!(down.code(), ResponseCode::SERVICE_NOT_AVAILABLE);
        let locked = BrokerError::from(StoreError::Locked("/x".into()));
        assert_eq!(locked.code(), ResponseCode::SYSTEM_ERROR);
        assert!(locked.is_transient());
    }
}
