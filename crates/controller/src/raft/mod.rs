//! The Raft layer, on `openraft`: the type configuration, the on-disk log
//! store and state machine, and the network between controllers (Raft RPCs
//! ride on the controllers' own remoting port under private codes).

pub mod log_store;
pub mod network;
pub mod state_machine;

use std::io::Cursor;

use crate::replicas::{Command, Outcome};

openraft::declare_raft_types!(
    /// Our Raft: commands are [`Command`], answers [`Outcome`].
    pub TypeConfig:
        D = Command,
        R = Outcome,
        NodeId = u64,
        Node = openraft::BasicNode,
        Entry = openraft::Entry<TypeConfig>,
        SnapshotData = Cursor<Vec<u8>>,
        AsyncRuntime = openraft::TokioRuntime,
);

/// A running Raft node.
pub type Raft = openraft::Raft<TypeConfig>;

/// Private request codes of the Raft RPCs between controllers (JSON bodies).
/// Java's DLedger uses 50000-51005 on the same port; these do not collide.
pub mod codes {
    pub const APPEND_ENTRIES: i32 = 52001;
    pub const VOTE: i32 = 52002;
    pub const INSTALL_SNAPSHOT: i32 = 52003;
}
