//! Client expiry: consumers and producers silent for longer than
//! `channelExpiredTimeout` are dropped and their groups told.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::notify::notify_ids_changed;
use crate::state::BrokerState;

/// How often silent clients are looked for.
const EXPIRY_PERIOD: Duration = Duration::from_secs(10);

/// Starts the expiry task.
pub fn spawn(state: &Arc<BrokerState>, cancel: &CancellationToken) {
    let (s, c) = (state.clone(), cancel.clone());
    state.tasks.spawn(async move {
        loop {
            tokio::select! {
                _ = c.cancelled() => break,
                _ = tokio::time::sleep(EXPIRY_PERIOD) => expire_clients(&s),
            }
        }
    });
}

/// Drops clients silent for longer than `channelExpiredTimeout` and tells
/// their groups (run every [`EXPIRY_PERIOD`]).
fn expire_clients(state: &Arc<BrokerState>) {
    let timeout = std::time::Duration::from_millis(state.live.broker().channel_expired_timeout);
    for (group, rest) in state.clients.expire(timeout) {
        tracing::info!(%group, "expired silent consumer channels");
        notify_ids_changed(state, &group, rest);
    }
}
