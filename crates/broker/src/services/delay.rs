//! Delayed messages by level (remoting-protocol §9.8). A message with
//! DELAY = n > 0 is stored in `SCHEDULE_TOPIC_XXXX` queue n − 1 with its real
//! destination in REAL_TOPIC / REAL_QID; the store's dispatcher writes the
//! delivery time (store time + level delay) into the consume-queue tag slot.
//! One task per level walks its queue from the offset kept in
//! `config/delayOffset.json` and, when an entry is due, puts a copy on the
//! real topic and queue. The delivered copy keeps REAL_TOPIC / REAL_QID (as
//! Java's does) but has no DELAY property, so it is never delayed again.
//!
//! Progress is saved after the copy is stored (and at shutdown): a crash
//! can deliver a message twice, never early and never not at all.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use protocol::body::group::DelayOffsetSerializeWrapper;
use protocol::message::{keys, topics, MessageRecord};
use protocol::RemotingCommand;
use tokio_util::sync::CancellationToken;

use crate::error::{BrokerError, BrokerResult};
use crate::rules as divert;
use crate::state::{now_ms, BrokerState};

/// The offsets file under `config/`.
pub const DELAY_OFFSET_FILE: &str = "delayOffset.json";
/// Longest sleep of an idle level task (bounds the effect of clock jumps).
const MAX_SLEEP: Duration = Duration::from_secs(30);
/// Pause after a put the store refused (disk full, shutting down).
const RETRY_PAUSE: Duration = Duration::from_secs(1);

/// Delay levels and each level's next queue offset to deliver.
pub struct ScheduleService {
    /// Delay of each level in ms, level 1 first.
    levels: Vec<i64>,
    offsets: Mutex<BTreeMap<i32, i64>>,
}

impl ScheduleService {
    /// Levels from the store's `messageDelayLevel`.
    pub fn new(spec: &str) -> Self {
        let mut levels = store::dispatch::parse_delay_levels(spec);
        if levels.is_empty() {
            levels = store::dispatch::parse_delay_levels(topics::DEFAULT_DELAY_LEVELS);
        }
        ScheduleService {
            levels,
            offsets: Mutex::new(BTreeMap::new()),
        }
    }

    /// The highest level.
    pub fn max_level(&self) -> i32 {
        self.levels.len() as i32
    }

    /// The next queue offset to deliver of a level.
    pub fn offset(&self, level: i32) -> i64 {
        self.offsets.lock().get(&level).copied().unwrap_or(0)
    }

    fn set_offset(&self, level: i32, offset: i64) {
        self.offsets.lock().insert(level, offset);
    }

    /// The persisted / GET_ALL_DELAY_OFFSET form.
    ///
    /// # Errors
    /// Serialization failure.
    pub fn to_json(&self) -> BrokerResult<Vec<u8>> {
        let wrapper = DelayOffsetSerializeWrapper {
            data_version: None,
            offset_table: self.offsets.lock().clone(),
        };
        Ok(wrapper.to_json_bytes()?)
    }

    /// Loads `delayOffset.json` if present.
    ///
    /// # Errors
    /// A file that cannot be read or parsed.
    pub fn load(&self, store: &store::MessageStore) -> BrokerResult<()> {
        let text = store
            .metadata_file(DELAY_OFFSET_FILE)
            .load()
            .map_err(|e| BrokerError::Store(e.to_string()))?;
        if let Some(text) = text {
            let w = DelayOffsetSerializeWrapper::from_json_bytes(text.as_bytes())
                .map_err(|e| BrokerError::Store(format!("{DELAY_OFFSET_FILE}: {e}")))?;
            *self.offsets.lock() = w.offset_table;
        }
        Ok(())
    }

    /// Saves `delayOffset.json` (errors are logged).
    pub fn persist(&self, store: &store::MessageStore) {
        match self.to_json() {
            Ok(bytes) => {
                let text = String::from_utf8_lossy(&bytes);
                if let Err(e) = store.metadata_file(DELAY_OFFSET_FILE).save(&text) {
                    tracing::error!("cannot save {DELAY_OFFSET_FILE}: {e}");
                }
            }
            Err(e) => tracing::error!("cannot encode {DELAY_OFFSET_FILE}: {e}"),
        }
    }
}

/// Send-path rule: a message with DELAY > 0 goes to the schedule topic
/// (level clamped to the highest). Returns whether it was diverted.
pub fn divert(state: &BrokerState, rec: &mut MessageRecord) -> bool {
    let level = rec
        .properties
        .get(keys::DELAY)
        .and_then(|l| l.trim().parse::<i32>().ok())
        .unwrap_or(0);
    if level <= 0 {
        return false;
    }
    let level = level.min(state.schedule.max_level());
    // The dispatcher reads DELAY to compute the delivery time: keep the
    // clamped value so that both sides agree.
    rec.properties.insert(keys::DELAY, level.to_string());
    divert::park(rec, topics::SCHEDULE_TOPIC, level - 1);
    true
}

