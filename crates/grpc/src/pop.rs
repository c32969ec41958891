//! POP consumption over gRPC, on the local broker's POP service:
//! ReceiveMessage (status frame, messages, delivery-timestamp frame),
//! AckMessage, ChangeInvisibleDuration, ForwardMessageToDeadLetterQueue.
//! Routes send clients to the endpoint of the broker that owns a queue,
//! so a request naming another broker is refused with a clear status.

use std::sync::Arc;
use std::time::Duration;

use broker::pop::{self as bpop, FilterKind, InitMode, PopRequest, PoppedMessage};
use broker::state::BrokerState;
use client::MessageExt;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::convert::{self, Delivery};
use crate::core::Core;
use crate::error::{self, GrpcError, GrpcResult};
use crate::offsets::filter_of;
use crate::pb::{self, receive_message_response::Content, Code};
use crate::renew::AUTO_RENEW_INVISIBLE;

/// Invisible time a receive may ask for.
const MIN_INVISIBLE: Duration = Duration::from_secs(10);
const MAX_INVISIBLE: Duration = Duration::from_secs(12 * 3600);
/// Long-polling bounds (the proxy's).
const MIN_POLL: Duration = Duration::from_secs(5);
const MAX_POLL: Duration = Duration::from_secs(20);
/// Kept free before the client's deadline so the stream ends in time.
const DEADLINE_MARGIN: Duration = Duration::from_millis(1500);

type Tx = mpsc::Sender<Result<pb::ReceiveMessageResponse, tonic::Status>>;

fn name(r: Option<pb::Resource>) -> String {
    r.map(|r| r.name).unwrap_or_default()
}

/// Refuses a queue of another broker: its POP state lives there.
fn check_broker(core: &Core, mq: Option<&pb::MessageQueue>) -> GrpcResult<()> {
    let asked = mq
        .and_then(|q| q.broker.as_ref())
        .map(|b| b.name.as_str())
        .unwrap_or_default();
    let local = &core.local.config.broker_name;
    if !asked.is_empty() && asked != local {
        return Err(GrpcError::invalid(
            Code::BadRequest,
            format!("this endpoint serves broker `{local}`; queues of `{asked}` are served at that broker's endpoint (see QueryRoute)"),
        ));
    }
    Ok(())
}

/// How long to long-poll: the request's time, else the longest allowed,
/// ending before the client's deadline.
fn poll_time(
    asked: Option<&prost_types::Duration>,
    deadline: Option<Duration>,
) -> GrpcResult<Duration> {
    let asked = asked.map_or(MAX_POLL, |d| {
        Duration::from_millis(convert::duration_ms(d).max(0) as u64)
    });
    let mut poll = asked.clamp(MIN_POLL, MAX_POLL);
    if let Some(deadline) = deadline {
        let room = deadline.saturating_sub(DEADLINE_MARGIN);
        if room < MIN_POLL {
            return Err(GrpcError::invalid(
                Code::IllegalPollingTime,
                format!(
                    "the call's deadline of {} ms leaves no room for a long poll",
                    deadline.as_millis()
                ),
            ));
        }
        poll = poll.min(room);
    }
    Ok(poll)
}

fn invisible_time(req: &pb::ReceiveMessageRequest) -> GrpcResult<Duration> {
    if req.auto_renew && req.invisible_duration.is_none() {
        return Ok(AUTO_RENEW_INVISIBLE);
    }
    let Some(d) = &req.invisible_duration else {
        return Err(GrpcError::invalid(
            Code::IllegalInvisibleTime,
            "invisible_duration is required",
        ));
    };
    let ms = convert::duration_ms(d);
    let t = Duration::from_millis(ms.max(0) as u64);
    if ms < 0 || t < MIN_INVISIBLE || t > MAX_INVISIBLE {
        return Err(GrpcError::invalid(
            Code::IllegalInvisibleTime,
            format!("invisible_duration {ms} ms is outside [10 s, 12 h]"),
        ));
    }
    Ok(t)
}

/// The POP request a ReceiveMessage asks for.
async fn pop_request(
    core: &Core,
    req: pb::ReceiveMessageRequest,
    deadline: Option<Duration>,
) -> GrpcResult<PopRequest> {
    let group = name(req.group.clone());
    convert::check_group(&group)?;
    let topic = name(req.message_queue.as_ref().and_then(|q| q.topic.clone()));
    convert::check_topic(&topic)?;
    check_broker(core, req.message_queue.as_ref())?;
    if req.batch_size <= 0 {
        return Err(GrpcError::invalid(
            Code::BadRequest,
            format!("batch_size {} must be positive", req.batch_size),
        ));
    }
    let invisible = invisible_time(&req)?;
    let poll = poll_time(req.long_polling_timeout.as_ref(), deadline)?;
    let (expression, kind) = filter_of(req.filter_expression)?;
    let route = core.upstream.route(&topic).await?;
    let order = core.upstream.group_orderly(&group, &route).await;
    Ok(PopRequest {
        group,
        topic,
        queue_id: None,
        max_messages: (req.batch_size as u32).min(bpop::MAX_BATCH),
        invisible_time: invisible,
        expression,
        filter_kind: if kind == "SQL92" {
            FilterKind::Sql92
        } else {
            FilterKind::Tag
        },
        order,
        poll_time: poll,
        init_mode: InitMode::Max,
    })
}

