//! Requests brokers send on our connections (remoting-protocol §3.3):
//! transaction checks, consumer-membership changes and offset resets.

use std::sync::Weak;

use protocol::body::reset_offset::ResetOffsetBody;
use protocol::header::consumer::{
    GetConsumerRunningInfoRequestHeader, NotifyConsumerIdsChangedRequestHeader,
};
use protocol::header::offset::ResetOffsetRequestHeader;
use protocol::header::transaction::CheckTransactionStateRequestHeader;
use protocol::message::keys;
use protocol::{RemotingCommand, RequestCode, ResponseCode};
use remoting::{BoxFuture, Connection, Processor};
use tracing::{debug, warn};

use super::{Client, Inner};
use crate::message::MessageExt;

pub(crate) struct ClientProcessor {
    inner: Weak<Inner>,
}

impl ClientProcessor {
    pub(crate) fn new(inner: Weak<Inner>) -> Self {
        ClientProcessor { inner }
    }
}

impl Processor for ClientProcessor {
    fn process(
        &self,
        conn: Connection,
        request: RemotingCommand,
    ) -> BoxFuture<Option<RemotingCommand>> {
        let client = self.inner.upgrade().map(|inner| Client { inner });
        Box::pin(async move {
            let Some(client) = client else {
                return Some(remoting::not_supported(&request));
            };
            match request.request_code_enum() {
                RequestCode::CHECK_TRANSACTION_STATE => {
                    check_transaction(&client, conn, &request);
                    None
                }
                RequestCode::NOTIFY_CONSUMER_IDS_CHANGED => {
                    ids_changed(&client, &request);
                    None
                }
                RequestCode::RESET_CONSUMER_CLIENT_OFFSET => {
                    reset_offset(&client, &request);
                    None
                }
                RequestCode::GET_CONSUMER_RUNNING_INFO => Some(running_info(&client, &request)),
                _ => Some(remoting::not_supported(&request)),
            }
        })
    }
}

fn check_transaction(client: &Client, conn: Connection, request: &RemotingCommand) {
    let header = match request.decode_header::<CheckTransactionStateRequestHeader>() {
        Ok(h) => h,
        Err(e) => {
            warn!(error = %e, "bad CHECK_TRANSACTION_STATE header");
            return;
        }
    };
    let broker = header.broker_name.clone().unwrap_or_default();
    let msg = match MessageExt::decode_all(&request.body, &broker) {
        Ok(mut v) if !v.is_empty() => v.swap_remove(0),
        Ok(_) => {
            warn!("CHECK_TRANSACTION_STATE without a message");
            return;
        }
        Err(e) => {
            warn!(error = %e, "bad CHECK_TRANSACTION_STATE body");
            return;
        }
    };
    let Some(group) = msg.property(keys::PGROUP).map(str::to_string) else {
        warn!(msg_id = %msg.msg_id, "checked half message has no PGROUP");
        return;
    };
    match client.check_hook(&group) {
        Some(hook) => hook.check(conn, header, msg),
        None => debug!(%group, "transaction check for a group not running here"),
    }
}

fn ids_changed(client: &Client, request: &RemotingCommand) {
    match request.decode_header::<NotifyConsumerIdsChangedRequestHeader>() {
        Ok(h) => {
            debug!(group = %h.consumer_group, "consumer ids changed");
            if let Some(hook) = client.consumer_hook(&h.consumer_group) {
                hook.on_ids_changed();
            }
        }
        Err(e) => warn!(error = %e, "bad NOTIFY_CONSUMER_IDS_CHANGED header"),
    }
}

fn reset_offset(client: &Client, request: &RemotingCommand) {
    let header = match request.decode_header::<ResetOffsetRequestHeader>() {
        Ok(h) => h,
        Err(e) => {
            warn!(error = %e, "bad RESET_CONSUMER_CLIENT_OFFSET header");
            return;
        }
    };
    let body = match ResetOffsetBody::from_json_bytes(&request.body) {
        Ok(b) => b,
        Err(e) => {
            warn!(error = %e, "bad RESET_CONSUMER_CLIENT_OFFSET body");
            return;
        }
    };
    if let Some(hook) = client.consumer_hook(&header.group) {
        hook.reset_offsets(&header.topic, body.offset_table);
    }
}

fn running_info(client: &Client, request: &RemotingCommand) -> RemotingCommand {
    let header = match request.decode_header::<GetConsumerRunningInfoRequestHeader>() {
        Ok(h) => h,
        Err(e) => return RemotingCommand::error(ResponseCode::SYSTEM_ERROR, e.to_string()),
    };
    let group = &header.consumer_group;
    match client.consumer_hook(group).and_then(|h| h.running_info()) {
        Some(body) => RemotingCommand::success().with_body(body),
        None => RemotingCommand::error(
            ResponseCode::SYSTEM_ERROR,
            format!("The Consumer Group <{group}> not exist in this consumer"),
        ),
    }
}
