//! The offset-based 5.x pull consumer: PullMessage, UpdateOffset,
//! GetOffset and QueryOffset, each the remoting request a 4.x lite-pull
//! consumer sends to the queue's broker.

use std::time::Duration;

use client::MessageExt;
use protocol::header::offset::{
    GetMaxOffsetRequestHeader, GetMinOffsetRequestHeader, OffsetResponseHeader,
    QueryConsumerOffsetRequestHeader, SearchOffsetRequestHeader, UpdateConsumerOffsetRequestHeader,
};
use protocol::header::pull::{PullMessageRequestHeader, PullMessageResponseHeader};
use protocol::message::sysflag::pull as pullflag;
use protocol::{RemotingCommand, RequestCode, ResponseCode};
use tokio::sync::mpsc;

use crate::convert::{self, Delivery};
use crate::core::Core;
use crate::error::{self, GrpcError, GrpcResult};
use crate::pb::{self, pull_message_response::Content, Code, FilterType, QueryOffsetPolicy};
use crate::upstream::broker_error;

/// A queue named by a request, checked.
struct Queue {
    topic: String,
    broker: String,
    id: i32,
    addr: String,
}

async fn queue(core: &Core, mq: Option<pb::MessageQueue>) -> GrpcResult<Queue> {
    let mq = mq.ok_or_else(|| GrpcError::invalid(Code::BadRequest, "message_queue is missing"))?;
    let topic = mq.topic.map(|t| t.name).unwrap_or_default();
    convert::check_topic(&topic)?;
    let broker = mq.broker.map(|b| b.name).unwrap_or_default();
    if broker.is_empty() {
        return Err(GrpcError::invalid(
            Code::BadRequest,
            "message_queue.broker.name is missing",
        ));
    }
    if mq.id < 0 {
        return Err(GrpcError::invalid(
            Code::BadRequest,
            format!("message_queue.id {} is negative", mq.id),
        ));
    }
    core.upstream.route(&topic).await?;
    let addr = core.upstream.master(&broker, &topic).await?;
    Ok(Queue {
        topic,
        broker,
        id: mq.id,
        addr,
    })
}

fn group_name(group: Option<pb::Resource>) -> GrpcResult<String> {
    let g = group.map(|g| g.name).unwrap_or_default();
    convert::check_group(&g)?;
    Ok(g)
}

type Tx = mpsc::Sender<Result<pb::PullMessageResponse, tonic::Status>>;

/// PullMessage: a status frame, the messages, then the next offset.
pub async fn pull(core: &Core, req: pb::PullMessageRequest, tx: &Tx) {
    let frames = match pull_frames(core, req).await {
        Ok(f) => f,
        Err(e) => vec![Content::Status(e.status())],
    };
    for content in frames {
        if tx
            .send(Ok(pb::PullMessageResponse {
                content: Some(content),
            }))
            .await
            .is_err()
        {
            return;
        }
    }
}

async fn pull_frames(core: &Core, req: pb::PullMessageRequest) -> GrpcResult<Vec<Content>> {
    let group = group_name(req.group)?;
    let q = queue(core, req.message_queue).await?;
    if req.offset < 0 {
        return Err(GrpcError::invalid(
            Code::IllegalOffset,
            format!("offset {} is negative", req.offset),
        ));
    }
    let batch = req.batch_size.clamp(1, 32);
    let (expression, expression_type) = filter(req.filter_expression)?;
    let poll_ms = req
        .long_polling_timeout
        .as_ref()
        .map_or(0, convert::duration_ms)
        .clamp(0, 20_000);
    let header = PullMessageRequestHeader {
        consumer_group: group,
        topic: q.topic.clone(),
        queue_id: q.id,
        queue_offset: req.offset,
        max_msg_nums: batch,
        sys_flag: pullflag::SUBSCRIPTION | if poll_ms > 0 { pullflag::SUSPEND } else { 0 },
        commit_offset: 0,
        suspend_timeout_millis: poll_ms,
        subscription: Some(expression),
        sub_version: 0,
        expression_type: Some(expression_type.to_string()),
        max_msg_bytes: None,
        request_source: None,
        proxy_forward_client_id: None,
        broker_name: Some(q.broker.clone()),
    };
    let cmd = RemotingCommand::request_with_header(RequestCode::PULL_MESSAGE, &header);
    let wait = Duration::from_millis(poll_ms as u64 + 3_000);
    let resp = core.upstream.call(&q.addr, cmd, Some(wait)).await?;
    let code = ResponseCode::from_code(resp.code);
    let h: PullMessageResponseHeader = match code {
        ResponseCode::SUCCESS
        | ResponseCode::PULL_NOT_FOUND
        | ResponseCode::PULL_RETRY_IMMEDIATELY
        | ResponseCode::PULL_OFFSET_MOVED => resp.decode_header()?,
        _ => return Err(broker_error(&q.addr, &resp)),
    };
    let mut frames = Vec::new();
    if code == ResponseCode::SUCCESS {
        let msgs = MessageExt::decode_all(&resp.body, &q.broker)?;
        frames.push(Content::Status(error::ok()));
        for m in &msgs {
            let d = Delivery {
                topic: q.topic.clone(),
                ..Default::default()
            };
            frames.push(Content::Message(convert::to_grpc(m, d)));
        }
    } else if code == ResponseCode::PULL_OFFSET_MOVED {
        frames.push(Content::Status(error::status(
            Code::IllegalOffset,
            format!(
                "offset {} is outside [{}, {}]",
                req.offset, h.min_offset, h.max_offset
            ),
        )));
    } else {
        frames.push(Content::Status(error::status(
            Code::MessageNotFound,
            "no new message",
        )));
    }
    frames.push(Content::NextOffset(h.next_begin_offset));
    Ok(frames)
}

