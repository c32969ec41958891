//! Controller-mode commands, spoken to the controllers directly (`-a`, the
//! controllers' peer addresses, `;`-separated): getControllerMetaData,
//! getControllerConfig, updateControllerConfig, getSyncStateSet,
//! electMaster. As mqadmin, the leader-only ones first ask
//! CONTROLLER_GET_METADATA_INFO which controller leads.

use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use clap::Args;
use protocol::body::controller::{BrokerReplicasInfo, ElectMasterResponseBody};
use protocol::header::controller::{
    ElectMasterRequestHeader, GetMetaDataResponseHeader, MasterInfoHeader,
};
use protocol::{RemotingCommand, RequestCode, ResponseCode};
use remoting::{ClientConfig, RemotingClient};
use serde_json::json;

use super::table::{key_values, Table};
use super::Report;

const TIMEOUT: Duration = Duration::from_secs(5);
/// How long a leader-only command waits for the group to have a leader.
const LEADER_WAIT: Duration = Duration::from_secs(10);

/// `-a`: the controllers.
#[derive(Args, Debug)]
pub struct ControllerAddrs {
    /// Controller address(es), `;`-separated (their controllerDLegerPeers entries).
    #[arg(short = 'a', long = "controllerAddress")]
    pub addrs: String,
}

impl ControllerAddrs {
    fn list(&self) -> Result<Vec<String>> {
        let list: Vec<String> = self
            .addrs
            .split(';')
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .map(str::to_owned)
            .collect();
        if list.is_empty() {
            bail!("-a names no controller address");
        }
        Ok(list)
    }
}

#[derive(Args, Debug)]
pub struct UpdateConfigArgs {
    #[command(flatten)]
    pub addrs: ControllerAddrs,
    /// Key to set.
    #[arg(short = 'k', long = "key")]
    pub key: String,
    /// New value.
    #[arg(short = 'v', long = "value")]
    pub value: String,
}

#[derive(Args, Debug)]
pub struct SyncStateSetArgs {
    #[command(flatten)]
    pub addrs: ControllerAddrs,
    /// Broker name(s), `,`-separated.
    #[arg(short = 'b', long = "brokerName")]
    pub broker_names: String,
}

#[derive(Args, Debug)]
pub struct ElectMasterArgs {
    #[command(flatten)]
    pub addrs: ControllerAddrs,
    /// Cluster name.
    #[arg(short = 'c', long = "clusterName", default_value = "")]
    pub cluster: String,
    /// Broker name.
    #[arg(long = "bn", alias = "brokerName")]
    pub broker_name: String,
    /// The controller-assigned id of the broker to make master.
    #[arg(short = 'b', long = "brokerId")]
    pub broker_id: i64,
}

fn client() -> RemotingClient {
    RemotingClient::new(ClientConfig::default(), None)
}

async fn invoke(
    client: &RemotingClient,
    addr: &str,
    req: RemotingCommand,
) -> Result<RemotingCommand> {
    client
        .invoke(addr, req, TIMEOUT)
        .await
        .with_context(|| format!("controller {addr} did not answer"))
}

fn check(r: &RemotingCommand, what: &str) -> Result<()> {
    if r.code == ResponseCode::SUCCESS.code() {
        return Ok(());
    }
    Err(anyhow!(
        "{what}: {} ({}) {}",
        ResponseCode::from_code(r.code).name(),
        r.code,
        r.remark.as_deref().unwrap_or("")
    ))
}

async fn metadata(client: &RemotingClient, addr: &str) -> Result<GetMetaDataResponseHeader> {
    let r = invoke(
        client,
        addr,
        RemotingCommand::request(RequestCode::CONTROLLER_GET_METADATA_INFO),
    )
    .await?;
    check(&r, &format!("metadata of {addr}"))?;
    Ok(r.decode_header()?)
}

