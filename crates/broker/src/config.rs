//! Broker configuration: the Java `broker.conf` keys (camelCase, as they
//! are), with RocketMQ's defaults unless noted. Store keys live in
//! `store::StoreConfig`; a broker.conf file sets both.

use serde::{Deserialize, Serialize};

use crate::error::BrokerError;

/// The shortest master lease controller mode accepts (see
/// [`BrokerConfig::master_lease_ms`]).
pub const MIN_MASTER_LEASE_MS: u64 = 1_000;

/// The role of this broker in its master/slave group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[allow(clippy::upper_case_acronyms)]
pub enum BrokerRole {
    /// Acknowledges sends after the local write (default).
    #[default]
    #[serde(rename = "ASYNC_MASTER")]
    AsyncMaster,
    /// Acknowledges sends after a slave has them too.
    #[serde(rename = "SYNC_MASTER")]
    SyncMaster,
    /// Copies a master; serves reads, refuses sends.
    #[serde(rename = "SLAVE")]
    Slave,
}

/// Broker settings (not the store's).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BrokerConfig {
    pub broker_cluster_name: String,
    pub broker_name: String,
    /// 0 for a master, 1.. for slaves.
    pub broker_id: i64,
    pub broker_role: BrokerRole,
    /// NameServer addresses, `;`-separated.
    pub namesrv_addr: String,
    pub listen_port: u16,
    /// Port of the 5.x gRPC endpoint the `apogee` binary serves beside the
    /// broker (8081, as the Java proxy). Other endpoints read it through
    /// GET_BROKER_CONFIG to send clients to this broker's own endpoint.
    pub grpc_listen_port: u16,
    /// The address clients are told to dial; empty: the listen address
    /// (or, when listening on 0.0.0.0, the first non-loopback IPv4).
    #[serde(rename = "brokerIP1")]
    pub broker_ip1: String,
    /// The address slaves use for replication; empty: same as brokerIP1.
    #[serde(rename = "brokerIP2")]
    pub broker_ip2: String,
    /// Replication port; 0 (the default): listenPort + 1 (10912 next to
    /// 10911), or an ephemeral port when the broker listens on port 0.
    pub ha_listen_port: u16,
    /// Slaves: the master's HA `ip:port`; empty: learned from registration.
    pub ha_master_address: String,
    /// Milliseconds between a slave's offset reports / a master's idle
    /// heartbeat frames.
    pub ha_send_heartbeat_interval: u64,
    /// Milliseconds without traffic after which an HA connection is closed.
    pub ha_housekeeping_interval: u64,
    /// Bytes of commit log per replication frame.
    pub ha_transfer_batch_size: usize,
    /// Bytes a slave may lag and still count as in sync (SYNC_MASTER).
    pub ha_max_gap_not_in_sync: u64,
    /// Permission bits of the whole broker (6 = read + write).
    pub broker_permission: i32,
    pub auto_create_topic_enable: bool,
    pub auto_create_subscription_group: bool,
    /// Queues given to topics created automatically on the template TBW102.
    pub default_topic_queue_nums: i32,
    pub cluster_topic_enable: bool,
    pub broker_topic_enable: bool,
    pub enable_property_filter: bool,
    pub long_polling_enable: bool,
    pub short_polling_time_mills: u64,
    pub slave_read_enable: bool,
    pub notify_consumer_ids_changed_enable: bool,
    /// Seconds between registrations with every NameServer (clamped 10..60).
    pub register_name_server_period: u64,
    pub register_broker_timeout_mills: u64,
    pub flush_consumer_offset_interval: u64,
    pub channel_expired_timeout: u64,
    pub region_id: String,
    pub trace_on: bool,
    /// Pull batch caps (messages and bytes) for data in memory.
    pub max_transfer_count_on_message_in_memory: i32,
    pub max_transfer_bytes_on_message_in_memory: usize,
    pub reject_transaction_message: bool,
    pub transaction_time_out: u64,
    pub transaction_check_max: i32,
    pub transaction_check_interval: u64,
    /// Longest delay of a timed message (TIMER_* properties), in seconds.
    pub timer_max_delay_sec: u64,
    /// Lease of an ordered-consumption queue lock (ms), renewed by re-locking
    /// (Java's `rocketmq.broker.rebalance.lockMaxLiveTime`).
    pub rebalance_lock_max_live_time: u64,
    /// TLS and connection limits of the client-facing listeners
    /// (`tls.server.*`, `serverMaxConnections`...), shared with the
    /// NameServer.
    #[serde(flatten)]
    pub server: remoting::ServerKeys,
    /// Sends (and pulls, parked ones included) being processed at once
    /// across all connections; more are answered SYSTEM_BUSY.
    pub send_thread_pool_queue_capacity: usize,
    pub pull_thread_pool_queue_capacity: usize,
    /// Checks every request against the ACL 1.0 file (`plain_acl.yml`).
    pub acl_enable: bool,
    /// The ACL file; empty means `<storePathRootDir>/conf/plain_acl.yml`.
    pub acl_file_path: String,
    /// The account this broker signs its own requests with (registration
    /// with NameServers, a slave's metadata sync, the gRPC endpoint's
    /// requests to brokers); both empty: unsigned. Never shown by
    /// GET_BROKER_CONFIG.
    pub access_key: String,
    pub secret_key: String,
    /// TLS of the broker's own connections (registration with NameServers,
    /// a slave's calls to its master): `tls.enable`, `tls.client.*`, shared
    /// with the NameServer.
    #[serde(flatten)]
    pub client_tls: remoting::ClientTlsKeys,
    /// Keep the message-size and request-latency histograms of `/metrics`
    /// (Apogee's own key; false skips them on the send and request paths,
    /// to measure what they cost). Message counts are always kept.
    pub metrics_enable: bool,
    /// Controller mode (automatic failover): the controller assigns this
    /// broker's id and role; `brokerId`/`brokerRole` from the file are
    /// ignored. The keys below are Java's (BrokerConfig and
    /// MessageStoreConfig), with Java's defaults.
    pub enable_controller_mode: bool,
    /// Every controller, `;`-separated (their peer addresses).
    pub controller_addr: String,
    /// Milliseconds between asks for the controller leader.
    pub sync_controller_metadata_period: u64,
    /// Milliseconds between GET_REPLICA_INFO polls.
    pub sync_broker_metadata_period: u64,
    /// Milliseconds between the master's SyncStateSet shrink checks.
    pub check_sync_state_set_period: u64,
    /// Sent in each heartbeat: the controllers expire us after this long.
    pub controller_heart_beat_timeout_mills: u64,
    /// Milliseconds between heartbeats to every controller.
    pub broker_heartbeat_interval: u64,
    pub send_heartbeat_timeout_millis: u64,
    /// Lower wins an election between otherwise equal replicas.
    pub broker_election_priority: i32,
    /// A SYNC send waits for every SyncStateSet member (else `inSyncReplicas`).
    pub all_ack_in_sync_state_set: bool,
    /// Acks a SYNC send needs, the master's included, when not all-ack.
    pub in_sync_replicas: i32,
    /// Fewer SyncStateSet members than this: sends are refused.
    pub min_in_sync_replicas: i32,
    /// A member not caught up for this many milliseconds leaves the set.
    pub ha_max_time_slave_not_catchup: u64,
    /// Empty: `<storePathRootDir>/epochFileCheckpoint`.
    pub store_path_epoch_file: String,
    /// Empty: `<storePathRootDir>/brokerIdentity`.
    pub store_path_broker_identity: String,
    /// Replicate but never join the SyncStateSet.
    pub async_learner: bool,
    /// An empty slave starts at the master's last commit-log file (Apogee's
    /// slaves always do; the key is accepted for Java files).
    pub sync_from_last_file: bool,
    /// Milliseconds a SYNC send waits for the slaves' acks.
    pub slave_timeout: u64,
}

