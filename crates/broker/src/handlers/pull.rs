//! PULL_MESSAGE (11) and LITE_PULL_MESSAGE (361): validation, the offset
//! rules of remoting-protocol §4.2, commit offsets carried in pulls, and
//! long polling (a pull that finds nothing waits for its queue to grow).

use std::sync::Arc;
use std::time::Duration;

use protocol::header::pull::{PullMessageRequestHeader, PullMessageResponseHeader};
use protocol::message::sysflag::{perm, pull as pullflag};
use protocol::{RemotingCommand, ResponseCode};
use remoting::Connection;
use store::{GetResult, GetStatus};

use crate::batching::off_worker;
use crate::error::{BrokerError, BrokerResult};
use crate::state::BrokerState;
use crate::tables::subscription::Filter;

/// The longest a pull is held, whatever the client asks.
const MAX_HOLD: Duration = Duration::from_secs(30);

/// Handles one pull.
pub async fn handle(
    state: &Arc<BrokerState>,
    _conn: &Connection,
    req: &RemotingCommand,
) -> BrokerResult<RemotingCommand> {
    let h: PullMessageRequestHeader = req.decode_header()?;
    let filter = check(state, &h)?;
    // A pending admin reset wins over the (stale) commit offset this pull
    // carries: storing that commit would undo the reset.
    if let Some(reset) = state
        .offsets
        .take_reset(&h.consumer_group, &h.topic, h.queue_id)
    {
        return Ok(answer_moved(state, &h, reset));
    }
    if h.sys_flag & pullflag::COMMIT_OFFSET != 0 && !state.is_slave() && h.commit_offset >= 0 {
        state
            .offsets
            .commit(&h.consumer_group, &h.topic, h.queue_id, h.commit_offset);
    }
    let offset = u64::try_from(h.queue_offset).map_err(|_| {
        BrokerError::InvalidParameter(format!("queueOffset {} is negative", h.queue_offset))
    })?;
    let max_msgs = (h.max_msg_nums.max(1) as usize)
        .min(state.config.max_transfer_count_on_message_in_memory.max(1) as usize);
    let max_bytes = h
        .max_msg_bytes
        .filter(|b| *b > 0)
        .map_or(state.config.max_transfer_bytes_on_message_in_memory, |b| {
            (b as usize).min(state.config.max_transfer_bytes_on_message_in_memory)
        });
    let read = |from: u64| {
        let get = || {
            state.store.get_messages_filtered(
                &h.topic,
                h.queue_id,
                from,
                max_msgs,
                max_bytes,
                &|hash| filter.accepts_hash(hash),
                &|record| filter.accepts_record(record),
            )
        };
        // SQL92 looks up properties in every scanned message (up to the
        // store's filterScanBudgetMillis): the worker's other requests move
        // to another thread meanwhile.
        if matches!(filter, Filter::Sql(_)) {
            off_worker(get)
        } else {
            get()
        }
    };
    let mut result = read(offset);
    let suspend = h.sys_flag & pullflag::SUSPEND != 0;
    if suspend && is_not_found(&result, offset) {
        result = hold(state, &h, offset, &read).await;
        // An admin reset that arrived while the pull was parked woke it.
        if let Some(reset) = state
            .offsets
            .take_reset(&h.consumer_group, &h.topic, h.queue_id)
        {
            return Ok(answer_moved(state, &h, reset));
        }
    }
    state.offsets.record_pull(
        &h.consumer_group,
        &h.topic,
        h.queue_id,
        result.next_begin_offset as i64,
    );
    Ok(respond(state, &h, offset, result))
}

