//! Transactional messages (remoting-protocol §9.7): a half message, the
//! local transaction, END_TRANSACTION; and answers to the broker's
//! CHECK_TRANSACTION_STATE for transactions left unknown.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use protocol::header::transaction::{
    CheckTransactionStateRequestHeader, EndTransactionRequestHeader,
};
use protocol::message::sysflag::message as msgflag;
use protocol::message::{decode_offset_msg_id, keys};
use protocol::{RemotingCommand, RequestCode};
use remoting::{BoxFuture, Connection};
use tokio_util::task::TaskTracker;
use tracing::{debug, warn};

use super::{Producer, ProducerBuilder, SendResult, SendStatus};
use crate::error::{ClientError, Result};
use crate::instance::{CheckHook, Client};
use crate::message::{Message, MessageExt};

/// The outcome of a local transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransactionState {
    /// Deliver the message.
    Commit,
    /// Discard the message.
    Rollback,
    /// Not known yet: the broker will ask again (CHECK_TRANSACTION_STATE).
    Unknown,
}

impl TransactionState {
    /// The `commitOrRollback` value of END_TRANSACTION.
    pub fn wire_value(self) -> i32 {
        match self {
            TransactionState::Commit => msgflag::TRANSACTION_COMMIT_TYPE,
            TransactionState::Rollback => msgflag::TRANSACTION_ROLLBACK_TYPE,
            TransactionState::Unknown => msgflag::TRANSACTION_NOT_TYPE,
        }
    }
}

type Checker = Arc<dyn Fn(MessageExt) -> BoxFuture<TransactionState> + Send + Sync>;

/// The result of [`TransactionProducer::send_in_transaction`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransactionSendResult {
    /// The half message's send result.
    pub send: SendResult,
    /// What the local transaction decided (Rollback if the half message
    /// was not stored cleanly, without running it).
    pub state: TransactionState,
}

/// Builds a [`TransactionProducer`].
#[derive(Default)]
pub struct TransactionProducerBuilder {
    producer: ProducerBuilder,
    checker: Option<Checker>,
}

impl TransactionProducerBuilder {
    /// NameServer address(es).
    pub fn namesrv(mut self, addrs: &str) -> Self {
        self.producer = self.producer.namesrv(addrs);
        self
    }

    /// Shares an existing client instance.
    pub fn client(mut self, client: &Client) -> Self {
        self.producer = self.producer.client(client);
        self
    }

    /// Producer group (brokers send checks to a live member of it).
    pub fn group(mut self, group: impl Into<String>) -> Self {
        self.producer = self.producer.group(group);
        self
    }

    /// Time budget of one send.
    pub fn send_timeout(mut self, timeout: Duration) -> Self {
        self.producer = self.producer.send_timeout(timeout);
        self
    }

    /// Answers the broker's checks of transactions left unknown.
    pub fn checker<F, Fut>(mut self, check: F) -> Self
    where
        F: Fn(MessageExt) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = TransactionState> + Send + 'static,
    {
        self.checker = Some(Arc::new(move |m| Box::pin(check(m))));
        self
    }

    /// Starts the producer.
    ///
    /// # Errors
    /// [`ClientError::InvalidArgument`] without a checker; else as
    /// [`ProducerBuilder::build`].
    pub async fn build(self) -> Result<TransactionProducer> {
        let checker = self.checker.ok_or(ClientError::InvalidArgument {
            field: "checker",
            reason: "a transactional producer needs a check-back handler".into(),
        })?;
        let handler = Arc::new(CheckHandler {
            group: self.producer.options.group.clone(),
            checker,
            tracker: TaskTracker::new(),
        });
        let hook: Arc<dyn CheckHook> = handler.clone();
        let b = self.producer;
        let producer = Producer::start(b.client, b.client_options, b.options, Some(hook)).await?;
        Ok(TransactionProducer { producer, handler })
    }
}

/// A producer of transactional messages.
#[derive(Clone)]
pub struct TransactionProducer {
    producer: Producer,
    handler: Arc<CheckHandler>,
}

impl TransactionProducer {
    /// A builder.
    pub fn builder() -> TransactionProducerBuilder {
        TransactionProducerBuilder::default()
    }

