//! Dev-only test helpers: a NameServer and a broker started in-process on
//! port 0 with their data in a temporary directory, and a remoting client
//! to talk to them. Never a dependency of production crates.

#![forbid(unsafe_code)]
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

pub mod acl;
pub mod certs;
pub mod cluster;
pub mod controllers;
pub mod readback;
pub mod requests;
pub mod wait;

use std::net::SocketAddr;
use std::time::Duration;

use broker::{Broker, BrokerConfig, StoreConfig};
use namesrv::{NameServer, NamesrvConfig};
use protocol::RemotingCommand;
use remoting::{ClientConfig, RemotingClient};

/// A NameServer plus one broker, each on an ephemeral loopback port.
pub struct TestCluster {
    pub namesrv: NameServer,
    pub broker: Broker,
    pub client: RemotingClient,
    pub dir: tempfile::TempDir,
    /// The settings the broker was started with (reused by restarts).
    pub broker_config: BrokerConfig,
    pub store_config: StoreConfig,
}

/// Store settings small enough for tests (8 MiB segments, small index).
/// The disk-usage limits are at 99 % so that a nearly full host disk
/// (shared by other work) neither refuses sends nor deletes test data.
pub fn small_store(root: &std::path::Path) -> StoreConfig {
    StoreConfig {
        mapped_file_size_commit_log: 8 << 20,
        mapped_file_size_consume_queue: 20 * 10_000,
        max_hash_slot_num: 10_000,
        max_index_num: 40_000,
        disk_max_used_space_ratio: 99,
        disk_space_clean_forcibly_ratio: 99,
        disk_space_warning_level_ratio: 99,
        ..StoreConfig::with_root(root)
    }
}

impl TestCluster {
    /// Starts with default settings.
    pub async fn start() -> TestCluster {
        Self::start_with(|_, _| {}).await
    }

    /// Starts after `tweak` adjusts the broker and store configs.
    pub async fn start_with(
        tweak: impl FnOnce(&mut BrokerConfig, &mut StoreConfig),
    ) -> TestCluster {
        Self::start_configured(|_| {}, tweak, ClientConfig::default()).await
    }

    /// Starts after `ns_tweak` adjusts the NameServer's config and `tweak`
    /// the broker's and store's; the cluster's own client (which also
    /// waits for the registration) uses `client`, e.g. with TLS.
    pub async fn start_configured(
        ns_tweak: impl FnOnce(&mut NamesrvConfig),
        tweak: impl FnOnce(&mut BrokerConfig, &mut StoreConfig),
        client: ClientConfig,
    ) -> TestCluster {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut ns_config = NamesrvConfig {
            kv_config_path: dir.path().join("namesrv/kvConfig.json"),
            config_store_path: dir.path().join("namesrv/namesrv.properties"),
            ..NamesrvConfig::default()
        };
        ns_tweak(&mut ns_config);
        let namesrv = NameServer::start(ns_config, loopback())
            .await
            .expect("namesrv starts");
        let mut config = BrokerConfig {
            namesrv_addr: namesrv.local_addr().to_string(),
            ..BrokerConfig::default()
        };
        let mut store = small_store(&dir.path().join("store"));
        tweak(&mut config, &mut store);
        let broker = Broker::start(config.clone(), store.clone(), loopback())
            .await
            .expect("broker starts");
        let client = RemotingClient::new(client, None);
        let cluster = TestCluster {
            namesrv,
            broker,
            client,
            dir,
            broker_config: config,
            store_config: store,
        };
        cluster.wait_registered().await;
        cluster
    }

    /// The NameServer's address.
    pub fn namesrv_addr(&self) -> String {
        self.namesrv.local_addr().to_string()
    }

    /// The broker's address.
    pub fn broker_addr(&self) -> String {
        self.broker.advertised_addr().to_owned()
    }

    /// Sends a request to the broker and waits (5 s) for the answer.
    pub async fn call(&self, request: RemotingCommand) -> RemotingCommand {
        self.client
            .invoke(&self.broker_addr(), request, Duration::from_secs(5))
            .await
            .expect("broker answers")
    }

    /// Sends a request to the NameServer.
    pub async fn call_namesrv(&self, request: RemotingCommand) -> RemotingCommand {
        self.client
            .invoke(&self.namesrv_addr(), request, Duration::from_secs(5))
            .await
            .expect("namesrv answers")
    }

    /// Waits until the broker's cluster shows up at the NameServer.
    async fn wait_registered(&self) {
        for _ in 0..200 {
            let req = RemotingCommand::request(protocol::RequestCode::GET_BROKER_CLUSTER_INFO);
            let resp = self.call_namesrv(req).await;
            if resp.code == 0 && !resp.body.is_empty() {
                let text = String::from_utf8_lossy(&resp.body);
                if text.contains(self.broker.advertised_addr()) {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the broker did not register with the NameServer");
    }

    /// Stops the broker cleanly and starts it again on the same data
    /// directory (on a new port: use [`TestCluster::broker_addr`] afterwards).
    pub async fn restart_broker(self) -> TestCluster {
        let TestCluster {
            namesrv,
            broker,
            client,
            dir,
            broker_config,
            store_config,
        } = self;
        client.shutdown().await;
        broker.shutdown().await;
        let broker = Broker::start(broker_config.clone(), store_config.clone(), loopback())
            .await
            .expect("broker restarts");
        let cluster = TestCluster {
            namesrv,
            broker,
            client: RemotingClient::new(ClientConfig::default(), None),
            dir,
            broker_config,
            store_config,
        };
        cluster.wait_registered().await;
        cluster
    }

    /// Stops the broker, then the NameServer.
    pub async fn shutdown(self) {
        self.client.shutdown().await;
        self.broker.shutdown().await;
        self.namesrv.shutdown().await;
    }
}

fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}
