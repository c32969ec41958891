//! Raft RPCs between controllers over our remoting client: the request
//! body is the openraft request as JSON under a private code (see
//! [`super::codes`]); the answer's body is `Result<response, RaftError>` as JSON.

use std::time::Duration;

use openraft::error::{
    InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError, Unreachable,
};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use openraft::BasicNode;
use protocol::{RemotingCommand, ResponseCode};
use remoting::{RemotingClient, RemotingError};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::{codes, TypeConfig};

/// Makes one [`PeerLink`] per peer; all share one connection pool.
#[derive(Clone)]
pub struct Network {
    client: RemotingClient,
}

impl Network {
    /// Raft traffic through `client`'s pool.
    pub fn new(client: RemotingClient) -> Network {
        Network { client }
    }
}

/// The link to one peer.
pub struct PeerLink {
    client: RemotingClient,
    target: u64,
    addr: String,
}

impl RaftNetworkFactory<TypeConfig> for Network {
    type Network = PeerLink;

    async fn new_client(&mut self, target: u64, node: &BasicNode) -> PeerLink {
        PeerLink {
            client: self.client.clone(),
            target,
            addr: node.addr.clone(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct WireError(String);

impl PeerLink {
    async fn call<Req, Resp, E>(
        &self,
        code: i32,
        req: &Req,
        timeout: Duration,
    ) -> Result<Resp, RPCError<u64, BasicNode, RaftError<u64, E>>>
    where
        Req: Serialize,
        Resp: DeserializeOwned,
        E: std::error::Error + DeserializeOwned,
    {
        let body = serde_json::to_vec(req).map_err(|e| RPCError::Network(NetworkError::new(&e)))?;
        let request = RemotingCommand::request_code(code).with_body(body);
        let answer = self
            .client
            .invoke(&self.addr, request, timeout)
            .await
            .map_err(|e| match e {
                // Nobody listening: back off rather than hammer a dead peer.
                RemotingError::Connect { .. } => RPCError::Unreachable(Unreachable::new(&e)),
                other => RPCError::Network(NetworkError::new(&other)),
            })?;
        if answer.code != ResponseCode::SUCCESS.code() {
            let remark = answer.remark.unwrap_or_default();
            return Err(RPCError::Network(NetworkError::new(&WireError(format!(
                "peer {} answered code {}: {remark}",
                self.addr, answer.code
            )))));
        }
        let result: Result<Resp, RaftError<u64, E>> = serde_json::from_slice(&answer.body)
            .map_err(|e| RPCError::Network(NetworkError::new(&e)))?;
        result.map_err(|e| RPCError::RemoteError(RemoteError::new(self.target, e)))
    }
}

impl RaftNetwork<TypeConfig> for PeerLink {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<u64>, RPCError<u64, BasicNode, RaftError<u64>>> {
        self.call(codes::APPEND_ENTRIES, &rpc, option.hard_ttl())
            .await
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<
        InstallSnapshotResponse<u64>,
        RPCError<u64, BasicNode, RaftError<u64, InstallSnapshotError>>,
    > {
        self.call(codes::INSTALL_SNAPSHOT, &rpc, option.hard_ttl())
            .await
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<u64>,
        option: RPCOption,
    ) -> Result<VoteResponse<u64>, RPCError<u64, BasicNode, RaftError<u64>>> {
        self.call(codes::VOTE, &rpc, option.hard_ttl()).await
    }
}