impl Default for BrokerConfig {
    fn default() -> Self {
        BrokerConfig {
            broker_cluster_name: "DefaultCluster".into(),
            broker_name: "broker-a".into(),
            broker_id: 0,
            broker_role: BrokerRole::AsyncMaster,
            namesrv_addr: String::new(),
            listen_port: 10911,
            grpc_listen_port: 8081,
            broker_ip1: String::new(),
            broker_ip2: String::new(),
            ha_listen_port: 0,
            ha_master_address: String::new(),
            ha_send_heartbeat_interval: 5_000,
            ha_housekeeping_interval: 20_000,
            ha_transfer_batch_size: 32 * 1024,
            ha_max_gap_not_in_sync: 256 << 20,
            broker_permission: 6,
            auto_create_topic_enable: true,
            auto_create_subscription_group: true,
            default_topic_queue_nums: 8,
            cluster_topic_enable: true,
            broker_topic_enable: true,
            // Apogee's default is on (Java's is off): SQL92 subscriptions work out of the box.
            enable_property_filter: true,
            long_polling_enable: true,
            short_polling_time_mills: 1000,
            slave_read_enable: false,
            notify_consumer_ids_changed_enable: true,
            register_name_server_period: 30,
            register_broker_timeout_mills: 24_000,
            flush_consumer_offset_interval: 5_000,
            channel_expired_timeout: 120_000,
            region_id: "DefaultRegion".into(),
            trace_on: true,
            max_transfer_count_on_message_in_memory: 32,
            max_transfer_bytes_on_message_in_memory: 256 * 1024,
            reject_transaction_message: false,
            transaction_time_out: 6_000,
            transaction_check_max: 15,
            transaction_check_interval: 30_000,
            timer_max_delay_sec: 604_800,
            rebalance_lock_max_live_time: 60_000,
            server: remoting::ServerKeys::default(),
            send_thread_pool_queue_capacity: 10_000,
            pull_thread_pool_queue_capacity: 100_000,
            acl_enable: false,
            acl_file_path: String::new(),
            access_key: String::new(),
            secret_key: String::new(),
            client_tls: remoting::ClientTlsKeys::default(),
            metrics_enable: true,
            enable_controller_mode: false,
            controller_addr: String::new(),
            sync_controller_metadata_period: 10_000,
            sync_broker_metadata_period: 5_000,
            check_sync_state_set_period: 5_000,
            controller_heart_beat_timeout_mills: 10_000,
            broker_heartbeat_interval: 1_000,
            send_heartbeat_timeout_millis: 1_000,
            broker_election_priority: i32::MAX,
            all_ack_in_sync_state_set: false,
            in_sync_replicas: 1,
            min_in_sync_replicas: 1,
            ha_max_time_slave_not_catchup: 15_000,
            store_path_epoch_file: String::new(),
            store_path_broker_identity: String::new(),
            async_learner: false,
            sync_from_last_file: false,
            slave_timeout: 3_000,
        }
    }
}

