//! NameServer configuration: the keys of Java's `namesrv.conf`
//! (NamesrvConfig plus the NettyServerConfig keys people set), with Java's
//! defaults, loadable from TOML/JSON (serde) or Java properties text.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use remoting::{ClientTlsKeys, NoOtherKeys, ServerKeys};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::NamesrvError;

/// The NameServer's settings. Keys are Java's camelCase names; an unknown
/// key is an error naming it. Keys marked "accepted for compatibility" are
/// read so Java config files load, but tokio sizes its own pools.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct NamesrvConfig {
    /// ROCKETMQ_HOME (informational).
    pub rocketmq_home: String,
    /// The KV config file (JSON), loaded at start, rewritten on each change.
    pub kv_config_path: PathBuf,
    /// Where UPDATE_NAMESRV_CONFIG persists the config (properties); empty
    /// disables persistence.
    pub config_store_path: PathBuf,
    pub product_env_name: String,
    pub cluster_test: bool,
    /// Add `orderTopicConf` (KV namespace ORDER_TOPIC_CONFIG) to routes.
    pub order_message_enable: bool,
    /// Return the ORDER_TOPIC_CONFIG namespace to registering brokers.
    pub return_order_topic_config_to_broker: bool,
    /// How often silent brokers are looked for (milliseconds).
    #[serde(with = "millis")]
    pub scan_not_active_broker_interval: Duration,
    /// Expiry of a broker that registers without `heartbeatTimeoutMillis`
    /// (milliseconds; Java's fixed 120 s, configurable here for tests).
    #[serde(with = "millis")]
    pub broker_channel_expired_time: Duration,
    /// Answer GET_ALL_TOPIC_LIST_FROM_NAMESERVER.
    pub enable_all_topic_list: bool,
    /// Answer GET_TOPICS_BY_CLUSTER and the unit topic lists.
    pub enable_topic_list: bool,
    /// Drop a broker's topics that its registration no longer lists.
    pub delete_topic_with_broker_registration: bool,
    /// Withhold routes for `waitSecondsForService` after start.
    pub need_wait_for_service: bool,
    pub wait_seconds_for_service: u64,
    /// Keys UPDATE_NAMESRV_CONFIG may not change, `;`-separated.
    pub config_black_list: String,
    /// Not supported (slave acting master); must stay false.
    pub support_acting_master: bool,
    /// Not supported (needs NameServer → broker notifications); must stay false.
    pub notify_min_broker_id_changed: bool,
    /// Run a controller inside the NameServer process, configured by the
    /// controller keys of the same file. This crate only carries the
    /// switch: the `apogee namesrv` binary starts the controller beside the
    /// NameServer (read at start).
    pub enable_controller_in_namesrv: bool,
    pub listen_port: u16,
    pub bind_address: String,
    /// Port of the HTTP listener (`/metrics`, `/health`, `/ready`, the
    /// console) on 127.0.0.1; 0 serves none. `--http-listen` overrides it.
    /// Apogee's own key, the same as the broker's.
    pub http_listen_port: u16,
    /// Idle connections are closed after this many seconds.
    pub server_channel_max_idle_time_seconds: u64,
    /// Accepted for compatibility.
    pub client_request_thread_pool_nums: u32,
    /// Accepted for compatibility.
    pub default_thread_pool_nums: u32,
    /// Accepted for compatibility.
    pub client_request_thread_pool_queue_capacity: u32,
    /// Accepted for compatibility.
    pub default_thread_pool_queue_capacity: u32,
    /// Accepted for compatibility.
    pub un_register_broker_queue_capacity: u32,
    /// Accepted for compatibility.
    pub server_worker_threads: u32,
    /// Accepted for compatibility.
    pub server_callback_executor_threads: u32,
    /// Accepted for compatibility.
    pub server_selector_threads: u32,
    /// Accepted for compatibility.
    pub server_oneway_semaphore_value: u32,
    /// Accepted for compatibility.
    pub server_async_semaphore_value: u32,
    /// Accepted for compatibility.
    pub server_socket_snd_buf_size: u32,
    /// Accepted for compatibility.
    pub server_socket_rcv_buf_size: u32,
    /// Accepted for compatibility.
    pub server_pooled_byte_buf_allocator_enable: bool,
    /// Accepted for compatibility.
    pub use_epoll_native_selector: bool,
    /// Requests that change the NameServer (broker registration, KV config,
    /// write permissions, settings) need an admin account of the ACL file or
    /// a whitelisted address. Java's NameServer has no ACL; the key is the
    /// broker's. Read at start.
    pub acl_enable: bool,
    /// The ACL file (`plain_acl.yml`); empty: `plain_acl.yml` beside
    /// `kvConfigPath`. Reloaded when it changes.
    pub acl_file_path: PathBuf,
    /// TLS and connection limits of the port (`tls.server.*`,
    /// `serverMaxConnections`...): the broker's keys, declared once.
    #[serde(flatten)]
    pub server: ServerKeys,
    /// TLS of the connections the NameServer's console opens (to this
    /// NameServer and the brokers): `tls.enable`, `tls.client.*`, the
    /// broker's keys.
    #[serde(flatten)]
    pub client_tls: ClientTlsKeys,
    /// Any other key is an error naming it (`deny_unknown_fields` does not
    /// work with `flatten`). Must stay last.
    #[serde(flatten)]
    pub no_other_keys: NoOtherKeys,
}

