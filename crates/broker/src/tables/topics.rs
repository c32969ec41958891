//! The topic table of this broker: configs, system topics, auto-creation on
//! send (the TBW102 template), and persistence to `config/topics.json`.
//!
//! On a master every change is saved before the call that made it returns
//! (as Java's TopicConfigManager does): a topic created by an admin, on
//! send, or for retries and dead letters must survive a crash right after
//! the answer, or the messages stored in it become unreachable.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use parking_lot::{Mutex, RwLock};
use protocol::body::topic::{DataVersion, TopicConfig, TopicConfigSerializeWrapper};
use protocol::message::sysflag::perm::{
    INHERIT as PERM_INHERIT, READ as PERM_READ, WRITE as PERM_WRITE,
};
use protocol::message::topics as mk;

use crate::batching::{off_worker, Batching};
use crate::config::BrokerConfig;
use crate::error::{BrokerError, BrokerResult};
use protocol::clock::now_ms;

/// The file under `config/`.
pub const TOPICS_FILE: &str = "topics.json";

/// Topic configs and their data version (bumped on every change so that
/// NameServers pick it up).
pub struct TopicTable {
    inner: RwLock<Inner>,
    changed: tokio::sync::Notify,
    /// Where changes are saved at once (set on a master once the store is open).
    save_to: OnceLock<Arc<store::MessageStore>>,
    /// One save at a time (they share a temporary file).
    save_lock: Mutex<()>,
    batching: Batching,
}

struct Inner {
    topics: HashMap<String, TopicConfig>,
    version: DataVersion,
    dirty: bool,
}

/// A fresh topic config with the given queues and permission.
pub fn topic_config(name: &str, read: i32, write: i32, perm: i32) -> TopicConfig {
    TopicConfig {
        topic_name: name.to_owned(),
        read_queue_nums: read,
        write_queue_nums: write,
        perm,
        ..TopicConfig::default()
    }
}

impl TopicTable {
    /// A table holding the system topics of `config`.
    pub fn new(config: &BrokerConfig) -> Self {
        let mut topics = HashMap::new();
        let rw = PERM_READ | PERM_WRITE;
        let mut add = |c: TopicConfig| {
            topics.insert(c.topic_name.clone(), c);
        };
        if config.auto_create_topic_enable {
            let n = config.default_topic_queue_nums;
            add(topic_config(mk::AUTO_CREATE_TOPIC, n, n, PERM_INHERIT | rw));
        }
        add(topic_config(mk::SELF_TEST_TOPIC, 1, 1, rw));
        add(topic_config(mk::SCHEDULE_TOPIC, 18, 18, rw));
        add(topic_config(mk::TRANS_HALF_TOPIC, 1, 1, rw));
        add(topic_config(mk::TRANS_OP_HALF_TOPIC, 1, 1, rw));
        add(topic_config(mk::OFFSET_MOVED_EVENT, 1, 1, rw));
        if config.cluster_topic_enable {
            add(topic_config(&config.broker_cluster_name, 16, 16, rw));
        }
        if config.broker_topic_enable {
            add(topic_config(&config.broker_name, 1, 1, rw));
        }
        TopicTable {
            inner: RwLock::new(Inner {
                topics,
                version: DataVersion {
                    counter: 0,
                    timestamp: now_ms(),
                    ..DataVersion::default()
                },
                dirty: false,
            }),
            changed: tokio::sync::Notify::new(),
            save_to: OnceLock::new(),
            save_lock: Mutex::new(()),
            batching: Batching::default(),
        }
    }

    /// From now on every change is saved to `store` before it is announced.
    pub fn save_changes_to(&self, store: Arc<store::MessageStore>) {
        let _ = self.save_to.set(store);
    }

    /// Saves `topics.json` when the table changed since the last save (or
    /// always, with `force`). A failed save is logged and tried again by
    /// the next one.
    pub fn persist(&self, store: &store::MessageStore, force: bool) {
        let _one_at_a_time = self.save_lock.lock();
        if !self.take_dirty() && !force {
            return;
        }
        if let Err(e) = store.metadata_file(TOPICS_FILE).save(&self.to_json()) {
            tracing::error!("cannot save {TOPICS_FILE}: {e}");
            self.inner.write().dirty = true;
        }
    }

    /// Saves (when enabled) and wakes registration after a change.
    fn announce(&self) {
        if self.batching.deferring() {
            return;
        }
        if let Some(store) = self.save_to.get() {
            off_worker(|| self.persist(store, false));
        }
        self.changed.notify_one();
    }

