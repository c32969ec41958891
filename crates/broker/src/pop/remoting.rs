//! The POP family over remoting (Java 5.x clients): POP_MESSAGE,
//! ACK_MESSAGE, BATCH_ACK_MESSAGE, PEEK_MESSAGE,
//! CHANGE_MESSAGE_INVISIBLETIME, NOTIFICATION and POLLING_INFO. Each
//! decodes its header, calls the POP service, and answers; a [`PopError`]
//! becomes its code and remark in [`PopError::to_response`].

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use protocol::body::pop::BatchAckMessageRequestBody;
use protocol::header::pop::{
    AckMessageRequestHeader, ChangeInvisibleTimeRequestHeader, ChangeInvisibleTimeResponseHeader,
    NotificationRequestHeader, NotificationResponseHeader, PeekMessageRequestHeader,
    PollingInfoRequestHeader, PollingInfoResponseHeader, PopMessageRequestHeader,
    PopMessageResponseHeader,
};
use protocol::{RemotingCommand, ResponseCode};

use super::api::{FilterKind, InitMode, PopOutcome, PopRequest};
use super::error::{PopError, PopResult};
use super::handle::ReceiptHandle;
use crate::error::BrokerResult;
use crate::state::BrokerState;

fn answer(r: PopResult<RemotingCommand>) -> BrokerResult<RemotingCommand> {
    Ok(r.unwrap_or_else(|e| {
        tracing::debug!(error = %e, "pop request failed");
        e.to_response()
    }))
}

fn queue_selector(queue_id: i32) -> Option<i32> {
    (queue_id >= 0).then_some(queue_id)
}

fn millis(field: &str, value: i64) -> PopResult<Duration> {
    u64::try_from(value)
        .map(Duration::from_millis)
        .map_err(|_| PopError::InvalidParameter(format!("{field} {value} is negative")))
}

/// POP_MESSAGE (200050).
pub async fn pop_message(
    state: &Arc<BrokerState>,
    req: &RemotingCommand,
) -> BrokerResult<RemotingCommand> {
    answer(pop_inner(state, req).await)
}

async fn pop_inner(state: &Arc<BrokerState>, req: &RemotingCommand) -> PopResult<RemotingCommand> {
    let h: PopMessageRequestHeader = req.decode_header()?;
    let sql = h
        .exp_type
        .as_deref()
        .is_some_and(|t| t.eq_ignore_ascii_case("SQL92"));
    let request = PopRequest {
        group: h.consumer_group.clone(),
        topic: h.topic.clone(),
        queue_id: queue_selector(h.queue_id),
        max_messages: u32::try_from(h.max_msg_nums).unwrap_or(0),
        invisible_time: millis("invisibleTime", h.invisible_time)?,
        expression: h.exp.clone().unwrap_or_default(),
        filter_kind: if sql {
            FilterKind::Sql92
        } else {
            FilterKind::Tag
        },
        order: h.order.unwrap_or(false),
        poll_time: Duration::from_millis(u64::try_from(h.poll_time).unwrap_or(0)),
        init_mode: if h.init_mode == 0 {
            InitMode::Min
        } else {
            InitMode::Max
        },
    };
    let out = super::pop(state, &request).await?;
    Ok(pop_response(
        &out,
        request.order,
        !request.poll_time.is_zero(),
    ))
}

/// The answer to a pop: the records as stored, and per queue the offsets
/// Java clients rebuild their receipt handles from.
fn pop_response(out: &PopOutcome, order: bool, polled: bool) -> RemotingCommand {
    let mut header = PopMessageResponseHeader {
        pop_time: out.pop_time,
        invisible_time: out.invisible_ms,
        revive_qid: out.revive_qid,
        rest_num: i64::try_from(out.rest).unwrap_or(i64::MAX),
        ..Default::default()
    };
    if out.messages.is_empty() {
        let (code, remark) = if polled {
            (
                ResponseCode::POLLING_TIMEOUT,
                "no new message after polling",
            )
        } else {
            (ResponseCode::PULL_NOT_FOUND, "no new message")
        };
        return RemotingCommand::response(code, Some(remark.to_owned())).with_header(&header);
    }
    // Messages come grouped by queue, each queue's in offset order.
    let mut start = String::new();
    let mut offsets = String::new();
    let mut counts = String::new();
    let mut body = BytesMut::new();
    let mut last: Option<(bool, i32)> = None;
    for m in &out.messages {
        let flag = u8::from(m.retry);
        if last != Some((m.retry, m.queue_id)) {
            let ck = ReceiptHandle::parse(&m.handle).map_or(m.queue_offset, |h| h.ck_offset);
            let sep = if start.is_empty() { "" } else { ";" };
            let _ = write!(start, "{sep}{flag} {} {ck}", m.queue_id);
            let _ = write!(offsets, "{sep}{flag} {} {}", m.queue_id, m.queue_offset);
            last = Some((m.retry, m.queue_id));
        } else {
            let _ = write!(offsets, ",{}", m.queue_offset);
        }
        if order {
            let sep = if counts.is_empty() { "" } else { ";" };
            let reconsumed = m.delivery_attempt.saturating_sub(1);
            let _ = write!(
                counts,
                "{sep}{flag} qo{}%{} {reconsumed}",
                m.queue_id, m.queue_offset
            );
        }
        body.extend_from_slice(&m.record);
    }
    header.start_offset_info = Some(start);
    header.msg_offset_info = Some(offsets);
    header.order_count_info = order.then_some(counts);
    let mut cmd = RemotingCommand::success().with_header(&header);
    cmd.body = body.freeze();
    cmd
}

