//! The running NameServer: the remoting server with our processor, and the
//! task that drops silent brokers.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use acl::SharedAcl;
use protocol::{RemotingCommand, RequestCode, ResponseCode};
use remoting::{BoxFuture, Connection, Processor, Server, ServerConfig};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::NamesrvConfig;
use crate::error::NamesrvError;
use crate::handlers::NamesrvState;

/// A started NameServer. Call [`NameServer::shutdown`] to stop it.
pub struct NameServer {
    server: Server,
    state: Arc<NamesrvState>,
    cancel: CancellationToken,
    tracker: TaskTracker,
}

impl NameServer {
    /// Validates `config`, loads the KV config, listens on `addr` (use
    /// `127.0.0.1:0` in tests) and starts the expiry scan.
    ///
    /// # Errors
    /// [`NamesrvError::Config`] for a bad config, [`NamesrvError::Io`] when the
    /// KV file cannot be read, [`NamesrvError::Start`] when `addr` cannot be
    /// listened on.
    pub async fn start(
        config: NamesrvConfig,
        addr: SocketAddr,
    ) -> Result<NameServer, NamesrvError> {
        let server_config = ServerConfig {
            idle_timeout: Duration::from_secs(config.server_channel_max_idle_time_seconds),
            ..config
                .server
                .server_config()
                .map_err(|e| NamesrvError::Config(e.to_string()))?
        };
        let acl = load_acl(&config)?;
        let state = NamesrvState::new(config)?;
        let processor = Arc::new(NamesrvProcessor {
            state: state.clone(),
            acl: acl.clone(),
        });
        let server = Server::bind(addr, server_config, processor)
            .await
            .map_err(|source| NamesrvError::Start { addr, source })?;
        let cancel = CancellationToken::new();
        let tracker = TaskTracker::new();
        tracker.spawn(scan_silent_brokers(state.clone(), cancel.clone()));
        if let Some(acl) = acl {
            tracker.spawn(acl::shared::watch(
                acl,
                acl::shared::WATCH_INTERVAL,
                cancel.clone(),
            ));
        }
        tracker.close();
        tracing::info!(addr = %server.local_addr(), "name server started");
        Ok(NameServer {
            server,
            state,
            cancel,
            tracker,
        })
    }

    /// The address actually listened on.
    pub fn local_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    /// The route table, KV store and live config (for `standalone` and tests).
    pub fn state(&self) -> &Arc<NamesrvState> {
        &self.state
    }

    /// Stops the expiry scan, closes every connection and waits for every task.
    pub async fn shutdown(self) {
        self.cancel.cancel();
        self.tracker.wait().await;
        self.server.shutdown().await;
        tracing::info!("name server stopped");
    }
}

/// The ACL when `aclEnable` is on: the ACL file merged with the `*.yml`
/// files of [`NamesrvConfig::acl_dir`]; a malformed file, an account in two
/// files, or no file at all stops the start, naming the files and the line
/// or field.
fn load_acl(config: &NamesrvConfig) -> Result<Option<Arc<SharedAcl>>, NamesrvError> {
    if !config.acl_enable {
        return Ok(None);
    }
    let path = config.acl_file();
    // As the broker: every *.yml of the ACL directory too.
    let dir = config.acl_dir();
    let acl = SharedAcl::load_with_dir(&path, Some(&dir))
        .map_err(|e| NamesrvError::Config(format!("aclEnable: {}: {e}", path.display())))?;
    let accounts = acl.current().accounts.len();
    tracing::info!(file = %path.display(), dir = %dir.display(), accounts, "ACL enabled: changes need an admin account or a whitelisted address");
    Ok(Some(acl))
}

