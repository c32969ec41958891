//! Client membership: HEART_BEAT, UNREGISTER_CLIENT,
//! GET_CONSUMER_LIST_BY_GROUP, GET_CONSUMER_CONNECTION_LIST,
//! CHECK_CLIENT_CONFIG, and NOTIFY_CONSUMER_IDS_CHANGED pushed to a group
//! whenever its membership changes.

use std::sync::Arc;
use std::time::Instant;

use protocol::body::check_client::CheckClientRequestBody;
use protocol::body::consumer::{Connection as ConnectionBody, ConsumerConnection, ConsumerList};
use protocol::body::heartbeat::HeartbeatData;
use protocol::header::consumer::{
    GetConsumerConnectionListRequestHeader, GetConsumerListByGroupRequestHeader,
    UnregisterClientRequestHeader,
};
use protocol::message::sysflag::perm;
use protocol::message::topics;
use protocol::{RemotingCommand, ResponseCode};
use remoting::Connection;

use crate::error::{BrokerError, BrokerResult};
use crate::notify::notify_ids_changed;
use crate::state::BrokerState;
use crate::tables::clients::ClientChannel;
use crate::tables::groups::validate_group;

/// HEART_BEAT (34): registers producers and consumers of a client.
pub fn heartbeat(
    state: &Arc<BrokerState>,
    conn: &Connection,
    req: &RemotingCommand,
) -> BrokerResult<RemotingCommand> {
    let data = HeartbeatData::from_json_bytes(&req.body)?;
    let channel = ClientChannel {
        client_id: data.client_id.clone(),
        conn: conn.clone(),
        language: req.language.name().to_owned(),
        version: req.version,
        last_update: Instant::now(),
    };
    // Groups and retry topics this heartbeat creates are saved once each,
    // when these drop, however many it names.
    // A new group with a bad name refuses the whole heartbeat before
    // anything is created.
    for consumer in &data.consumer_data_set {
        if state.groups.get(&consumer.group_name).is_none() {
            validate_group(&consumer.group_name)?;
        }
    }
    let _groups = state.groups.batch();
    let _topics = state.topics.batch();
    for consumer in &data.consumer_data_set {
        let Some(group) = state.groups.get_or_create(
            &consumer.group_name,
            state.config.auto_create_subscription_group,
        )?
        else {
            continue;
        };
        // Every clustering group gets its retry topic, as Java creates it here.
        let retry = topics::retry_topic(&consumer.group_name);
        state
            .topics
            .ensure(&retry, group.retry_queue_nums.max(1), perm::READ_WRITE);
        if let Some(members) = state.clients.register_consumer(consumer, channel.clone()) {
            tracing::info!(group = %consumer.group_name, client = %data.client_id, "consumer joined");
            if group.notify_consumer_ids_changed_enable {
                notify_ids_changed(state, &consumer.group_name, members);
            }
        }
    }
    for producer in &data.producer_data_set {
        state
            .clients
            .register_producer(&producer.group_name, channel.clone());
    }
    Ok(RemotingCommand::success())
}

/// UNREGISTER_CLIENT (35).
pub fn unregister_client(
    state: &Arc<BrokerState>,
    req: &RemotingCommand,
) -> BrokerResult<RemotingCommand> {
    let h: UnregisterClientRequestHeader = req.decode_header()?;
    if let Some(group) = h.producer_group.as_deref().filter(|g| !g.is_empty()) {
        state.clients.unregister_producer(group, &h.client_id);
    }
    if let Some(group) = h.consumer_group.as_deref().filter(|g| !g.is_empty()) {
        if let Some(rest) = state.clients.unregister_consumer(group, &h.client_id) {
            tracing::info!(%group, client = %h.client_id, "consumer left");
            notify_ids_changed(state, group, rest);
        }
    }
    Ok(RemotingCommand::success())
}

/// GET_CONSUMER_LIST_BY_GROUP (38).
pub fn get_consumer_list_by_group(
    state: &Arc<BrokerState>,
    req: &RemotingCommand,
) -> BrokerResult<RemotingCommand> {
    let h: GetConsumerListByGroupRequestHeader = req.decode_header()?;
    let ids = state.clients.consumer_ids(&h.consumer_group);
    if ids.is_empty() {
        return Ok(RemotingCommand::error(
            ResponseCode::SYSTEM_ERROR,
            format!("no consumer for this group, {}", h.consumer_group),
        ));
    }
    let body = ConsumerList {
        consumer_id_list: ids,
    }
    .to_json_bytes()?;
    Ok(RemotingCommand::success().with_body(body))
}

/// GET_CONSUMER_CONNECTION_LIST (203).
pub fn get_consumer_connection_list(
    state: &Arc<BrokerState>,
    req: &RemotingCommand,
) -> BrokerResult<RemotingCommand> {
    let h: GetConsumerConnectionListRequestHeader = req.decode_header()?;
    let Some(group) = state.clients.consumer_group(&h.consumer_group) else {
        return Ok(RemotingCommand::error(
            ResponseCode::CONSUMER_NOT_ONLINE,
            format!("the consumer group[{}] not online", h.consumer_group),
        ));
    };
    let body = ConsumerConnection {
        connection_set: group
            .channels
            .values()
            .map(|c| ConnectionBody {
                client_addr: c.conn.peer_addr().to_string(),
                client_id: c.client_id.clone(),
                language: c.language.clone(),
                version: c.version,
            })
            .collect(),
        consume_from_where: group.data.consume_from_where.clone(),
        consume_type: group.data.consume_type.clone(),
        message_model: group.data.message_model.clone(),
        subscription_table: group.subscriptions.clone().into_iter().collect(),
    }
    .to_json_bytes()?;
    Ok(RemotingCommand::success().with_body(body))
}

/// CHECK_CLIENT_CONFIG (46): a consumer with an SQL92 subscription asks
/// whether the broker can evaluate it.
pub fn check_client_config(
    state: &Arc<BrokerState>,
    req: &RemotingCommand,
) -> BrokerResult<RemotingCommand> {
    let body = CheckClientRequestBody::from_json_bytes(&req.body)?;
    let Some(sub) = body.subscription_data else {
        return Ok(RemotingCommand::success());
    };
    if !sub.expression_type.eq_ignore_ascii_case("SQL92") {
        return Ok(RemotingCommand::success());
    }
    if !state.config.enable_property_filter {
        return Err(BrokerError::System(
            "The broker does not support consumer to filter message by SQL92".into(),
        ));
    }
    state.sql.get(&sub.sub_string)?;
    Ok(RemotingCommand::success())
}

/// A connection closed: its clients leave their groups at once.
pub fn connection_closed(state: &Arc<BrokerState>, conn: &Connection) {
    state.locks.connection_closed(conn.id());
    for (group, rest) in state.clients.connection_closed(conn.id()) {
        tracing::info!(%group, peer = %conn.peer_addr(), "consumer connection closed");
        notify_ids_changed(state, &group, rest);
    }
}
