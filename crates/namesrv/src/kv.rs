//! The KV config: namespaced string maps, persisted as Java's
//! `kvConfig.json` (`{"configTable":{namespace:{key:value}}}`).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use parking_lot::{Mutex, RwLock};
use serde::{Deserialize, Serialize};

use crate::error::NamesrvError;

/// The KV namespace whose entries give ordered topics their `orderTopicConf`.
pub const NAMESPACE_ORDER_TOPIC_CONFIG: &str = "ORDER_TOPIC_CONFIG";

type Table = BTreeMap<String, BTreeMap<String, String>>;

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct KvFile {
    config_table: Table,
}

/// The KV store. Every change is written to disk before it is acknowledged.
#[derive(Debug)]
pub struct KvConfigStore {
    path: PathBuf,
    table: RwLock<Table>,
    /// Orders file writes so a later snapshot never loses to an earlier one,
    /// without blocking readers during the I/O.
    persist: Mutex<()>,
}

impl KvConfigStore {
    /// Loads the file at `path` (an absent file is an empty store).
    ///
    /// # Errors
    /// [`NamesrvError::Io`] when the file cannot be read, [`NamesrvError::Config`]
    /// when it is not a KV config.
    pub fn load(path: impl Into<PathBuf>) -> Result<Self, NamesrvError> {
        let path = path.into();
        let table = match std::fs::read(&path) {
            Ok(bytes) => {
                let file: KvFile = protocol::body::fastjson::parse_object(&bytes, "kvConfig.json")
                    .map_err(|e| NamesrvError::Config(format!("{}: {e}", path.display())))?;
                file.config_table
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Table::new(),
            Err(source) => return Err(io_err("reading", &path, source)),
        };
        Ok(KvConfigStore {
            path,
            table: RwLock::new(table),
            persist: Mutex::new(()),
        })
    }

    /// One value.
    pub fn get(&self, namespace: &str, key: &str) -> Option<String> {
        self.table.read().get(namespace)?.get(key).cloned()
    }

    /// Every entry of a namespace (`None` when it has none).
    pub fn namespace(&self, namespace: &str) -> Option<BTreeMap<String, String>> {
        self.table.read().get(namespace).cloned()
    }

    /// Sets a value and persists.
    ///
    /// # Errors
    /// [`NamesrvError::Io`] when the file cannot be written (the value stays
    /// set in memory).
    pub fn put(&self, namespace: &str, key: &str, value: &str) -> Result<(), NamesrvError> {
        self.change(|t| {
            t.entry(namespace.to_owned())
                .or_default()
                .insert(key.to_owned(), value.to_owned());
            true
        })
    }

    /// Removes a value and persists. Returns whether it existed.
    ///
    /// # Errors
    /// [`NamesrvError::Io`] when the file cannot be written.
    pub fn delete(&self, namespace: &str, key: &str) -> Result<bool, NamesrvError> {
        let mut existed = false;
        self.change(|t| {
            if let Some(ns) = t.get_mut(namespace) {
                existed = ns.remove(key).is_some();
                if ns.is_empty() {
                    t.remove(namespace);
                }
            }
            existed
        })?;
        Ok(existed)
    }

    fn change(&self, edit: impl FnOnce(&mut Table) -> bool) -> Result<(), NamesrvError> {
        let _order = self.persist.lock();
        let snapshot = {
            let mut t = self.table.write();
            if !edit(&mut t) {
                return Ok(());
            }
            KvFile {
                config_table: t.clone(),
            }
        };
        let bytes = serde_json::to_vec_pretty(&snapshot)
            .map_err(|e| NamesrvError::Config(e.to_string()))?;
        write_atomically(&self.path, &bytes)
    }
}

fn io_err(what: &'static str, path: &Path, source: std::io::Error) -> NamesrvError {
    NamesrvError::Io {
        what,
        path: path.display().to_string(),
        source,
    }
}

/// Writes `bytes` to a temporary file beside `path`, syncs it, renames it over
/// `path` and syncs the directory, so a crash leaves the old or the new file.
///
/// # Errors
/// [`NamesrvError::Io`] naming the step and the path.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), NamesrvError> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| io_err("creating directory", dir, e))?;
    let mut tmp_name = path.file_name().unwrap_or_default().to_os_string();
    tmp_name.push(".tmp");
    let tmp = dir.join(tmp_name);
    let mut file = std::fs::File::create(&tmp).map_err(|e| io_err("creating", &tmp, e))?;
    file.write_all(bytes)
        .map_err(|e| io_err("writing", &tmp, e))?;
    file.sync_all().map_err(|e| io_err("syncing", &tmp, e))?;
    drop(file);
    std::fs::rename(&tmp, path).map_err(|e| io_err("renaming into", path, e))?;
    if let Ok(d) = std::fs::File::open(dir) {
        // Best effort: some filesystems refuse to sync a directory.
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_survive_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/kvConfig.json");
        let kv = KvConfigStore::load(&path).unwrap();
        assert_eq!(kv.get("NS", "k"), None);
        kv.put("NS", "k", "v").unwrap();
        kv.put("NS", "k2", "v2").unwrap();
        kv.put(NAMESPACE_ORDER_TOPIC_CONFIG, "T", "broker-a:4")
            .unwrap();
        assert!(kv.delete("NS", "k2").unwrap());
        assert!(!kv.delete("NS", "nope").unwrap());
        drop(kv);

        let again = KvConfigStore::load(&path).unwrap();
        assert_eq!(again.get("NS", "k").as_deref(), Some("v"));
        assert_eq!(again.get("NS", "k2"), None);
        assert_eq!(
            again.namespace(NAMESPACE_ORDER_TOPIC_CONFIG).unwrap()["T"],
            "broker-a:4"
        );
        assert!(again.namespace("none").is_none());
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("configTable"), "{text}");
        assert!(!dir.path().join("sub/kvConfig.json.tmp").exists());
    }

    #[test]
    fn reads_javas_file_and_rejects_garbage() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kvConfig.json");
        std::fs::write(
            &path,
            r#"{"configTable":{"ORDER_TOPIC_CONFIG":{"T1":"b:8"}}}"#,
        )
        .unwrap();
        let kv = KvConfigStore::load(&path).unwrap();
        assert_eq!(
            kv.get(NAMESPACE_ORDER_TOPIC_CONFIG, "T1").as_deref(),
            Some("b:8")
        );
        std::fs::write(&path, "nonsense").unwrap();
        let err = KvConfigStore::load(&path).unwrap_err();
        assert!(err.to_string().contains("kvConfig.json"), "{err}");
    }
}