fn home_dir() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."))
}

impl Default for NamesrvConfig {
    fn default() -> Self {
        let dir = home_dir().join("namesrv");
        NamesrvConfig {
            rocketmq_home: std::env::var("ROCKETMQ_HOME").unwrap_or_default(),
            kv_config_path: dir.join("kvConfig.json"),
            config_store_path: dir.join("namesrv.properties"),
            product_env_name: "center".into(),
            cluster_test: false,
            order_message_enable: false,
            return_order_topic_config_to_broker: true,
            scan_not_active_broker_interval: Duration::from_secs(5),
            broker_channel_expired_time: Duration::from_secs(120),
            enable_all_topic_list: true,
            enable_topic_list: true,
            delete_topic_with_broker_registration: false,
            need_wait_for_service: false,
            wait_seconds_for_service: 45,
            config_black_list: "configBlackList;configStorePath;kvConfigPath".into(),
            support_acting_master: false,
            notify_min_broker_id_changed: false,
            enable_controller_in_namesrv: false,
            listen_port: 9876,
            bind_address: "0.0.0.0".into(),
            http_listen_port: 0,
            server_channel_max_idle_time_seconds: 120,
            client_request_thread_pool_nums: 8,
            default_thread_pool_nums: 16,
            client_request_thread_pool_queue_capacity: 50_000,
            default_thread_pool_queue_capacity: 10_000,
            un_register_broker_queue_capacity: 3_000,
            server_worker_threads: 8,
            server_callback_executor_threads: 0,
            server_selector_threads: 3,
            server_oneway_semaphore_value: 256,
            server_async_semaphore_value: 64,
            server_socket_snd_buf_size: 0,
            server_socket_rcv_buf_size: 0,
            server_pooled_byte_buf_allocator_enable: true,
            use_epoll_native_selector: false,
            acl_enable: false,
            acl_file_path: PathBuf::new(),
            server: ServerKeys::default(),
            client_tls: ClientTlsKeys::default(),
            no_other_keys: NoOtherKeys,
        }
    }
}

impl NamesrvConfig {
    /// Checks values serde cannot: positive intervals, paths, unsupported
    /// features left off.
    ///
    /// # Errors
    /// [`NamesrvError::Config`] naming the key.
    pub fn validate(&self) -> Result<(), NamesrvError> {
        let bad = |key: &str, why: &str| Err(NamesrvError::Config(format!("{key}: {why}")));
        if self.scan_not_active_broker_interval.is_zero() {
            return bad("scanNotActiveBrokerInterval", "must be positive");
        }
        if self.broker_channel_expired_time.is_zero() {
            return bad("brokerChannelExpiredTime", "must be positive");
        }
        if self.kv_config_path.as_os_str().is_empty() {
            return bad("kvConfigPath", "must not be empty");
        }
        if self.server_channel_max_idle_time_seconds == 0 {
            return bad("serverChannelMaxIdleTimeSeconds", "must be positive");
        }
        self.server
            .validate()
            .map_err(|e| NamesrvError::Config(e.to_string()))?;
        if self.bind_address.parse::<IpAddr>().is_err() {
            return bad("bindAddress", "must be an IP address");
        }
        for (key, on) in [
            ("supportActingMaster", self.support_acting_master),
            (
                "notifyMinBrokerIdChanged",
                self.notify_min_broker_id_changed,
            ),
        ] {
            if on {
                return bad(key, "is not supported by this name server; set it to false");
            }
        }
        Ok(())
    }

