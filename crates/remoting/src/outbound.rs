//! What a connection's send queue holds, and what each item costs the
//! connection's backlog.

use bytes::Bytes;
use protocol::RemotingCommand;

/// A request frame its sender encoded itself: `head` holds the length
/// field, the header word and the header, `body` follows it on the wire.
/// Hot paths (producer sends) use it to write their header straight into
/// bytes instead of building an extFields map per request.
#[derive(Debug, Clone)]
pub struct EncodedFrame {
    pub head: Bytes,
    pub body: Bytes,
}

/// One item of a connection's send queue.
pub(crate) enum Outbound {
    Command(RemotingCommand),
    Frame(EncodedFrame),
}

impl Outbound {
    /// Bytes this frame holds until the writer takes it.
    pub(crate) fn cost(&self) -> usize {
        match self {
            Outbound::Command(cmd) => command_cost(cmd),
            Outbound::Frame(f) => f.head.len() + f.body.len(),
        }
    }
}

/// Header bytes assumed per queued command (the body is counted exactly).
const HEAD_ESTIMATE: usize = 128;

pub(crate) fn command_cost(cmd: &RemotingCommand) -> usize {
    HEAD_ESTIMATE + cmd.body_len()
}
