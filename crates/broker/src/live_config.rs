//! The configuration UPDATE_BROKER_CONFIG (25) changes while the broker
//! runs. `BrokerState::config` keeps the values the broker started with;
//! this holds what an operator asked for since. Keys in [`LIVE_KEYS`] take
//! effect at once because their readers read them from here; every other key
//! is persisted and takes effect at the next start.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};

use parking_lot::{Mutex, RwLock, RwLockReadGuard};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{Map, Value};
use store::StoreConfig;

use crate::config::BrokerConfig;
use crate::error::{BrokerError, BrokerResult};

/// Keys whose new values the running broker uses at once.
pub const LIVE_KEYS: &[&str] = &[
    "brokerPermission",
    "autoCreateTopicEnable",
    "slaveReadEnable",
    "longPollingEnable",
    "shortPollingTimeMills",
    "notifyConsumerIdsChangedEnable",
    "channelExpiredTimeout",
    "rejectTransactionMessage",
    "transactionTimeOut",
    "transactionCheckMax",
];

/// Keys never changed over the wire: a wrong value would hide the data
/// already stored (Java's `configBlackList` idea).
pub const REFUSED_KEYS: &[&str] = &["storePathRootDir", "storePathCommitLog"];

/// The file name used when the broker was started without a config file
/// (Java keeps `broker.properties` in the store's config directory too).
pub const DEFAULT_FILE: &str = "broker.properties";

/// What an update did, for the response remark.
#[derive(Debug, Default, PartialEq)]
pub struct UpdateOutcome {
    /// Keys in effect now.
    pub live: Vec<String>,
    /// Keys that take effect at the next start.
    pub on_restart: Vec<String>,
    /// Where the new values were written.
    pub file: PathBuf,
}

/// Desired broker and store settings, their version and their file.
pub struct LiveConfig {
    broker: RwLock<BrokerConfig>,
    store: RwLock<StoreConfig>,
    /// The file updates are written to; serialises writers too.
    file: Mutex<PathBuf>,
    counter: AtomicI64,
    changed_ms: AtomicI64,
}

impl LiveConfig {
    /// Starts from the boot configuration (at `now_ms`); updates go to the
    /// store's `config/broker.properties` until [`LiveConfig::set_file`]
    /// names the file the broker was started from.
    pub fn new(broker: BrokerConfig, store: StoreConfig, now_ms: i64) -> Self {
        let file = store.config_dir().join(DEFAULT_FILE);
        LiveConfig {
            broker: RwLock::new(broker),
            store: RwLock::new(store),
            file: Mutex::new(file),
            counter: AtomicI64::new(0),
            changed_ms: AtomicI64::new(now_ms),
        }
    }

    /// Names the config file (`-c`) updates are written back to.
    pub fn set_file(&self, path: PathBuf) {
        *self.file.lock() = path;
    }

    /// The desired broker settings (hold the guard briefly).
    pub fn broker(&self) -> RwLockReadGuard<'_, BrokerConfig> {
        self.broker.read()
    }

    /// The desired store settings (in effect after a restart).
    pub fn store(&self) -> RwLockReadGuard<'_, StoreConfig> {
        self.store.read()
    }

    /// `(counter, timestamp)` of the latest change (the data version).
    pub fn version(&self) -> (i64, i64) {
        (
            self.counter.load(Ordering::Acquire),
            self.changed_ms.load(Ordering::Acquire),
        )
    }

    /// Validates every pair, writes them to the config file, then makes
    /// them the desired settings (version stamped `now_ms`). Any bad pair
    /// changes nothing.
    ///
    /// # Errors
    /// [`BrokerError::InvalidParameter`] naming an unknown or refused key or
    /// a value that does not fit; [`BrokerError::Config`] when the result
    /// fails validation; [`BrokerError::Store`] when the file cannot be
    /// written.
    pub fn update(
        &self,
        pairs: &BTreeMap<String, String>,
        now_ms: i64,
    ) -> BrokerResult<UpdateOutcome> {
        if let Some(k) = pairs.keys().find(|k| REFUSED_KEYS.contains(&k.as_str())) {
            return Err(BrokerError::InvalidParameter(format!(
                "`{k}` cannot be changed at run time: edit the config file and restart"
            )));
        }
        let file = self.file.lock();
        let mut broker_map = to_map(&*self.broker.read())?;
        let mut store_map = to_map(&*self.store.read())?;
        let mut outcome = UpdateOutcome {
            file: file.clone(),
            ..UpdateOutcome::default()
        };
        let mut typed = BTreeMap::new();
        for (key, text) in pairs {
            let target = if broker_map.contains_key(key) {
                &mut broker_map
            } else if store_map.contains_key(key) {
                &mut store_map
            } else {
                return Err(BrokerError::InvalidParameter(format!(
                    "unknown broker config key `{key}`"
                )));
            };
            let value = typed_value(key, &target[key.as_str()], text)?;
            target.insert(key.clone(), value.clone());
            typed.insert(key.clone(), value);
            if LIVE_KEYS.contains(&key.as_str()) {
                outcome.live.push(key.clone());
            } else {
                outcome.on_restart.push(key.clone());
            }
        }
        let broker: BrokerConfig = from_map(broker_map)?;
        let store: StoreConfig = from_map(store_map)?;
        broker.validate()?;
        store
            .validate()
            .map_err(|e| BrokerError::Config(e.to_string()))?;
        write_pairs(&file, &typed)?;
        *self.broker.write() = broker;
        *self.store.write() = store;
        self.counter.fetch_add(1, Ordering::AcqRel);
        self.changed_ms.store(now_ms, Ordering::Release);
        Ok(outcome)
    }
}

