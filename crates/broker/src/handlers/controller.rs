//! The controller-mode requests a broker answers: NOTIFY_BROKER_ROLE_CHANGED
//! (1008, one-way from the controller; queued for the replicas manager)
//! and GET_BROKER_EPOCH_CACHE (1007, `apogee admin getBrokerEpoch`).

use protocol::body::controller::{EpochEntry, EpochEntryCache, SyncStateSet};
use protocol::header::controller::MasterInfoHeader;
use protocol::RemotingCommand;

use crate::error::{BrokerError, BrokerResult};
use crate::state::BrokerState;

/// NOTIFY_BROKER_ROLE_CHANGED: the manager acts on it if its epoch is new.
pub fn notify_role_changed(
    state: &BrokerState,
    req: &RemotingCommand,
) -> BrokerResult<RemotingCommand> {
    if !state.role.controller_mode() {
        return Err(BrokerError::System(
            "this broker is not in controller mode (enableControllerMode=false)".into(),
        ));
    }
    let h: MasterInfoHeader = req.decode_header()?;
    let set = if req.body.is_empty() {
        SyncStateSet::default()
    } else {
        SyncStateSet::decode(&req.body)
            .map_err(|e| BrokerError::InvalidParameter(format!("the SyncStateSet body: {e}")))?
    };
    state.role.push_notice((h, set));
    Ok(RemotingCommand::success())
}

/// GET_BROKER_EPOCH_CACHE: the epoch file with each entry's end offset.
pub fn get_broker_epoch_cache(state: &BrokerState) -> BrokerResult<RemotingCommand> {
    let Some(epochs) = state.epochs.as_ref() else {
        return Err(BrokerError::System(
            "this broker is not in controller mode and keeps no epoch file".into(),
        ));
    };
    let max = state.store.commitlog_max_offset() as i64;
    let entries = epochs.entries();
    let epoch_list = entries
        .iter()
        .enumerate()
        .map(|(i, e)| EpochEntry {
            epoch: e.epoch,
            start_offset: e.start_offset as i64,
            end_offset: entries
                .get(i + 1)
                .map_or(i64::MAX, |n| n.start_offset as i64),
        })
        .collect();
    let body = EpochEntryCache {
        cluster_name: state.config.broker_cluster_name.clone(),
        broker_name: state.config.broker_name.clone(),
        broker_id: state.broker_id(),
        epoch_list,
        max_offset: max,
    };
    Ok(RemotingCommand::success().with_body(body.encode()))
}

/// Controller mode: epochs and in-sync state (shown by `haStatus`).
pub fn runtime_pairs(state: &BrokerState) -> Vec<(&'static str, String)> {
    if !state.role.controller_mode() {
        return Vec::new();
    }
    let r = state.role.replicas();
    let ids = |s: &std::collections::BTreeSet<i64>| {
        s.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
    };
    let epochs = state
        .epochs
        .as_ref()
        .map(|e| {
            e.entries()
                .iter()
                .map(|e| format!("{}-{}", e.epoch, e.start_offset))
                .collect::<Vec<_>>()
                .join(";")
        })
        .unwrap_or_default();
    vec![
        ("haControllerMode", "true".into()),
        (
            "haControllerBrokerId",
            r.controller_id.map_or("-1".into(), |i| i.to_string()),
        ),
        ("haMasterEpoch", r.master_epoch.to_string()),
        (
            "haMasterBrokerId",
            r.master_id.map_or("-1".into(), |i| i.to_string()),
        ),
        ("haSyncStateSet", ids(&r.sync_state_set)),
        ("haSyncStateSetEpoch", r.sync_state_set_epoch.to_string()),
        (
            "haSyncStateSetPending",
            r.pending.as_ref().map(ids).unwrap_or_default(),
        ),
        ("haEpochList", epochs),
    ]
}
