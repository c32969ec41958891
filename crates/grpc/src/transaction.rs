//! Transactions: the id we hand out names where the half message lives,
//! EndTransaction becomes END_TRANSACTION at that broker, and the brokers'
//! CHECK_TRANSACTION_STATE requests become RecoverOrphanedTransactionCommand
//! on a producer's Telemetry stream. The brokers reach us because we
//! heartbeat each published topic as a producer group (the proxy's rule:
//! the producer group of a gRPC message is its topic).

use std::sync::{Arc, Weak};
use std::time::Duration;

use client::MessageExt;
use protocol::body::heartbeat::{HeartbeatData, ProducerData};
use protocol::header::transaction::{
    commit_or_rollback, CheckTransactionStateRequestHeader, EndTransactionRequestHeader,
};
use protocol::{RemotingCommand, RequestCode};
use remoting::{BoxFuture, Connection, Processor};
use tokio_util::sync::CancellationToken;

use crate::convert::{self, Delivery};
use crate::core::Core;
use crate::error::{GrpcError, GrpcResult};
use crate::pb::{self, telemetry_command::Command, Code, TransactionResolution};

/// Where a half message lives: enough to end it at its broker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransactionId {
    pub broker: String,
    pub commit_log_offset: i64,
    pub queue_offset: i64,
    pub message_id: String,
}

impl TransactionId {
    /// The opaque string clients carry.
    pub fn encode(&self) -> String {
        format!(
            "{}~{:x}~{:x}~{}",
            self.broker, self.commit_log_offset, self.queue_offset, self.message_id
        )
    }

    /// Parses [`TransactionId::encode`]'s form.
    ///
    /// # Errors
    /// INVALID_TRANSACTION_ID naming what is wrong.
    pub fn decode(s: &str) -> GrpcResult<Self> {
        let bad = || {
            GrpcError::invalid(
                Code::InvalidTransactionId,
                format!("transaction_id `{s}` was not issued by this server"),
            )
        };
        let mut parts = s.splitn(4, '~');
        let broker = parts.next().filter(|b| !b.is_empty()).ok_or_else(bad)?;
        let clo = parts
            .next()
            .and_then(|v| i64::from_str_radix(v, 16).ok())
            .ok_or_else(bad)?;
        let qo = parts
            .next()
            .and_then(|v| i64::from_str_radix(v, 16).ok())
            .ok_or_else(bad)?;
        let id = parts.next().ok_or_else(bad)?;
        Ok(TransactionId {
            broker: broker.to_string(),
            commit_log_offset: clo,
            queue_offset: qo,
            message_id: id.to_string(),
        })
    }
}

/// EndTransaction: commit or roll back at the half message's broker.
///
/// # Errors
/// INVALID_TRANSACTION_ID for a blank or foreign id; broker failures.
pub async fn end(core: &Core, req: pb::EndTransactionRequest) -> GrpcResult<()> {
    let topic = req.topic.map(|t| t.name).unwrap_or_default();
    convert::check_topic(&topic)?;
    if req.transaction_id.trim().is_empty() {
        return Err(GrpcError::invalid(
            Code::InvalidTransactionId,
            "transaction_id is blank",
        ));
    }
    let id = TransactionId::decode(&req.transaction_id)?;
    let resolution = TransactionResolution::try_from(req.resolution)
        .unwrap_or(TransactionResolution::Unspecified);
    let action = match resolution {
        TransactionResolution::Commit => commit_or_rollback::COMMIT,
        TransactionResolution::Rollback => commit_or_rollback::ROLLBACK,
        // "Unknown": nothing to do; the broker's check will ask again.
        TransactionResolution::Unspecified => return Ok(()),
    };
    let header = EndTransactionRequestHeader {
        topic: Some(topic.clone()),
        producer_group: topic.clone(),
        tran_state_table_offset: id.queue_offset,
        commit_log_offset: id.commit_log_offset,
        commit_or_rollback: action,
        from_transaction_check: Some(req.source == pb::TransactionSource::SourceServerCheck as i32),
        msg_id: req.message_id,
        transaction_id: Some(id.message_id.clone()),
    };
    let addr = core.upstream.master(&id.broker, &topic).await?;
    let cmd = RemotingCommand::request_with_header(RequestCode::END_TRANSACTION, &header);
    core.upstream.call_ok(&addr, cmd).await?;
    Ok(())
}

