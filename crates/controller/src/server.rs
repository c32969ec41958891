//! A running controller: the remoting server on its peer address (brokers,
//! admin tools and the other controllers' Raft RPCs all arrive there), the
//! Raft node, and the scan that expires brokers and re-elects dead masters.
//!
//! Start-up is two steps so tests can use port 0: [`BoundController::bind`]
//! listens (requests get SYSTEM_BUSY until the node runs), then
//! [`BoundController::start`] opens the Raft store and joins the group.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use openraft::{BasicNode, SnapshotPolicy};
use parking_lot::RwLock;
use protocol::{RemotingCommand, ResponseCode};
use remoting::{
    BoxFuture, ClientConfig, Connection, Processor, RemotingClient, Server, ServerConfig,
};
use serde::Serialize;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::ControllerConfig;
use crate::error::ControllerError;
use crate::handlers;
use crate::liveness::Liveness;
use crate::node::Node;
use crate::raft::log_store::LogStore;
use crate::raft::network::Network;
use crate::raft::state_machine::StateMachine;
use crate::raft::{codes, Raft};

/// A listening controller that has not joined its group yet.
pub struct BoundController {
    server: Server,
    slot: Arc<Slot>,
}

/// A started controller. Call [`Controller::shutdown`] to stop it.
pub struct Controller {
    server: Server,
    node: Arc<Node>,
    cancel: CancellationToken,
}

#[derive(Default)]
struct Slot {
    node: OnceLock<Arc<Node>>,
    wake: Notify,
}

impl BoundController {
    /// Listens on `addr` (`127.0.0.1:0` in tests).
    ///
    /// # Errors
    /// [`ControllerError::Start`] when `addr` cannot be listened on.
    pub async fn bind(addr: SocketAddr) -> Result<BoundController, ControllerError> {
        let slot = Arc::new(Slot::default());
        let processor = Arc::new(ControllerProcessor { slot: slot.clone() });
        let server = Server::bind(addr, ServerConfig::default(), processor)
            .await
            .map_err(|source| ControllerError::Start {
                addr: addr.to_string(),
                source,
            })?;
        Ok(BoundController { server, slot })
    }

    /// The address actually listened on.
    pub fn local_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    /// Opens the Raft store under `controllerStorePath`, joins the group and
    /// starts the scan. A node whose store is empty proposes the peer list
    /// as the group's membership (every node may: the proposals are equal).
    ///
    /// # Errors
    /// [`ControllerError::Config`] for a bad config, [`ControllerError::Io`]
    /// when the store cannot be opened, [`ControllerError::Raft`] when Raft
    /// cannot start.
    pub async fn start(self, config: ControllerConfig) -> Result<Controller, ControllerError> {
        config.validate()?;
        let self_id = config.self_index().ok_or_else(|| {
            ControllerError::Config("controllerDLegerSelfId is not a peer".into())
        })?;
        let log = LogStore::open(&config.store_path.join("log"))?;
        let sm = StateMachine::open(&config.store_path.join("snapshot"))?;
        let applied = sm.state().clone();
        let timeout = u64::try_from(config.election_timeout.as_millis()).unwrap_or(u64::MAX);
        let raft_config = openraft::Config {
            cluster_name: config.group.clone(),
            heartbeat_interval: (timeout / 4).max(20),
            election_timeout_min: timeout,
            election_timeout_max: timeout * 2,
            snapshot_policy: SnapshotPolicy::LogsSinceLast(config.snapshot_log_count),
            // Keep a tenth of a snapshot interval of log for lagging followers.
            max_in_snapshot_log_to_keep: config.snapshot_log_count / 10,
            ..openraft::Config::default()
        }
        .validate()
        .map_err(|e| ControllerError::Config(e.to_string()))?;
        let client = RemotingClient::new(
            ClientConfig {
                connect_timeout: Duration::from_millis(timeout.max(500)),
                ..ClientConfig::default()
            },
            None,
        );
        let raft = Raft::new(
            self_id,
            Arc::new(raft_config),
            Network::new(client.clone()),
            log,
            sm,
        )
        .await
        .map_err(|e| ControllerError::Raft(e.to_string()))?;
        let members: BTreeMap<u64, BasicNode> = config
            .peers
            .iter()
            .enumerate()
            .filter_map(|(i, p)| {
                u64::try_from(i).ok().map(|i| {
                    (
                        i,
                        BasicNode {
                            addr: p.addr.clone(),
                        },
                    )
                })
            })
            .collect();
        let initialized = raft
            .is_initialized()
            .await
            .map_err(|e| ControllerError::Raft(e.to_string()))?;
        if !initialized {
            // Fails harmlessly when a peer already replicated the membership to us.
            if let Err(e) = raft.initialize(members).await {
                tracing::info!(error = %e, "raft group already initialized");
            }
        }
        let node = Arc::new(Node {
            config: RwLock::new(config),
            raft,
            applied,
            liveness: Liveness::default(),
            client,
            self_id,
            started: Instant::now(),
            leading_since: parking_lot::Mutex::new(None),
            tracker: TaskTracker::new(),
            decide: tokio::sync::Mutex::new(()),
        });
        let cancel = CancellationToken::new();
        node.tracker
            .spawn(scan(node.clone(), self.slot.clone(), cancel.clone()));
        let _ = self.slot.node.set(node.clone());
        tracing::info!(addr = %self.server.local_addr(), id = self_id, "controller started");
        Ok(Controller {
            server: self.server,
            node,
            cancel,
        })
    }
}

