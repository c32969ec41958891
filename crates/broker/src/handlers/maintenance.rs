//! Manual store maintenance from mqadmin: CLEAN_EXPIRED_CONSUMEQUEUE (306),
//! DELETE_EXPIRED_COMMITLOG (329) and CLEAN_UNUSED_TOPIC (316). Each runs
//! now what retention would run later, and says what it removed.

use std::sync::Arc;

use protocol::RemotingCommand;

use crate::error::{BrokerError, BrokerResult};
use crate::handlers::admin::is_system_topic;
use crate::state::BrokerState;

/// DELETE_EXPIRED_COMMITLOG (329): deletes commit-log segments older than
/// `fileReservedTime` now, whatever `deleteWhen` says.
pub async fn delete_expired_commitlog(
    state: &Arc<BrokerState>,
    _req: &RemotingCommand,
) -> BrokerResult<RemotingCommand> {
    let store = state.store.clone();
    let report = tokio::task::spawn_blocking(move || store.clean_expired_files(true))
        .await
        .map_err(|e| BrokerError::System(format!("the clean task failed: {e}")))?
        .map_err(BrokerError::from)?;
    tracing::info!(?report, "expired commit log deleted by admin");
    Ok(with_remark(format!(
        "deleted {} commit-log, {} consume-queue and {} index files",
        report.commitlog_files, report.cq_files, report.index_files
    )))
}

/// CLEAN_UNUSED_TOPIC (316): deletes the consume queues of topics no topic
/// config names any more (left behind by deletes on other paths).
pub async fn clean_unused_topic(
    state: &Arc<BrokerState>,
    _req: &RemotingCommand,
) -> BrokerResult<RemotingCommand> {
    let removed = remove_unused_queues(state).await?;
    Ok(with_remark(format!(
        "removed the consume queues of {} unused topics{}",
        removed.len(),
        list(&removed)
    )))
}

/// CLEAN_EXPIRED_CONSUMEQUEUE (306): the unused topics' queues, then
/// consume-queue segments wholly below the commit log's first offset.
pub async fn clean_expired_consume_queue(
    state: &Arc<BrokerState>,
    _req: &RemotingCommand,
) -> BrokerResult<RemotingCommand> {
    let removed = remove_unused_queues(state).await?;
    let store = state.store.clone();
    let report = tokio::task::spawn_blocking(move || store.clean_expired_files(false))
        .await
        .map_err(|e| BrokerError::System(format!("the clean task failed: {e}")))?
        .map_err(BrokerError::from)?;
    Ok(with_remark(format!(
        "removed {} expired consume-queue files and the queues of {} unused topics{}",
        report.cq_files,
        removed.len(),
        list(&removed)
    )))
}

async fn remove_unused_queues(state: &Arc<BrokerState>) -> BrokerResult<Vec<String>> {
    let unused: Vec<String> = state
        .store
        .queue_topics()
        .into_iter()
        .filter(|t| !state.topics.contains(t) && !is_system_topic(state, t))
        .collect();
    let store = state.store.clone();
    let topics = unused.clone();
    tokio::task::spawn_blocking(move || {
        for t in &topics {
            store.delete_topic(t).map_err(BrokerError::from)?;
        }
        Ok::<_, BrokerError>(())
    })
    .await
    .map_err(|e| BrokerError::System(format!("the clean task failed: {e}")))??;
    if !unused.is_empty() {
        tracing::info!(topics = ?unused, "consume queues of unused topics removed by admin");
    }
    Ok(unused)
}

fn list(topics: &[String]) -> String {
    if topics.is_empty() {
        String::new()
    } else {
        format!(": {}", topics.join(","))
    }
}

fn with_remark(remark: String) -> RemotingCommand {
    let mut response = RemotingCommand::success();
    response.remark = Some(remark);
    response
}
