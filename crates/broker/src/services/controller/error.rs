//! Why a step of the replicas manager failed: the brokerIdentity file, or
//! a controller call that was not answered, refused or not understood.
//! The manager logs these and tries again; none reaches a client.

use std::io;
use std::path::PathBuf;

use protocol::RemotingCommand;

use super::link::LinkError;

#[derive(Debug, thiserror::Error)]
pub enum ControllerModeError {
    #[error("{}: {source}", .path.display())]
    IdentityIo { path: PathBuf, source: io::Error },
    #[error("{}: `{text}` is not cluster#brokerName#id", .path.display())]
    IdentityMalformed { path: PathBuf, text: String },
    #[error(
        "{}: written for {found}, this broker is {ours}; delete the file to rejoin under the new name",
        .path.display()
    )]
    IdentityOwner {
        path: PathBuf,
        found: String,
        ours: String,
    },
    #[error("{}: `{text}` is not an id", .path.display())]
    IdentityBadId { path: PathBuf, text: String },
    #[error("{what} not sent: {source}")]
    NotSent {
        what: &'static str,
        source: LinkError,
    },
    #[error("{what} refused: code {code} {remark}")]
    Refused {
        what: &'static str,
        code: i32,
        remark: String,
    },
    #[error("{what}: the controller's {part} does not decode: {why}")]
    Malformed {
        what: &'static str,
        part: &'static str,
        why: String,
    },
    #[error("{what} answered without {field}")]
    Missing {
        what: &'static str,
        field: &'static str,
    },
    #[error("the controller refused id {0} (taken meanwhile)")]
    IdTaken(i64),
}

impl ControllerModeError {
    /// A refusal: the answer's code and remark.
    pub fn refused(what: &'static str, r: &RemotingCommand) -> ControllerModeError {
        ControllerModeError::Refused {
            what,
            code: r.code,
            remark: r.remark.clone().unwrap_or_default(),
        }
    }
}
