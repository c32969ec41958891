//! RecallMessage: cancels a timed message by the recall handle its send
//! answered. The handle names the broker holding the message; this
//! endpoint's own broker is called in-process, another one through
//! remoting RECALL_MESSAGE.

use protocol::header::send::{RecallMessageRequestHeader, RecallMessageResponseHeader};
use protocol::message::recall::RecallHandle;
use protocol::{RemotingCommand, RequestCode, ResponseCode};

use crate::convert;
use crate::core::Core;
use crate::error::{GrpcError, GrpcResult};
use crate::pb::{self, Code};

/// A refused handle: INVALID_RECEIPT_HANDLE, as for other stale handles.
fn bad_handle(message: impl Into<String>) -> GrpcError {
    GrpcError::invalid(Code::InvalidReceiptHandle, message)
}

/// RecallMessage: the recalled message's id.
///
/// # Errors
/// ILLEGAL_TOPIC, INVALID_RECEIPT_HANDLE for a blank, malformed, foreign
/// or expired handle (the message was delivered or recalled already), or
/// the broker's failure.
pub async fn recall(core: &Core, req: pb::RecallMessageRequest) -> GrpcResult<String> {
    let topic = req.topic.map(|t| t.name).unwrap_or_default();
    convert::check_topic(&topic)?;
    if req.recall_handle.trim().is_empty() {
        return Err(bad_handle("recall_handle is blank"));
    }
    let handle = RecallHandle::decode(&req.recall_handle).map_err(|e| bad_handle(e.to_string()))?;
    if handle.topic != topic {
        return Err(bad_handle(format!(
            "recall_handle names topic `{}`, not `{topic}`",
            handle.topic
        )));
    }
    let local = &core.local;
    if handle.broker_name == local.config.broker_name && !local.is_slave() {
        return broker::handlers::recall::recall(local, &topic, &req.recall_handle)
            .await
            .map_err(|e| match e {
                broker::BrokerError::InvalidParameter(m) => bad_handle(m),
                other => {
                    let resp = other.to_response();
                    GrpcError::Broker {
                        addr: core.advertised.clone(),
                        code: resp.code,
                        remark: resp.remark.unwrap_or_default(),
                    }
                }
            });
    }
    let addr = core.upstream.master(&handle.broker_name, &topic).await?;
    let header = RecallMessageRequestHeader {
        producer_group: None,
        topic: topic.clone(),
        recall_handle: req.recall_handle.clone(),
        broker_name: Some(handle.broker_name.clone()),
    };
    let cmd = RemotingCommand::request_with_header(RequestCode::RECALL_MESSAGE, &header);
    let resp = core.upstream.call(&addr, cmd, None).await?;
    if resp.code == ResponseCode::INVALID_PARAMETER.code() {
        return Err(bad_handle(resp.remark.unwrap_or_default()));
    }
    if resp.code != ResponseCode::SUCCESS.code() {
        return Err(crate::upstream::broker_error(&addr, &resp));
    }
    let h: RecallMessageResponseHeader = resp.decode_header()?;
    Ok(h.msg_id)
}
