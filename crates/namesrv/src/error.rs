//! The one error type of the NameServer, and its mapping to response codes.

use protocol::{ProtocolError, RemotingCommand, ResponseCode};
use thiserror::Error;

/// Everything a NameServer request or start-up can fail with.
#[derive(Debug, Error)]
pub enum NamesrvError {
    /// A header or body did not decode.
    #[error(transparent)]
    Protocol(#[from] ProtocolError),
    /// No live broker holds the topic.
    #[error("No topic route info in name server for the topic: {0}")]
    TopicNotExist(String),
    /// GET_KV_CONFIG for a missing key.
    #[error("No config item, Namespace: {namespace} Key: {key}")]
    KvNotFound { namespace: String, key: String },
    /// GET_KVLIST_BY_NAMESPACE for a missing namespace.
    #[error("No config item, Namespace: {0}")]
    KvNamespaceNotFound(String),
    /// The register body's CRC32 differs from the header's `bodyCrc32`.
    #[error("crc32 not match")]
    CrcMismatch,
    /// The registration was refused (stale or partial).
    #[error("register broker failed: {0}")]
    RegisterRejected(String),
    /// A route names a broker that is not registered.
    #[error("broker {0} is not registered in this name server")]
    UnknownBroker(String),
    /// A topic listing is disabled by configuration.
    #[error("disable")]
    Disabled,
    /// Routes are withheld during the configured start-up wait.
    #[error("name server not ready")]
    NotReady,
    /// UPDATE_NAMESRV_CONFIG touched a key of `configBlackList`.
    #[error("Can not update config in black list.")]
    ConfigBlackListed,
    /// A configuration key or value is wrong.
    #[error("config: {0}")]
    Config(String),
    /// Reading or writing a file (KV config, config store) failed.
    #[error("{what} {path}: {source}")]
    Io {
        what: &'static str,
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// The listener could not start.
    #[error("starting the name server on {addr}: {source}")]
    Start {
        addr: std::net::SocketAddr,
        #[source]
        source: remoting::RemotingError,
    },
}

impl NamesrvError {
    /// The response code this error is answered with (the one place that
    /// maps errors to the wire).
    pub fn response_code(&self) -> ResponseCode {
        match self {
            NamesrvError::TopicNotExist(_) => ResponseCode::TOPIC_NOT_EXIST,
            NamesrvError::KvNotFound { .. } | NamesrvError::KvNamespaceNotFound(_) => {
                ResponseCode::QUERY_NOT_FOUND
            }
            NamesrvError::ConfigBlackListed => ResponseCode::NO_PERMISSION,
            NamesrvError::Protocol(_)
            | NamesrvError::CrcMismatch
            | NamesrvError::RegisterRejected(_)
            | NamesrvError::UnknownBroker(_)
            | NamesrvError::Disabled
            | NamesrvError::NotReady
            | NamesrvError::Config(_)
            | NamesrvError::Io { .. }
            | NamesrvError::Start { .. } => ResponseCode::SYSTEM_ERROR,
        }
    }

    /// The error response (code and remark).
    pub fn to_response(&self) -> RemotingCommand {
        RemotingCommand::error(self.response_code(), self.to_string())
    }
}