/// ReceiveMessage: always a status frame first and a delivery-timestamp
/// frame last.
pub async fn receive(
    core: &Core,
    client: &str,
    req: pb::ReceiveMessageRequest,
    deadline: Option<Duration>,
    tx: &Tx,
) {
    let started = protocol::clock::now_ms();
    let frames = match receive_frames(core, client, req, deadline).await {
        Ok(f) => f,
        Err(e) => vec![Content::Status(e.status())],
    };
    for content in frames {
        if tx
            .send(Ok(pb::ReceiveMessageResponse {
                content: Some(content),
            }))
            .await
            .is_err()
        {
            // The client left: what it was handed comes back after its
            // invisible time.
            return;
        }
    }
    let end = Content::DeliveryTimestamp(convert::timestamp(started));
    let _ = tx
        .send(Ok(pb::ReceiveMessageResponse { content: Some(end) }))
        .await;
}

async fn receive_frames(
    core: &Core,
    client: &str,
    req: pb::ReceiveMessageRequest,
    deadline: Option<Duration>,
) -> GrpcResult<Vec<Content>> {
    let auto_renew = req.auto_renew && req.invisible_duration.is_none() && !client.is_empty();
    let pop = pop_request(core, req, deadline).await?;
    let invisible_ms = pop.invisible_time.as_millis() as i64;
    let outcome = bpop::pop(&core.local, &pop).await?;
    if outcome.messages.is_empty() {
        return Ok(vec![Content::Status(error::status(
            Code::MessageNotFound,
            "no new message",
        ))]);
    }
    let mut frames = Vec::with_capacity(outcome.messages.len() + 1);
    frames.push(Content::Status(error::ok()));
    for pm in outcome.messages {
        if auto_renew {
            core.renewals.track(
                client,
                &pop.group,
                &pop.topic,
                &pm.handle,
                outcome.pop_time,
                invisible_ms,
            );
        }
        match to_message(&core.local.config.broker_name, pm, invisible_ms) {
            Ok(m) => frames.push(Content::Message(m)),
            Err(e) => {
                tracing::warn!(error = %e, "popped record does not decode; it comes back after its invisible time")
            }
        }
    }
    Ok(frames)
}

fn to_message(broker: &str, pm: PoppedMessage, invisible_ms: i64) -> GrpcResult<pb::Message> {
    let m = MessageExt::decode_all(&pm.record, broker)?
        .into_iter()
        .next()
        .ok_or_else(|| GrpcError::invalid(Code::InternalServerError, "empty popped record"))?;
    Ok(convert::to_grpc(
        &m,
        Delivery {
            topic: pm.topic,
            receipt_handle: Some(pm.handle),
            delivery_attempt: Some(i32::try_from(pm.delivery_attempt).unwrap_or(i32::MAX)),
            invisible_ms: Some(invisible_ms),
        },
    ))
}

/// Runs a journaled POP operation off the async workers.
async fn blocking<T: Send + 'static>(
    state: &Arc<BrokerState>,
    f: impl FnOnce(&BrokerState) -> bpop::PopResult<T> + Send + 'static,
) -> GrpcResult<T> {
    let state = state.clone();
    tokio::task::spawn_blocking(move || f(&state))
        .await
        .map_err(|e| {
            GrpcError::invalid(Code::InternalServerError, format!("POP task failed: {e}"))
        })?
        .map_err(GrpcError::from)
}

/// AckMessage: one result per entry; the top status is their common code
/// or MULTIPLE_RESULTS.
pub async fn ack(core: &Core, req: pb::AckMessageRequest) -> pb::AckMessageResponse {
    let group = name(req.group);
    let topic = name(req.topic);
    let checked = convert::check_group(&group)
        .and_then(|()| convert::check_topic(&topic))
        .and_then(|()| {
            if req.entries.is_empty() {
                Err(GrpcError::invalid(
                    Code::BadRequest,
                    "no entry to acknowledge",
                ))
            } else {
                Ok(())
            }
        });
    if let Err(e) = checked {
        return pb::AckMessageResponse {
            status: Some(e.status()),
            entries: Vec::new(),
        };
    }
    for e in &req.entries {
        core.renewals.settle(&e.receipt_handle);
    }
    // One trip off the async workers for the whole request (each ack
    // writes a journal line), not one per entry.
    let acked = blocking(&core.local, move |s| {
        let outcomes = req
            .entries
            .into_iter()
            .map(|e| {
                let outcome = bpop::ack(s, &group, &topic, &e.receipt_handle);
                (e, outcome)
            })
            .collect::<Vec<_>>();
        Ok(outcomes)
    })
    .await;
    let outcomes = match acked {
        Ok(o) => o,
        Err(e) => {
            return pb::AckMessageResponse {
                status: Some(e.status()),
                entries: Vec::new(),
            }
        }
    };
    let entries: Vec<pb::AckMessageResultEntry> = outcomes
        .into_iter()
        .map(|(e, outcome)| pb::AckMessageResultEntry {
            status: Some(match outcome {
                Ok(()) => error::ok(),
                Err(err) => GrpcError::from(err).status(),
            }),
            message_id: e.message_id,
            receipt_handle: e.receipt_handle,
        })
        .collect();
    let first = entries[0].status.clone();
    let same = entries
        .iter()
        .all(|e| e.status.as_ref().map(|s| s.code) == first.as_ref().map(|s| s.code));
    let status = match first {
        Some(s) if same => s,
        _ => error::status(Code::MultipleResults, "the entries had different outcomes"),
    };
    pb::AckMessageResponse {
        status: Some(status),
        entries,
    }
}

