//! SendMessage: each message checked, typed against its topic, and sent
//! as SEND_MESSAGE_V2 to the broker owning the queue we pick (FIFO: by a
//! hash of the message group; otherwise round-robin).

use std::net::SocketAddr;
use std::sync::atomic::Ordering;

use client::instance::TopicRoute;
use protocol::body::MessageQueue;
use protocol::header::send::{SendMessageRequestHeader, SendMessageResponseHeader};
use protocol::message::{msgid, topics};
use protocol::{RemotingCommand, RequestCode, ResponseCode};

use crate::convert::{self, Outgoing};
use crate::core::Core;
use crate::error::{self, GrpcError, GrpcResult};
use crate::pb::{self, Code, MessageType};
use crate::settings::MAX_BODY_SIZE;
use crate::transaction::TransactionId;
use crate::upstream::broker_error;

/// SendMessage: one result entry per message, in order, and the top
/// status (the common code, or MULTIPLE_RESULTS).
/// `peer` is the producer's address (the messages' born host).
pub async fn send(
    core: &Core,
    peer: Option<SocketAddr>,
    req: pb::SendMessageRequest,
) -> pb::SendMessageResponse {
    let entries = match send_all(core, peer, req).await {
        Ok(entries) => entries,
        Err(e) => {
            return pb::SendMessageResponse {
                status: Some(e.status()),
                entries: Vec::new(),
            }
        }
    };
    let first = entries.first().and_then(|e| e.status.clone());
    let same = entries
        .iter()
        .all(|e| e.status.as_ref().map(|s| s.code) == first.as_ref().map(|s| s.code));
    let status = match first {
        Some(s) if same => s,
        _ => error::status(Code::MultipleResults, "the messages had different outcomes"),
    };
    pb::SendMessageResponse {
        status: Some(status),
        entries,
    }
}

async fn send_all(
    core: &Core,
    peer: Option<SocketAddr>,
    req: pb::SendMessageRequest,
) -> GrpcResult<Vec<pb::SendResultEntry>> {
    let Some(first) = req.messages.first() else {
        return Err(GrpcError::invalid(
            Code::MessageCorrupted,
            "no message to send",
        ));
    };
    let topic = first
        .topic
        .as_ref()
        .map(|t| t.name.clone())
        .unwrap_or_default();
    if req
        .messages
        .iter()
        .any(|m| m.topic.as_ref().map(|t| t.name.as_str()) != Some(topic.as_str()))
    {
        return Err(GrpcError::invalid(
            Code::MessageCorrupted,
            "the messages of one request must share a topic",
        ));
    }
    convert::check_topic(&topic)?;
    let route = core.upstream.route(&topic).await?;
    let accepted = core.upstream.accepted_types(&topic, &route).await;
    let now = protocol::clock::now_ms();
    let mut entries = Vec::with_capacity(req.messages.len());
    for m in req.messages {
        let message_id = m
            .system_properties
            .as_ref()
            .map(|s| s.message_id.clone())
            .unwrap_or_default();
        let result = match convert::prepare(m, MAX_BODY_SIZE as usize, now) {
            Ok(o) if !accepted.contains(&o.message_type) => Err(GrpcError::invalid(
                Code::MessagePropertyConflictWithType,
                format!(
                    "topic `{topic}` accepts {} messages, not {}",
                    accepted
                        .iter()
                        .map(|t| t.as_str_name())
                        .collect::<Vec<_>>()
                        .join("/"),
                    o.message_type.as_str_name()
                ),
            )),
            Ok(o) => send_one(core, peer, &route, o).await,
            Err(e) => Err(e),
        };
        entries.push(result.unwrap_or_else(|e| pb::SendResultEntry {
            status: Some(e.status()),
            message_id,
            ..Default::default()
        }));
    }
    Ok(entries)
}

/// The queue a message goes to.
fn pick(core: &Core, route: &TopicRoute, o: &Outgoing) -> GrpcResult<MessageQueue> {
    let queues = &route.write_queues;
    if queues.is_empty() {
        return Err(GrpcError::invalid(
            Code::Forbidden,
            format!("topic `{}` has no writable queue", o.topic),
        ));
    }
    let index = match &o.message_group {
        // Stable across restarts and endpoints: every message of a group
        // lands in one queue while the route is unchanged.
        Some(g) => crc32fast::hash(g.as_bytes()) as usize,
        None => core.round_robin.fetch_add(1, Ordering::Relaxed),
    };
    Ok(queues[index % queues.len()].clone())
}

async fn send_one(
    core: &Core,
    peer: Option<SocketAddr>,
    route: &TopicRoute,
    o: Outgoing,
) -> GrpcResult<pb::SendResultEntry> {
    let mq = pick(core, route, &o)?;
    let header = SendMessageRequestHeader {
        producer_group: o.topic.clone(),
        topic: o.topic.clone(),
        default_topic: topics::AUTO_CREATE_TOPIC.to_string(),
        default_topic_queue_nums: 8,
        queue_id: mq.queue_id,
        sys_flag: convert::send_sys_flag(&o),
        born_timestamp: o.born_ms,
        flag: 0,
        properties: Some(o.properties.encode()),
        reconsume_times: Some(0),
        unit_mode: Some(false),
        max_reconsume_times: None,
        batch: Some(false),
        broker_name: Some(mq.broker_name.clone()),
    };
    let mut cmd = RemotingCommand::request(RequestCode::SEND_MESSAGE_V2).with_body(o.body.clone());
    let local = &core.local;
    let (addr, resp) = if mq.broker_name == local.config.broker_name && !local.is_slave() {
        // This endpoint's own broker: straight into its send path, no
        // remoting hop (the broker applies every rule it applies to a
        // remoting send).
        let born = peer.unwrap_or(local.store_host);
        let resp = match broker::handlers::send::store(local, born, &header, &cmd).await {
            Ok(r) => r,
            Err(e) => e.to_response(),
        };
        (core.advertised.clone(), resp)
    } else {
        let addr = core.upstream.master(&mq.broker_name, &o.topic).await?;
        header.write_v2(&mut cmd.ext_fields);
        let resp = core.upstream.call(&addr, cmd, None).await?;
        (addr, resp)
    };
    if resp.code != ResponseCode::SUCCESS.code() {
        if resp.code == ResponseCode::TOPIC_NOT_EXIST.code() {
            core.upstream.forget(&o.topic);
        }
        return Err(broker_error(&addr, &resp));
    }
    let h: SendMessageResponseHeader = resp.decode_header()?;
    let transaction_id = if o.message_type == MessageType::Transaction {
        let (_, commit_log_offset) = msgid::decode_offset_msg_id(&h.msg_id)?;
        TransactionId {
            broker: mq.broker_name.clone(),
            commit_log_offset,
            queue_offset: h.queue_offset,
            message_id: o.message_id.clone(),
        }
        .encode()
    } else {
        String::new()
    };
    Ok(pb::SendResultEntry {
        status: Some(error::ok()),
        message_id: o.message_id,
        transaction_id,
        offset: h.queue_offset,
        recall_handle: h.recall_handle.unwrap_or_default(),
    })
}
