//! The controller's request handlers (Java's ControllerRequestProcessor).
//! Followers answer CONTROLLER_NOT_LEADER (remark: the leader's address) to
//! everything but BROKER_HEARTBEAT, GET_METADATA_INFO and the config pair.

use std::collections::BTreeSet;

use protocol::body::controller::{
    decode_broker_names, BrokerMemberGroup, BrokerReplicasInfo, ElectMasterResponseBody,
    ReplicaIdentity, ReplicasInfo, SyncStateSet,
};
use protocol::header::controller::{
    AlterSyncStateSetRequestHeader, AlterSyncStateSetResponseHeader, ApplyBrokerIdRequestHeader,
    ApplyBrokerIdResponseHeader, BrokerHeartbeatRequestHeader, CleanBrokerDataRequestHeader,
    ElectMasterRequestHeader, GetMetaDataResponseHeader, GetNextBrokerIdRequestHeader,
    GetNextBrokerIdResponseHeader, GetReplicaInfoRequestHeader, MasterInfoHeader,
    RegisterBrokerToControllerRequestHeader,
};
use protocol::{RemotingCommand, RequestCode, ResponseCode};

use crate::error::ControllerError;
use crate::liveness::{Heartbeat, DEFAULT_HEARTBEAT_TIMEOUT_MS};
use crate::node::{Elected, Node, Trigger};
use crate::replicas::{BrokerSet, Command, Refusal};

type Answer = Result<RemotingCommand, ControllerError>;

/// Answers one controller request, or None for a code this is not for.
pub async fn dispatch(node: &Node, conn_id: u64, req: &RemotingCommand) -> Option<RemotingCommand> {
    use RequestCode as C;
    let result = match req.request_code_enum() {
        C::BROKER_HEARTBEAT => heartbeat(node, conn_id, req),
        C::CONTROLLER_GET_METADATA_INFO => Ok(metadata(node)),
        C::GET_CONTROLLER_CONFIG => {
            Ok(RemotingCommand::success().with_body(node.config.read().to_properties()))
        }
        C::UPDATE_CONTROLLER_CONFIG => update_config(node, req),
        C::CONTROLLER_GET_NEXT_BROKER_ID => next_broker_id(node, req).await,
        C::CONTROLLER_APPLY_BROKER_ID => apply_broker_id(node, req).await,
        C::CONTROLLER_REGISTER_BROKER => register(node, req).await,
        C::CONTROLLER_ELECT_MASTER => elect(node, req).await,
        C::CONTROLLER_ALTER_SYNC_STATE_SET => alter(node, req).await,
        C::CONTROLLER_GET_REPLICA_INFO => replica_info(node, req).await,
        C::CONTROLLER_GET_SYNC_STATE_DATA => sync_state_data(node, req).await,
        C::CLEAN_BROKER_DATA => clean(node, req).await,
        _ => return None,
    };
    Some(result.unwrap_or_else(|e| {
        tracing::debug!(code = req.code, error = %e, "controller request failed");
        e.to_response()
    }))
}

fn heartbeat(node: &Node, conn_id: u64, req: &RemotingCommand) -> Answer {
    let h: BrokerHeartbeatRequestHeader = req.decode_header()?;
    let broker_id = h
        .broker_id
        .ok_or_else(|| ControllerError::InvalidRequest("Heart beat with empty brokerId".into()))?;
    node.liveness.beat(
        Heartbeat {
            cluster: h.cluster_name,
            broker_name: h.broker_name,
            broker_id,
            addr: h.broker_addr,
            epoch: h.epoch.unwrap_or(-1),
            max_offset: h.max_offset.unwrap_or(-1),
            confirm_offset: h.confirm_offset.unwrap_or(-1),
            timeout_ms: h
                .heartbeat_timeout_mills
                .filter(|t| *t > 0)
                .unwrap_or(DEFAULT_HEARTBEAT_TIMEOUT_MS),
            priority: h.election_priority.unwrap_or(i32::MAX),
            conn_id,
        },
        protocol::clock::now_ms(),
    );
    Ok(RemotingCommand::success().with_remark("Heart beat success"))
}

