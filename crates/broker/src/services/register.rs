//! Registration with every NameServer: at start, every
//! `registerNameServerPeriod` seconds, and soon after the topic table
//! changes; unregistration at shutdown.

use std::sync::Arc;
use std::time::Duration;

use protocol::body::register::RegisterBrokerBody;
use protocol::header::namesrv::{
    RegisterBrokerRequestHeader, RegisterBrokerResponseHeader, UnregisterBrokerRequestHeader,
};
use protocol::message::sysflag::perm;
use protocol::{RemotingCommand, RequestCode, ResponseCode};
use tokio_util::sync::CancellationToken;

use crate::state::BrokerState;
use crate::tables::ha::RegisterOutcome;

/// Registers with every NameServer once, in parallel; returns the first
/// answer that named a master (slaves need it) and logs failures.
pub async fn register_all(state: &Arc<BrokerState>) -> RegisterOutcome {
    let namesrvs = state.config.namesrv_list();
    let mut wrapper = state.topics.wrapper();
    if state.role.controller_mode() {
        // The NameServer lets a newer epoch's master take id 0 (§4.4).
        wrapper.data_version.state_version = i64::from(state.role.master_epoch());
    }
    // A broker whose write (or read) permission was taken away advertises
    // every topic without it, so clients route around it (as Java does).
    let broker_perm = state.live.broker().broker_permission;
    if broker_perm & perm::READ_WRITE != perm::READ_WRITE {
        for c in wrapper.topic_config_table.values_mut() {
            c.perm &= broker_perm;
        }
    }
    let body = RegisterBrokerBody {
        topic_config_serialize_wrapper: wrapper,
        filter_server_list: Vec::new(),
    };
    let body = bytes::Bytes::from(body.encode());
    let header = RegisterBrokerRequestHeader {
        broker_name: state.config.broker_name.clone(),
        broker_addr: state.advertised_addr.clone(),
        cluster_name: state.config.broker_cluster_name.clone(),
        ha_server_addr: state.ha_addr.clone(),
        broker_id: state.broker_id(),
        heartbeat_timeout_millis: None,
        enable_acting_master: Some(false),
        compressed: Some(false),
        body_crc32: Some(protocol::message::body_crc(&body) as i32),
    };
    let timeout = Duration::from_millis(state.config.register_broker_timeout_mills);
    let mut calls = tokio::task::JoinSet::new();
    for addr in namesrvs {
        let request = RemotingCommand::request_with_header(RequestCode::REGISTER_BROKER, &header)
            .with_body(body.clone());
        let client = state.client.clone();
        calls.spawn(async move {
            let result = client.invoke(&addr, request, timeout).await;
            (addr, result)
        });
    }
    let mut results = Vec::new();
    while let Some(joined) = calls.join_next().await {
        if let Ok(r) = joined {
            results.push(r);
        }
    }
    let mut outcome = RegisterOutcome::default();
    for (addr, result) in results {
        match result {
            Ok(resp) if resp.code == ResponseCode::SUCCESS.code() => {
                if let Ok(h) = resp.decode_header::<RegisterBrokerResponseHeader>() {
                    if outcome.master_addr.is_none() {
                        outcome.master_addr = h.master_addr.filter(|s| !s.is_empty());
                        outcome.ha_server_addr = h.ha_server_addr.filter(|s| !s.is_empty());
                    }
                }
                tracing::debug!(namesrv = %addr, "registered");
            }
            Ok(resp) => tracing::warn!(
                namesrv = %addr,
                code = resp.code,
                remark = resp.remark.as_deref().unwrap_or(""),
                "registration refused"
            ),
            Err(e) => tracing::warn!(namesrv = %addr, error = %e, "registration failed"),
        }
    }
    outcome
}

/// Passes `result` on after registering with the NameServers when it is a
/// success, so the answer to a topic creation reaches the admin only once
/// the NameServers route the topic: a producer asking right after then gets
/// the new queue count, not the TBW102 template's (whose extra queue ids
/// this broker would refuse). Bounded, so an unreachable NameServer delays
/// the answer by at most two seconds; the loop in `run` registers anyway.
pub async fn registered_then<T>(
    state: &Arc<BrokerState>,
    result: crate::error::BrokerResult<T>,
) -> crate::error::BrokerResult<T> {
    if result.is_ok() && !state.config.namesrv_list().is_empty() {
        let _ = tokio::time::timeout(Duration::from_secs(2), register_all(state)).await;
    }
    result
}

/// The registration loop: registers now, then periodically and after topic
/// changes, until cancelled; then unregisters.
pub async fn run(state: Arc<BrokerState>, cancel: CancellationToken) {
    let period = state.config.register_period();
    loop {
        // Controller mode: not registered until the controller named a
        // role (a fenced broker is invisible to clients).
        while state.role.controller_mode() && state.broker_id() < 0 {
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = state.role.changed.notified() => {}
            }
        }
        let mut outcome = register_all(&state).await;
        if state.role.controller_mode() && state.is_slave() {
            // Follow only the master the controller named: a NameServer
            // may still list a dead master under id 0 for a while.
            let want = state.role.replicas().master_addr;
            if want.is_none() || outcome.master_addr != want {
                outcome = RegisterOutcome::default();
            }
        }
        // A slave that registered before its master learns the master
        // only from a later registration: ask again soon, not a period on.
        let wait = if state.is_slave() && outcome.master_addr.is_none() {
            Duration::from_secs(1).min(period)
        } else {
            period
        };
        state.set_master(outcome);
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = tokio::time::sleep(wait) => {}
            _ = state.role.changed.notified() => {}
            _ = state.topics.changed() => {
                // Let a burst of topic creations settle into one registration.
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    unregister_all(&state).await;
}

async fn unregister_all(state: &Arc<BrokerState>) {
    let header = UnregisterBrokerRequestHeader {
        broker_name: state.config.broker_name.clone(),
        broker_addr: state.advertised_addr.clone(),
        cluster_name: state.config.broker_cluster_name.clone(),
        broker_id: state.broker_id(),
    };
    for addr in state.config.namesrv_list() {
        let request = RemotingCommand::request_with_header(RequestCode::UNREGISTER_BROKER, &header);
        if let Err(e) = state
            .client
            .invoke(&addr, request, Duration::from_secs(3))
            .await
        {
            tracing::warn!(namesrv = %addr, error = %e, "unregistration failed");
        }
    }
}
