//! Requests the broker passes on to one consumer over that consumer's own
//! connection: GET_CONSUMER_RUNNING_INFO (307) and CONSUME_MESSAGE_DIRECTLY
//! (309). mqadmin cannot reach clients itself; the broker can, because
//! every client keeps a connection to it. The client's answer is returned
//! as it came.

use std::sync::Arc;
use std::time::Duration;

use protocol::header::consumer::GetConsumerRunningInfoRequestHeader;
use protocol::header::ops::ConsumeMessageDirectlyResultRequestHeader;
use protocol::message::decode_offset_msg_id;
use protocol::{RemotingCommand, ResponseCode};

use crate::error::{BrokerError, BrokerResult};
use crate::state::BrokerState;
use crate::tables::clients::ClientChannel;

/// How long a client may take to answer: under the admin tools' own 5 s,
/// so they get the broker's "did not answer" instead of timing out first.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(4);

/// GET_CONSUMER_RUNNING_INFO (307).
pub async fn get_consumer_running_info(
    state: &Arc<BrokerState>,
    req: &RemotingCommand,
) -> BrokerResult<RemotingCommand> {
    let h: GetConsumerRunningInfoRequestHeader = req.decode_header()?;
    let channel = match find_client(state, &h.consumer_group, &h.client_id) {
        Ok(c) => c,
        Err(response) => return Ok(*response),
    };
    Ok(call_client(&channel, req.clone()).await)
}

/// CONSUME_MESSAGE_DIRECTLY (309): the broker attaches the stored message
/// named by `msgId` (an offset message id) and asks the client to consume it.
pub async fn consume_message_directly(
    state: &Arc<BrokerState>,
    req: &RemotingCommand,
) -> BrokerResult<RemotingCommand> {
    let h: ConsumeMessageDirectlyResultRequestHeader = req.decode_header()?;
    let client_id = h.client_id.as_deref().unwrap_or_default();
    let msg_id = h
        .msg_id
        .as_deref()
        .filter(|m| !m.is_empty())
        .ok_or_else(|| BrokerError::InvalidParameter("msgId is missing".into()))?;
    let (_, offset) = decode_offset_msg_id(msg_id).map_err(|e| {
        BrokerError::InvalidParameter(format!("msgId {msg_id} is not an offset message id: {e}"))
    })?;
    let record = u64::try_from(offset)
        .ok()
        .and_then(|o| state.store.read_message_at(o))
        .ok_or_else(|| {
            BrokerError::InvalidParameter(format!("no message with msgId {msg_id} on this broker"))
        })?;
    let channel = match find_client(state, &h.consumer_group, client_id) {
        Ok(c) => c,
        Err(response) => return Ok(*response),
    };
    let mut request = req.clone();
    request.body = record;
    Ok(call_client(&channel, request).await)
}

/// The named client's channel, or Java's "not online" answer (boxed: the
/// error path should not make every `Result` as wide as a command).
fn find_client(
    state: &BrokerState,
    group: &str,
    client_id: &str,
) -> Result<ClientChannel, Box<RemotingCommand>> {
    state
        .clients
        .consumer_channel(group, client_id)
        .filter(|c| !c.conn.is_closed())
        .ok_or_else(|| {
            Box::new(RemotingCommand::error(
                ResponseCode::SYSTEM_ERROR,
                format!("The Consumer <{group}> <{client_id}> not online"),
            ))
        })
}

/// Sends `request` to the client and returns its response; a silent or
/// gone client
/// becomes a SYSTEM_ERROR naming it.
async fn call_client(channel: &ClientChannel, request: RemotingCommand) -> RemotingCommand {
    match channel.conn.invoke(request, CLIENT_TIMEOUT).await {
        Ok(response) => response,
        Err(e) => RemotingCommand::error(
            ResponseCode::SYSTEM_ERROR,
            format!(
                "invoke the consumer {} at {} failed: {e}",
                channel.client_id,
                channel.conn.peer_addr()
            ),
        ),
    }
}
