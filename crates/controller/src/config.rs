//! Controller configuration: Java's `controller.conf` keys (ControllerConfig
//! and the jRaft timing key we reuse), read from properties text.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::error::ControllerError;

/// One member of the Raft group: `n0-127.0.0.1:9878`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    /// The name in `controllerDLegerPeers` (`n0`).
    pub name: String,
    /// Where it answers brokers, admin tools and the other controllers.
    pub addr: String,
}

/// The settings of one controller.
#[derive(Debug, Clone, PartialEq)]
pub struct ControllerConfig {
    pub group: String,
    pub peers: Vec<Peer>,
    pub self_id: String,
    pub store_path: PathBuf,
    pub enable_elect_unclean_master: bool,
    pub notify_broker_role_changed: bool,
    pub scan_not_active_broker_interval: Duration,
    pub scan_inactive_master_interval: Duration,
    pub elect_master_max_retry_count: u32,
    /// Raft election timeout (`jRaftElectionTimeoutMs`); heartbeats go at a quarter of it.
    pub election_timeout: Duration,
    /// Raft entries between snapshots (`jRaftSnapshotLogCount`, ours).
    pub snapshot_log_count: u64,
    /// Keys UPDATE_CONTROLLER_CONFIG refuses, `;`-separated.
    pub config_black_list: String,
    /// Grace after start before dead masters are re-elected
    /// (`jRaftScanWaitTimeoutMs`), so brokers can heartbeat a freshly
    /// started controller first.
    pub scan_wait: Duration,
}

/// Keys read from Java files and ignored: they size DLedger's or Java's
/// thread pools and log files, which have no counterpart here.
const IGNORED_KEYS: &[&str] = &[
    "controllerType",
    "mappedFileSize",
    "controllerThreadPoolNums",
    "controllerRequestThreadPoolQueueCapacity",
    "processReadEvent",
    "rocketmqHome",
    "configStorePath",
    "listenPort",
    "jRaftSnapshotIntervalSecs",
    "jRaftGroupId",
    "jRaftServerId",
    "jRaftInitConf",
    "jRaftControllerRPCAddr",
];

/// Keys this config sets (see [`ControllerConfig::set`]).
const KEYS: &[&str] = &[
    "controllerDLegerGroup",
    "controllerDLegerPeers",
    "controllerDLegerSelfId",
    "controllerStorePath",
    "enableElectUncleanMaster",
    "notifyBrokerRoleChanged",
    "scanNotActiveBrokerInterval",
    "scanInactiveMasterInterval",
    "electMasterMaxRetryCount",
    "jRaftElectionTimeoutMs",
    "jRaftScanWaitTimeoutMs",
    "jRaftSnapshotLogCount",
    "configBlackList",
];

impl Default for ControllerConfig {
    fn default() -> Self {
        let home = std::env::var("HOME").unwrap_or_else(|_| ".".into());
        ControllerConfig {
            group: String::new(),
            peers: Vec::new(),
            self_id: String::new(),
            store_path: PathBuf::from(home).join("DLedgerController"),
            enable_elect_unclean_master: false,
            notify_broker_role_changed: true,
            scan_not_active_broker_interval: Duration::from_millis(5000),
            scan_inactive_master_interval: Duration::from_millis(5000),
            elect_master_max_retry_count: 3,
            election_timeout: Duration::from_millis(1000),
            snapshot_log_count: 1000,
            config_black_list: "configBlackList;configStorePath".into(),
            scan_wait: Duration::from_millis(5000),
        }
    }
}

fn bad(key: &str, value: &str, what: &str) -> ControllerError {
    ControllerError::Config(format!("`{key}={value}`: {what}"))
}

fn parse_bool(key: &str, value: &str) -> Result<bool, ControllerError> {
    match value {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(bad(key, value, "expected true or false")),
    }
}

fn parse_u64(key: &str, value: &str) -> Result<u64, ControllerError> {
    value
        .parse()
        .map_err(|_| bad(key, value, "expected a non-negative integer"))
}

/// Parses `n0-host:port;n1-host:port` (trailing `;` and spaces allowed).
///
/// # Errors
/// [`ControllerError::Config`] naming the bad entry.
pub fn parse_peers(text: &str) -> Result<Vec<Peer>, ControllerError> {
    let mut peers: Vec<Peer> = Vec::new();
    for entry in text.split(';').map(str::trim).filter(|e| !e.is_empty()) {
        let (name, addr) = entry
            .split_once('-')
            .ok_or_else(|| bad("controllerDLegerPeers", entry, "expected id-host:port"))?;
        if name.is_empty() || addr.parse::<SocketAddr>().is_err() && !looks_like_host_port(addr) {
            return Err(bad("controllerDLegerPeers", entry, "expected id-host:port"));
        }
        if peers.iter().any(|p| p.name == name) {
            return Err(bad("controllerDLegerPeers", entry, "duplicate peer id"));
        }
        peers.push(Peer {
            name: name.to_owned(),
            addr: addr.to_owned(),
        });
    }
    Ok(peers)
}