    /// The plain producer underneath (for non-transactional sends).
    pub fn producer(&self) -> &Producer {
        &self.producer
    }

    /// Sends `msg` as a half message, runs `local` with it and the send
    /// result, then commits or rolls back (END_TRANSACTION, oneway). With
    /// [`TransactionState::Unknown`] the broker later asks the checker.
    ///
    /// # Errors
    /// As [`Producer::send`] for the half message; a failed
    /// END_TRANSACTION is only logged (the broker's check recovers it).
    pub async fn send_in_transaction<F, Fut>(
        &self,
        msg: Message,
        local: F,
    ) -> Result<TransactionSendResult>
    where
        F: FnOnce(Message, SendResult) -> Fut,
        Fut: Future<Output = TransactionState>,
    {
        let group = self.producer.group().to_string();
        let half = msg
            .clone()
            .with_delay_level(0)
            .with_property(keys::TRAN_MSG, "true")
            .with_property(keys::PGROUP, group.clone());
        let send = self.producer.send(half).await?;
        let state = if send.status == SendStatus::Ok {
            local(msg, send.clone()).await
        } else {
            TransactionState::Rollback
        };
        if let Err(e) = self.end_transaction(&send, state).await {
            warn!(msg_id = %send.msg_id, error = %e, "END_TRANSACTION failed; the broker will check back");
        }
        Ok(TransactionSendResult { send, state })
    }

    async fn end_transaction(&self, send: &SendResult, state: TransactionState) -> Result<()> {
        let (_, commit_log_offset) = decode_offset_msg_id(&send.offset_msg_id)?;
        let header = EndTransactionRequestHeader {
            topic: Some(send.queue.topic.clone()),
            producer_group: self.producer.group().to_string(),
            tran_state_table_offset: send.queue_offset,
            commit_log_offset,
            commit_or_rollback: state.wire_value(),
            from_transaction_check: Some(false),
            msg_id: send.msg_id.clone(),
            transaction_id: Some(
                send.transaction_id
                    .clone()
                    .unwrap_or_else(|| send.msg_id.clone()),
            ),
        };
        let client = self.producer.client();
        let addr = client
            .master_addr(&send.queue.broker_name, &send.queue.topic)
            .await?;
        let req = RemotingCommand::request_with_header(RequestCode::END_TRANSACTION, &header);
        client.remoting().invoke_oneway(&addr, req).await?;
        Ok(())
    }

    /// Shuts the producer down and waits for running checks.
    pub async fn shutdown(&self) {
        self.handler.tracker.close();
        self.handler.tracker.wait().await;
        self.producer.shutdown().await;
    }
}

struct CheckHandler {
    group: String,
    checker: Checker,
    tracker: TaskTracker,
}

impl CheckHook for CheckHandler {
    fn check(&self, conn: Connection, header: CheckTransactionStateRequestHeader, msg: MessageExt) {
        if self.tracker.is_closed() {
            return;
        }
        let checker = Arc::clone(&self.checker);
        let group = self.group.clone();
        self.tracker.spawn(async move {
            let msg_id = header.msg_id.clone().unwrap_or_else(|| msg.msg_id.clone());
            let transaction_id = header
                .transaction_id
                .clone()
                .or_else(|| msg.transaction_id().map(str::to_string));
            let state = checker(msg).await;
            let end = EndTransactionRequestHeader {
                topic: header.topic.clone(),
                producer_group: group,
                tran_state_table_offset: header.tran_state_table_offset,
                commit_log_offset: header.commit_log_offset,
                commit_or_rollback: state.wire_value(),
                from_transaction_check: Some(true),
                msg_id,
                transaction_id,
            };
            debug!(
                ?state,
                offset = header.commit_log_offset,
                "answering transaction check"
            );
            let req = RemotingCommand::request_with_header(RequestCode::END_TRANSACTION, &end);
            if let Err(e) = conn.invoke_oneway(req).await {
                warn!(error = %e, "cannot answer a transaction check");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_values() {
        assert_eq!(TransactionState::Commit.wire_value(), 8);
        assert_eq!(TransactionState::Rollback.wire_value(), 12);
        assert_eq!(TransactionState::Unknown.wire_value(), 0);
    }
}