fn metadata(node: &Node) -> RemotingCommand {
    let config = node.config.read();
    let leader = node.current_leader();
    let leader_peer = leader
        .and_then(|id| usize::try_from(id).ok())
        .and_then(|i| config.peers.get(i));
    let peers: String = config
        .peers
        .iter()
        .map(|p| format!("{}:{};", p.name, p.addr))
        .collect();
    RemotingCommand::success().with_header(&GetMetaDataResponseHeader {
        group: Some(config.group.clone()),
        controller_leader_id: leader_peer.map(|p| p.name.clone()),
        controller_leader_address: leader_peer.map(|p| p.addr.clone()),
        is_leader: leader == Some(node.self_id),
        peers: Some(peers),
    })
}

fn update_config(node: &Node, req: &RemotingCommand) -> Answer {
    let text = std::str::from_utf8(&req.body)
        .map_err(|_| ControllerError::InvalidRequest("the config body is not UTF-8".into()))?;
    let pairs = protocol::java_properties::parse(text)?;
    let mut config = node.config.read().clone();
    let black: Vec<String> = config
        .config_black_list
        .split(';')
        .map(str::trim)
        .map(str::to_owned)
        .collect();
    for (key, value) in &pairs {
        if key == "rocketmqHome" || black.iter().any(|b| b == key) {
            return Err(ControllerError::ConfigBlackListed(key.clone()));
        }
        if matches!(
            key.as_str(),
            "controllerDLegerGroup"
                | "controllerDLegerPeers"
                | "controllerDLegerSelfId"
                | "controllerStorePath"
        ) {
            return Err(ControllerError::InvalidRequest(format!(
                "`{key}` cannot change at run time; edit the file and restart"
            )));
        }
        config.set(key, value)?;
    }
    config.validate()?;
    *node.config.write() = config;
    Ok(RemotingCommand::success())
}

async fn next_broker_id(node: &Node, req: &RemotingCommand) -> Answer {
    let h: GetNextBrokerIdRequestHeader = req.decode_header()?;
    node.ensure_leader().await?;
    let next = node.applied.read().replicas.next_broker_id(&h.broker_name);
    Ok(
        RemotingCommand::success().with_header(&GetNextBrokerIdResponseHeader {
            cluster_name: Some(h.cluster_name),
            broker_name: Some(h.broker_name),
            next_broker_id: Some(next),
        }),
    )
}

async fn apply_broker_id(node: &Node, req: &RemotingCommand) -> Answer {
    let h: ApplyBrokerIdRequestHeader = req.decode_header()?;
    let address = h
        .register_check_code
        .split_once(';')
        .map(|(a, _)| a.to_owned())
        .filter(|a| !a.is_empty())
        .ok_or_else(|| {
            ControllerError::InvalidRequest(format!(
                "registerCheckCode `{}` is not ip:port;millis",
                h.register_check_code
            ))
        })?;
    node.ensure_leader().await?;
    node.commit(Command::ApplyBrokerId {
        cluster: h.cluster_name.clone(),
        broker_name: h.broker_name.clone(),
        id: h.applied_broker_id,
        address,
        check_code: h.register_check_code,
    })
    .await?;
    Ok(
        RemotingCommand::success().with_header(&ApplyBrokerIdResponseHeader {
            cluster_name: Some(h.cluster_name),
            broker_name: Some(h.broker_name),
        }),
    )
}

/// The master fields of a set (only when the master is alive, if `alive_only`).
fn master_header(node: &Node, name: &str, set: &BrokerSet, alive_only: bool) -> MasterInfoHeader {
    let now = protocol::clock::now_ms();
    let master = set
        .master
        .filter(|m| !alive_only || node.liveness.alive(name, *m, now).is_some());
    MasterInfoHeader {
        cluster_name: Some(set.cluster.clone()),
        broker_name: Some(name.to_owned()),
        master_broker_id: master,
        master_address: master.and(set.master_addr().map(str::to_owned)),
        master_epoch: master.map(|_| set.master_epoch),
        sync_state_set_epoch: master.map(|_| set.sync_state_set_epoch),
    }
}

fn sync_state_body(set: &BrokerSet) -> Vec<u8> {
    SyncStateSet {
        sync_state_set: set.sync_state_set.clone(),
        sync_state_set_epoch: set.sync_state_set_epoch,
    }
    .encode()
}