fn looks_like_host_port(addr: &str) -> bool {
    match addr.rsplit_once(':') {
        Some((host, port)) => !host.is_empty() && port.parse::<u16>().is_ok(),
        None => false,
    }
}

impl ControllerConfig {
    /// Defaults overridden by Java properties text, then validated.
    ///
    /// # Errors
    /// [`ControllerError::Config`] naming an unknown key, a bad value or a
    /// missing required key.
    pub fn from_properties(text: &str) -> Result<Self, ControllerError> {
        let pairs = protocol::java_properties::parse(text)
            .map_err(|e| ControllerError::Config(e.to_string()))?;
        let mut config = ControllerConfig::default();
        for (key, value) in &pairs {
            config.set(key, value)?;
        }
        config.validate()?;
        Ok(config)
    }

    /// Defaults overridden by the controller's keys among `pairs`, then
    /// validated: the NameServer-embedded controller reads its keys from the
    /// NameServer's file, as Java does, and leaves the other keys to the
    /// NameServer (a key both know, such as `scanNotActiveBrokerInterval`,
    /// sets both).
    ///
    /// # Errors
    /// [`ControllerError::Config`] naming a bad value or a missing required key.
    pub fn from_shared_pairs<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, ControllerError> {
        let mut config = ControllerConfig::default();
        for (key, value) in pairs {
            if Self::is_key(key) {
                config.set(key, value)?;
            }
        }
        config.validate()?;
        Ok(config)
    }

    /// Whether `key` is a controller key (set or accepted and ignored).
    pub fn is_key(key: &str) -> bool {
        KEYS.contains(&key) || IGNORED_KEYS.contains(&key)
    }

