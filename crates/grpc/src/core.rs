//! What every RPC shares: the way to the brokers, the connected clients,
//! the local broker, and the tasks the endpoint runs.

use std::sync::atomic::AtomicUsize;
use std::sync::Arc;

use broker::state::BrokerState;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::renew::Renewals;
use crate::sessions::Sessions;
use crate::upstream::Upstream;

/// Shared by every RPC.
pub struct Core {
    pub upstream: Upstream,
    pub sessions: Sessions,
    /// Push consumers' messages kept invisible while they are connected.
    pub renewals: Renewals,
    /// The broker this endpoint runs beside (POP runs on it).
    pub local: Arc<BrokerState>,
    /// `host:port` to advertise when a client did not say what it dialled.
    pub advertised: String,
    pub round_robin: AtomicUsize,
    /// Wakes the producer heartbeat (a new producer must be checkable soon).
    pub heartbeat_now: Arc<tokio::sync::Notify>,
    pub cancel: CancellationToken,
    pub tasks: TaskTracker,
}

impl Core {
    /// Everything an endpoint of the broker `local` shares.
    pub fn new(
        upstream: Upstream,
        local: Arc<BrokerState>,
        advertised: String,
        cancel: CancellationToken,
        tasks: TaskTracker,
    ) -> Self {
        Core {
            upstream,
            sessions: Sessions::default(),
            renewals: Renewals::default(),
            local,
            advertised,
            round_robin: AtomicUsize::new(0),
            heartbeat_now: Arc::new(tokio::sync::Notify::new()),
            cancel,
            tasks,
        }
    }
}
