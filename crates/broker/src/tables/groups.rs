//! Subscription groups: their configs (retry queues, max reconsume times,
//! which broker to read from when slow), auto-created on first use when
//! `autoCreateSubscriptionGroup` is on, persisted to
//! `config/subscriptionGroup.json` — on a master, before a change is
//! answered, so a kill right after it cannot lose it (as Java does).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use parking_lot::{Mutex, RwLock};
use protocol::body::group::{SubscriptionGroupConfig, SubscriptionGroupWrapper};

use protocol::message::topics;

use crate::batching::{off_worker, Batching};
use crate::error::{BrokerError, BrokerResult};

/// The file the table lives in under `config/`.
pub const GROUPS_FILE: &str = "subscriptionGroup.json";

/// The group table.
#[derive(Default)]
pub struct GroupTable {
    inner: RwLock<Inner>,
    save_to: OnceLock<Arc<store::MessageStore>>,
    save_lock: Mutex<()>,
    batching: Batching,
    saves: AtomicU64,
}

/// Group names follow the topic character rules (`[%|a-zA-Z0-9_-]`, so no
/// `.` or `/`) and Java's 120-byte limit; the group is named in the error.
///
/// # Errors
/// [`BrokerError::InvalidParameter`] saying what is wrong.
pub fn validate_group(group: &str) -> BrokerResult<()> {
    if group.is_empty() {
        return Err(BrokerError::InvalidParameter(
            "the group name is empty".into(),
        ));
    }
    if group.len() > topics::MAX_GROUP_LEN {
        let head: String = group.chars().take(40).collect();
        return Err(BrokerError::InvalidParameter(format!(
            "the group name `{head}...` is {} bytes long; the limit is {}",
            group.len(),
            topics::MAX_GROUP_LEN
        )));
    }
    if !topics::is_valid_topic_chars(group) {
        return Err(BrokerError::InvalidParameter(format!(
            "the group[{group}] contains characters outside [%|a-zA-Z0-9_-]"
        )));
    }
    Ok(())
}

#[derive(Default)]
struct Inner {
    groups: HashMap<String, SubscriptionGroupConfig>,
    version: i64,
    dirty: bool,
}

impl GroupTable {
    /// One group's config.
    pub fn get(&self, group: &str) -> Option<SubscriptionGroupConfig> {
        self.inner.read().groups.get(group).cloned()
    }

    /// The group's config, created with defaults when `auto_create` allows
    /// (`None` when it does not and the group is unknown).
    ///
    /// # Errors
    /// A new group whose name [`validate_group`] refuses: nothing is created.
    pub fn get_or_create(
        &self,
        group: &str,
        auto_create: bool,
    ) -> BrokerResult<Option<SubscriptionGroupConfig>> {
        if let Some(g) = self.get(group) {
            return Ok(Some(g));
        }
        if !auto_create {
            return Ok(None);
        }
        validate_group(group)?;
        let config = SubscriptionGroupConfig::new(group);
        let mut inner = self.inner.write();
        let created = inner
            .groups
            .entry(group.to_owned())
            .or_insert(config)
            .clone();
        inner.version += 1;
        inner.dirty = true;
        drop(inner);
        self.changed();
        Ok(Some(created))
    }

    /// Creates or replaces a group.
    pub fn put(&self, config: SubscriptionGroupConfig) {
        let mut inner = self.inner.write();
        inner.groups.insert(config.group_name.clone(), config);
        inner.version += 1;
        inner.dirty = true;
        drop(inner);
        self.changed();
    }

    /// Deletes a group; whether it existed.
    pub fn remove(&self, group: &str) -> bool {
        let mut inner = self.inner.write();
        let existed = inner.groups.remove(group).is_some();
        if existed {
            inner.version += 1;
            inner.dirty = true;
        }
        drop(inner);
        if existed {
            self.changed();
        }
        existed
    }

    /// From now on every change is saved to `store` before it returns.
    pub fn save_changes_to(&self, store: Arc<store::MessageStore>) {
        let _ = self.save_to.set(store);
    }

