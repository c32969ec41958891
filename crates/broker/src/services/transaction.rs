//! Transactional messages (remoting-protocol §9.7). A half message waits in
//! `RMQ_SYS_TRANS_HALF_TOPIC` queue 0 (invisible to consumers); commit or
//! rollback writes an op marker (`RMQ_SYS_TRANS_OP_HALF_TOPIC` queue 0, tag
//! `d`, body = the half queue offset and a comma). The check service asks
//! the producer group about half messages that stay unresolved.
//!
//! Unlike Java, a checked half message is not re-appended: the check count
//! is kept in memory, keyed by half queue offset, and persisted in
//! `config/transactionCheck.json`. Progress (the lowest unresolved half
//! offset, and the op-queue offset from which the markers still needed are
//! re-read at start) lives in the offset table under `CID_RMQ_SYS_TRANS`.

use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use protocol::header::transaction::CheckTransactionStateRequestHeader;
use protocol::message::msgid::encode_offset_msg_id;
use protocol::message::{keys, topics, MessageRecord};
use protocol::{RemotingCommand, RequestCode};
use tokio_util::sync::CancellationToken;

use crate::records;
use crate::records::op_marker::write_op;
use crate::state::BrokerState;
use protocol::clock::now_ms;

/// Starts the check service.
pub fn spawn(state: &Arc<BrokerState>, cancel: &CancellationToken) {
    state.tasks.spawn(run(state.clone(), cancel.clone()));
}

async fn run(state: Arc<BrokerState>, cancel: CancellationToken) {
    let period = Duration::from_millis(state.config.transaction_check_interval.max(10));
    loop {
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = tokio::time::sleep(period) => {}
        }
        read_ops(&state);
        check_round(&state).await;
        let s = state.clone();
        let _ =
            tokio::task::spawn_blocking(move || s.transactions.persist(&s.offsets, &s.store)).await;
    }
}

/// Reads new op markers into the resolved map.
fn read_ops(state: &BrokerState) {
    let store = &state.store;
    let max = store.max_offset(topics::TRANS_OP_HALF_TOPIC, 0);
    let mut offset = {
        let inner = state.transactions.inner.lock();
        inner
            .op_scanned
            .max(store.min_offset(topics::TRANS_OP_HALF_TOPIC, 0))
    };
    let mut found = Vec::new();
    while offset < max {
        if let Some(bytes) = store.message_at(topics::TRANS_OP_HALF_TOPIC, 0, offset) {
            if let Ok((rec, _)) = MessageRecord::decode(&bytes) {
                let body = String::from_utf8_lossy(&rec.body);
                for half in body.split(',').filter_map(|s| s.trim().parse::<u64>().ok()) {
                    found.push((half, offset));
                }
            }
        }
        offset += 1;
    }
    let mut inner = state.transactions.inner.lock();
    for (half, op) in found {
        if half >= inner.half_offset {
            inner.resolved.entry(half).or_insert(op);
        }
    }
    inner.op_scanned = offset;
}

/// What to do with one unresolved half message.
enum Verdict {
    /// Not old enough yet: stop the walk here (later ones are younger).
    TooYoung,
    /// Checked recently: look again later, keep walking.
    Later,
    /// Send a check (count already incremented).
    Check,
    /// Checked too often: discard.
    Discard,
}

/// Walks the half queue from the lowest unresolved offset.
async fn check_round(state: &Arc<BrokerState>) {
    let store = &state.store;
    let max = store.max_offset(topics::TRANS_HALF_TOPIC, 0);
    let mut offset = state.transactions.inner.lock().half_offset;
    offset = offset.max(store.min_offset(topics::TRANS_HALF_TOPIC, 0));
    let mut all_resolved_below = true;
    while offset < max {
        if state.transactions.is_resolved(offset) {
            advance_if(state, all_resolved_below, offset);
            offset += 1;
            continue;
        }
        let Some(entry) = store.cq_entry(topics::TRANS_HALF_TOPIC, 0, offset) else {
            break;
        };
        let rec = match records::load(state, entry.phys_offset) {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(offset, error = %e, "half message unreadable; treated as resolved");
                state.transactions.mark_resolved(offset, None);
                advance_if(state, all_resolved_below, offset);
                offset += 1;
                continue;
            }
        };
        match verdict(state, offset, &rec) {
            Verdict::TooYoung => break,
            Verdict::Later => {}
            Verdict::Check => send_check(state, offset, entry.phys_offset, &rec).await,
            Verdict::Discard => {
                discard(state, offset, &rec).await;
                if state.transactions.is_resolved(offset) {
                    advance_if(state, all_resolved_below, offset);
                    offset += 1;
                    continue;
                }
            }
        }
        all_resolved_below = false;
        offset += 1;
    }
}

