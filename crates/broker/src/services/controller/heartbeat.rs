//! BROKER_HEARTBEAT (904) to every controller each `brokerHeartbeatInterval`
//! (one-way; a controller expires us after `controllerHeartBeatTimeoutMills`
//! without one, or at once when our connection to it closes).

use std::sync::Arc;
use std::time::Duration;

use protocol::header::controller::BrokerHeartbeatRequestHeader;
use protocol::{RemotingCommand, RequestCode};
use tokio_util::sync::CancellationToken;

use super::link::ControllerLink;
use crate::state::BrokerState;

/// The heartbeat request of broker `me` now.
pub fn request(state: &BrokerState, me: i64) -> RemotingCommand {
    let max = state.store.commitlog_max_offset() as i64;
    let epoch = state
        .epochs
        .as_ref()
        .and_then(store::epoch::EpochFile::last_epoch)
        .unwrap_or(-1);
    RemotingCommand::request_with_header(
        RequestCode::BROKER_HEARTBEAT,
        &BrokerHeartbeatRequestHeader {
            cluster_name: state.config.broker_cluster_name.clone(),
            broker_addr: state.advertised_addr.clone(),
            broker_name: state.config.broker_name.clone(),
            broker_id: Some(me),
            epoch: Some(epoch),
            max_offset: Some(max),
            confirm_offset: Some(max),
            heartbeat_timeout_mills: Some(state.config.controller_heart_beat_timeout_mills as i64),
            election_priority: Some(state.config.broker_election_priority),
        },
    )
}

/// Heartbeats until cancelled.
pub async fn run(
    state: Arc<BrokerState>,
    link: Arc<ControllerLink>,
    me: i64,
    cancel: CancellationToken,
) {
    let period = Duration::from_millis(state.config.broker_heartbeat_interval);
    let timeout = Duration::from_millis(state.config.send_heartbeat_timeout_millis);
    loop {
        link.to_all_oneway(|| request(&state, me), timeout).await;
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = tokio::time::sleep(period) => {}
        }
    }
}