/// Validates group, topic, queue and subscription; returns the filter.
fn check(state: &BrokerState, h: &PullMessageRequestHeader) -> BrokerResult<Filter> {
    if state.is_slave() && !state.live.broker().slave_read_enable {
        return Err(BrokerError::SystemBusy(format!(
            "the slave broker[{}] does not serve reads (slaveReadEnable=false)",
            state.config.broker_name
        )));
    }
    if state.live.broker().broker_permission & perm::READ == 0 {
        return Err(BrokerError::NoPermission(format!(
            "the broker[{}] pulling message is forbidden",
            state.config.broker_name
        )));
    }
    let group = state
        .groups
        .get_or_create(
            &h.consumer_group,
            state.config.auto_create_subscription_group,
        )?
        .ok_or_else(|| BrokerError::GroupNotExist(h.consumer_group.clone()))?;
    if !group.consume_enable {
        return Err(BrokerError::NoPermission(format!(
            "subscription group [{}] has no permission to consume",
            h.consumer_group
        )));
    }
    let topic = crate::records::replica_topics::readable_topic(state, &h.topic)
        .ok_or_else(|| BrokerError::TopicNotExist(h.topic.clone()))?;
    if topic.perm & perm::READ == 0 {
        return Err(BrokerError::NoPermission(format!(
            "the topic[{}] pulling message is forbidden",
            h.topic
        )));
    }
    if h.queue_id < 0 || h.queue_id >= topic.read_queue_nums {
        return Err(BrokerError::InvalidParameter(format!(
            "queueId[{}] is illegal, topic:[{}] topicConfig.readQueueNums:[{}] consumer:[{}]",
            h.queue_id, h.topic, topic.read_queue_nums, h.consumer_group
        )));
    }
    let sql = h
        .expression_type
        .as_deref()
        .is_some_and(|t| t.eq_ignore_ascii_case("SQL92"));
    if sql && !state.config.enable_property_filter {
        return Err(BrokerError::System(
            "The broker does not support consumer to filter message by SQL92".into(),
        ));
    }
    if h.sys_flag & pullflag::SUBSCRIPTION != 0 {
        let expr = h.subscription.as_deref().unwrap_or("*");
        return if sql {
            Ok(Filter::Sql(state.sql.get(expr)?))
        } else {
            Ok(Filter::tags(expr))
        };
    }
    let sub = state
        .clients
        .subscription(&h.consumer_group, &h.topic)
        .ok_or_else(|| {
            BrokerError::SubscriptionNotExist(h.consumer_group.clone(), h.topic.clone())
        })?;
    if sub.sub_version < h.sub_version {
        return Err(BrokerError::SubscriptionNotLatest(h.consumer_group.clone()));
    }
    if sub.expression_type.eq_ignore_ascii_case("SQL92") {
        if !state.config.enable_property_filter {
            return Err(BrokerError::System(
                "The broker does not support consumer to filter message by SQL92".into(),
            ));
        }
        return Ok(Filter::Sql(state.sql.get(&sub.sub_string)?));
    }
    Ok(Filter::tags(&sub.sub_string))
}

fn is_not_found(result: &GetResult, offset: u64) -> bool {
    match result.status {
        GetStatus::OffsetFoundNull | GetStatus::OffsetOverflowOne => true,
        GetStatus::NoMessageInQueue | GetStatus::NoMatchedLogicQueue => offset == 0,
        _ => false,
    }
}

/// Waits for the queue to grow (or the hold time to pass, or an admin reset
/// of this queue) and reads again. Entries that arrive but do not pass the filter move the start on and
/// keep the pull waiting, so a selective subscriber is not woken for nothing.
async fn hold(
    state: &Arc<BrokerState>,
    h: &PullMessageRequestHeader,
    offset: u64,
    read: &impl Fn(u64) -> GetResult,
) -> GetResult {
    let hold_for = if state.live.broker().long_polling_enable {
        Duration::from_millis(h.suspend_timeout_millis.max(0) as u64).min(MAX_HOLD)
    } else {
        Duration::from_millis(state.live.broker().short_polling_time_mills)
    };
    let deadline = tokio::time::Instant::now() + hold_for;
    let arrival = state.arrivals.signal(&h.topic, h.queue_id);
    let mut from = offset;
    let mut last;
    loop {
        let notified = arrival.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        // Re-read after arming the signal: a message that arrived in between
        // is seen now rather than missed.
        let again = read(from);
        match again.status {
            GetStatus::Found => return again,
            GetStatus::NoMatchedMessage => {
                from = again.next_begin_offset;
                last = again;
            }
            _ if is_not_found(&again, from) => last = again,
            _ => return again,
        }
        tokio::select! {
            _ = &mut notified => {
                if state.offsets.has_reset(&h.consumer_group, &h.topic, h.queue_id) {
                    return last;
                }
            }
            _ = tokio::time::sleep_until(deadline) => {
                let end = read(from);
                return if end.status == GetStatus::Found { end } else { last };
            }
        }
    }
}