    /// Changes made until the returned guard drops are saved (and
    /// announced) together when it drops, before the caller answers.
    pub fn batch(&self) -> TopicBatch<'_> {
        self.batching.begin();
        TopicBatch { table: self }
    }

    /// One topic's config.
    pub fn get(&self, topic: &str) -> Option<TopicConfig> {
        self.inner.read().topics.get(topic).cloned()
    }

    /// Whether the topic exists.
    pub fn contains(&self, topic: &str) -> bool {
        self.inner.read().topics.contains_key(topic)
    }

    /// Every topic name, sorted.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.inner.read().topics.keys().cloned().collect();
        names.sort();
        names
    }

    /// Creates or replaces a topic.
    pub fn put(&self, config: TopicConfig) {
        let mut inner = self.inner.write();
        inner.topics.insert(config.topic_name.clone(), config);
        bump(&mut inner);
        drop(inner);
        self.announce();
    }

    /// Deletes a topic; whether it existed.
    pub fn remove(&self, topic: &str) -> bool {
        let mut inner = self.inner.write();
        let existed = inner.topics.remove(topic).is_some();
        if existed {
            bump(&mut inner);
        }
        drop(inner);
        if existed {
            self.announce();
        }
        existed
    }

    /// Creates `topic` from the template `default_topic` for a send, as
    /// Java does: the template must exist with INHERIT permission; the new
    /// topic gets min(requested, template) queues and the template's
    /// permission without INHERIT. Returns the config (existing or new), or
    /// `None` when auto-creation is not allowed.
    pub fn create_on_send(
        &self,
        topic: &str,
        default_topic: &str,
        requested_queues: i32,
        topic_sys_flag: i32,
    ) -> Option<TopicConfig> {
        if let Some(c) = self.get(topic) {
            return Some(c);
        }
        let template = self.get(default_topic)?;
        if template.perm & PERM_INHERIT == 0 {
            return None;
        }
        let queues = requested_queues.clamp(1, template.write_queue_nums.max(1));
        let mut config = topic_config(topic, queues, queues, template.perm & !PERM_INHERIT);
        config.topic_sys_flag = topic_sys_flag;
        let mut inner = self.inner.write();
        let created = inner
            .topics
            .entry(topic.to_owned())
            .or_insert(config)
            .clone();
        bump(&mut inner);
        drop(inner);
        self.announce();
        Some(created)
    }

    /// Creates a system-made topic (retry, DLQ, ...) if missing.
    pub fn ensure(&self, topic: &str, queues: i32, perm: i32) -> TopicConfig {
        if let Some(c) = self.get(topic) {
            return c;
        }
        let config = topic_config(topic, queues, queues, perm);
        let mut inner = self.inner.write();
        let created = inner
            .topics
            .entry(topic.to_owned())
            .or_insert(config)
            .clone();
        bump(&mut inner);
        drop(inner);
        self.announce();
        created
    }

    /// Resolves when the table changes (registration and persistence wait on it).
    pub async fn changed(&self) {
        self.changed.notified().await;
    }

    /// The table and its version, as registration and GET_ALL_TOPIC_CONFIG send them.
    pub fn wrapper(&self) -> TopicConfigSerializeWrapper {
        let inner = self.inner.read();
        TopicConfigSerializeWrapper {
            topic_config_table: inner
                .topics
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            data_version: inner.version,
            ..TopicConfigSerializeWrapper::default()
        }
    }

    /// Whether the table changed since the last call (for persistence).
    pub fn take_dirty(&self) -> bool {
        std::mem::take(&mut self.inner.write().dirty)
    }

    /// The current data version.
    pub fn data_version(&self) -> DataVersion {
        self.inner.read().version
    }

    /// Loads `topics.json` content over the system topics.
    ///
    /// # Errors
    /// The parser's message.
    pub fn load_json(&self, text: &str) -> Result<(), String> {
        let wrapper =
            TopicConfigSerializeWrapper::decode(text.as_bytes()).map_err(|e| e.to_string())?;
        let mut inner = self.inner.write();
        for (name, config) in wrapper.topic_config_table {
            inner.topics.insert(name, config);
        }
        inner.version = wrapper.data_version;
        bump(&mut inner);
        inner.dirty = false;
        Ok(())
    }

    /// The persisted form.
    pub fn to_json(&self) -> String {
        String::from_utf8_lossy(&self.wrapper().encode()).into_owned()
    }
}

fn bump(inner: &mut Inner) {
    inner.version.counter += 1;
    inner.version.timestamp = now_ms();
    inner.dirty = true;
}

/// Topic names: `^[%|a-zA-Z0-9_-]+$`, at most 127 bytes (255 for retry and
/// dead-letter topics).
pub fn validate_topic(topic: &str) -> BrokerResult<()> {
    if topic.is_empty() {
        return Err(BrokerError::InvalidParameter(
            "the topic name is empty".into(),
        ));
    }
    let max = if mk::is_retry_topic(topic) || mk::is_dlq_topic(topic) {
        mk::MAX_SYS_TOPIC_LEN
    } else {
        mk::MAX_TOPIC_LEN
    };
    if topic.len() > max {
        return Err(BrokerError::InvalidParameter(format!(
            "the topic name is {} bytes long; the limit is {max}",
            topic.len()
        )));
    }
    if !mk::is_valid_topic_chars(topic) {
        return Err(BrokerError::InvalidParameter(format!(
            "the topic[{topic}] contains characters outside [%|a-zA-Z0-9_-]"
        )));
    }
    Ok(())
}

/// An open batch of topic changes (see [`TopicTable::batch`]).
pub struct TopicBatch<'a> {
    table: &'a TopicTable,
}

impl Drop for TopicBatch<'_> {
    fn drop(&mut self) {
        if self.table.batching.end() {
            self.table.announce();
        }
    }
}