    /// Sets one key. Unknown keys are an error naming them.
    ///
    /// # Errors
    /// [`ControllerError::Config`] for an unknown key or a bad value.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), ControllerError> {
        let millis = |v: &str| parse_u64(key, v).map(Duration::from_millis);
        match key {
            "controllerDLegerGroup" => self.group = value.to_owned(),
            "controllerDLegerPeers" => self.peers = parse_peers(value)?,
            "controllerDLegerSelfId" => self.self_id = value.to_owned(),
            "controllerStorePath" => self.store_path = PathBuf::from(value),
            "enableElectUncleanMaster" => {
                self.enable_elect_unclean_master = parse_bool(key, value)?
            }
            "notifyBrokerRoleChanged" => self.notify_broker_role_changed = parse_bool(key, value)?,
            "scanNotActiveBrokerInterval" => self.scan_not_active_broker_interval = millis(value)?,
            "scanInactiveMasterInterval" => self.scan_inactive_master_interval = millis(value)?,
            "electMasterMaxRetryCount" => {
                self.elect_master_max_retry_count = u32::try_from(parse_u64(key, value)?)
                    .map_err(|_| bad(key, value, "too large"))?;
            }
            "jRaftElectionTimeoutMs" => self.election_timeout = millis(value)?,
            "jRaftScanWaitTimeoutMs" => self.scan_wait = millis(value)?,
            "jRaftSnapshotLogCount" => self.snapshot_log_count = parse_u64(key, value)?,
            "configBlackList" => self.config_black_list = value.to_owned(),
            k if IGNORED_KEYS.contains(&k) => {}
            _ => return Err(ControllerError::Config(format!("unknown key `{key}`"))),
        }
        Ok(())
    }

    /// Checks the required keys and that this node is one of the peers.
    ///
    /// # Errors
    /// [`ControllerError::Config`] naming what is wrong.
    pub fn validate(&self) -> Result<(), ControllerError> {
        if self.group.is_empty() {
            return Err(ControllerError::Config(
                "controllerDLegerGroup is required".into(),
            ));
        }
        if self.peers.is_empty() {
            return Err(ControllerError::Config(
                "controllerDLegerPeers is required".into(),
            ));
        }
        if self.self_id.is_empty() {
            return Err(ControllerError::Config(
                "controllerDLegerSelfId is required".into(),
            ));
        }
        if self.self_index().is_none() {
            return Err(ControllerError::Config(format!(
                "controllerDLegerSelfId `{}` is not one of controllerDLegerPeers",
                self.self_id
            )));
        }
        if self.election_timeout < Duration::from_millis(100) {
            return Err(ControllerError::Config(
                "jRaftElectionTimeoutMs must be at least 100".into(),
            ));
        }
        if self.scan_not_active_broker_interval.is_zero()
            || self.scan_inactive_master_interval.is_zero()
        {
            return Err(ControllerError::Config(
                "scan intervals must be positive".into(),
            ));
        }
        if self.snapshot_log_count == 0 {
            return Err(ControllerError::Config(
                "jRaftSnapshotLogCount must be positive".into(),
            ));
        }
        Ok(())
    }

    /// This node's position in the peer list: its Raft node id.
    pub fn self_index(&self) -> Option<u64> {
        self.peers
            .iter()
            .position(|p| p.name == self.self_id)
            .and_then(|i| u64::try_from(i).ok())
    }

    /// This node's peer address.
    pub fn self_addr(&self) -> Option<&str> {
        self.peers
            .iter()
            .find(|p| p.name == self.self_id)
            .map(|p| p.addr.as_str())
    }

    /// Every key as properties text (GET_CONTROLLER_CONFIG).
    pub fn to_properties(&self) -> String {
        let peers: Vec<String> = self
            .peers
            .iter()
            .map(|p| format!("{}-{}", p.name, p.addr))
            .collect();
        let lines = [
            ("configBlackList", self.config_black_list.clone()),
            ("controllerDLegerGroup", self.group.clone()),
            ("controllerDLegerPeers", peers.join(";")),
            ("controllerDLegerSelfId", self.self_id.clone()),
            ("controllerStorePath", self.store_path.display().to_string()),
            ("controllerType", "DLedger".into()),
            (
                "electMasterMaxRetryCount",
                self.elect_master_max_retry_count.to_string(),
            ),
            (
                "enableElectUncleanMaster",
                self.enable_elect_unclean_master.to_string(),
            ),
            (
                "jRaftElectionTimeoutMs",
                self.election_timeout.as_millis().to_string(),
            ),
            (
                "jRaftScanWaitTimeoutMs",
                self.scan_wait.as_millis().to_string(),
            ),
            ("jRaftSnapshotLogCount", self.snapshot_log_count.to_string()),
            (
                "notifyBrokerRoleChanged",
                self.notify_broker_role_changed.to_string(),
            ),
            (
                "scanInactiveMasterInterval",
                self.scan_inactive_master_interval.as_millis().to_string(),
            ),
            (
                "scanNotActiveBrokerInterval",
                self.scan_not_active_broker_interval.as_millis().to_string(),
            ),
        ];
        lines.iter().map(|(k, v)| format!("{k}={v}\n")).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "controllerDLegerGroup = group1\ncontrollerDLegerPeers = n0-127.0.0.1:9878;n1-127.0.0.1:9868;n2-127.0.0.1:9858\ncontrollerDLegerSelfId = n1\ncontrollerStorePath = /tmp/c1\nenableElectUncleanMaster = false\nnotifyBrokerRoleChanged = true\n";

    #[test]
    fn java_sample_loads() {
        let c = ControllerConfig::from_properties(SAMPLE);
        let c = c.ok();
        assert_eq!(c.as_ref().map(|c| c.peers.len()), Some(3));
        assert_eq!(c.as_ref().and_then(ControllerConfig::self_index), Some(1));
        assert_eq!(
            c.as_ref().and_then(|c| c.self_addr().map(str::to_owned)),
            Some("127.0.0.1:9868".into())
        );
    }

    #[test]
    fn bad_input_is_named() {
        let e = |text: &str| {
            ControllerConfig::from_properties(text)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
        };
        assert!(e("nope=1").contains("nope"));
        assert!(e(&format!("{SAMPLE}controllerDLegerSelfId=n9")).contains("n9"));
        assert!(
            e("controllerDLegerGroup=g\ncontrollerDLegerPeers=n0:127.0.0.1")
                .contains("n0:127.0.0.1")
        );
        assert!(
            e("controllerDLegerGroup=g\ncontrollerDLegerPeers=n0-a:1;n0-b:2").contains("duplicate")
        );
        assert!(
            e("controllerDLegerGroup=g\ncontrollerDLegerPeers=n0-127.0.0.1:1")
                .contains("controllerDLegerSelfId is required")
        );
        assert!(e(&format!("{SAMPLE}enableElectUncleanMaster=yes"))
            .contains("enableElectUncleanMaster"));
        assert!(
            e("controllerDLegerPeers=n0-127.0.0.1:1\ncontrollerDLegerSelfId=n0")
                .contains("controllerDLegerGroup")
        );
    }

    #[test]
    fn shared_file_takes_only_controller_keys() {
        let text = format!("{SAMPLE}listenPort=9876\nkvConfigPath=/tmp/kv.json\nscanNotActiveBrokerInterval=2000\n");
        let pairs = protocol::java_properties::parse(&text).unwrap();
        let c = ControllerConfig::from_shared_pairs(
            pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        )
        .unwrap();
        assert_eq!(c.self_id, "n1");
        assert_eq!(
            c.scan_not_active_broker_interval,
            Duration::from_millis(2000)
        );
        let err = ControllerConfig::from_shared_pairs([("kvConfigPath", "/x")]).unwrap_err();
        assert!(err.to_string().contains("controllerDLegerGroup"), "{err}");
        // Every listed key is one `set` knows.
        for key in KEYS.iter().chain(IGNORED_KEYS) {
            let mut c = ControllerConfig::default();
            let err = c
                .set(key, "?")
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(!err.contains("unknown key"), "{key}: {err}");
        }
        assert!(!ControllerConfig::is_key("kvConfigPath"));
    }
}