/// ACK_MESSAGE (200051).
pub fn ack_message(state: &BrokerState, req: &RemotingCommand) -> BrokerResult<RemotingCommand> {
    answer((|| {
        let h: AckMessageRequestHeader = req.decode_header()?;
        super::ack(state, &h.consumer_group, &h.topic, &h.extra_info)?;
        Ok(RemotingCommand::success())
    })())
}

/// BATCH_ACK_MESSAGE (200151): every bit of every batch is one ack. Acks
/// of deliveries no longer in flight are skipped (Java answers success for
/// them too); a malformed body or a foreign broker is an error.
pub fn batch_ack_message(
    state: &BrokerState,
    req: &RemotingCommand,
) -> BrokerResult<RemotingCommand> {
    answer((|| {
        let body = BatchAckMessageRequestBody::from_json_bytes(&req.body)?;
        for batch in &body.acks {
            let start = u64::try_from(batch.start_offset).map_err(|_| {
                PopError::InvalidParameter(format!(
                    "startOffset {} is negative",
                    batch.start_offset
                ))
            })?;
            let queue_id = u32::try_from(batch.queue_id).map_err(|_| {
                PopError::InvalidParameter(format!("queueId {} is negative", batch.queue_id))
            })?;
            for offset in batch.offsets() {
                let handle = ReceiptHandle {
                    ck_offset: start,
                    pop_time: batch.pop_time,
                    invisible_ms: batch.invisible_time,
                    revive_qid: batch.revive_queue_id,
                    retry: batch.is_retry(),
                    broker_name: body.broker_name.clone(),
                    queue_id: queue_id as i32,
                    queue_offset: u64::try_from(offset).unwrap_or(0),
                };
                match super::ack(
                    state,
                    &batch.consumer_group,
                    &batch.topic,
                    &handle.to_string(),
                ) {
                    Ok(()) | Err(PopError::HandleExpired(..)) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(RemotingCommand::success())
    })())
}

/// CHANGE_MESSAGE_INVISIBLETIME (200053).
pub fn change_invisible_time(
    state: &BrokerState,
    req: &RemotingCommand,
) -> BrokerResult<RemotingCommand> {
    answer((|| {
        let h: ChangeInvisibleTimeRequestHeader = req.decode_header()?;
        let invisible = millis("invisibleTime", h.invisible_time)?;
        let renewed =
            super::change_invisible(state, &h.consumer_group, &h.topic, &h.extra_info, invisible)?;
        Ok(
            RemotingCommand::success().with_header(&ChangeInvisibleTimeResponseHeader {
                pop_time: renewed.pop_time,
                invisible_time: renewed.invisible_ms,
                revive_qid: renewed.revive_qid,
            }),
        )
    })())
}

/// PEEK_MESSAGE (200052).
pub fn peek_message(state: &BrokerState, req: &RemotingCommand) -> BrokerResult<RemotingCommand> {
    answer((|| {
        let h: PeekMessageRequestHeader = req.decode_header()?;
        let max = u32::try_from(h.max_msg_nums).unwrap_or(0);
        let (records, rest) = super::peek(
            state,
            &h.consumer_group,
            &h.topic,
            queue_selector(h.queue_id),
            max,
        )?;
        let header = PopMessageResponseHeader {
            rest_num: i64::try_from(rest).unwrap_or(i64::MAX),
            ..Default::default()
        };
        if records.is_empty() {
            return Ok(RemotingCommand::response(
                ResponseCode::PULL_NOT_FOUND,
                Some("no new message".to_owned()),
            )
            .with_header(&header));
        }
        let mut body = BytesMut::new();
        records.iter().for_each(|r| body.extend_from_slice(r));
        let mut cmd = RemotingCommand::success().with_header(&header);
        cmd.body = body.freeze();
        Ok(cmd)
    })())
}

/// NOTIFICATION (200054): long-polls until a pop would find something.
pub async fn notification(
    state: &Arc<BrokerState>,
    req: &RemotingCommand,
) -> BrokerResult<RemotingCommand> {
    let inner = async {
        let h: NotificationRequestHeader = req.decode_header()?;
        let poll = Duration::from_millis(u64::try_from(h.poll_time).unwrap_or(0));
        let Some(_parked) = state.pop.waiters.park(&h.topic, &h.consumer_group) else {
            return Ok(
                RemotingCommand::success().with_header(&NotificationResponseHeader {
                    has_msg: false,
                    polling_full: Some(true),
                }),
            );
        };
        let has_msg = super::has_message(
            state,
            &h.consumer_group,
            &h.topic,
            queue_selector(h.queue_id),
            poll,
        )
        .await?;
        Ok(
            RemotingCommand::success().with_header(&NotificationResponseHeader {
                has_msg,
                polling_full: Some(false),
            }),
        )
    };
    answer(inner.await)
}

/// POLLING_INFO (200055): how many pops of the group wait on the topic.
pub fn polling_info(state: &BrokerState, req: &RemotingCommand) -> BrokerResult<RemotingCommand> {
    answer((|| {
        let h: PollingInfoRequestHeader = req.decode_header()?;
        super::rules::group_config(state, &h.consumer_group)?;
        super::rules::queue_ids(state, &h.topic, queue_selector(h.queue_id))?;
        let n = state.pop.waiters.parked(&h.topic, &h.consumer_group);
        Ok(
            RemotingCommand::success().with_header(&PollingInfoResponseHeader {
                polling_num: i32::try_from(n).unwrap_or(i32::MAX),
            }),
        )
    })())
}