/// Moves the lowest unresolved offset past `offset` when everything below
/// is resolved, forgetting markers that are no longer needed.
fn advance_if(state: &BrokerState, all_below: bool, offset: u64) {
    if !all_below {
        return;
    }
    let mut inner = state.transactions.inner.lock();
    if inner.half_offset <= offset {
        inner.half_offset = offset + 1;
        let keep = inner.resolved.split_off(&(offset + 1));
        inner.resolved = keep;
    }
}

fn verdict(state: &BrokerState, offset: u64, rec: &MessageRecord) -> Verdict {
    let now = now_ms();
    let immunity = rec
        .properties
        .get(keys::CHECK_IMMUNITY_TIME_IN_SECONDS)
        .and_then(|s| s.trim().parse::<i64>().ok())
        .map(|s| s.saturating_mul(1000));
    let timeout = state.live.broker().transaction_time_out as i64;
    let mut inner = state.transactions.inner.lock();
    let (count, next) = inner.checks.get(&offset).copied().unwrap_or((0, 0));
    if count == 0 {
        let first = immunity.unwrap_or(timeout).max(timeout);
        if now - rec.store_timestamp < first {
            return Verdict::TooYoung;
        }
    } else if now < next {
        return Verdict::Later;
    }
    inner.checks_dirty = true;
    if count >= state.live.broker().transaction_check_max {
        inner.checks.remove(&offset);
        return Verdict::Discard;
    }
    inner.checks.insert(offset, (count + 1, now + timeout));
    Verdict::Check
}

/// Sends CHECK_TRANSACTION_STATE to a live producer of the message's group.
async fn send_check(state: &BrokerState, offset: u64, phys: i64, half: &MessageRecord) {
    let group = half.properties.get(keys::PGROUP).unwrap_or_default();
    let Some(producer) = state.clients.any_producer(group) else {
        tracing::debug!(%group, offset, "no producer online to check a transaction");
        return;
    };
    let mut body_rec = half.clone();
    if records::restore_real(&mut body_rec).is_err() {
        tracing::warn!(offset, "half message without REAL_TOPIC; not checked");
        return;
    }
    let mut body = BytesMut::with_capacity(half.body.len() + 512);
    if let Err(e) = body_rec.encode(&mut body) {
        tracing::warn!(offset, error = %e, "half message cannot be re-encoded");
        return;
    }
    let uniq = half.properties.uniq_key().map(str::to_owned);
    let header = CheckTransactionStateRequestHeader {
        topic: Some(body_rec.topic.clone()),
        tran_state_table_offset: offset as i64,
        commit_log_offset: phys,
        msg_id: uniq.clone(),
        transaction_id: half
            .properties
            .get(keys::TRANSACTION_ID)
            .map(str::to_owned)
            .or(uniq),
        offset_msg_id: Some(encode_offset_msg_id(state.store_host, phys)),
        broker_name: Some(state.config.broker_name.clone()),
    };
    let mut request =
        RemotingCommand::request_with_header(RequestCode::CHECK_TRANSACTION_STATE, &header)
            .with_body(body.freeze());
    request.set_oneway();
    if let Err(e) = producer.conn.invoke_oneway(request).await {
        tracing::debug!(%group, offset, error = %e, "transaction check not sent");
    }
}

/// Moves a half message checked too often to TRANS_CHECK_MAX_TIME_TOPIC
/// (where operators can read it) and resolves it.
async fn discard(state: &Arc<BrokerState>, offset: u64, half: &MessageRecord) {
    state.topics.ensure(
        topics::TRANS_CHECK_MAX_TIME_TOPIC,
        1,
        protocol::message::sysflag::perm::READ_WRITE,
    );
    let mut rec = half.clone();
    rec.topic = topics::TRANS_CHECK_MAX_TIME_TOPIC.to_owned();
    rec.queue_id = 0;
    tracing::warn!(
        offset,
        group = half.properties.get(keys::PGROUP).unwrap_or_default(),
        "transaction unresolved after transactionCheckMax checks; moved to TRANS_CHECK_MAX_TIME_TOPIC"
    );
    if let Err(e) = records::put(state, &rec, false).await {
        tracing::error!(offset, error = %e, "cannot move an unresolved half message");
        return;
    }
    if let Err(e) = write_op(state, offset).await {
        tracing::error!(offset, error = %e, "cannot write the op marker of a discarded half message");
    }
}