    /// Saves `subscriptionGroup.json` when the table changed since the last
    /// save (or always, with `force`). A failed save is logged and tried
    /// again by the next one.
    pub fn persist(&self, store: &store::MessageStore, force: bool) {
        let _one_at_a_time = self.save_lock.lock();
        let Some(json) = self.snapshot_json(force) else {
            return;
        };
        let saved = String::from_utf8(json)
            .map_err(|e| e.to_string())
            .and_then(|text| {
                store
                    .metadata_file(GROUPS_FILE)
                    .save(&text)
                    .map_err(|e| e.to_string())
            });
        self.saves.fetch_add(1, Ordering::Relaxed);
        if let Err(e) = saved {
            tracing::error!("cannot save {GROUPS_FILE}: {e}");
            self.inner.write().dirty = true;
        }
    }

    /// How many times the file has been written (or tried).
    pub fn saves(&self) -> u64 {
        self.saves.load(Ordering::Relaxed)
    }

    fn changed(&self) {
        if self.batching.deferring() {
            return;
        }
        if let Some(store) = self.save_to.get() {
            off_worker(|| self.persist(store, false));
        }
    }

    /// Changes made until the returned guard drops are saved together,
    /// when it drops (before the caller answers, so still durable).
    pub fn batch(&self) -> GroupBatch<'_> {
        self.batching.begin();
        GroupBatch { table: self }
    }

    /// Every group name, sorted.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.inner.read().groups.keys().cloned().collect();
        names.sort();
        names
    }

    /// The whole table as GET_ALL_SUBSCRIPTIONGROUP_CONFIG sends it.
    pub fn wrapper(&self) -> SubscriptionGroupWrapper {
        let inner = self.inner.read();
        SubscriptionGroupWrapper {
            subscription_group_table: inner
                .groups
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            data_version: Some(serde_json::json!({
                "counter": inner.version,
                "timestamp": protocol::clock::now_ms(),
            })),
        }
    }

    /// The persisted form, or `None` when unchanged (unless `force`).
    pub fn snapshot_json(&self, force: bool) -> Option<Vec<u8>> {
        {
            let mut inner = self.inner.write();
            if !inner.dirty && !force {
                return None;
            }
            inner.dirty = false;
        }
        self.wrapper().to_json_bytes().ok()
    }

    /// Loads the persisted form.
    ///
    /// # Errors
    /// The parser's message.
    pub fn load_json(&self, text: &[u8]) -> Result<(), String> {
        let wrapper = SubscriptionGroupWrapper::from_json_bytes(text).map_err(|e| e.to_string())?;
        let mut inner = self.inner.write();
        inner.groups = wrapper.subscription_group_table.into_iter().collect();
        inner.dirty = false;
        Ok(())
    }
}

/// An open batch of group changes (see [`GroupTable::batch`]).
pub struct GroupBatch<'a> {
    table: &'a GroupTable,
}

impl Drop for GroupBatch<'_> {
    fn drop(&mut self) {
        if self.table.batching.end() {
            self.table.changed();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_group_names_are_refused_and_not_created() {
        let groups = GroupTable::default();
        let long = "g".repeat(5_000);
        for bad in [
            "",
            "../../victim",
            "%RETRY%../x",
            "a b",
            "a.b",
            long.as_str(),
        ] {
            let err = groups.get_or_create(bad, true).unwrap_err().to_string();
            assert!(err.contains("group"), "{err}");
            assert!(groups.get(bad).is_none());
        }
        assert!(groups
            .get_or_create("good_group-1|%", true)
            .unwrap()
            .is_some());
        assert_eq!(groups.get_or_create("unknown", false).unwrap(), None);
    }

    #[test]
    fn a_thousand_new_groups_in_one_batch_are_saved_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(
            store::MessageStore::open(store::StoreConfig {
                mapped_file_size_commit_log: 8 << 20,
                mapped_file_size_consume_queue: 20 * 1000,
                ..store::StoreConfig::with_root(dir.path())
            })
            .unwrap(),
        );
        let groups = GroupTable::default();
        groups.save_changes_to(store.clone());
        {
            let _batch = groups.batch();
            for i in 0..1000 {
                assert!(groups
                    .get_or_create(&format!("G{i}"), true)
                    .unwrap()
                    .is_some());
            }
            assert_eq!(groups.saves(), 0);
        }
        assert_eq!(groups.saves(), 1);
        // Outside a batch each change is saved before it returns.
        groups.get_or_create("late", true).unwrap();
        assert_eq!(groups.saves(), 2);
        let reloaded = GroupTable::default();
        let text = std::fs::read(dir.path().join("config").join(GROUPS_FILE)).unwrap();
        reloaded.load_json(&text).unwrap();
        assert_eq!(reloaded.names().len(), 1001);
    }
}
