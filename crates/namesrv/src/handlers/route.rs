//! GET_ROUTEINFO_BY_TOPIC and GET_BROKER_CLUSTER_INFO.

use std::time::Duration;

use protocol::header::namesrv::GetRouteInfoRequestHeader;
use protocol::RemotingCommand;

use super::NamesrvState;
use crate::error::NamesrvError;
use crate::kv::NAMESPACE_ORDER_TOPIC_CONFIG;

pub(super) fn route_by_topic(
    s: &NamesrvState,
    req: &RemotingCommand,
) -> Result<RemotingCommand, NamesrvError> {
    let h: GetRouteInfoRequestHeader = req.decode_header()?;
    let (wait, order_enabled) = {
        let c = s.config.read();
        let wait = c
            .need_wait_for_service
            .then(|| Duration::from_secs(c.wait_seconds_for_service));
        (wait, c.order_message_enable)
    };
    if wait.is_some_and(|w| s.started.elapsed() < w) {
        return Err(NamesrvError::NotReady);
    }
    let mut route = s
        .routes
        .route(&h.topic)
        .ok_or(NamesrvError::TopicNotExist(h.topic.clone()))?;
    if order_enabled {
        route.order_topic_conf = s.kv.get(NAMESPACE_ORDER_TOPIC_CONFIG, &h.topic);
    }
    // Quoted broker-id keys whatever the client's version: every client we
    // target parses them (remoting-protocol §6.1.3).
    Ok(RemotingCommand::success().with_body(route.encode()))
}

pub(super) fn cluster_info(s: &NamesrvState) -> Result<RemotingCommand, NamesrvError> {
    Ok(RemotingCommand::success().with_body(s.routes.cluster_info().encode()))
}