impl Controller {
    /// Binds the config's own peer address and starts.
    ///
    /// # Errors
    /// As [`BoundController::bind`] and [`BoundController::start`]; a peer
    /// address that is not `ip:port` is a [`ControllerError::Config`].
    pub async fn start(config: ControllerConfig) -> Result<Controller, ControllerError> {
        config.validate()?;
        let addr_text = config.self_addr().unwrap_or_default().to_owned();
        let addr: SocketAddr = tokio::net::lookup_host(&addr_text)
            .await
            .ok()
            .and_then(|mut a| a.next())
            .ok_or_else(|| {
                ControllerError::Config(format!(
                    "cannot resolve this node's peer address `{addr_text}`"
                ))
            })?;
        BoundController::bind(addr).await?.start(config).await
    }

    /// The address actually listened on.
    pub fn local_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    /// The node (state, Raft, liveness), for tests and embedding.
    pub fn node(&self) -> &Arc<Node> {
        &self.node
    }

    /// Stops the scan and Raft, closes every connection and waits for every task.
    pub async fn shutdown(self) {
        self.cancel.cancel();
        if let Err(e) = self.node.raft.shutdown().await {
            tracing::warn!(error = %e, "raft did not stop cleanly");
        }
        self.node.tracker.close();
        self.node.tracker.wait().await;
        self.server.shutdown().await;
        self.node.client.shutdown().await;
        tracing::info!("controller stopped");
    }
}

/// Expires silent brokers every `scanNotActiveBrokerInterval` (or at once
/// when a broker's connection closes) and, on the leader, re-elects dead
/// masters.
async fn scan(node: Arc<Node>, slot: Arc<Slot>, cancel: CancellationToken) {
    loop {
        let (interval, scan_wait) = {
            let c = node.config.read();
            (
                c.scan_not_active_broker_interval
                    .min(c.scan_inactive_master_interval),
                c.scan_wait,
            )
        };
        tokio::select! {
            () = cancel.cancelled() => return,
            () = tokio::time::sleep(interval) => {}
            () = slot.wake.notified() => {}
        }
        for (name, id) in node.liveness.expire(protocol::clock::now_ms()) {
            tracing::info!(broker = %name, id, "broker expired: no heartbeat within its timeout");
        }
        node.scan_inactive_masters(scan_wait).await;
    }
}

struct ControllerProcessor {
    slot: Arc<Slot>,
}

fn raft_answer<T: Serialize, E: Serialize>(result: &Result<T, E>) -> RemotingCommand {
    match serde_json::to_vec(result) {
        Ok(body) => RemotingCommand::success().with_body(body),
        Err(e) => RemotingCommand::error(
            ResponseCode::SYSTEM_ERROR,
            format!("encoding a raft answer: {e}"),
        ),
    }
}

async fn raft_rpc(raft: &Raft, req: &RemotingCommand) -> RemotingCommand {
    let bad = |e: serde_json::Error| {
        RemotingCommand::error(
            ResponseCode::SYSTEM_ERROR,
            format!("bad raft request body: {e}"),
        )
    };
    match req.code {
        codes::APPEND_ENTRIES => match serde_json::from_slice(&req.body) {
            Ok(r) => raft_answer(&raft.append_entries(r).await),
            Err(e) => bad(e),
        },
        codes::VOTE => match serde_json::from_slice(&req.body) {
            Ok(r) => raft_answer(&raft.vote(r).await),
            Err(e) => bad(e),
        },
        _ => match serde_json::from_slice(&req.body) {
            Ok(r) => raft_answer(&raft.install_snapshot(r).await),
            Err(e) => bad(e),
        },
    }
}

impl Processor for ControllerProcessor {
    fn process(
        &self,
        conn: Connection,
        request: RemotingCommand,
    ) -> BoxFuture<Option<RemotingCommand>> {
        let node = self.slot.node.get().cloned();
        Box::pin(async move {
            let Some(node) = node else {
                return Some(RemotingCommand::error(
                    ResponseCode::SYSTEM_BUSY,
                    "the controller is starting",
                ));
            };
            let span = tracing::debug_span!("request", code = request.code, opaque = request.opaque, peer = %conn.peer_addr());
            let _entered = span.enter();
            let answer = if matches!(
                request.code,
                codes::APPEND_ENTRIES | codes::VOTE | codes::INSTALL_SNAPSHOT
            ) {
                raft_rpc(&node.raft, &request).await
            } else {
                match handlers::dispatch(&node, conn.id(), &request).await {
                    Some(answer) => answer,
                    None => remoting::not_supported(&request),
                }
            };
            Some(answer.answering(&request))
        })
    }

    fn on_connection_closed(&self, conn: &Connection) {
        let Some(node) = self.slot.node.get() else {
            return;
        };
        let gone = node.liveness.connection_closed(conn.id());
        for (name, id) in &gone {
            tracing::info!(broker = %name, id, "broker connection closed");
        }
        if !gone.is_empty() {
            self.slot.wake.notify_one();
        }
    }
}
