//! Serving accepted gRPC connections with hyper's HTTP/2 server directly:
//! our window and frame settings, and each request's handler run first on
//! the connection's own task. A handler that finishes without waiting (a
//! send the store appends inline, an ack) answers in the same pass that
//! read the request, and the answers of a burst of requests go out in one
//! write; only a handler that has to wait (a long poll, a send to another
//! broker) becomes a task of its own. Writes are gathered (`gather.rs`):
//! everything one pass of the connection's task writes leaves in one write
//! after the pass, not one `writev` per DATA frame.

use std::future::Future;
use std::io;
use std::pin::pin;
use std::task::{Context, Waker};
use std::time::Duration;

use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio_stream::{Stream, StreamExt};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tonic::codegen::Service as _;
use tonic::transport::server::Connected;

use crate::gather::{gather, GATHER_CAP};
use crate::pb::messaging_service_server::MessagingServiceServer;
use crate::service::Service;
use crate::tls::GrpcConn;

/// HTTP/2 settings of the endpoint.
#[derive(Debug, Clone, Copy)]
pub struct H2Settings {
    /// Initial flow-control window of each stream (bytes a client may send
    /// on one call before we acknowledge).
    pub stream_window: u32,
    /// Initial flow-control window of the connection.
    pub connection_window: u32,
    /// Largest frame a client may send us.
    pub max_frame_size: u32,
    /// Concurrent calls per connection.
    pub max_concurrent_streams: u32,
    /// Bytes buffered per stream for sending before the handler waits.
    pub max_send_buf_size: usize,
}

impl Default for H2Settings {
    fn default() -> Self {
        H2Settings {
            // A batch of 32 messages of 4 MiB fits nobody's window anyway;
            // 2 MiB per call and 8 MiB per connection keep 16+ concurrent
            // sends of ordinary messages from ever waiting for a
            // WINDOW_UPDATE.
            stream_window: 2 << 20,
            connection_window: 8 << 20,
            max_frame_size: 64 << 10,
            max_concurrent_streams: 1024,
            max_send_buf_size: 1 << 20,
        }
    }
}

/// Runs a request's handler once on the calling (connection) task; only
/// if it is not finished does it become a task (which polls it again, so
/// the inert first waker is never relied upon).
#[derive(Clone)]
struct InlineFirst {
    tasks: TaskTracker,
}

impl<F> hyper::rt::Executor<F> for InlineFirst
where
    F: Future<Output = ()> + Send + 'static,
{
    fn execute(&self, fut: F) {
        let mut fut = Box::pin(fut);
        let mut cx = Context::from_waker(Waker::noop());
        if fut.as_mut().poll(&mut cx).is_pending() {
            self.tasks.spawn(fut);
        }
    }
}

/// Serves every connection of `conns` until `cancel`; then each connection
/// is asked to finish gracefully (no new calls; open ones run to their end).
pub async fn serve(
    service: Service,
    conns: impl Stream<Item = io::Result<GrpcConn>>,
    settings: H2Settings,
    cancel: CancellationToken,
    tasks: TaskTracker,
) {
    let mut builder = hyper::server::conn::http2::Builder::new(InlineFirst {
        tasks: tasks.clone(),
    });
    builder
        .timer(TokioTimer::new())
        .initial_stream_window_size(settings.stream_window)
        .initial_connection_window_size(settings.connection_window)
        .max_frame_size(settings.max_frame_size)
        .max_concurrent_streams(settings.max_concurrent_streams)
        .max_send_buf_size(settings.max_send_buf_size)
        .keep_alive_interval(Some(Duration::from_secs(60)))
        .keep_alive_timeout(Duration::from_secs(20));
    let server = MessagingServiceServer::new(service);
    let mut conns = pin!(conns);
    loop {
        let conn = tokio::select! {
            _ = cancel.cancelled() => return,
            c = conns.next() => c,
        };
        let conn = match conn {
            Some(Ok(c)) => c,
            Some(Err(e)) => {
                tracing::debug!("gRPC connection not accepted: {e}");
                continue;
            }
            None => return,
        };
        let info = conn.connect_info();
        let server = server.clone();
        // tonic's Request::remote_addr reads the connection info from the
        // request's extensions.
        let svc = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
            req.extensions_mut().insert(info.clone());
            server.clone().call(req)
        });
        let (io, flusher) = gather(conn, GATHER_CAP);
        let conn = builder.serve_connection(TokioIo::new(io), svc);
        let cancel = cancel.clone();
        tasks.spawn(flusher.drive(async move {
            let mut conn = pin!(conn);
            tokio::select! {
                r = conn.as_mut() => return finished(r),
                _ = cancel.cancelled() => conn.as_mut().graceful_shutdown(),
            }
            finished(conn.await);
        }));
    }
}

fn finished(result: Result<(), hyper::Error>) {
    if let Err(e) = result {
        tracing::debug!("gRPC connection ended: {e}");
    }
}
