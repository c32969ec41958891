//! Slaves copy the master's metadata over remoting every 10 s
//! (remoting-protocol §9.1): topics (GET_ALL_TOPIC_CONFIG 21), consumer
//! offsets (GET_ALL_CONSUMER_OFFSET 43) and subscription groups
//! (GET_ALL_SUBSCRIPTIONGROUP_CONFIG 201) and delay-level offsets
//! (GET_ALL_DELAY_OFFSET 45), each saved to the slave's own metadata files
//! so a restarted slave serves reads before the next copy.

use std::sync::Arc;
use std::time::Duration;

use protocol::body::group::DelayOffsetSerializeWrapper;
use protocol::body::topic::TopicConfigSerializeWrapper;
use protocol::{RemotingCommand, RequestCode, ResponseCode};
use tokio_util::sync::CancellationToken;

use crate::state::BrokerState;

/// How often a slave copies the master's metadata.
pub const SYNC_PERIOD: Duration = Duration::from_secs(10);

/// Copies metadata from the master until cancelled.
pub async fn run(state: Arc<BrokerState>, cancel: CancellationToken) {
    // The first registration tells us the master; try soon after start.
    let mut delay = Duration::from_millis(500);
    loop {
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = tokio::time::sleep(delay) => {}
        }
        delay = SYNC_PERIOD;
        let master = state.master.lock().master_addr.clone();
        match master {
            Some(addr) => {
                // A role change must not wait for a dead master's timeouts.
                tokio::select! {
                    _ = cancel.cancelled() => break,
                    () = sync_once(&state, &addr) => {}
                }
            }
            None => delay = Duration::from_secs(1),
        }
    }
}

/// One round of copies from `master`; failures are logged, not fatal.
pub async fn sync_once(state: &BrokerState, master: &str) {
    if let Some(body) = fetch(state, master, RequestCode::GET_ALL_TOPIC_CONFIG).await {
        apply_topics(state, &body);
    }
    if let Some(body) = fetch(state, master, RequestCode::GET_ALL_CONSUMER_OFFSET).await {
        match state.offsets.load_json(&body) {
            Ok(()) => save(state, "consumerOffset.json", &body),
            Err(e) => tracing::warn!(error = %e, "bad consumer offsets from the master"),
        }
    }
    if let Some(body) = fetch(state, master, RequestCode::GET_ALL_SUBSCRIPTIONGROUP_CONFIG).await {
        match state.groups.load_json(&body) {
            Ok(()) => save(state, "subscriptionGroup.json", &body),
            Err(e) => tracing::warn!(error = %e, "bad subscription groups from the master"),
        }
    }
    if let Some(body) = fetch(state, master, RequestCode::GET_ALL_DELAY_OFFSET).await {
        apply_delay_offsets(state, &body);
    }
}

/// The schedule service loads its table from its file: write, then reload.
fn apply_delay_offsets(state: &BrokerState, body: &[u8]) {
    if let Err(e) = DelayOffsetSerializeWrapper::from_json_bytes(body) {
        tracing::warn!(error = %e, "bad delay offsets from the master");
        return;
    }
    save(state, crate::tables::delay::DELAY_OFFSET_FILE, body);
    if let Err(e) = state.schedule.load(&state.store) {
        tracing::warn!(error = %e, "cannot load the copied delay offsets");
    }
}

/// Loads the master's topic table when its version differs from ours
/// (an unchanged table is not reloaded, so it does not trigger a
/// re-registration every round).
fn apply_topics(state: &BrokerState, body: &[u8]) {
    let wrapper = match TopicConfigSerializeWrapper::decode(body) {
        Ok(w) => w,
        Err(e) => {
            tracing::warn!(error = %e, "bad topic table from the master");
            return;
        }
    };
    if state.ha.topics_version.lock().as_ref() == Some(&wrapper.data_version) {
        return;
    }
    let text = String::from_utf8_lossy(body);
    match state.topics.load_json(&text) {
        Ok(()) => {
            *state.ha.topics_version.lock() = Some(wrapper.data_version);
            save(state, "topics.json", body);
        }
        Err(e) => tracing::warn!(error = %e, "cannot load the master's topic table"),
    }
}

async fn fetch(state: &BrokerState, master: &str, code: RequestCode) -> Option<bytes::Bytes> {
    let request = RemotingCommand::request(code);
    match state
        .client
        .invoke(master, request, Duration::from_secs(3))
        .await
    {
        Ok(r) if r.code == ResponseCode::SUCCESS.code() => Some(r.body),
        Ok(r) => {
            tracing::debug!(
                code = code.code(),
                answer = r.code,
                remark = r.remark.as_deref().unwrap_or(""),
                "the master did not give its metadata"
            );
            None
        }
        Err(e) => {
            tracing::debug!(code = code.code(), error = %e, "metadata copy failed");
            None
        }
    }
}

fn save(state: &BrokerState, name: &str, body: &[u8]) {
    let text = String::from_utf8_lossy(body);
    if let Err(e) = state.store.metadata_file(name).save(&text) {
        tracing::warn!(file = name, error = %e, "cannot save copied metadata");
    }
}