fn to_map(config: &impl Serialize) -> BrokerResult<Map<String, Value>> {
    match serde_json::to_value(config) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(BrokerError::System("config is not a JSON object".into())),
        Err(e) => Err(BrokerError::System(format!("config to JSON: {e}"))),
    }
}

fn from_map<T: DeserializeOwned>(map: Map<String, Value>) -> BrokerResult<T> {
    serde_json::from_value(Value::Object(map))
        .map_err(|e| BrokerError::InvalidParameter(format!("bad config value: {e}")))
}

/// Types a properties value by the current value of its key.
fn typed_value(key: &str, current: &Value, text: &str) -> BrokerResult<Value> {
    let text = text.trim();
    let bad =
        |what: &str| BrokerError::InvalidParameter(format!("`{key}`: `{text}` is not {what}"));
    match current {
        Value::Bool(_) => match text {
            "true" => Ok(Value::Bool(true)),
            "false" => Ok(Value::Bool(false)),
            _ => Err(bad("true or false")),
        },
        Value::Number(n) if n.is_f64() => text
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number)
            .ok_or_else(|| bad("a number")),
        Value::Number(n) if n.is_u64() => text
            .parse::<u64>()
            .map(Value::from)
            .map_err(|_| bad("a non-negative integer")),
        Value::Number(_) => text
            .parse::<i64>()
            .map(Value::from)
            .map_err(|_| bad("an integer")),
        _ => Ok(Value::String(text.to_owned())),
    }
}

/// Rewrites each key's line in `path` (appending keys it lacks), in the
/// file's own syntax: TOML for `.toml`, Java properties otherwise. The new
/// file replaces the old one by rename, so a crash leaves either.
fn write_pairs(path: &Path, pairs: &BTreeMap<String, Value>) -> BrokerResult<()> {
    let io = |what: &str, e: std::io::Error| BrokerError::Metadata {
        file: "broker config",
        reason: format!("cannot {what} {}: {e}", path.display()),
    };
    let old = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(io("read", e)),
    };
    let toml = path.extension().is_some_and(|e| e == "toml");
    let text = rewrite(&old, pairs, toml);
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| io("create the directory of", e))?;
    }
    let tmp = path.with_extension("apogee-tmp");
    std::fs::write(&tmp, text).map_err(|e| io("write", e))?;
    std::fs::rename(&tmp, path).map_err(|e| io("replace", e))
}