impl BrokerConfig {
    /// The account of `accessKey`/`secretKey`, when both are set.
    pub fn credentials(&self) -> Option<remoting::Credentials> {
        (!self.access_key.is_empty() && !self.secret_key.is_empty()).then(|| {
            remoting::Credentials {
                access_key: self.access_key.clone(),
                secret_key: self.secret_key.clone(),
                security_token: None,
            }
        })
    }

    /// Checks values that serde cannot.
    ///
    /// # Errors
    /// [`BrokerError::Config`] naming the key.
    pub fn validate(&self) -> Result<(), BrokerError> {
        let bad = |key: &str, why: &str| Err(BrokerError::Config(format!("{key}: {why}")));
        if self.broker_name.is_empty() {
            return bad("brokerName", "must not be empty");
        }
        if self.broker_cluster_name.is_empty() {
            return bad("brokerClusterName", "must not be empty");
        }
        if self.enable_controller_mode {
            self.validate_controller_mode()?;
        } else if self.broker_id < 0 {
            return bad("brokerId", "must be 0 (master) or positive (slave)");
        } else if (self.broker_role == BrokerRole::Slave) != (self.broker_id > 0) {
            return bad(
                "brokerRole",
                "SLAVE requires brokerId > 0 and a master role requires brokerId 0",
            );
        }
        if !(1..=1024).contains(&self.default_topic_queue_nums) {
            return bad("defaultTopicQueueNums", "must be between 1 and 1024");
        }
        if self.ha_transfer_batch_size < 1024 {
            return bad("haTransferBatchSize", "must be at least 1024 bytes");
        }
        if self.ha_send_heartbeat_interval == 0
            || self.ha_housekeeping_interval <= self.ha_send_heartbeat_interval
        {
            return bad(
                "haHousekeepingInterval",
                "must exceed haSendHeartbeatInterval, which must be positive",
            );
        }
        if self.access_key.is_empty() != self.secret_key.is_empty() {
            return bad(
                "accessKey",
                "accessKey and secretKey must be set together (or both left empty)",
            );
        }
        self.server
            .validate()
            .map_err(|e| BrokerError::Config(e.to_string()))?;
        if self.broker_permission & !0xF != 0 {
            return bad("brokerPermission", "only bits 1, 2, 4 and 8 exist");
        }
        Ok(())
    }

