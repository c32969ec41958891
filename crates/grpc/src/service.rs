//! `apache.rocketmq.v2.MessagingService`: each RPC handed to its module,
//! errors turned into in-band statuses (clients read those, not gRPC
//! status codes).

use std::sync::Arc;

use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use acl::Perm;

use crate::auth::{self, Caller, Needs};
use crate::core::Core;
use crate::error::ok;
use crate::pb;
use crate::pb::messaging_service_server::MessagingService;
use crate::{offsets, pop, recall, route, send, telemetry, transaction};

/// The tonic service.
#[derive(Clone)]
pub struct Service {
    pub core: Arc<Core>,
}

/// The `x-mq-client-id` every 5.x client sends.
fn client_id<T>(req: &Request<T>) -> Option<String> {
    req.metadata()
        .get("x-mq-client-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.trim().is_empty())
        .map(str::to_string)
}

type Stream<T> = ReceiverStream<Result<T, Status>>;

#[tonic::async_trait]
impl MessagingService for Service {
    async fn query_route(
        &self,
        req: Request<pb::QueryRouteRequest>,
    ) -> Result<Response<pb::QueryRouteResponse>, Status> {
        let caller = Caller::of(&req);
        let req = req.into_inner();
        let needs = Needs::default().topic(req.topic.as_ref(), Perm::ANY);
        let result = match auth::check(&self.core, &caller, "QueryRoute", needs) {
            Ok(()) => route::query_route(&self.core, req).await,
            Err(e) => Err(e),
        };
        let resp = match result {
            Ok(message_queues) => pb::QueryRouteResponse {
                status: Some(ok()),
                message_queues,
            },
            Err(e) => pb::QueryRouteResponse {
                status: Some(e.status()),
                message_queues: Vec::new(),
            },
        };
        Ok(Response::new(resp))
    }

    async fn heartbeat(
        &self,
        req: Request<pb::HeartbeatRequest>,
    ) -> Result<Response<pb::HeartbeatResponse>, Status> {
        let caller = Caller::of(&req);
        let needs = Needs::default().group(req.get_ref().group.as_ref());
        if let Err(e) = auth::check(&self.core, &caller, "Heartbeat", needs) {
            return Ok(Response::new(pb::HeartbeatResponse {
                status: Some(e.status()),
            }));
        }
        // Liveness is the Telemetry stream; answer OK even before settings
        // arrive (clients race their first heartbeat against them).
        if let Some(client) = client_id(&req) {
            telemetry::repush(&self.core, &client).await;
        }
        Ok(Response::new(pb::HeartbeatResponse { status: Some(ok()) }))
    }

    async fn send_message(
        &self,
        req: Request<pb::SendMessageRequest>,
    ) -> Result<Response<pb::SendMessageResponse>, Status> {
        let peer = req.remote_addr();
        // Without ACL there is nothing to check: skip reading the caller
        // and listing what the request needs (a send's hot path).
        if self.core.local.acl.is_some() {
            let caller = Caller::of(&req);
            let needs = req
                .get_ref()
                .messages
                .iter()
                .fold(Needs::default(), |n, m| {
                    n.topic(m.topic.as_ref(), Perm::PUB)
                });
            if let Err(e) = auth::check(&self.core, &caller, "SendMessage", needs) {
                return Ok(Response::new(pb::SendMessageResponse {
                    status: Some(e.status()),
                    entries: Vec::new(),
                }));
            }
        }
        Ok(Response::new(
            send::send(&self.core, peer, req.into_inner()).await,
        ))
    }

    async fn query_assignment(
        &self,
        req: Request<pb::QueryAssignmentRequest>,
    ) -> Result<Response<pb::QueryAssignmentResponse>, Status> {
        let caller = Caller::of(&req);
        let req = req.into_inner();
        let needs = Needs::default()
            .group(req.group.as_ref())
            .topic(req.topic.as_ref(), Perm::SUB);
        let result = match auth::check(&self.core, &caller, "QueryAssignment", needs) {
            Ok(()) => route::query_assignment(&self.core, req).await,
            Err(e) => Err(e),
        };
        let resp = match result {
            Ok(assignments) => pb::QueryAssignmentResponse {
                status: Some(ok()),
                assignments,
            },
            Err(e) => pb::QueryAssignmentResponse {
                status: Some(e.status()),
                assignments: Vec::new(),
            },
        };
        Ok(Response::new(resp))
    }

    type ReceiveMessageStream = Stream<pb::ReceiveMessageResponse>;

    async fn receive_message(
        &self,
        req: Request<pb::ReceiveMessageRequest>,
    ) -> Result<Response<Self::ReceiveMessageStream>, Status> {
        let deadline = grpc_deadline(&req);
        let client = client_id(&req).unwrap_or_default();
        let caller = Caller::of(&req);
        let (tx, rx) = mpsc::channel(64);
        let core = self.core.clone();
        let cancel = core.cancel.clone();
        let body = req.into_inner();
        let needs = Needs::default()
            .group(body.group.as_ref())
            .queue(body.message_queue.as_ref());
        if let Err(e) = auth::check(&core, &caller, "ReceiveMessage", needs) {
            use pb::receive_message_response::Content;
            let denied = pb::ReceiveMessageResponse {
                content: Some(Content::Status(e.status())),
            };
            let _ = tx.send(Ok(denied)).await;
            return Ok(Response::new(ReceiverStream::new(rx)));
        }
        self.core.tasks.spawn(async move {
            tokio::select! {
                _ = cancel.cancelled() => {}
                _ = pop::receive(&core, &client, body, deadline, &tx) => {}
            }
        });
        Ok(Response::new(ReceiverStream::new(rx)))
    }

    async fn ack_message(
        &self,
        req: Request<pb::AckMessageRequest>,
    ) -> Result<Response<pb::AckMessageResponse>, Status> {
        let caller = Caller::of(&req);
        let req = req.into_inner();
        let needs = Needs::default()
            .group(req.group.as_ref())
            .topic(req.topic.as_ref(), Perm::SUB);
        if let Err(e) = auth::check(&self.core, &caller, "AckMessage", needs) {
            return Ok(Response::new(pb::AckMessageResponse {
                status: Some(e.status()),
                entries: Vec::new(),
            }));
        }
        Ok(Response::new(pop::ack(&self.core, req).await))
    }

    async fn forward_message_to_dead_letter_queue(
        &self,
        req: Request<pb::ForwardMessageToDeadLetterQueueRequest>,
    ) -> Result<Response<pb::ForwardMessageToDeadLetterQueueResponse>, Status> {
        let caller = Caller::of(&req);
        let req = req.into_inner();
        let needs = Needs::default()
            .group(req.group.as_ref())
            .topic(req.topic.as_ref(), Perm::SUB);
        let result = match auth::check(
            &self.core,
            &caller,
            "ForwardMessageToDeadLetterQueue",
            needs,
        ) {
            Ok(()) => pop::forward_to_dlq(&self.core, req).await,
            Err(e) => Err(e),
        };
        let status = match result {
            Ok(()) => ok(),
            Err(e) => e.status(),
        };
        Ok(Response::new(pb::ForwardMessageToDeadLetterQueueResponse {
            status: Some(status),
        }))
    }

    type PullMessageStream = Stream<pb::PullMessageResponse>;

    async fn pull_message(
        &self,
        req: Request<pb::PullMessageRequest>,
    ) -> Result<Response<Self::PullMessageStream>, Status> {
        let caller = Caller::of(&req);
        let (tx, rx) = mpsc::channel(64);
        let core = self.core.clone();
        let cancel = core.cancel.clone();
        let body = req.into_inner();
        let needs = Needs::default()
            .group(body.group.as_ref())
            .queue(body.message_queue.as_ref());
        if let Err(e) = auth::check(&core, &caller, "PullMessage", needs) {
            use pb::pull_message_response::Content;
            let denied = pb::PullMessageResponse {
                content: Some(Content::Status(e.status())),
            };
            let _ = tx.send(Ok(denied)).await;
            return Ok(Response::new(ReceiverStream::new(rx)));
        }
        self.core.tasks.spawn(async move {
            tokio::select! {
                _ = cancel.cancelled() => {}
                _ = offsets::pull(&core, body, &tx) => {}
            }
        });
        Ok(Response::new(ReceiverStream::new(rx)))
    }

    async fn update_offset(
        &self,
        req: Request<pb::UpdateOffsetRequest>,
    ) -> Result<Response<pb::UpdateOffsetResponse>, Status> {
        let caller = Caller::of(&req);
        let req = req.into_inner();
        let needs = Needs::default()
            .group(req.group.as_ref())
            .queue(req.message_queue.as_ref());
        let result = match auth::check(&self.core, &caller, "UpdateOffset", needs) {
            Ok(()) => offsets::update(&self.core, req).await,
            Err(e) => Err(e),
        };
        let status = match result {
            Ok(()) => ok(),
            Err(e) => e.status(),
        };
        Ok(Response::new(pb::UpdateOffsetResponse {
            status: Some(status),
        }))
    }

    async fn get_offset(
        &self,
        req: Request<pb::GetOffsetRequest>,
    ) -> Result<Response<pb::GetOffsetResponse>, Status> {
        let caller = Caller::of(&req);
        let req = req.into_inner();
        let needs = Needs::default()
            .group(req.group.as_ref())
            .queue(req.message_queue.as_ref());
        let result = match auth::check(&self.core, &caller, "GetOffset", needs) {
            Ok(()) => offsets::get(&self.core, req).await,
            Err(e) => Err(e),
        };
        let (status, offset) = offset_reply(result);
        Ok(Response::new(pb::GetOffsetResponse { status, offset }))
    }

    async fn query_offset(
        &self,
        req: Request<pb::QueryOffsetRequest>,
    ) -> Result<Response<pb::QueryOffsetResponse>, Status> {
        let caller = Caller::of(&req);
        let req = req.into_inner();
        let needs = Needs::default().queue(req.message_queue.as_ref());
        let result = match auth::check(&self.core, &caller, "QueryOffset", needs) {
            Ok(()) => offsets::query(&self.core, req).await,
            Err(e) => Err(e),
        };
        let (status, offset) = offset_reply(result);
        Ok(Response::new(pb::QueryOffsetResponse { status, offset }))
    }

    async fn end_transaction(
        &self,
        req: Request<pb::EndTransactionRequest>,
    ) -> Result<Response<pb::EndTransactionResponse>, Status> {
        let caller = Caller::of(&req);
        let req = req.into_inner();
        let needs = Needs::default().topic(req.topic.as_ref(), Perm::PUB);
        let result = match auth::check(&self.core, &caller, "EndTransaction", needs) {
            Ok(()) => transaction::end(&self.core, req).await,
            Err(e) => Err(e),
        };
        let status = match result {
            Ok(()) => ok(),
            Err(e) => e.status(),
        };
        Ok(Response::new(pb::EndTransactionResponse {
            status: Some(status),
        }))
    }

    type TelemetryStream = telemetry::Outbound;

    async fn telemetry(
        &self,
        req: Request<Streaming<pb::TelemetryCommand>>,
    ) -> Result<Response<Self::TelemetryStream>, Status> {
        let Some(client) = client_id(&req) else {
            return Err(Status::invalid_argument(
                "x-mq-client-id metadata is required",
            ));
        };
        let caller = Caller::of(&req);
        Ok(Response::new(telemetry::open(
            self.core.clone(),
            client,
            caller,
            req.into_inner(),
        )))
    }

    async fn notify_client_termination(
        &self,
        req: Request<pb::NotifyClientTerminationRequest>,
    ) -> Result<Response<pb::NotifyClientTerminationResponse>, Status> {
        let caller = Caller::of(&req);
        let needs = Needs::default().group(req.get_ref().group.as_ref());
        if let Err(e) = auth::check(&self.core, &caller, "NotifyClientTermination", needs) {
            return Ok(Response::new(pb::NotifyClientTerminationResponse {
                status: Some(e.status()),
            }));
        }
        if let Some(client) = client_id(&req) {
            self.core.sessions.terminate(&client);
        }
        Ok(Response::new(pb::NotifyClientTerminationResponse {
            status: Some(ok()),
        }))
    }

    async fn change_invisible_duration(
        &self,
        req: Request<pb::ChangeInvisibleDurationRequest>,
    ) -> Result<Response<pb::ChangeInvisibleDurationResponse>, Status> {
        let caller = Caller::of(&req);
        let req = req.into_inner();
        let needs = Needs::default()
            .group(req.group.as_ref())
            .topic(req.topic.as_ref(), Perm::SUB);
        let result = match auth::check(&self.core, &caller, "ChangeInvisibleDuration", needs) {
            Ok(()) => pop::change_invisible(&self.core, req).await,
            Err(e) => Err(e),
        };
        let resp = match result {
            Ok(receipt_handle) => pb::ChangeInvisibleDurationResponse {
                status: Some(ok()),
                receipt_handle,
            },
            Err(e) => pb::ChangeInvisibleDurationResponse {
                status: Some(e.status()),
                receipt_handle: String::new(),
            },
        };
        Ok(Response::new(resp))
    }

    async fn recall_message(
        &self,
        req: Request<pb::RecallMessageRequest>,
    ) -> Result<Response<pb::RecallMessageResponse>, Status> {
        let caller = Caller::of(&req);
        let req = req.into_inner();
        let needs = Needs::default().topic(req.topic.as_ref(), Perm::PUB);
        if let Err(e) = auth::check(&self.core, &caller, "RecallMessage", needs) {
            return Ok(Response::new(pb::RecallMessageResponse {
                status: Some(e.status()),
                message_id: String::new(),
            }));
        }
        let resp = match recall::recall(&self.core, req).await {
            Ok(message_id) => pb::RecallMessageResponse {
                status: Some(ok()),
                message_id,
            },
            Err(e) => pb::RecallMessageResponse {
                status: Some(e.status()),
                message_id: String::new(),
            },
        };
        Ok(Response::new(resp))
    }
}

/// The client's deadline (`grpc-timeout`), if it sent one.
/// The status and offset of a GetOffset or QueryOffset answer (0 on error).
fn offset_reply(result: Result<i64, crate::error::GrpcError>) -> (Option<pb::Status>, i64) {
    match result {
        Ok(offset) => (Some(ok()), offset),
        Err(e) => (Some(e.status()), 0),
    }
}

fn grpc_deadline<T>(req: &Request<T>) -> Option<std::time::Duration> {
    let v = req.metadata().get("grpc-timeout")?.to_str().ok()?;
    let (num, unit) = v.split_at(v.len().checked_sub(1)?);
    let n: u64 = num.parse().ok()?;
    Some(match unit {
        "H" => std::time::Duration::from_secs(n * 3600),
        "M" => std::time::Duration::from_secs(n * 60),
        "S" => std::time::Duration::from_secs(n),
        "m" => std::time::Duration::from_millis(n),
        "u" => std::time::Duration::from_micros(n),
        "n" => std::time::Duration::from_nanos(n),
        _ => return None,
    })
}
