//! Talking to the controllers: find the leader (GET_METADATA_INFO on any
//! controller that answers), send requests there and look the leader up
//! again when it moved (CONTROLLER_NOT_LEADER or a dead connection), and
//! heartbeat every controller (reference controller.md §4.1, §6 trap 2).

use std::time::Duration;

use parking_lot::Mutex;
use protocol::header::controller::GetMetaDataResponseHeader;
use protocol::{RemotingCommand, RequestCode, ResponseCode};
use remoting::RemotingClient;

/// Brokers give controllers 3 s (Java's client timeout).
const TIMEOUT: Duration = Duration::from_secs(3);

/// Why a controller call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    /// No controller named a leader.
    #[error("no controller leader: {0}")]
    NoLeader(String),
    /// The leader could not be reached.
    #[error("controller unreachable: {0}")]
    Transport(String),
}

/// The controllers of `controllerAddr` and the leader last found.
pub struct ControllerLink {
    addrs: Vec<String>,
    client: RemotingClient,
    leader: Mutex<Option<String>>,
}

impl ControllerLink {
    pub fn new(addrs: Vec<String>, client: RemotingClient) -> ControllerLink {
        ControllerLink {
            addrs,
            client,
            leader: Mutex::new(None),
        }
    }

    /// Every controller address.
    pub fn addrs(&self) -> &[String] {
        &self.addrs
    }

    /// The leader last found, if any.
    pub fn cached_leader(&self) -> Option<String> {
        self.leader.lock().clone()
    }

    /// Asks each controller in turn who leads.
    ///
    /// # Errors
    /// [`LinkError::NoLeader`] when none answers with a leader.
    pub async fn find_leader(&self) -> Result<String, LinkError> {
        let mut why = Vec::new();
        for addr in &self.addrs {
            let req = RemotingCommand::request(RequestCode::CONTROLLER_GET_METADATA_INFO);
            match self.client.invoke(addr, req, TIMEOUT).await {
                Ok(r) if r.code == ResponseCode::SUCCESS.code() => {
                    match r.decode_header::<GetMetaDataResponseHeader>() {
                        Ok(h) => match h.controller_leader_address.filter(|a| !a.is_empty()) {
                            Some(leader) => {
                                *self.leader.lock() = Some(leader.clone());
                                return Ok(leader);
                            }
                            None => why.push(format!("{addr}: knows no leader")),
                        },
                        Err(e) => why.push(format!("{addr}: {e}")),
                    }
                }
                Ok(r) => why.push(format!(
                    "{addr}: code {} {}",
                    r.code,
                    r.remark.unwrap_or_default()
                )),
                Err(e) => why.push(format!("{addr}: {e}")),
            }
        }
        *self.leader.lock() = None;
        Err(LinkError::NoLeader(why.join("; ")))
    }

    /// Sends `make()` to the leader; looks the leader up again and retries
    /// once when the answer is CONTROLLER_NOT_LEADER or the call failed.
    ///
    /// # Errors
    /// No leader, or the leader could not be reached twice.
    pub async fn call(
        &self,
        make: impl Fn() -> RemotingCommand,
    ) -> Result<RemotingCommand, LinkError> {
        let mut last = LinkError::NoLeader("not asked yet".into());
        for _ in 0..2 {
            let leader = match self.cached_leader() {
                Some(l) => l,
                None => match self.find_leader().await {
                    Ok(l) => l,
                    Err(e) => {
                        last = e;
                        continue;
                    }
                },
            };
            match self.client.invoke(&leader, make(), TIMEOUT).await {
                Ok(r) if r.code == ResponseCode::CONTROLLER_NOT_LEADER.code() => {
                    *self.leader.lock() = None;
                    last = LinkError::NoLeader(format!("{leader} no longer leads"));
                }
                Ok(r) => return Ok(r),
                Err(e) => {
                    *self.leader.lock() = None;
                    last = LinkError::Transport(format!("{leader}: {e}"));
                }
            }
        }
        Err(last)
    }

    /// Sends `make()` one-way to every controller (heartbeats).
    pub async fn to_all_oneway(&self, make: impl Fn() -> RemotingCommand, timeout: Duration) {
        let mut calls = tokio::task::JoinSet::new();
        for addr in &self.addrs {
            let (client, addr, req) = (self.client.clone(), addr.clone(), make());
            calls.spawn(async move {
                match tokio::time::timeout(timeout, client.invoke_oneway(&addr, req)).await {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => {
                        tracing::debug!(controller = %addr, error = %e, "heartbeat not sent");
                    }
                    Err(_) => tracing::debug!(controller = %addr, "heartbeat send timed out"),
                }
            });
        }
        while calls.join_next().await.is_some() {}
    }
}