    /// The controller-mode keys (brokerId and brokerRole are ignored there).
    fn validate_controller_mode(&self) -> Result<(), BrokerError> {
        let bad = |key: &str, why: &str| Err(BrokerError::Config(format!("{key}: {why}")));
        if self.controller_list().is_empty() {
            return bad(
                "controllerAddr",
                "enableControllerMode needs the controllers' addresses (host:port;host:port)",
            );
        }
        if let Some(a) = self.controller_list().into_iter().find(|a| {
            a.rsplit_once(':')
                .is_none_or(|(h, p)| h.is_empty() || p.parse::<u16>().is_err())
        }) {
            return bad("controllerAddr", &format!("`{a}` is not host:port"));
        }
        for (key, v) in [
            (
                "syncControllerMetadataPeriod",
                self.sync_controller_metadata_period,
            ),
            ("syncBrokerMetadataPeriod", self.sync_broker_metadata_period),
            ("checkSyncStateSetPeriod", self.check_sync_state_set_period),
            (
                "controllerHeartBeatTimeoutMills",
                self.controller_heart_beat_timeout_mills,
            ),
            ("brokerHeartbeatInterval", self.broker_heartbeat_interval),
            (
                "sendHeartbeatTimeoutMillis",
                self.send_heartbeat_timeout_millis,
            ),
            (
                "haMaxTimeSlaveNotCatchup",
                self.ha_max_time_slave_not_catchup,
            ),
            ("slaveTimeout", self.slave_timeout),
        ] {
            if v == 0 {
                return bad(key, "must be positive");
            }
        }
        if self.in_sync_replicas < 1 {
            return bad("inSyncReplicas", "must be at least 1 (the master counts)");
        }
        if self.min_in_sync_replicas < 1 {
            return bad(
                "minInSyncReplicas",
                "must be at least 1 (the master counts)",
            );
        }
        if self.master_lease_ms() < MIN_MASTER_LEASE_MS {
            return bad(
                "controllerHeartBeatTimeoutMills",
                &format!(
                    "must be at least 2 x brokerHeartbeatInterval + sendHeartbeatTimeoutMillis + {MIN_MASTER_LEASE_MS} ms \
                     (here {} ms): a master stops taking writes after controllerHeartBeatTimeoutMills \
                     - 2 x brokerHeartbeatInterval - sendHeartbeatTimeoutMillis without a controller quorum, \
                     so that it stops before the controllers can elect another",
                    2 * self.broker_heartbeat_interval
                        + self.send_heartbeat_timeout_millis
                        + MIN_MASTER_LEASE_MS
                ),
            );
        }
        Ok(())
    }

    /// Controller mode: how long a master keeps taking writes after the
    /// controller leader last confirmed, with a quorum, that it is still
    /// master at its epoch (docs/ha.md, "The master's lease"). Strictly
    /// shorter than the controllers' expiry of this broker: its last
    /// heartbeat left at most `brokerHeartbeatInterval +
    /// sendHeartbeatTimeoutMillis` before the confirming request, and one
    /// more `brokerHeartbeatInterval` is the margin.
    pub fn master_lease_ms(&self) -> u64 {
        self.controller_heart_beat_timeout_mills
            .saturating_sub(2 * self.broker_heartbeat_interval + self.send_heartbeat_timeout_millis)
    }

    /// The controllers of `controllerAddr`.
    pub fn controller_list(&self) -> Vec<String> {
        self.controller_addr
            .split(';')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    }

    /// The `tls.client.*` keys when `tls.enable` is on.
    pub fn tls_client_settings(&self) -> Option<remoting::TlsClientSettings> {
        self.client_tls.settings()
    }

    /// The settings of the broker's own connections: TLS when `tls.enable`,
    /// signed with `accessKey`/`secretKey` when both are set.
    ///
    /// # Errors
    /// [`BrokerError::Config`] naming a `tls.client.*` key whose file is bad.
    pub fn client_config(&self) -> Result<remoting::ClientConfig, BrokerError> {
        let tls = match self.tls_client_settings() {
            Some(settings) => Some(
                settings
                    .build()
                    .map_err(|e| BrokerError::Config(e.to_string()))?,
            ),
            None => None,
        };
        Ok(remoting::ClientConfig {
            tls,
            credentials: self.credentials(),
            ..remoting::ClientConfig::default()
        })
    }

    /// The NameServer addresses.
    pub fn namesrv_list(&self) -> Vec<String> {
        self.namesrv_addr
            .split(';')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    }

    /// The limits and TLS of the client-facing listeners.
    ///
    /// # Errors
    /// [`BrokerError::Config`] naming the `tls.server.*` key that is bad
    /// (a file that cannot be read, enforcing without a certificate...).
    pub fn server_config(&self) -> Result<remoting::ServerConfig, BrokerError> {
        self.server
            .server_config()
            .map_err(|e| BrokerError::Config(e.to_string()))
    }

    /// Registration period, clamped to RocketMQ's 10–60 s.
    pub fn register_period(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.register_name_server_period.clamp(10, 60))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controller_mode_needs_a_lease_shorter_than_the_heartbeat_expiry() {
        let ok = BrokerConfig {
            enable_controller_mode: true,
            controller_addr: "127.0.0.1:9878".into(),
            ..BrokerConfig::default()
        };
        assert_eq!(ok.master_lease_ms(), 7_000);
        assert!(ok.validate().is_ok());
        let short = BrokerConfig {
            controller_heart_beat_timeout_mills: 3_000,
            ..ok
        };
        assert_eq!(short.master_lease_ms(), 0);
        let e = short.validate().unwrap_err().to_string();
        assert!(
            e.contains("controllerHeartBeatTimeoutMills") && e.contains("4000 ms"),
            "{e}"
        );
    }
}