fn answer_moved(state: &BrokerState, h: &PullMessageRequestHeader, next: i64) -> RemotingCommand {
    let header = PullMessageResponseHeader {
        suggest_which_broker_id: 0,
        next_begin_offset: next,
        min_offset: state.store.min_offset(&h.topic, h.queue_id) as i64,
        max_offset: state.store.max_offset(&h.topic, h.queue_id) as i64,
        ..PullMessageResponseHeader::default()
    };
    RemotingCommand::error(ResponseCode::PULL_OFFSET_MOVED, "OFFSET_RESET").with_header(&header)
}

/// Maps the store's answer to a response (remoting-protocol §4.2 table).
fn respond(
    state: &BrokerState,
    h: &PullMessageRequestHeader,
    offset: u64,
    r: GetResult,
) -> RemotingCommand {
    let (code, next, remark) = match r.status {
        GetStatus::Found => (ResponseCode::SUCCESS, r.next_begin_offset, "FOUND"),
        GetStatus::NoMatchedMessage => (
            ResponseCode::PULL_RETRY_IMMEDIATELY,
            r.next_begin_offset,
            "NO_MATCHED_MESSAGE",
        ),
        GetStatus::MessageWasRemoving => (
            ResponseCode::PULL_RETRY_IMMEDIATELY,
            r.next_begin_offset,
            "MESSAGE_WAS_REMOVING",
        ),
        GetStatus::OffsetFoundNull => (ResponseCode::PULL_NOT_FOUND, offset, "OFFSET_FOUND_NULL"),
        GetStatus::OffsetOverflowOne => {
            (ResponseCode::PULL_NOT_FOUND, offset, "OFFSET_OVERFLOW_ONE")
        }
        GetStatus::NoMessageInQueue | GetStatus::NoMatchedLogicQueue if offset == 0 => {
            (ResponseCode::PULL_NOT_FOUND, 0, "NO_MESSAGE_IN_QUEUE")
        }
        GetStatus::NoMessageInQueue | GetStatus::NoMatchedLogicQueue => {
            (ResponseCode::PULL_OFFSET_MOVED, 0, "NO_MESSAGE_IN_QUEUE")
        }
        GetStatus::OffsetTooSmall => (
            ResponseCode::PULL_OFFSET_MOVED,
            r.min_offset,
            "OFFSET_TOO_SMALL",
        ),
        GetStatus::OffsetOverflowBadly => (
            ResponseCode::PULL_OFFSET_MOVED,
            r.max_offset,
            "OFFSET_OVERFLOW_BADLY",
        ),
    };
    let suggest = if r.suggest_pull_from_slave && state.live.broker().slave_read_enable {
        state
            .groups
            .get(&h.consumer_group)
            .map_or(1, |g| g.which_broker_when_consume_slowly)
    } else {
        0
    };
    let header = PullMessageResponseHeader {
        suggest_which_broker_id: suggest,
        next_begin_offset: next as i64,
        min_offset: r.min_offset as i64,
        max_offset: r.max_offset as i64,
        ..PullMessageResponseHeader::default()
    };
    let mut cmd = RemotingCommand::response(code, Some(remark.to_owned())).with_header(&header);
    if code == ResponseCode::SUCCESS {
        let (n, bytes) = (r.messages.len() as u64, r.total_bytes as u64);
        state
            .metrics
            .record_out(&h.consumer_group, &h.topic, n, bytes);
        // The mapped slices go to the socket as they are (vectored
        // writes); each keeps its segment mapped until it is written.
        cmd = cmd.with_body_parts(r.messages);
    }
    cmd
}
