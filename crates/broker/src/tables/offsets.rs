//! Consumer offsets: `topic@group` → queue id → next offset to consume,
//! persisted to `config/consumerOffset.json` every few seconds and at
//! shutdown, in the file shape Java writes (integer keys unquoted). An
//! admin reset is saved before it is answered: a crash may replay what a
//! group consumed since the last save, but must not undo a reset.

use std::collections::{BTreeMap, HashMap};

use parking_lot::Mutex;
use protocol::body::group::ConsumerOffsetSerializeWrapper;

/// The file under `config/`.
pub const OFFSETS_FILE: &str = "consumerOffset.json";

/// Offsets of every group. One short lock; never held across `.await`.
#[derive(Default)]
pub struct OffsetTable {
    inner: Mutex<Inner>,
    /// One save at a time (they share a temporary file).
    save_lock: Mutex<()>,
}

#[derive(Default)]
struct Inner {
    /// Committed offsets: key `topic@group`.
    committed: HashMap<String, BTreeMap<i32, i64>>,
    /// The offsets of the latest pulls (for consume stats), same keys.
    pulled: HashMap<String, BTreeMap<i32, i64>>,
    /// Offsets an admin reset asked for, delivered by the next pull of each
    /// queue as PULL_OFFSET_MOVED (5.x server-side reset).
    reset: HashMap<String, BTreeMap<i32, i64>>,
    dirty: bool,
}

fn key(topic: &str, group: &str) -> String {
    format!("{topic}@{group}")
}

impl OffsetTable {
    /// Stores a committed offset (never below zero).
    pub fn commit(&self, group: &str, topic: &str, queue_id: i32, offset: i64) {
        let mut inner = self.inner.lock();
        inner
            .committed
            .entry(key(topic, group))
            .or_default()
            .insert(queue_id, offset.max(0));
        inner.dirty = true;
    }

    /// The committed offset, if the group ever committed one for the queue.
    pub fn committed(&self, group: &str, topic: &str, queue_id: i32) -> Option<i64> {
        let inner = self.inner.lock();
        inner
            .committed
            .get(&key(topic, group))?
            .get(&queue_id)
            .copied()
    }

    /// Every committed offset of a group on a topic.
    pub fn committed_all(&self, group: &str, topic: &str) -> BTreeMap<i32, i64> {
        let inner = self.inner.lock();
        inner
            .committed
            .get(&key(topic, group))
            .cloned()
            .unwrap_or_default()
    }

    /// Records where a pull started (consume stats show it).
    pub fn record_pull(&self, group: &str, topic: &str, queue_id: i32, offset: i64) {
        let mut inner = self.inner.lock();
        inner
            .pulled
            .entry(key(topic, group))
            .or_default()
            .insert(queue_id, offset);
    }

    /// The offset of the latest pull.
    pub fn pulled(&self, group: &str, topic: &str, queue_id: i32) -> Option<i64> {
        let inner = self.inner.lock();
        inner
            .pulled
            .get(&key(topic, group))?
            .get(&queue_id)
            .copied()
    }

    /// Sets committed offsets and remembers them as pending resets so the
    /// next pull of each queue moves the consumer there.
    pub fn reset(&self, group: &str, topic: &str, offsets: &BTreeMap<i32, i64>) {
        let mut inner = self.inner.lock();
        let k = key(topic, group);
        let committed = inner.committed.entry(k.clone()).or_default();
        for (q, o) in offsets {
            committed.insert(*q, *o);
        }
        let reset = inner.reset.entry(k).or_default();
        for (q, o) in offsets {
            reset.insert(*q, *o);
        }
        inner.dirty = true;
    }

    /// Takes a pending reset for one queue (once).
    pub fn take_reset(&self, group: &str, topic: &str, queue_id: i32) -> Option<i64> {
        let mut inner = self.inner.lock();
        let k = key(topic, group);
        let map = inner.reset.get_mut(&k)?;
        let off = map.remove(&queue_id);
        if map.is_empty() {
            inner.reset.remove(&k);
        }
        off
    }

    /// Whether a reset is pending for one queue (a parked pull checks this
    /// when woken, so a reset does not wait out the hold time).
    pub fn has_reset(&self, group: &str, topic: &str, queue_id: i32) -> bool {
        let inner = self.inner.lock();
        inner
            .reset
            .get(&key(topic, group))
            .is_some_and(|m| m.contains_key(&queue_id))
    }

    /// Topics a group has offsets for.
    pub fn topics_of_group(&self, group: &str) -> Vec<String> {
        let inner = self.inner.lock();
        let suffix = format!("@{group}");
        let mut topics: Vec<String> = inner
            .committed
            .keys()
            .filter_map(|k| k.strip_suffix(&suffix).map(str::to_owned))
            .collect();
        topics.sort();
        topics
    }