async fn register(node: &Node, req: &RemotingCommand) -> Answer {
    let h: RegisterBrokerToControllerRequestHeader = req.decode_header()?;
    node.ensure_leader().await?;
    let set = node
        .broker_set(&h.broker_name)
        .ok_or_else(|| Refusal::NeedRegister {
            broker_name: h.broker_name.clone(),
            id: h.broker_id,
        })?;
    let Some((addr, _)) = set.brokers.get(&h.broker_id) else {
        return Err(Refusal::NeedRegister {
            broker_name: h.broker_name,
            id: h.broker_id,
        }
        .into());
    };
    let set = if *addr == h.broker_address {
        set
    } else {
        node.commit(Command::UpdateBrokerAddress {
            broker_name: h.broker_name.clone(),
            id: h.broker_id,
            address: h.broker_address.clone(),
        })
        .await?
        .unwrap_or(set)
    };
    Ok(RemotingCommand::success()
        .with_header(&master_header(node, &h.broker_name, &set, true))
        .with_body(sync_state_body(&set)))
}

async fn elect(node: &Node, req: &RemotingCommand) -> Answer {
    let h: ElectMasterRequestHeader = req.decode_header()?;
    node.ensure_leader().await?;
    let designate = h.designate_elect.unwrap_or(false);
    let id = (h.broker_id > 0).then_some(h.broker_id);
    if designate && id.is_none() {
        return Err(ControllerError::InvalidRequest(format!(
            "designateElect needs a brokerId, got {}",
            h.broker_id
        )));
    }
    let preferred = if designate { id } else { None };
    let _guard = node.decide.lock().await;
    match node
        .elect(&h.broker_name, id, preferred, Trigger::Request)
        .await?
    {
        Elected::New(set) => {
            let body = ElectMasterResponseBody {
                broker_member_group: Some(BrokerMemberGroup {
                    cluster: set.cluster.clone(),
                    broker_name: h.broker_name.clone(),
                    broker_addrs: set
                        .brokers
                        .iter()
                        .map(|(id, (a, _))| (*id, a.clone()))
                        .collect(),
                }),
                sync_state_set: set.sync_state_set.clone(),
            };
            Ok(RemotingCommand::success()
                .with_header(&master_header(node, &h.broker_name, &set, false))
                .with_body(body.encode()))
        }
        Elected::StillMaster(set) => {
            let body = ElectMasterResponseBody {
                broker_member_group: None,
                sync_state_set: set.sync_state_set.clone(),
            };
            Ok(RemotingCommand::error(
                ResponseCode::CONTROLLER_MASTER_STILL_EXIST,
                "The old master is still alive, no need to elect a new one",
            )
            .with_header(&master_header(node, &h.broker_name, &set, false))
            .with_body(body.encode()))
        }
    }
}

async fn alter(node: &Node, req: &RemotingCommand) -> Answer {
    let h: AlterSyncStateSetRequestHeader = req.decode_header()?;
    let body = SyncStateSet::decode(&req.body)?;
    node.ensure_leader().await?;
    let _guard = node.decide.lock().await;
    let set = node
        .broker_set(&h.broker_name)
        .ok_or_else(|| Refusal::AlterFailed {
            broker_name: h.broker_name.clone(),
            reason: "the broker set does not exist".into(),
        })?;
    let now = protocol::clock::now_ms();
    for id in &body.sync_state_set {
        if !set.brokers.contains_key(id) {
            return Err(Refusal::InvalidReplicas {
                broker_name: h.broker_name,
                id: *id,
            }
            .into());
        }
        if node.liveness.alive(&h.broker_name, *id, now).is_none() {
            return Err(ControllerError::BrokerNotAlive(format!(
                "{}/{id}",
                h.broker_name
            )));
        }
    }
    let after = node
        .commit(Command::AlterSyncStateSet {
            broker_name: h.broker_name.clone(),
            master: h.master_broker_id,
            master_epoch: h.master_epoch,
            sync_state_set_epoch: body.sync_state_set_epoch,
            new_set: body.sync_state_set,
        })
        .await?
        .ok_or_else(|| ControllerError::Raft("alter applied without a set".into()))?;
    Ok(RemotingCommand::success()
        .with_header(&AlterSyncStateSetResponseHeader {
            new_sync_state_set_epoch: after.sync_state_set_epoch,
        })
        .with_body(sync_state_body(&after)))
}

