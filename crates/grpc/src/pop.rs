//! POP consumption over gRPC. Until the broker's POP service is merged,
//! every POP RPC answers NOT_IMPLEMENTED with a message saying so.

use tokio::sync::mpsc;

use crate::error::{GrpcError, GrpcResult};
use crate::pb::{self, receive_message_response::Content, Code};
use crate::service::Core;

const NOT_YET: &str = "POP consumption is not available on this broker yet";

/// ReceiveMessage.
pub async fn receive(
    _core: &Core,
    _req: pb::ReceiveMessageRequest,
    _deadline: Option<std::time::Duration>,
    tx: &mpsc::Sender<Result<pb::ReceiveMessageResponse, tonic::Status>>,
) {
    let status = crate::error::status(Code::NotImplemented, NOT_YET);
    let _ = tx
        .send(Ok(pb::ReceiveMessageResponse {
            content: Some(Content::Status(status)),
        }))
        .await;
}

/// AckMessage.
pub async fn ack(_core: &Core, req: pb::AckMessageRequest) -> pb::AckMessageResponse {
    let status = crate::error::status(Code::NotImplemented, NOT_YET);
    pb::AckMessageResponse {
        status: Some(status.clone()),
        entries: req
            .entries
            .into_iter()
            .map(|e| pb::AckMessageResultEntry {
                message_id: e.message_id,
                receipt_handle: e.receipt_handle,
                status: Some(status.clone()),
            })
            .collect(),
    }
}

/// ForwardMessageToDeadLetterQueue.
///
/// # Errors
/// Always NOT_IMPLEMENTED for now.
pub async fn forward_to_dlq(
    _core: &Core,
    _req: pb::ForwardMessageToDeadLetterQueueRequest,
) -> GrpcResult<()> {
    Err(GrpcError::invalid(Code::NotImplemented, NOT_YET))
}

/// ChangeInvisibleDuration.
///
/// # Errors
/// Always NOT_IMPLEMENTED for now.
pub async fn change_invisible(
    _core: &Core,
    _req: pb::ChangeInvisibleDurationRequest,
) -> GrpcResult<String> {
    Err(GrpcError::invalid(Code::NotImplemented, NOT_YET))
}