fn filter(f: Option<pb::FilterExpression>) -> GrpcResult<(String, &'static str)> {
    let Some(f) = f else {
        return Ok(("*".into(), "TAG"));
    };
    let expr = if f.expression.trim().is_empty() {
        "*".to_string()
    } else {
        f.expression
    };
    match FilterType::try_from(f.r#type) {
        Ok(FilterType::Sql) => Ok((expr, "SQL92")),
        Ok(FilterType::Tag) | Ok(FilterType::Unspecified) => Ok((expr, "TAG")),
        Err(_) => Err(GrpcError::invalid(
            Code::IllegalFilterExpression,
            format!("unknown filter type {}", f.r#type),
        )),
    }
}

/// The expression and its remoting type name (`TAG` or `SQL92`).
///
/// # Errors
/// ILLEGAL_FILTER_EXPRESSION for an unknown filter type.
pub fn filter_of(f: Option<pb::FilterExpression>) -> GrpcResult<(String, &'static str)> {
    filter(f)
}

/// UpdateOffset: commit the group's offset of one queue.
///
/// # Errors
/// Bad names, a negative offset, broker failures.
pub async fn update(core: &Core, req: pb::UpdateOffsetRequest) -> GrpcResult<()> {
    let group = group_name(req.group)?;
    let q = queue(core, req.message_queue).await?;
    if req.offset < 0 {
        return Err(GrpcError::invalid(
            Code::IllegalOffset,
            format!("offset {} is negative", req.offset),
        ));
    }
    let header = UpdateConsumerOffsetRequestHeader {
        consumer_group: group,
        topic: q.topic,
        queue_id: q.id,
        commit_offset: req.offset,
    };
    let cmd = RemotingCommand::request_with_header(RequestCode::UPDATE_CONSUMER_OFFSET, &header);
    core.upstream.call_ok(&q.addr, cmd).await?;
    Ok(())
}

/// GetOffset: the group's committed offset of one queue.
///
/// # Errors
/// OFFSET_NOT_FOUND when the group never committed one.
pub async fn get(core: &Core, req: pb::GetOffsetRequest) -> GrpcResult<i64> {
    let group = group_name(req.group)?;
    let q = queue(core, req.message_queue).await?;
    let header = QueryConsumerOffsetRequestHeader {
        consumer_group: group.clone(),
        topic: q.topic.clone(),
        queue_id: q.id,
        set_zero_if_not_found: Some(false),
    };
    let cmd = RemotingCommand::request_with_header(RequestCode::QUERY_CONSUMER_OFFSET, &header);
    let resp = core.upstream.call(&q.addr, cmd, None).await?;
    if resp.code == ResponseCode::QUERY_NOT_FOUND.code() {
        return Err(GrpcError::invalid(
            Code::OffsetNotFound,
            format!(
                "group `{group}` has no offset for queue {} of `{}`",
                q.id, q.topic
            ),
        ));
    }
    if resp.code != ResponseCode::SUCCESS.code() {
        return Err(broker_error(&q.addr, &resp));
    }
    let h: OffsetResponseHeader = resp.decode_header()?;
    Ok(h.offset)
}

/// QueryOffset: the queue's first or next offset, or the first at a time.
///
/// # Errors
/// Bad names, a TIMESTAMP query without a timestamp, broker failures.
pub async fn query(core: &Core, req: pb::QueryOffsetRequest) -> GrpcResult<i64> {
    let q = queue(core, req.message_queue).await?;
    let policy = QueryOffsetPolicy::try_from(req.query_offset_policy).map_err(|_| {
        GrpcError::invalid(
            Code::BadRequest,
            format!("unknown query_offset_policy {}", req.query_offset_policy),
        )
    })?;
    let cmd = match policy {
        QueryOffsetPolicy::Beginning => RemotingCommand::request_with_header(
            RequestCode::GET_MIN_OFFSET,
            &GetMinOffsetRequestHeader {
                topic: q.topic.clone(),
                queue_id: q.id,
            },
        ),
        QueryOffsetPolicy::End => RemotingCommand::request_with_header(
            RequestCode::GET_MAX_OFFSET,
            &GetMaxOffsetRequestHeader {
                topic: q.topic.clone(),
                queue_id: q.id,
                committed: None,
            },
        ),
        QueryOffsetPolicy::Timestamp => {
            let Some(ts) = req.timestamp else {
                return Err(GrpcError::invalid(
                    Code::BadRequest,
                    "TIMESTAMP policy needs a timestamp",
                ));
            };
            RemotingCommand::request_with_header(
                RequestCode::SEARCH_OFFSET_BY_TIMESTAMP,
                &SearchOffsetRequestHeader {
                    topic: q.topic.clone(),
                    queue_id: q.id,
                    timestamp: ts,
                    boundary_type: None,
                },
            )
        }
    };
    let resp = core.upstream.call_ok(&q.addr, cmd).await?;
    let h: OffsetResponseHeader = resp.decode_header()?;
    Ok(h.offset)
}