    /// Groups that have offsets on a topic.
    pub fn groups_of_topic(&self, topic: &str) -> Vec<String> {
        let inner = self.inner.lock();
        let prefix = format!("{topic}@");
        let mut groups: Vec<String> = inner
            .committed
            .keys()
            .filter_map(|k| k.strip_prefix(&prefix).map(str::to_owned))
            .collect();
        groups.sort();
        groups
    }

    /// Drops every offset of a group (delete group with cleanOffset).
    pub fn remove_group(&self, group: &str) {
        let mut inner = self.inner.lock();
        let suffix = format!("@{group}");
        inner.committed.retain(|k, _| !k.ends_with(&suffix));
        inner.pulled.retain(|k, _| !k.ends_with(&suffix));
        inner.dirty = true;
    }

    /// Drops every offset on a topic (delete topic).
    pub fn remove_topic(&self, topic: &str) {
        let mut inner = self.inner.lock();
        let prefix = format!("{topic}@");
        inner.committed.retain(|k, _| !k.starts_with(&prefix));
        inner.pulled.retain(|k, _| !k.starts_with(&prefix));
        inner.dirty = true;
    }

    /// The persisted form, `{"offsetTable":{"T@G":{0:250}}}`, or `None` when
    /// nothing changed since the last call (unless `force`).
    pub fn snapshot_json(&self, force: bool) -> Option<Vec<u8>> {
        let mut inner = self.inner.lock();
        if !inner.dirty && !force {
            return None;
        }
        inner.dirty = false;
        drop(inner);
        self.wrapper().to_json_bytes().ok()
    }

    /// Saves `consumerOffset.json` when offsets changed since the last save
    /// (or always, with `force`). A failed save is logged and tried again
    /// by the next one.
    pub fn persist(&self, store: &store::MessageStore, force: bool) {
        let _one_at_a_time = self.save_lock.lock();
        let Some(bytes) = self.snapshot_json(force) else {
            return;
        };
        let text = String::from_utf8_lossy(&bytes);
        if let Err(e) = store.metadata_file(OFFSETS_FILE).save(&text) {
            tracing::error!("cannot save {OFFSETS_FILE}: {e}");
            self.inner.lock().dirty = true;
        }
    }

    /// Every committed offset, as GET_ALL_CONSUMER_OFFSET sends it (leaves
    /// the persistence flag alone).
    pub fn wrapper(&self) -> ConsumerOffsetSerializeWrapper {
        let inner = self.inner.lock();
        ConsumerOffsetSerializeWrapper {
            offset_table: inner
                .committed
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            ..ConsumerOffsetSerializeWrapper::default()
        }
    }

    /// Loads the persisted form (unquoted or quoted integer keys).
    ///
    /// # Errors
    /// A message naming what did not parse.
    pub fn load_json(&self, text: &[u8]) -> Result<(), String> {
        let wrapper =
            ConsumerOffsetSerializeWrapper::from_json_bytes(text).map_err(|e| e.to_string())?;
        let mut inner = self.inner.lock();
        inner.committed = wrapper.offset_table.into_iter().collect();
        inner.dirty = false;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_query_and_persist_round_trip() {
        let t = OffsetTable::default();
        assert_eq!(t.committed("G", "T", 0), None);
        t.commit("G", "T", 0, 250);
        t.commit("G", "T", 1, 248);
        t.commit("G", "%RETRY%G", 0, -3);
        assert_eq!(t.committed("G", "T", 1), Some(248));
        assert_eq!(t.committed("G", "%RETRY%G", 0), Some(0));
        let json = t.snapshot_json(false).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&json),
            r#"{"offsetTable":{"%RETRY%G@G":{0:0},"T@G":{0:250,1:248}}}"#
        );
        assert!(t.snapshot_json(false).is_none(), "clean after snapshot");
        let u = OffsetTable::default();
        u.load_json(&json).unwrap();
        assert_eq!(u.committed("G", "T", 0), Some(250));
        assert_eq!(u.topics_of_group("G"), vec!["%RETRY%G", "T"]);
        assert_eq!(u.groups_of_topic("T"), vec!["G"]);
    }

    #[test]
    fn resets_are_taken_once() {
        let t = OffsetTable::default();
        t.reset("G", "T", &BTreeMap::from([(0, 5), (1, 7)]));
        assert_eq!(t.committed("G", "T", 1), Some(7));
        assert!(t.has_reset("G", "T", 0));
        assert!(!t.has_reset("G2", "T", 0));
        assert_eq!(t.take_reset("G", "T", 0), Some(5));
        assert!(!t.has_reset("G", "T", 0));
        assert_eq!(t.take_reset("G", "T", 0), None);
        assert_eq!(t.take_reset("G", "T", 1), Some(7));
    }

    #[test]
    fn bad_files_are_errors() {
        let t = OffsetTable::default();
        assert!(t.load_json(b"[1]").is_err());
        assert!(t.load_json(br#"{"offsetTable":{"T@G":{x:1}}}"#).is_err());
    }
}