    /// The ACL file: `aclFilePath`, or `plain_acl.yml` beside the KV file.
    pub fn acl_file(&self) -> PathBuf {
        if !self.acl_file_path.as_os_str().is_empty() {
            return self.acl_file_path.clone();
        }
        self.kv_config_path
            .parent()
            .map(|dir| dir.join("plain_acl.yml"))
            .unwrap_or_else(|| PathBuf::from("plain_acl.yml"))
    }

    /// The directory whose `*.yml` files are merged with the ACL file, as
    /// the broker reads `<storePathRootDir>/conf/acl/`: `conf/acl/` under
    /// the NameServer's data directory (the KV file's, `~/namesrv`).
    pub fn acl_dir(&self) -> PathBuf {
        self.kv_config_path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default()
            .join("conf")
            .join("acl")
    }

    /// `bindAddress:listenPort`.
    ///
    /// # Errors
    /// [`NamesrvError::Config`] when `bindAddress` is not an IP address.
    pub fn listen_addr(&self) -> Result<SocketAddr, NamesrvError> {
        let ip: IpAddr = self.bind_address.parse().map_err(|_| {
            NamesrvError::Config(format!(
                "bindAddress: `{}` is not an IP address",
                self.bind_address
            ))
        })?;
        Ok(SocketAddr::new(ip, self.listen_port))
    }

    /// Defaults overridden by Java properties text (`key=value` lines).
    ///
    /// # Errors
    /// [`NamesrvError::Config`] naming an unknown key or a bad value.
    pub fn from_properties(text: &str) -> Result<Self, NamesrvError> {
        NamesrvConfig::default().with_properties(text)
    }

    /// This config with the given properties applied (then validated).
    ///
    /// # Errors
    /// [`NamesrvError::Config`] naming an unknown key or a bad value.
    pub fn with_properties(&self, text: &str) -> Result<Self, NamesrvError> {
        self.with_pairs(&parse_properties(text)?)
    }

    /// This config with `key=value` pairs applied (then validated).
    ///
    /// # Errors
    /// [`NamesrvError::Config`] naming an unknown key or a bad value.
    pub fn with_pairs(&self, pairs: &[(String, String)]) -> Result<Self, NamesrvError> {
        let mut obj =
            serde_json::to_value(self).map_err(|e| NamesrvError::Config(e.to_string()))?;
        let Value::Object(map) = &mut obj else {
            return Err(NamesrvError::Config("config is not an object".into()));
        };
        for (key, raw) in pairs {
            let slot = map
                .get_mut(key.as_str())
                .ok_or_else(|| NamesrvError::Config(format!("unknown key `{key}`")))?;
            *slot = typed_like(slot, key, raw)?;
        }
        let config: NamesrvConfig =
            serde_json::from_value(obj).map_err(|e| NamesrvError::Config(e.to_string()))?;
        config.validate()?;
        Ok(config)
    }

    /// Every key as Java properties text, sorted (GET_NAMESRV_CONFIG).
    pub fn to_properties(&self) -> String {
        let Ok(Value::Object(map)) = serde_json::to_value(self) else {
            return String::new();
        };
        let mut out = String::new();
        for (key, value) in map {
            let text = match value {
                Value::String(s) => s,
                other => other.to_string(),
            };
            out.push_str(&key);
            out.push('=');
            out.push_str(&text);
            out.push('\n');
        }
        out
    }

    /// The keys UPDATE_NAMESRV_CONFIG may not change.
    pub fn black_listed_keys(&self) -> Vec<&str> {
        self.config_black_list
            .split(';')
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .collect()
    }
}

/// Converts a property string to the JSON type the key already has.
fn typed_like(current: &Value, key: &str, raw: &str) -> Result<Value, NamesrvError> {
    let bad = |what: &str| NamesrvError::Config(format!("key `{key}`: `{raw}` is not {what}"));
    let raw = raw.trim();
    Ok(match current {
        Value::Bool(_) => match raw {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => return Err(bad("true or false")),
        },
        Value::Number(_) => Value::Number(
            raw.parse::<u64>()
                .map_err(|_| bad("a non-negative integer"))?
                .into(),
        ),
        _ => Value::String(raw.to_owned()),
    })
}

/// Parses Java properties text (protocol's one parser).
///
/// # Errors
/// [`NamesrvError::Config`] naming the bad line.
pub fn parse_properties(text: &str) -> Result<Vec<(String, String)>, NamesrvError> {
    protocol::java_properties::parse(text).map_err(|e| NamesrvError::Config(e.to_string()))
}

