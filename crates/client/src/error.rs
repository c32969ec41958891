//! The one error type of the client crate.

use protocol::{ProtocolError, ResponseCode};
use remoting::RemotingError;
use thiserror::Error;

/// Everything a client call can fail with.
#[derive(Debug, Error)]
pub enum ClientError {
    /// A builder or call was given a value it cannot use.
    #[error("invalid {field}: {reason}")]
    InvalidArgument { field: &'static str, reason: String },
    /// A message breaks a rule checked before sending (topic, body size, batch rules).
    #[error("invalid message: {0}")]
    InvalidMessage(String),
    /// No NameServer address was configured.
    #[error("no NameServer address configured")]
    NoNameServer,
    /// The NameServer knows no route for the topic (and auto-create did not apply).
    #[error("no route for topic {topic}: {reason}")]
    NoRoute { topic: String, reason: String },
    /// The route names a broker whose address (of the wanted id) is unknown.
    #[error("no address known for broker {broker}")]
    NoBrokerAddr { broker: String },
    /// A broker or NameServer answered with an error code.
    #[error("{addr} answered {code_name} ({code}): {remark}")]
    Response {
        addr: String,
        code: i32,
        code_name: String,
        remark: String,
    },
    /// Every attempt of a send failed; `last` is the last failure.
    #[error("send to topic {topic} failed after {attempts} attempt(s): {last}")]
    SendFailed {
        topic: String,
        attempts: usize,
        #[source]
        last: Box<ClientError>,
    },
    /// The transport failed (connect, timeout, closed connection).
    #[error(transparent)]
    Remoting(#[from] RemotingError),
    /// A header or body could not be encoded or decoded.
    #[error(transparent)]
    Protocol(#[from] ProtocolError),
    /// A local file (broadcast offsets) could not be read or written.
    #[error("offset file {path}: {source}")]
    OffsetFile {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// A compressed body could not be inflated.
    #[error("cannot decompress message body: {0}")]
    Decompress(String),
    /// The client, producer or consumer was shut down.
    #[error("the client is shut down")]
    Shutdown,
    /// The operation needs a state the object is not in (e.g. `poll` before `start`).
    #[error("illegal state: {0}")]
    IllegalState(String),
}

impl ClientError {
    /// An error for a response that carried `code`.
    pub(crate) fn response(addr: &str, code: i32, remark: Option<&str>) -> Self {
        ClientError::Response {
            addr: addr.to_string(),
            code,
            code_name: ResponseCode::from_code(code).name().to_string(),
            remark: remark.unwrap_or_default().to_string(),
        }
    }

    /// The response code if this is a broker/NameServer answer.
    pub fn response_code(&self) -> Option<i32> {
        match self {
            ClientError::Response { code, .. } => Some(*code),
            ClientError::SendFailed { last, .. } => last.response_code(),
            _ => None,
        }
    }

    /// Whether a producer should try another broker after this error:
    /// transport failures and the response codes Java producers retry on.
    pub fn is_retryable_send(&self) -> bool {
        match self {
            ClientError::Remoting(_) => true,
            ClientError::Response { code, .. } => {
                let c = ResponseCode::from_code(*code);
                [
                    ResponseCode::TOPIC_NOT_EXIST,
                    ResponseCode::SERVICE_NOT_AVAILABLE,
                    ResponseCode::SYSTEM_ERROR,
                    ResponseCode::SYSTEM_BUSY,
                    ResponseCode::NO_PERMISSION,
                    ResponseCode::NO_BUYER_ID,
                    ResponseCode::NOT_IN_CURRENT_UNIT,
                    ResponseCode::GO_AWAY,
                ]
                .contains(&c)
            }
            _ => false,
        }
    }
}

/// Result alias of the client crate.
pub type Result<T, E = ClientError> = std::result::Result<T, E>;
