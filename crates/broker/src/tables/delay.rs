//! Delay-level progress (remoting-protocol §9.8): the delay of each level
//! and, per level, the next queue offset of `SCHEDULE_TOPIC_XXXX` to
//! deliver, persisted in `config/delayOffset.json`. The delivery task lives
//! in `services/delay.rs`; the send-path rule in `rules/delay.rs`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::Mutex;
use protocol::body::group::DelayOffsetSerializeWrapper;

use store::MessageStore;

use crate::error::BrokerResult;
use crate::tables::metadata::{self, SavedProgress};

/// The offsets file under `config/`.
pub const DELAY_OFFSET_FILE: &str = "delayOffset.json";

/// Delay levels and each level's next queue offset to deliver.
pub struct ScheduleService {
    /// Delay of each level in ms, level 1 first.
    levels: Vec<i64>,
    offsets: Mutex<BTreeMap<i32, i64>>,
    /// Offsets changed since the last save.
    dirty: AtomicBool,
}

impl ScheduleService {
    /// Levels as the store parsed them from `messageDelayLevel` (in ms,
    /// level 1 first), so that both agree on every level's delay.
    pub fn new(levels: Vec<i64>) -> Self {
        ScheduleService {
            levels,
            offsets: Mutex::new(BTreeMap::new()),
            dirty: AtomicBool::new(false),
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

    pub(crate) fn set_offset(&self, level: i32, offset: i64) {
        self.offsets.lock().insert(level, offset);
        self.dirty.store(true, Ordering::Relaxed);
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
    pub fn load(&self, store: &MessageStore) -> BrokerResult<()> {
        let parse = |text: &str| {
            DelayOffsetSerializeWrapper::from_json_bytes(text.as_bytes()).map_err(|e| e.to_string())
        };
        if let Some(w) = metadata::load(store, DELAY_OFFSET_FILE, parse)? {
            *self.offsets.lock() = w.offset_table;
        }
        Ok(())
    }

    /// Saves `delayOffset.json` (errors are logged).
    pub fn persist(&self, store: &MessageStore) {
        self.dirty.store(false, Ordering::Relaxed);
        let text = self
            .to_json()
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
            .map_err(|e| e.to_string());
        metadata::save(store, DELAY_OFFSET_FILE, text);
    }
}

impl SavedProgress for ScheduleService {
    fn changed(&self) -> bool {
        self.dirty.load(Ordering::Relaxed)
    }

    fn save(&self, store: &MessageStore) {
        self.persist(store);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_and_offsets_json() {
        let s = ScheduleService::new(vec![1000, 120_000]);
        assert_eq!(s.max_level(), 2);
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