/// Durations as integer milliseconds, as Java's keys are.
mod millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_millis)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_javas_and_valid() {
        let c = NamesrvConfig::default();
        c.validate().unwrap();
        assert_eq!(c.listen_port, 9876);
        assert_eq!(c.scan_not_active_broker_interval, Duration::from_secs(5));
        assert_eq!(c.broker_channel_expired_time, Duration::from_secs(120));
        assert!(c.kv_config_path.ends_with("namesrv/kvConfig.json"));
        assert_eq!(c.listen_addr().unwrap(), "0.0.0.0:9876".parse().unwrap());
        let c = NamesrvConfig::from_properties("enableControllerInNamesrv=true").unwrap();
        assert!(c.enable_controller_in_namesrv);
    }

    #[test]
    fn java_properties_load_and_unknown_keys_are_named() {
        let text = "# comment\nlistenPort=19876\nkvConfigPath = /tmp/kv.json\n\nscanNotActiveBrokerInterval=1000\nserverWorkerThreads=4\nenableAllTopicList: false\n";
        let c = NamesrvConfig::from_properties(text).unwrap();
        assert_eq!(c.listen_port, 19876);
        assert_eq!(c.kv_config_path, PathBuf::from("/tmp/kv.json"));
        assert_eq!(c.scan_not_active_broker_interval, Duration::from_secs(1));
        assert!(!c.enable_all_topic_list);
        let err = NamesrvConfig::from_properties("listenPortt=1").unwrap_err();
        assert!(err.to_string().contains("listenPortt"), "{err}");
        let c = NamesrvConfig::from_properties("httpListenPort=18080").unwrap();
        assert_eq!(c.http_listen_port, 18080);
        let err = NamesrvConfig::from_properties("listenPort=abc").unwrap_err();
        assert!(err.to_string().contains("listenPort"), "{err}");
        let err = NamesrvConfig::from_properties("clusterTest=yes").unwrap_err();
        assert!(err.to_string().contains("clusterTest"), "{err}");
        let err = NamesrvConfig::from_properties("listenPort=70000").unwrap_err();
        assert!(
            err.to_string().contains("listenPort") || err.to_string().contains("70000"),
            "{err}"
        );
    }

    #[test]
    fn serde_rejects_unknown_keys_by_name() {
        let err =
            serde_json::from_str::<NamesrvConfig>(r#"{"listenPort":1,"bogusKey":2}"#).unwrap_err();
        assert!(err.to_string().contains("bogusKey"), "{err}");
        let c: NamesrvConfig =
            serde_json::from_str(r#"{"brokerChannelExpiredTime":1500}"#).unwrap();
        assert_eq!(c.broker_channel_expired_time, Duration::from_millis(1500));
    }

    #[test]
    fn validate_names_the_bad_key() {
        for (text, key) in [
            (
                "scanNotActiveBrokerInterval=0",
                "scanNotActiveBrokerInterval",
            ),
            ("supportActingMaster=true", "supportActingMaster"),
            ("bindAddress=nowhere", "bindAddress"),
            ("kvConfigPath=", "kvConfigPath"),
            ("serverMaxConnectionsPerIp=0", "serverMaxConnectionsPerIp"),
            (
                "serverMaxInFlightPerConnection=0",
                "serverMaxInFlightPerConnection",
            ),
            (
                "serverMaxConnections=10\nserverReservedConnections=10",
                "serverReservedConnections",
            ),
            // The listener keys shared with the broker.
            ("tls.server.mode=strict", "tls.server.mode"),
            (
                "tls.server.need.client.auth=always",
                "tls.server.need.client.auth",
            ),
        ] {
            let err = NamesrvConfig::from_properties(text).unwrap_err();
            assert!(err.to_string().contains(key), "{text}: {err}");
        }
    }

    #[test]
    fn properties_round_trip() {
        let c = NamesrvConfig {
            listen_port: 1234,
            order_message_enable: true,
            broker_channel_expired_time: Duration::from_millis(777),
            ..NamesrvConfig::default()
        };
        let text = c.to_properties();
        assert!(text.contains("listenPort=1234\n"), "{text}");
        assert!(text.contains("brokerChannelExpiredTime=777\n"), "{text}");
        assert_eq!(NamesrvConfig::from_properties(&text).unwrap(), c);
        assert_eq!(
            c.black_listed_keys(),
            vec!["configBlackList", "configStorePath", "kvConfigPath"]
        );
    }
}