/// GET_ALL_DELAY_OFFSET (45).
///
/// # Errors
/// Serialization failure.
pub fn get_all_delay_offset(state: &BrokerState) -> BrokerResult<RemotingCommand> {
    Ok(RemotingCommand::success().with_body(state.schedule.to_json()?))
}

/// Starts one delivery task per level.
pub fn spawn(state: &Arc<BrokerState>, cancel: &CancellationToken) {
    for level in 1..=state.schedule.max_level() {
        state
            .tasks
            .spawn(run_level(state.clone(), level, cancel.clone()));
    }
}

async fn run_level(state: Arc<BrokerState>, level: i32, cancel: CancellationToken) {
    let waiter = state.waiters.waiter(topics::SCHEDULE_TOPIC, level - 1);
    while !cancel.is_cancelled() {
        let notified = waiter.notified();
        tokio::pin!(notified);
        // Armed before looking, so an arrival in between is not missed.
        notified.as_mut().enable();
        let sleep = deliver_due(&state, level).await;
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = &mut notified => {}
            _ = tokio::time::sleep(sleep) => {}
        }
    }
}

/// Delivers every due entry of a level; returns how long to sleep.
async fn deliver_due(state: &Arc<BrokerState>, level: i32) -> Duration {
    let queue_id = level - 1;
    let store = &state.store;
    let start = state.schedule.offset(level);
    let mut offset = start.max(store.min_offset(topics::SCHEDULE_TOPIC, queue_id) as i64);
    let sleep = loop {
        if offset >= store.max_offset(topics::SCHEDULE_TOPIC, queue_id) as i64 {
            break MAX_SLEEP;
        }
        let Some(entry) = store.cq_entry(topics::SCHEDULE_TOPIC, queue_id, offset as u64) else {
            break RETRY_PAUSE;
        };
        if !entry.is_valid() || entry.is_blank() {
            offset += 1;
            continue;
        }
        let now = now_ms();
        if entry.tag_hash > now {
            let wait = Duration::from_millis((entry.tag_hash - now) as u64);
            break wait.min(MAX_SLEEP);
        }
        match deliver_one(state, entry.phys_offset).await {
            Ok(()) => offset += 1,
            Err(Retry) => break RETRY_PAUSE,
        }
    };
    if offset != start {
        state.schedule.set_offset(level, offset);
        let s = state.clone();
        let _ = tokio::task::spawn_blocking(move || s.schedule.persist(&s.store)).await;
    }
    sleep
}

/// The put failed for a reason that may pass (disk full, shutting down).
struct Retry;

/// Puts the real message for one schedule entry. Entries whose record is
/// gone or unusable are skipped with a log line (Ok), so one bad record
/// never blocks its level.
async fn deliver_one(state: &Arc<BrokerState>, phys_offset: i64) -> Result<(), Retry> {
    let mut rec = match divert::load(state, phys_offset) {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(offset = phys_offset, error = %e, "scheduled message skipped");
            return Ok(());
        }
    };
    if let Err(e) = divert::restore_real(&mut rec) {
        tracing::warn!(offset = phys_offset, error = %e, "scheduled message skipped");
        return Ok(());
    }
    rec.properties.remove(keys::DELAY);
    rec.properties.insert(keys::WAIT, "false");
    match divert::put(state, &rec, false).await {
        Ok(_) => Ok(()),
        Err(e) if retryable(&e) => {
            tracing::warn!(offset = phys_offset, error = %e, "scheduled delivery will be retried");
            Err(Retry)
        }
        Err(e) => {
            tracing::error!(offset = phys_offset, error = %e, "scheduled message dropped");
            Ok(())
        }
    }
}

/// Whether a failed re-put is worth retrying later.
pub fn retryable(e: &BrokerError) -> bool {
    matches!(
        e,
        BrokerError::ServiceNotAvailable(_) | BrokerError::SystemBusy(_) | BrokerError::Store(_)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_and_offsets_json() {
        let s = ScheduleService::new("1s 2m");
        assert_eq!(s.max_level(), 2);
        assert_eq!(ScheduleService::new("").max_level(), 18);
        s.set_offset(2, 7);
        s.set_offset(1, 3);
        assert_eq!(s.offset(2), 7);
        assert_eq!(s.offset(5), 0);
        assert_eq!(
            String::from_utf8(s.to_json().unwrap()).unwrap(),
            r#"{"offsetTable":{1:3,2:7}}"#
        );
    }
}
