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

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use parking_lot::Mutex;
use protocol::header::transaction::CheckTransactionStateRequestHeader;
use protocol::message::msgid::encode_offset_msg_id;
use protocol::message::sysflag::message as msgflag;
use protocol::message::{keys, topics, MessageRecord, Properties};
use protocol::{RemotingCommand, RequestCode};
use tokio_util::sync::CancellationToken;

use crate::divert;
use crate::error::{BrokerError, BrokerResult};
use crate::state::{now_ms, BrokerState};

/// Check counts under `config/`.
pub const CHECK_FILE: &str = "transactionCheck.json";

#[derive(Default)]
struct Inner {
    /// Half offsets (≥ `half_offset`) resolved by an op marker → the
    /// op-queue offset of that marker.
    resolved: BTreeMap<u64, u64>,
    /// Next op-queue offset to read.
    op_scanned: u64,
    /// Lowest half offset not known to be resolved.
    half_offset: u64,
    /// Checks sent per unresolved half offset, and when the next is due.
    checks: BTreeMap<u64, (i32, i64)>,
    checks_dirty: bool,
}

/// Transaction bookkeeping.
#[derive(Default)]
pub struct TransactionService {
    inner: Mutex<Inner>,
}

impl TransactionService {
    /// Loads progress from the offset table and check counts from disk.
    ///
    /// # Errors
    /// A check file that cannot be read or parsed.
    pub fn load(
        &self,
        state_offsets: &crate::offsets::OffsetTable,
        store: &store::MessageStore,
    ) -> BrokerResult<()> {
        let mut inner = self.inner.lock();
        let group = topics::TRANS_CHECK_GROUP;
        inner.half_offset = state_offsets
            .committed(group, topics::TRANS_HALF_TOPIC, 0)
            .map_or(0, |o| o.max(0) as u64);
        inner.op_scanned = state_offsets
            .committed(group, topics::TRANS_OP_HALF_TOPIC, 0)
            .map_or(0, |o| o.max(0) as u64);
        let text = store
            .metadata_file(CHECK_FILE)
            .load()
            .map_err(|e| BrokerError::Store(e.to_string()))?;
        if let Some(text) = text {
            let map: BTreeMap<u64, i32> = serde_json::from_str(&text)
                .map_err(|e| BrokerError::Store(format!("{CHECK_FILE}: {e}")))?;
            inner.checks = map.into_iter().map(|(k, v)| (k, (v, 0))).collect();
        }
        Ok(())
    }

    /// Saves check counts when they changed, and always the progress offsets.
    pub fn persist(&self, offsets: &crate::offsets::OffsetTable, store: &store::MessageStore) {
        let (half, op, checks) = {
            let mut inner = self.inner.lock();
            let op = inner
                .resolved
                .values()
                .min()
                .copied()
                .unwrap_or(inner.op_scanned);
            let checks = std::mem::take(&mut inner.checks_dirty).then(|| {
                inner
                    .checks
                    .iter()
                    .map(|(k, v)| (*k, v.0))
                    .collect::<BTreeMap<u64, i32>>()
            });
            (inner.half_offset, op, checks)
        };
        let group = topics::TRANS_CHECK_GROUP;
        offsets.commit(group, topics::TRANS_HALF_TOPIC, 0, half as i64);
        offsets.commit(group, topics::TRANS_OP_HALF_TOPIC, 0, op as i64);
        if let Some(checks) = checks {
            match serde_json::to_string(&checks) {
                Ok(text) => {
                    if let Err(e) = store.metadata_file(CHECK_FILE).save(&text) {
                        tracing::error!("cannot save {CHECK_FILE}: {e}");
                    }
                }
                Err(e) => tracing::error!("cannot encode {CHECK_FILE}: {e}"),
            }
        }
    }

    /// Whether a half offset is already committed, rolled back or discarded.
    pub fn is_resolved(&self, half_offset: u64) -> bool {
        let inner = self.inner.lock();
        half_offset < inner.half_offset || inner.resolved.contains_key(&half_offset)
    }

    /// `op_offset` is the marker's op-queue offset (`None`: no marker).
    fn mark_resolved(&self, half_offset: u64, op_offset: Option<u64>) {
        let mut inner = self.inner.lock();
        if half_offset >= inner.half_offset {
            let op = op_offset.unwrap_or(inner.op_scanned);
            inner.resolved.insert(half_offset, op);
        }
        if inner.checks.remove(&half_offset).is_some() {
            inner.checks_dirty = true;
        }
    }
}

/// Send-path rule: TRAN_MSG=true with the PREPARED sysflag → half message.
/// Returns whether it was diverted.
///
/// # Errors
/// [`BrokerError::NoPermission`] when `rejectTransactionMessage` is set.
pub fn divert_half(state: &BrokerState, rec: &mut MessageRecord) -> BrokerResult<bool> {
    let tran = rec
        .properties
        .get(keys::TRAN_MSG)
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let prepared = rec.sysflag & msgflag::TRANSACTION_MASK == msgflag::TRANSACTION_PREPARED_TYPE;
    if !tran || !prepared {
        return Ok(false);
    }
    if state.live.broker().reject_transaction_message {
        return Err(BrokerError::NoPermission(format!(
            "the broker[{}] sending transaction message is forbidden",
            state.config.broker_name
        )));
    }
    if let Some(uniq) = rec.properties.uniq_key().map(str::to_owned) {
        rec.properties.insert(keys::TRANSACTION_ID, uniq);
    }
    rec.sysflag &= !msgflag::TRANSACTION_MASK;
    divert::park(rec, topics::TRANS_HALF_TOPIC, 0);
    Ok(true)
}

/// Writes the op marker of a half message and records it as resolved.
///
/// # Errors
/// Store failures.
pub async fn write_op(state: &Arc<BrokerState>, half_offset: u64) -> BrokerResult<()> {
    let mut props = Properties::new();
    props.insert(keys::TAGS, topics::TRANS_OP_REMOVE_TAG);
    props.insert(keys::WAIT, "false");
    let rec = MessageRecord {
        topic: topics::TRANS_OP_HALF_TOPIC.to_owned(),
        queue_id: 0,
        flag: 0,
        queue_offset: 0,
        physical_offset: 0,
        sysflag: 0,
        born_timestamp: now_ms(),
        born_host: state.store_host,
        store_timestamp: 0,
        store_host: state.store_host,
        reconsume_times: 0,
        prepared_transaction_offset: 0,
        body_crc: 0,
        body: Bytes::from(format!("{half_offset},")),
        properties: props,
    };
    let put = divert::put(state, &rec, false).await?;
    state
        .transactions
        .mark_resolved(half_offset, Some(put.queue_offset));
    Ok(())
}

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
        let rec = match divert::load(state, entry.phys_offset) {
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
    if divert::restore_real(&mut body_rec).is_err() {
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
    if let Err(e) = divert::put(state, &rec, false).await {
        tracing::error!(offset, error = %e, "cannot move an unresolved half message");
        return;
    }
    if let Err(e) = write_op(state, offset).await {
        tracing::error!(offset, error = %e, "cannot write the op marker of a discarded half message");
    }
}
