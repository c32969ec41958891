//! `--protocol grpc` for `bench consume` (ReceiveMessage + AckMessage, with
//! tonic clients over hyper's HTTP/2 connections, one per consumer) and
//! what `bench produce` shares with it; produce's SendMessage calls are
//! `grpc_send.rs`.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context as _, Result};
use clap::ValueEnum;
use grpc::pb::messaging_service_client::MessagingServiceClient;
use grpc::pb::{self, receive_message_response::Content};
use hyper::body::Incoming;
use hyper::client::conn::http2::SendRequest;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::net::TcpStream;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tonic::body::BoxBody;
use tonic::metadata::{Ascii, MetadataValue};

use super::meter::Meter;

/// Which protocol the load speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Default)]
pub enum Protocol {
    /// RocketMQ remoting through the NameServer (4.x clients).
    #[default]
    Remoting,
    /// The 5.x gRPC endpoint (`--endpoint`).
    Grpc,
}

/// One HTTP/2 connection to the endpoint, driven by hyper directly: a
/// call goes from the caller to the connection's task, without the
/// request queue (and its worker task) that tonic's `Channel` puts in
/// front of it, so the load generator pays one task hop less per call.
#[derive(Clone)]
pub struct Conn(SendRequest<BoxBody>);

impl tonic::codegen::Service<hyper::Request<BoxBody>> for Conn {
    type Response = hyper::Response<Incoming>;
    type Error = hyper::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, req: hyper::Request<BoxBody>) -> Self::Future {
        Box::pin(self.0.send_request(req))
    }
}

/// A gRPC client.
pub type Client = MessagingServiceClient<Conn>;

/// Connects to the endpoint `host:port` (h2c, Nagle off).
///
/// # Errors
/// The endpoint does not answer or does not speak HTTP/2.
pub async fn connect(endpoint: &str) -> Result<Client> {
    let tcp = TcpStream::connect(endpoint)
        .await
        .with_context(|| format!("cannot connect to the gRPC endpoint {endpoint}"))?;
    tcp.set_nodelay(true)?;
    let (send, conn) = hyper::client::conn::http2::Builder::new(TokioExecutor::new())
        .timer(TokioTimer::new())
        .initial_stream_window_size(2 << 20)
        .initial_connection_window_size(8 << 20)
        .max_frame_size(64 << 10)
        .handshake(TokioIo::new(tcp))
        .await
        .with_context(|| format!("no HTTP/2 from the gRPC endpoint {endpoint}"))?;
    tokio::spawn(async move {
        if let Err(e) = conn.await {
            tracing::debug!(error = %e, "bench gRPC connection ended");
        }
    });
    let origin = format!("http://{endpoint}")
        .parse()
        .with_context(|| format!("bad gRPC endpoint {endpoint}"))?;
    Ok(MessagingServiceClient::with_origin(Conn(send), origin))
}

/// `x-mq-client-id` of this process, made once.
fn client_id() -> &'static MetadataValue<Ascii> {
    static ID: OnceLock<MetadataValue<Ascii>> = OnceLock::new();
    ID.get_or_init(|| {
        MetadataValue::try_from(format!("apogee-bench@{}", std::process::id()))
            .unwrap_or_else(|_| MetadataValue::from_static("apogee-bench"))
    })
}

fn request<T>(msg: T) -> tonic::Request<T> {
    let mut req = tonic::Request::new(msg);
    req.metadata_mut()
        .insert("x-mq-client-id", client_id().clone());
    req
}

fn resource(name: &str) -> Option<pb::Resource> {
    Some(pb::Resource {
        resource_namespace: String::new(),
        name: name.to_string(),
    })
}

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Claims up to `batch` messages of the budget; 0 when it is spent.
pub fn claim(budget: &AtomicI64, batch: u32) -> u32 {
    let before = budget.fetch_sub(i64::from(batch), Ordering::AcqRel);
    before.clamp(0, i64::from(batch)) as u32
}

/// The broker names serving `topic` at this endpoint (for receives).
///
/// # Errors
/// The route query fails or names no broker.
pub async fn brokers(client: &mut Client, topic: &str) -> Result<Vec<String>> {
    let resp = client
        .query_route(request(pb::QueryRouteRequest {
            topic: resource(topic),
            endpoints: None,
        }))
        .await?
        .into_inner();
    let mut names: Vec<String> = resp
        .message_queues
        .iter()
        .filter_map(|q| q.broker.as_ref().map(|b| b.name.clone()))
        .collect();
    names.dedup();
    if names.is_empty() {
        bail!("QueryRoute for {topic} returned {:?}", resp.status);
    }
    Ok(names)
}

/// What one receive loop reads.
#[derive(Debug, Clone)]
pub struct ReceiveSpec {
    pub group: String,
    pub topic: String,
    pub broker: String,
    /// Stop (notify `done`) after this many messages in total.
    pub limit: Option<u64>,
}

/// Receives (32 at a time) and acks until `stop`, counting each message
/// with its born-to-consume and store-to-consume ages.
pub async fn receive_loop(
    mut client: Client,
    spec: ReceiveSpec,
    meter: Arc<Meter>,
    done: Arc<Notify>,
    stop: CancellationToken,
) {
    let ReceiveSpec {
        group,
        topic,
        broker,
        limit,
    } = spec;
    while !stop.is_cancelled() {
        let req = request(pb::ReceiveMessageRequest {
            group: resource(&group),
            message_queue: Some(pb::MessageQueue {
                topic: resource(&topic),
                broker: Some(pb::Broker {
                    name: broker.clone(),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            filter_expression: None,
            batch_size: 32,
            invisible_duration: Some(grpc::convert::duration(30_000)),
            auto_renew: false,
            long_polling_timeout: Some(grpc::convert::duration(5_000)),
            attempt_id: None,
        });
        let Ok(resp) = client.receive_message(req).await else {
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            continue;
        };
        let mut stream = resp.into_inner();
        let mut entries = Vec::new();
        while let Ok(Some(frame)) = stream.message().await {
            if let Some(Content::Message(m)) = frame.content {
                let sp = m.system_properties.unwrap_or_default();
                let now = now_ms();
                let age = |t: Option<prost_types::Timestamp>| {
                    t.map_or(0, |t| {
                        u64::try_from(now - grpc::convert::timestamp_ms(&t)).unwrap_or(0) * 1000
                    })
                };
                meter.ok(1, age(sp.born_timestamp), age(sp.store_timestamp));
                entries.push(pb::AckMessageEntry {
                    message_id: sp.message_id,
                    receipt_handle: sp.receipt_handle.unwrap_or_default(),
                    lite_topic: None,
                });
            }
        }
        if !entries.is_empty() {
            let ack = request(pb::AckMessageRequest {
                group: resource(&group),
                topic: resource(&topic),
                entries,
            });
            if let Err(e) = client.ack_message(ack).await {
                tracing::debug!(error = %e, "bench ack failed");
            }
        }
        if limit.is_some_and(|l| meter.total().msgs >= l) {
            done.notify_one();
        }
    }
}