/// The leader's address, asked of each listed controller in turn.
async fn leader(client: &RemotingClient, addrs: &[String]) -> Result<String> {
    let mut last = None;
    for addr in addrs {
        match metadata(client, addr).await {
            Ok(h) => match h.controller_leader_address {
                Some(leader) if !leader.is_empty() => return Ok(leader),
                _ => last = Some(anyhow!("controller {addr} knows no leader (no quorum?)")),
            },
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| anyhow!("no controller address")))
}

/// Sends `req` to the leader. While the group is electing (a follower
/// still names a dead leader, or the leader answers CONTROLLER_NOT_LEADER)
/// it asks again, for up to [`LEADER_WAIT`].
async fn to_leader(
    client: &RemotingClient,
    addrs: &[String],
    req: RemotingCommand,
) -> Result<RemotingCommand> {
    let deadline = std::time::Instant::now() + LEADER_WAIT;
    loop {
        let attempt = match leader(client, addrs).await {
            Ok(lead) => invoke(client, &lead, req.clone()).await,
            Err(e) => Err(e),
        };
        // NOT_LEADER, or a leader still confirming itself with a quorum.
        let settling = |r: &RemotingCommand| {
            r.code == ResponseCode::CONTROLLER_NOT_LEADER.code()
                || r.remark
                    .as_deref()
                    .is_some_and(|m| m.contains("cannot commit"))
        };
        match attempt {
            Ok(r) if !settling(&r) => return Ok(r),
            Ok(r) if std::time::Instant::now() >= deadline => return Ok(r),
            Err(e) if std::time::Instant::now() >= deadline => return Err(e),
            _ => tokio::time::sleep(Duration::from_millis(300)).await,
        }
    }
}

pub async fn get_metadata(a: &ControllerAddrs) -> Result<Report> {
    let client = client();
    let mut text = String::new();
    let mut json = serde_json::Map::new();
    for addr in a.list()? {
        let h = metadata(&client, &addr).await;
        match h {
            Ok(h) => {
                text.push_str(&format!("#ControllerAddress {addr}\n"));
                text.push_str(&key_values([
                    ("#ControllerGroup", h.group.clone().unwrap_or_default()),
                    (
                        "#ControllerLeaderId",
                        h.controller_leader_id.clone().unwrap_or_default(),
                    ),
                    (
                        "#ControllerLeaderAddress",
                        h.controller_leader_address.clone().unwrap_or_default(),
                    ),
                    ("#IsLeader", h.is_leader.to_string()),
                    ("#Peers", h.peers.clone().unwrap_or_default()),
                ]));
                json.insert(
                    addr,
                    json!({"group": h.group, "controllerLeaderId": h.controller_leader_id,
                        "controllerLeaderAddress": h.controller_leader_address, "isLeader": h.is_leader, "peers": h.peers}),
                );
            }
            Err(e) => {
                text.push_str(&format!("#ControllerAddress {addr}: {e:#}\n"));
                json.insert(addr, json!({"error": format!("{e:#}")}));
            }
        }
    }
    client.shutdown().await;
    Ok(Report {
        text,
        json: serde_json::Value::Object(json),
    })
}

pub async fn get_config(a: &ControllerAddrs) -> Result<Report> {
    let client = client();
    let mut text = String::new();
    let mut json = serde_json::Map::new();
    for addr in a.list()? {
        let r = invoke(
            &client,
            &addr,
            RemotingCommand::request(RequestCode::GET_CONTROLLER_CONFIG),
        )
        .await?;
        check(&r, &format!("config of {addr}"))?;
        let body = String::from_utf8_lossy(&r.body).into_owned();
        text.push_str(&format!("============{addr}============\n{body}"));
        json.insert(addr, json!(body));
    }
    client.shutdown().await;
    Ok(Report {
        text,
        json: serde_json::Value::Object(json),
    })
}