async fn replica_info(node: &Node, req: &RemotingCommand) -> Answer {
    let h: GetReplicaInfoRequestHeader = req.decode_header()?;
    node.ensure_leader().await?;
    let set = node
        .broker_set(&h.broker_name)
        .ok_or_else(|| ControllerError::MetadataNotExist(h.broker_name.clone()))?;
    Ok(RemotingCommand::success()
        .with_header(&master_header(node, &h.broker_name, &set, false))
        .with_body(sync_state_body(&set)))
}

async fn sync_state_data(node: &Node, req: &RemotingCommand) -> Answer {
    if req.body.is_empty() {
        return Err(ControllerError::InvalidRequest(
            "the body must list broker names".into(),
        ));
    }
    let names = decode_broker_names(&req.body)?;
    node.ensure_leader().await?;
    let now = protocol::clock::now_ms();
    let mut info = BrokerReplicasInfo::default();
    for name in names {
        let Some(set) = node.broker_set(&name) else {
            continue;
        };
        let replica = |id: i64, addr: &str| ReplicaIdentity {
            broker_name: name.clone(),
            broker_id: id,
            broker_address: addr.to_owned(),
            alive: node.liveness.alive(&name, id, now).is_some(),
        };
        let (in_sync, not_in_sync): (Vec<_>, Vec<_>) = set
            .brokers
            .iter()
            .map(|(id, (addr, _))| replica(*id, addr))
            .partition(|r| set.sync_state_set.contains(&r.broker_id));
        info.replicas_info_table.insert(
            name.clone(),
            ReplicasInfo {
                master_broker_id: set.master,
                master_address: set.master_addr().map(str::to_owned),
                master_epoch: set.master_epoch,
                sync_state_set_epoch: set.sync_state_set_epoch,
                in_sync_replicas: in_sync,
                not_in_sync_replicas: not_in_sync,
            },
        );
    }
    Ok(RemotingCommand::success().with_body(info.encode()))
}

fn parse_ids(broker_name: &str, text: &str) -> Result<BTreeSet<i64>, ControllerError> {
    text.split(';')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<i64>().map_err(|_| {
                Refusal::CleanFailed {
                    broker_name: broker_name.to_owned(),
                    reason: format!("brokerControllerIdsToClean has a bad id `{s}`"),
                }
                .into()
            })
        })
        .collect()
}

async fn clean(node: &Node, req: &RemotingCommand) -> Answer {
    let h: CleanBrokerDataRequestHeader = req.decode_header()?;
    let ids = match h.broker_controller_ids_to_clean.as_deref() {
        Some(text) => Some(parse_ids(&h.broker_name, text)?).filter(|i| !i.is_empty()),
        None => None,
    };
    node.ensure_leader().await?;
    let _guard = node.decide.lock().await;
    let refuse = |reason: String| -> ControllerError {
        Refusal::CleanFailed {
            broker_name: h.broker_name.clone(),
            reason,
        }
        .into()
    };
    let set = node
        .broker_set(&h.broker_name)
        .ok_or_else(|| refuse("the broker set does not exist".into()))?;
    if !h.is_clean_living_broker.unwrap_or(false) {
        let now = protocol::clock::now_ms();
        let targets: Vec<i64> = match &ids {
            Some(ids) => ids.iter().copied().collect(),
            None => set.brokers.keys().copied().collect(),
        };
        if let Some(id) = targets
            .iter()
            .find(|id| node.liveness.alive(&h.broker_name, **id, now).is_some())
        {
            return Err(refuse(format!("broker {id} is still alive")));
        }
    }
    node.commit(Command::CleanBrokerData {
        broker_name: h.broker_name.clone(),
        ids: ids.clone(),
    })
    .await?;
    let cleaned: Vec<i64> = ids.map_or_else(
        || set.brokers.keys().copied().collect(),
        |i| i.into_iter().collect(),
    );
    for id in cleaned {
        node.liveness.remove(&h.broker_name, id);
    }
    Ok(RemotingCommand::success())
}
