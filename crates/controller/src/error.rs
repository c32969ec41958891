//! The one error type of the controller, and its mapping to response codes.

use protocol::{ProtocolError, RemotingCommand, ResponseCode};
use thiserror::Error;

use crate::replicas::Refusal;

/// Everything a controller request or start-up can fail with.
#[derive(Debug, Error)]
pub enum ControllerError {
    /// A header or body did not decode.
    #[error(transparent)]
    Protocol(#[from] ProtocolError),
    /// The state machine refused a command.
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// This node is not the Raft leader; `leader` is the leader's address when known.
    #[error("the controller is not leader; leader: {}", leader.as_deref().unwrap_or("unknown"))]
    NotLeader { leader: Option<String> },
    /// Raft could not commit or confirm leadership (quorum lost, shutting down).
    #[error("the controller group cannot commit: {0}")]
    Raft(String),
    /// A well-formed request with a wrong value.
    #[error("{0}")]
    InvalidRequest(String),
    /// The broker is not in this node's liveness table.
    #[error("broker {0} is not alive")]
    BrokerNotAlive(String),
    /// No broker set of that name.
    #[error("broker set `{0}` does not exist")]
    MetadataNotExist(String),
    /// An election found no candidate (broker or admin triggered).
    #[error("elect master of `{0}` failed: no alive broker in the sync state set is electable")]
    ElectFailed(String),
    /// An election found no candidate (controller triggered); the set is masterless now.
    #[error("no master available for `{0}`")]
    MasterNotAvailable(String),
    /// UPDATE_CONTROLLER_CONFIG touched a black-listed key.
    #[error("Can not update config in black list: {0}")]
    ConfigBlackListed(String),
    /// A configuration key or value is wrong.
    #[error("config: {0}")]
    Config(String),
    /// Reading or writing the Raft store failed.
    #[error("{what} {path}: {source}")]
    Io {
        what: &'static str,
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// The listener could not start.
    #[error("starting the controller on {addr}: {source}")]
    Start {
        addr: String,
        #[source]
        source: remoting::RemotingError,
    },
}

impl ControllerError {
    /// The response code this error is answered with (the one place that
    /// maps errors to the wire).
    pub fn response_code(&self) -> ResponseCode {
        use ResponseCode as R;
        match self {
            ControllerError::Refused(r) => match r {
                Refusal::NoSuchSet(_) | Refusal::NeedRegister { .. } => {
                    R::CONTROLLER_BROKER_NEED_TO_BE_REGISTERED
                }
                Refusal::IdTaken { .. } | Refusal::IdInvalid { .. } => {
                    R::CONTROLLER_BROKER_ID_INVALID
                }
                Refusal::FencedMasterEpoch { .. } => R::CONTROLLER_FENCED_MASTER_EPOCH,
                Refusal::FencedSyncStateSetEpoch { .. } => {
                    R::CONTROLLER_FENCED_SYNC_STATE_SET_EPOCH
                }
                Refusal::InvalidMaster { .. } => R::CONTROLLER_INVALID_MASTER,
                Refusal::InvalidReplicas { .. } => R::CONTROLLER_INVALID_REPLICAS,
                Refusal::AlterFailed { .. } => R::CONTROLLER_ALTER_SYNC_STATE_SET_FAILED,
                Refusal::CleanFailed { .. } => R::CONTROLLER_INVALID_CLEAN_BROKER_METADATA,
            },
            ControllerError::NotLeader { .. } => R::CONTROLLER_NOT_LEADER,
            ControllerError::InvalidRequest(_) => R::CONTROLLER_INVALID_REQUEST,
            ControllerError::BrokerNotAlive(_) => R::CONTROLLER_BROKER_NOT_ALIVE,
            ControllerError::MetadataNotExist(_) => R::CONTROLLER_BROKER_METADATA_NOT_EXIST,
            ControllerError::ElectFailed(_) => R::CONTROLLER_ELECT_MASTER_FAILED,
            ControllerError::MasterNotAvailable(_) => R::CONTROLLER_MASTER_NOT_AVAILABLE,
            ControllerError::ConfigBlackListed(_) => R::NO_PERMISSION,
            ControllerError::Protocol(_)
            | ControllerError::Raft(_)
            | ControllerError::Config(_)
            | ControllerError::Io { .. }
            | ControllerError::Start { .. } => R::SYSTEM_ERROR,
        }
    }

    /// The error response (code and remark).
    pub fn to_response(&self) -> RemotingCommand {
        RemotingCommand::error(self.response_code(), self.to_string())
    }

    pub(crate) fn io(what: &'static str, path: &std::path::Path, source: std::io::Error) -> Self {
        ControllerError::Io {
            what,
            path: path.display().to_string(),
            source,
        }
    }
}