/// ChangeInvisibleDuration: returns the new receipt handle.
///
/// # Errors
/// Bad names, a missing or out-of-range duration, a bad handle.
pub async fn change_invisible(
    core: &Core,
    req: pb::ChangeInvisibleDurationRequest,
) -> GrpcResult<String> {
    let group = name(req.group);
    let topic = name(req.topic);
    convert::check_group(&group)?;
    convert::check_topic(&topic)?;
    let Some(d) = req.invisible_duration.as_ref() else {
        return Err(GrpcError::invalid(
            Code::IllegalInvisibleTime,
            "invisible_duration is required",
        ));
    };
    let ms = convert::duration_ms(d);
    if ms < 0 || ms > MAX_INVISIBLE.as_millis() as i64 {
        return Err(GrpcError::invalid(
            Code::IllegalInvisibleTime,
            format!("invisible_duration {ms} ms is outside [0, 12 h]"),
        ));
    }
    let handle = req.receipt_handle;
    // The client decides this message's time from now on.
    core.renewals.settle(&handle);
    let renewed = blocking(&core.local, move |s| {
        bpop::change_invisible(s, &group, &topic, &handle, Duration::from_millis(ms as u64))
    })
    .await?;
    Ok(renewed.handle)
}

/// ForwardMessageToDeadLetterQueue: the message goes to the group's DLQ
/// now and its delivery is settled.
///
/// # Errors
/// Bad names or handle; store failures.
pub async fn forward_to_dlq(
    core: &Core,
    req: pb::ForwardMessageToDeadLetterQueueRequest,
) -> GrpcResult<()> {
    let group = name(req.group);
    let topic = name(req.topic);
    convert::check_group(&group)?;
    convert::check_topic(&topic)?;
    core.renewals.settle(&req.receipt_handle);
    Ok(bpop::dead_letter(&core.local, &group, &topic, &req.receipt_handle).await?)
}

/// Renews push consumers' due messages every few seconds until `cancel`.
pub async fn renew_loop(core: Arc<Core>, cancel: CancellationToken) {
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(crate::renew::TICK) => {}
        }
        let now = protocol::clock::now_ms();
        let due = core
            .renewals
            .due(now, |c| core.sessions.settings(c).is_some());
        for (first, group, topic, latest) in due {
            let invisible = AUTO_RENEW_INVISIBLE;
            let state = core.local.clone();
            let result = tokio::task::spawn_blocking(move || {
                bpop::change_invisible(&state, &group, &topic, &latest, invisible)
            })
            .await;
            match result {
                Ok(Ok(r)) => {
                    core.renewals
                        .renewed(&first, r.handle, now + invisible.as_millis() as i64)
                }
                // Acked meanwhile, or gone: nothing left to renew.
                _ => core.renewals.settle(&first),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_polls_stay_within_bounds_and_the_deadline() {
        let d = |s: i64| Some(convert::duration(s * 1000));
        assert_eq!(poll_time(d(30).as_ref(), None).unwrap(), MAX_POLL);
        assert_eq!(poll_time(d(1).as_ref(), None).unwrap(), MIN_POLL);
        assert_eq!(
            poll_time(None, Some(Duration::from_secs(23))).unwrap(),
            MAX_POLL
        );
        assert_eq!(
            poll_time(d(20).as_ref(), Some(Duration::from_secs(10))).unwrap(),
            Duration::from_millis(8500)
        );
        let e = poll_time(None, Some(Duration::from_secs(3))).unwrap_err();
        assert_eq!(e.code(), Code::IllegalPollingTime);
    }

    #[test]
    fn invisible_time_rules() {
        let mut req = pb::ReceiveMessageRequest {
            auto_renew: true,
            ..Default::default()
        };
        assert_eq!(invisible_time(&req).unwrap(), AUTO_RENEW_INVISIBLE);
        req.auto_renew = false;
        assert_eq!(
            invisible_time(&req).unwrap_err().code(),
            Code::IllegalInvisibleTime
        );
        req.invisible_duration = Some(convert::duration(5_000));
        assert_eq!(
            invisible_time(&req).unwrap_err().code(),
            Code::IllegalInvisibleTime
        );
        req.invisible_duration = Some(convert::duration(15_000));
        assert_eq!(invisible_time(&req).unwrap(), Duration::from_secs(15));
    }
}