/// Requests that change what the NameServer serves: with ACL on, only
/// admin accounts and whitelisted addresses may send them.
fn changes_state(code: RequestCode) -> bool {
    use RequestCode as C;
    matches!(
        code,
        C::REGISTER_BROKER
            | C::UNREGISTER_BROKER
            | C::BROKER_HEARTBEAT
            | C::PUT_KV_CONFIG
            | C::DELETE_KV_CONFIG
            | C::WIPE_WRITE_PERM_OF_BROKER
            | C::ADD_WRITE_PERM_OF_BROKER
            | C::DELETE_TOPIC_IN_NAMESRV
            | C::REGISTER_TOPIC_IN_NAMESRV
            | C::UPDATE_NAMESRV_CONFIG
    )
}

/// Every `scanNotActiveBrokerInterval`, drops brokers silent for longer than
/// their timeout. The interval is re-read each round, so
/// UPDATE_NAMESRV_CONFIG applies at once.
async fn scan_silent_brokers(state: Arc<NamesrvState>, cancel: CancellationToken) {
    loop {
        let interval = state.config.read().scan_not_active_broker_interval;
        tokio::select! {
            () = cancel.cancelled() => return,
            () = tokio::time::sleep(interval) => {}
        }
        for gone in state.routes.remove_expired(Instant::now()) {
            tracing::warn!(cluster = %gone.cluster, broker = %gone.broker_name, addr = %gone.broker_addr,
                "broker expired: no registration or heartbeat within its timeout");
        }
    }
}

impl NamesrvState {
    /// Answers one request; codes the NameServer does not serve get
    /// REQUEST_CODE_NOT_SUPPORTED.
    pub fn handle(&self, conn_id: u64, request: &RemotingCommand) -> RemotingCommand {
        self.dispatch(conn_id, request)
            .unwrap_or_else(|| remoting::not_supported(request))
    }
}

struct NamesrvProcessor {
    state: Arc<NamesrvState>,
    acl: Option<Arc<SharedAcl>>,
}

impl NamesrvProcessor {
    /// The NO_PERMISSION answer when the ACL refuses a change.
    fn acl_denial(&self, conn: &Connection, request: &RemotingCommand) -> Option<RemotingCommand> {
        let acl = self.acl.as_ref()?;
        if !changes_state(request.request_code_enum()) {
            return None;
        }
        let peer = conn.peer_addr().ip();
        let denied = acl.current().validate_admin(peer, request).err()?;
        acl.log_denial(peer, &format!("code {}", request.code), &denied);
        Some(
            RemotingCommand::error(ResponseCode::NO_PERMISSION, denied.to_string())
                .answering(request),
        )
    }
}

/// Requests that write files (KV config, config store): run off the async
/// workers so an fsync does not stall other connections.
fn writes_files(code: RequestCode) -> bool {
    matches!(
        code,
        RequestCode::PUT_KV_CONFIG
            | RequestCode::DELETE_KV_CONFIG
            | RequestCode::UPDATE_NAMESRV_CONFIG
    )
}

impl Processor for NamesrvProcessor {
    fn process(
        &self,
        conn: Connection,
        request: RemotingCommand,
    ) -> BoxFuture<Option<RemotingCommand>> {
        let span = tracing::debug_span!("request", code = request.code, opaque = request.opaque, peer = %conn.peer_addr());
        let conn_id = conn.id();
        if let Some(denied) = self.acl_denial(&conn, &request) {
            return Box::pin(async move { Some(denied) });
        }
        if writes_files(request.request_code_enum()) {
            let state = self.state.clone();
            return Box::pin(async move {
                let answer = tokio::task::spawn_blocking(move || {
                    span.in_scope(|| state.handle(conn_id, &request))
                });
                match answer.await {
                    Ok(response) => Some(response),
                    Err(e) => {
                        tracing::error!(error = %e, "request task failed");
                        None
                    }
                }
            });
        }
        let response = span.in_scope(|| self.state.handle(conn_id, &request));
        Box::pin(async move { Some(response) })
    }

    fn on_connection_closed(&self, conn: &Connection) {
        for gone in self.state.routes.connection_closed(conn.id()) {
            tracing::info!(cluster = %gone.cluster, broker = %gone.broker_name, addr = %gone.broker_addr,
                "broker removed: its connection closed");
        }
    }
}