pub async fn update_config(a: &UpdateConfigArgs) -> Result<Report> {
    let client = client();
    let mut text = String::new();
    for addr in a.addrs.list()? {
        let body = format!("{}={}\n", a.key, a.value);
        let r = invoke(
            &client,
            &addr,
            RemotingCommand::request(RequestCode::UPDATE_CONTROLLER_CONFIG).with_body(body),
        )
        .await?;
        check(&r, &format!("update config of {addr}"))?;
        text.push_str(&format!("update controller config success: {addr}\n"));
    }
    client.shutdown().await;
    Ok(Report {
        text,
        json: json!({"updated": a.addrs.list()?, "key": a.key, "value": a.value}),
    })
}

pub async fn get_sync_state_set(a: &SyncStateSetArgs) -> Result<Report> {
    let client = client();
    let names: Vec<&str> = a
        .broker_names
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .collect();
    let body = serde_json::to_vec(&names)?;
    let req = RemotingCommand::request(RequestCode::CONTROLLER_GET_SYNC_STATE_DATA).with_body(body);
    let r = to_leader(&client, &a.addrs.list()?, req).await?;
    client.shutdown().await;
    check(&r, "getSyncStateSet")?;
    let info = BrokerReplicasInfo::decode(&r.body)?;
    let mut t = Table::new([
        "#brokerName",
        "#brokerId",
        "#address",
        "#alive",
        "#inSync",
        "#master",
        "#masterEpoch",
        "#syncStateSetEpoch",
    ]);
    for (name, set) in &info.replicas_info_table {
        for (replicas, in_sync) in [
            (&set.in_sync_replicas, true),
            (&set.not_in_sync_replicas, false),
        ] {
            for r in replicas {
                t.row([
                    name.clone(),
                    r.broker_id.to_string(),
                    r.broker_address.clone(),
                    r.alive.to_string(),
                    in_sync.to_string(),
                    (set.master_broker_id == Some(r.broker_id)).to_string(),
                    set.master_epoch.to_string(),
                    set.sync_state_set_epoch.to_string(),
                ]);
            }
        }
    }
    let json = serde_json::from_slice(&r.body).unwrap_or(serde_json::Value::Null);
    Ok(Report {
        text: t.render(),
        json,
    })
}

pub async fn elect_master(a: &ElectMasterArgs) -> Result<Report> {
    let client = client();
    let req = RemotingCommand::request_with_header(
        RequestCode::CONTROLLER_ELECT_MASTER,
        &ElectMasterRequestHeader {
            cluster_name: Some(a.cluster.clone()),
            broker_name: a.broker_name.clone(),
            broker_id: a.broker_id,
            designate_elect: Some(true),
            invoke_time: Some(protocol::clock::now_ms()),
        },
    );
    let r = to_leader(&client, &a.addrs.list()?, req).await?;
    client.shutdown().await;
    if r.code != ResponseCode::CONTROLLER_MASTER_STILL_EXIST.code() {
        check(
            &r,
            &format!("electMaster {} {}", a.broker_name, a.broker_id),
        )?;
    }
    let h: MasterInfoHeader = r.decode_header()?;
    let body = ElectMasterResponseBody::decode(&r.body).unwrap_or_default();
    let text = key_values([
        ("#BrokerName", a.broker_name.clone()),
        (
            "#MasterBrokerId",
            h.master_broker_id
                .map(|i| i.to_string())
                .unwrap_or_default(),
        ),
        (
            "#MasterAddress",
            h.master_address.clone().unwrap_or_default(),
        ),
        (
            "#MasterEpoch",
            h.master_epoch.map(|i| i.to_string()).unwrap_or_default(),
        ),
        (
            "#SyncStateSetEpoch",
            h.sync_state_set_epoch
                .map(|i| i.to_string())
                .unwrap_or_default(),
        ),
        ("#SyncStateSet", format!("{:?}", body.sync_state_set)),
    ]);
    Ok(Report {
        text,
        json: json!({"brokerName": a.broker_name, "masterBrokerId": h.master_broker_id, "masterAddress": h.master_address,
            "masterEpoch": h.master_epoch, "syncStateSetEpoch": h.sync_state_set_epoch, "syncStateSet": body.sync_state_set}),
    })
}
