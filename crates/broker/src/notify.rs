//! Requests the broker sends its clients on its own initiative:
//! NOTIFY_CONSUMER_IDS_CHANGED, so that a group rebalances at once instead
//! of at its next periodic rebalance.

use std::sync::Arc;

use protocol::header::consumer::NotifyConsumerIdsChangedRequestHeader;
use protocol::{RemotingCommand, RequestCode};
use remoting::Connection;

use crate::state::BrokerState;

/// Sends NOTIFY_CONSUMER_IDS_CHANGED (oneway) to each connection, in the
/// background so a slow client never delays the request that caused it.
pub fn notify_ids_changed(state: &Arc<BrokerState>, group: &str, members: Vec<Connection>) {
    if !state.live.broker().notify_consumer_ids_changed_enable || members.is_empty() {
        return;
    }
    let header = NotifyConsumerIdsChangedRequestHeader {
        consumer_group: group.to_owned(),
    };
    for conn in members {
        let mut request =
            RemotingCommand::request_with_header(RequestCode::NOTIFY_CONSUMER_IDS_CHANGED, &header);
        request.set_oneway();
        state.tasks.spawn(async move {
            if let Err(e) = conn.invoke_oneway(request).await {
                tracing::debug!(peer = %conn.peer_addr(), error = %e, "notify consumer ids changed failed");
            }
        });
    }
}