/// Handles requests brokers start on our connections.
pub struct CheckProcessor {
    core: Weak<Core>,
}

impl CheckProcessor {
    /// A processor that reaches the service through `core`.
    pub fn new(core: Weak<Core>) -> Self {
        CheckProcessor { core }
    }
}

impl Processor for CheckProcessor {
    fn process(
        &self,
        _conn: Connection,
        request: RemotingCommand,
    ) -> BoxFuture<Option<RemotingCommand>> {
        let core = self.core.upgrade();
        Box::pin(async move {
            let core = core?;
            if request.code != RequestCode::CHECK_TRANSACTION_STATE.code() {
                return Some(remoting::not_supported(&request));
            }
            if let Err(e) = forward_check(&core, &request) {
                tracing::debug!(error = %e, "transaction check not forwarded");
            }
            None
        })
    }
}

fn forward_check(core: &Core, request: &RemotingCommand) -> GrpcResult<()> {
    let h: CheckTransactionStateRequestHeader = request.decode_header()?;
    let broker = h.broker_name.clone().unwrap_or_default();
    let msgs = MessageExt::decode_all(&request.body, &broker)?;
    let Some(m) = msgs.into_iter().next() else {
        return Err(GrpcError::invalid(
            Code::BadRequest,
            "check without a message",
        ));
    };
    let id = TransactionId {
        broker,
        commit_log_offset: h.commit_log_offset,
        queue_offset: h.tran_state_table_offset,
        message_id: m.msg_id.clone(),
    };
    let message = convert::to_grpc(
        &m,
        Delivery {
            topic: m.topic.clone(),
            ..Default::default()
        },
    );
    let cmd = pb::TelemetryCommand {
        status: Some(crate::error::ok()),
        command: Some(Command::RecoverOrphanedTransactionCommand(
            pb::RecoverOrphanedTransactionCommand {
                message: Some(message),
                transaction_id: id.encode(),
            },
        )),
    };
    // One producer answers; the broker asks again if it does not.
    for sender in core.sessions.producers_of(&m.topic) {
        if sender.try_send(Ok(cmd.clone())).is_ok() {
            return Ok(());
        }
    }
    Err(GrpcError::invalid(
        Code::NotFound,
        format!("no producer of `{}` online", m.topic),
    ))
}

/// Heartbeats every published topic as a producer group to its brokers,
/// every 20 s and whenever `wake` fires.
pub async fn heartbeat_loop(
    core: Arc<Core>,
    wake: Arc<tokio::sync::Notify>,
    cancel: CancellationToken,
) {
    loop {
        let topics = core.sessions.producer_topics();
        if !topics.is_empty() {
            heartbeat(&core, &topics).await;
        }
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = wake.notified() => {}
            _ = tokio::time::sleep(Duration::from_secs(20)) => {}
        }
    }
}

async fn heartbeat(core: &Core, topics: &[String]) {
    let data = HeartbeatData {
        client_id: format!("grpc@{}", std::process::id()),
        producer_data_set: topics
            .iter()
            .map(|t| ProducerData {
                group_name: t.clone(),
            })
            .collect(),
        ..Default::default()
    };
    let Ok(body) = data.to_json_bytes() else {
        return;
    };
    for addr in core.upstream.masters_of(topics).await {
        let cmd = RemotingCommand::request(RequestCode::HEART_BEAT).with_body(body.clone());
        if let Err(e) = core.upstream.call_ok(&addr, cmd).await {
            tracing::debug!(%addr, error = %e, "producer heartbeat failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transaction_ids_round_trip_and_foreign_ones_are_refused() {
        let id = TransactionId {
            broker: "broker-a".into(),
            commit_log_offset: 123_456,
            queue_offset: 7,
            message_id: "01AB".into(),
        };
        assert_eq!(TransactionId::decode(&id.encode()).unwrap(), id);
        for bad in ["", "x", "b~zz~1~m", "b~1~2"] {
            let e = TransactionId::decode(bad).unwrap_err();
            assert_eq!(e.code(), Code::InvalidTransactionId, "{bad}");
        }
    }
}
