//! The crate's error type and its mapping to the in-band `Status` codes
//! that the 5.x clients read (one place for every mapping).

use broker::pop::PopError;
use protocol::ResponseCode;

use crate::pb::{Code, Status};

/// Why a gRPC request failed.
#[derive(Debug, thiserror::Error)]
pub enum GrpcError {
    /// The request itself is wrong; the code names what (ILLEGAL_TOPIC, …).
    #[error("{1}")]
    Invalid(Code, String),
    /// A broker answered with an error code.
    #[error("broker {addr} answered code {code}: {remark}")]
    Broker {
        addr: String,
        code: i32,
        remark: String,
    },
    /// Route lookup or another NameServer exchange failed.
    #[error("{0}")]
    Client(#[from] client::ClientError),
    /// A broker could not be reached or did not answer in time.
    #[error("{0}")]
    Transport(#[from] remoting::RemotingError),
    /// The local broker's POP service refused.
    #[error("{0}")]
    Pop(#[from] broker::pop::PopError),
    /// A broker answer we could not decode.
    #[error("bad answer from a broker: {0}")]
    Protocol(#[from] protocol::ProtocolError),
}

/// Result alias of the crate.
pub type GrpcResult<T> = Result<T, GrpcError>;

impl GrpcError {
    /// A request error with `code`.
    pub fn invalid(code: Code, message: impl Into<String>) -> Self {
        GrpcError::Invalid(code, message.into())
    }

    /// The wire code for this error.
    pub fn code(&self) -> Code {
        match self {
            GrpcError::Invalid(code, _) => *code,
            GrpcError::Broker { code, .. } => from_remoting(*code),
            GrpcError::Client(e) => e.response_code().map_or(Code::ProxyTimeout, from_remoting),
            GrpcError::Transport(_) => Code::ProxyTimeout,
            GrpcError::Protocol(_) => Code::InternalServerError,
            GrpcError::Pop(e) => from_pop(e),
        }
    }

    /// The in-band status for this error.
    pub fn status(&self) -> Status {
        Status {
            code: self.code() as i32,
            message: self.to_string(),
        }
    }
}

/// Maps a remoting response code onto the gRPC `Code` the Java proxy uses
/// for the same condition.
pub fn from_remoting(code: i32) -> Code {
    match ResponseCode::from_code(code) {
        ResponseCode::SUCCESS => Code::Ok,
        ResponseCode::TOPIC_NOT_EXIST => Code::TopicNotFound,
        ResponseCode::SUBSCRIPTION_GROUP_NOT_EXIST => Code::ConsumerGroupNotFound,
        ResponseCode::SUBSCRIPTION_PARSE_FAILED => Code::IllegalFilterExpression,
        ResponseCode::MESSAGE_ILLEGAL | ResponseCode::INVALID_PARAMETER => Code::BadRequest,
        ResponseCode::NO_PERMISSION => Code::Forbidden,
        ResponseCode::SYSTEM_BUSY => Code::TooManyRequests,
        ResponseCode::FLUSH_DISK_TIMEOUT => Code::MasterPersistenceTimeout,
        ResponseCode::FLUSH_SLAVE_TIMEOUT => Code::SlavePersistenceTimeout,
        ResponseCode::SLAVE_NOT_AVAILABLE => Code::HaNotAvailable,
        ResponseCode::PULL_NOT_FOUND | ResponseCode::QUERY_NOT_FOUND => Code::MessageNotFound,
        ResponseCode::REQUEST_CODE_NOT_SUPPORTED => Code::NotImplemented,
        _ => Code::InternalServerError,
    }
}

/// Maps a POP failure onto the code the proxy answers.
fn from_pop(e: &PopError) -> Code {
    if e.is_bad_handle() {
        return Code::InvalidReceiptHandle;
    }
    match e {
        PopError::TopicNotExist(_) => Code::TopicNotFound,
        PopError::GroupNotExist(_) => Code::ConsumerGroupNotFound,
        PopError::NoPermission(_) => Code::Forbidden,
        PopError::InvalidParameter(_) => Code::BadRequest,
        PopError::InvalidInvisibleTime(..) => Code::IllegalInvisibleTime,
        PopError::InvalidFilter(_) => Code::IllegalFilterExpression,
        PopError::PollingFull(_) => Code::TooManyRequests,
        _ => Code::InternalServerError,
    }
}

/// An OK status.
pub fn ok() -> Status {
    Status {
        code: Code::Ok as i32,
        message: "OK".into(),
    }
}

/// A status with `code` and `message`.
pub fn status(code: Code, message: impl Into<String>) -> Status {
    Status {
        code: code as i32,
        message: message.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remoting_codes_map_to_proxy_codes() {
        assert_eq!(from_remoting(17), Code::TopicNotFound);
        assert_eq!(from_remoting(26), Code::ConsumerGroupNotFound);
        assert_eq!(from_remoting(2), Code::TooManyRequests);
        assert_eq!(from_remoting(10), Code::MasterPersistenceTimeout);
        assert_eq!(from_remoting(1), Code::InternalServerError);
    }

    #[test]
    fn pop_failures_map_to_proxy_codes() {
        let code = |e: PopError| GrpcError::from(e).code();
        assert_eq!(
            code(PopError::HandleExpired("h".into(), "g".into())),
            Code::InvalidReceiptHandle
        );
        assert_eq!(
            code(PopError::ForeignHandle("b".into())),
            Code::InvalidReceiptHandle
        );
        assert_eq!(
            code(PopError::InvalidFilter("x".into())),
            Code::IllegalFilterExpression
        );
        assert_eq!(
            code(PopError::InvalidInvisibleTime(1, 2, 3)),
            Code::IllegalInvisibleTime
        );
        assert_eq!(
            code(PopError::TopicNotExist("t".into())),
            Code::TopicNotFound
        );
    }

    #[test]
    fn invalid_keeps_its_code_and_text() {
        let e = GrpcError::invalid(Code::IllegalTopic, "topic `a b` has a space");
        let s = e.status();
        assert_eq!(s.code, Code::IllegalTopic as i32);
        assert!(s.message.contains("a b"));
    }
}
