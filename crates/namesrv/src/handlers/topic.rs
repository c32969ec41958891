//! Topic lists, DELETE_TOPIC_IN_NAMESRV and REGISTER_TOPIC_IN_NAMESRV.

use protocol::body::route::TopicRouteData;
use protocol::header::namesrv::{
    DeleteTopicFromNamesrvRequestHeader, GetTopicsByClusterRequestHeader,
    RegisterTopicRequestHeader,
};
use protocol::RemotingCommand;

use super::NamesrvState;
use crate::error::NamesrvError;
use crate::routes::UnitTopicKind;

fn require(enabled: bool) -> Result<(), NamesrvError> {
    if enabled {
        Ok(())
    } else {
        Err(NamesrvError::Disabled)
    }
}

pub(super) fn all_topics(s: &NamesrvState) -> Result<RemotingCommand, NamesrvError> {
    require(s.config.read().enable_all_topic_list)?;
    Ok(RemotingCommand::success().with_body(s.routes.all_topics().encode()))
}

pub(super) fn topics_by_cluster(
    s: &NamesrvState,
    req: &RemotingCommand,
) -> Result<RemotingCommand, NamesrvError> {
    require(s.config.read().enable_topic_list)?;
    let h: GetTopicsByClusterRequestHeader = req.decode_header()?;
    Ok(RemotingCommand::success().with_body(s.routes.topics_by_cluster(&h.cluster).encode()))
}

pub(super) fn system_topics(s: &NamesrvState) -> Result<RemotingCommand, NamesrvError> {
    Ok(RemotingCommand::success().with_body(s.routes.system_topics().encode()))
}

pub(super) fn unit_topics(
    s: &NamesrvState,
    kind: UnitTopicKind,
) -> Result<RemotingCommand, NamesrvError> {
    require(s.config.read().enable_topic_list)?;
    Ok(RemotingCommand::success().with_body(s.routes.unit_topics(kind).encode()))
}

pub(super) fn delete_topic(
    s: &NamesrvState,
    req: &RemotingCommand,
) -> Result<RemotingCommand, NamesrvError> {
    let h: DeleteTopicFromNamesrvRequestHeader = req.decode_header()?;
    // Deleting an unknown topic succeeds, as in Java.
    s.routes.delete_topic(&h.topic, h.cluster_name.as_deref());
    Ok(RemotingCommand::success())
}

pub(super) fn register_topic(
    s: &NamesrvState,
    req: &RemotingCommand,
) -> Result<RemotingCommand, NamesrvError> {
    let h: RegisterTopicRequestHeader = req.decode_header()?;
    if !req.body.is_empty() {
        let route = TopicRouteData::decode(&req.body)?;
        s.routes.register_topic(&h.topic, &route.queue_datas)?;
    }
    Ok(RemotingCommand::success())
}