fn rewrite(old: &str, pairs: &BTreeMap<String, Value>, toml: bool) -> String {
    let render = |key: &str, v: &Value| match (v, toml) {
        (Value::String(s), true) => format!("{key} = {}", Value::String(s.clone())),
        (Value::String(s), false) => format!("{key}={s}"),
        (other, true) => format!("{key} = {other}"),
        (other, false) => format!("{key}={other}"),
    };
    let mut done = BTreeMap::new();
    let mut out = String::new();
    for line in old.lines() {
        let trimmed = line.trim_start();
        let key = trimmed
            .split(['=', ':'])
            .next()
            .map(str::trim)
            .filter(|_| !trimmed.starts_with('#') && !trimmed.starts_with('!'));
        match key.and_then(|k| pairs.get_key_value(k)) {
            Some((k, v)) => {
                out.push_str(&render(k, v));
                done.insert(k.clone(), ());
            }
            None => out.push_str(line),
        }
        out.push('\n');
    }
    for (k, v) in pairs.iter().filter(|(k, _)| !done.contains_key(*k)) {
        out.push_str(&render(k, v));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn live(dir: &Path) -> LiveConfig {
        let store = StoreConfig::with_root(dir);
        LiveConfig::new(BrokerConfig::default(), store, 1)
    }

    fn pairs(list: &[(&str, &str)]) -> BTreeMap<String, String> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn live_and_restart_keys_are_applied_and_persisted() {
        let dir = tempfile::tempdir().unwrap();
        let l = live(dir.path());
        let out = l
            .update(
                &pairs(&[
                    ("brokerPermission", "4"),
                    ("fileReservedTime", "24"),
                    ("brokerName", "b2"),
                ]),
                2,
            )
            .unwrap();
        assert_eq!(out.live, vec!["brokerPermission"]);
        assert_eq!(out.on_restart, vec!["brokerName", "fileReservedTime"]);
        assert_eq!(l.broker().broker_permission, 4);
        assert_eq!(l.broker().broker_name, "b2");
        assert_eq!(l.version(), (1, 2));
        let text = std::fs::read_to_string(&out.file).unwrap();
        assert!(text.contains("brokerPermission=4\n"), "{text}");
        assert!(text.contains("brokerName=b2\n"), "{text}");
        assert!(text.contains("fileReservedTime=24\n"), "{text}");
    }

    #[test]
    fn a_bad_pair_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let l = live(dir.path());
        for (bad, named) in [
            (
                vec![("brokerPermission", "4"), ("noSuchKey", "1")],
                "noSuchKey",
            ),
            (vec![("brokerPermission", "x")], "brokerPermission"),
            (vec![("brokerPermission", "64")], "brokerPermission"),
            (vec![("slaveReadEnable", "yes")], "slaveReadEnable"),
            (vec![("storePathRootDir", "/tmp")], "storePathRootDir"),
            // The listener keys shared with the NameServer.
            (
                vec![("serverReservedConnections", "10000")],
                "serverReservedConnections",
            ),
            (
                vec![("serverMaxConnectionsPerIp", "0")],
                "serverMaxConnectionsPerIp",
            ),
            (vec![("tls.server.mode", "strict")], "tls.server.mode"),
        ] {
            let bad: Vec<(&str, &str)> = bad;
            let e = l.update(&pairs(&bad), 2).unwrap_err().to_string();
            assert!(e.contains(named), "{e}");
        }
        assert_eq!(l.broker().broker_permission, 6);
        assert_eq!(l.version().0, 0);
        assert!(!l.store().config_dir().join(DEFAULT_FILE).exists());
    }

    #[test]
    fn updates_go_back_into_the_file_the_broker_started_from() {
        let dir = tempfile::tempdir().unwrap();
        let conf = dir.path().join("broker.conf");
        std::fs::write(&conf, "# mine\nbrokerName=b1\nbrokerPermission=6\n").unwrap();
        let l = live(dir.path());
        l.set_file(conf.clone());
        let out = l.update(&pairs(&[("brokerPermission", "2")]), 3).unwrap();
        assert_eq!(out.file, conf);
        let text = std::fs::read_to_string(&conf).unwrap();
        assert_eq!(text, "# mine\nbrokerName=b1\nbrokerPermission=2\n");
        let toml = dir.path().join("broker.toml");
        std::fs::write(&toml, "brokerName = \"b1\"\n").unwrap();
        l.set_file(toml.clone());
        l.update(
            &pairs(&[("brokerName", "b2"), ("slaveReadEnable", "true")]),
            4,
        )
        .unwrap();
        let text = std::fs::read_to_string(&toml).unwrap();
        assert_eq!(text, "brokerName = \"b2\"\nslaveReadEnable = true\n");
    }

    #[test]
    fn rewrite_keeps_other_lines_and_speaks_the_file_syntax() {
        let new = BTreeMap::from([
            ("a".to_owned(), Value::from(2)),
            ("s".to_owned(), Value::from("x y")),
        ]);
        let props = rewrite("# c\na = 1\nb=3\n", &new, false);
        assert_eq!(props, "# c\na=2\nb=3\ns=x y\n");
        let toml = rewrite("a = 1\n", &new, true);
        assert_eq!(toml, "a = 2\ns = \"x y\"\n");
    }
}
