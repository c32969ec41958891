//! `bench produce --protocol grpc`: SendMessage calls of one connection
//! driven from ONE task, on `h2` directly.
//!
//! The task owns the HTTP/2 connection and every call in flight on it.
//! Each pass completes the calls whose answers the connection read, starts
//! new calls in the freed slots (their HEADERS and DATA frames queue in
//! h2), then polls the connection, which writes the queued frames and reads
//! what arrived. The socket is wrapped by [`grpc::gather::gather`], so all
//! frames of a pass leave in one write at the end of that pass (no deferral
//! to a later pass) and the answers read in a pass complete their calls
//! without a wakeup of another task. hyper's client instead writes each
//! 1 KiB DATA frame on its own and hands every call from the caller's task
//! to its connection task and back.

use std::future::{poll_fn, Future};
use std::pin::{pin, Pin};
use std::sync::atomic::AtomicI64;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use bytes::{BufMut, Bytes, BytesMut};
use futures_util::stream::{FuturesUnordered, StreamExt};
use grpc::pb::{self, Code};
use h2::client::SendRequest;
use hyper::http::{header, HeaderMap, HeaderValue, Method, Request, StatusCode, Uri};
use prost::Message as _;
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

use super::grpc_load::{claim, now_ms};
use super::meter::{Failure, Meter};

const SEND_PATH: &str = "/apache.rocketmq.v2.MessagingService/SendMessage";
/// How long calls in flight may still finish once the run is stopped.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// What every call of a run sends.
pub struct SendSpec {
    pub topic: String,
    pub body: Bytes,
}

/// A TCP connection to the endpoint, not yet speaking HTTP/2.
pub struct SendConn {
    tcp: TcpStream,
    uri: Uri,
}

/// Connects to the endpoint `host:port` (h2c, Nagle off).
///
/// # Errors
/// The endpoint does not accept the connection or is not a `host:port`.
pub async fn connect(endpoint: &str) -> Result<SendConn> {
    let uri: Uri = format!("http://{endpoint}{SEND_PATH}")
        .parse()
        .with_context(|| format!("bad gRPC endpoint {endpoint}"))?;
    let tcp = TcpStream::connect(endpoint)
        .await
        .with_context(|| format!("cannot connect to the gRPC endpoint {endpoint}"))?;
    tcp.set_nodelay(true)?;
    Ok(SendConn { tcp, uri })
}

/// The outcome of one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// SendMessage answered OK after this many µs.
    Sent(u64),
    /// The endpoint answered with a non-OK status in the response.
    Refused,
    /// No answer: transport error, bad gRPC framing or a grpc-status != 0.
    Failed,
}

/// Keeps `inflight` SendMessage calls going on `conn` until the budget is
/// spent or `stop` is cancelled (calls in flight then get `STOP_GRACE` to
/// finish), or the connection ends (calls in flight count as failed).
pub async fn send_conn(
    conn: SendConn,
    spec: Arc<SendSpec>,
    inflight: usize,
    budget: Arc<AtomicI64>,
    meter: Arc<Meter>,
    stop: CancellationToken,
) {
    let (io, flusher) = grpc::gather::gather(conn.tcp, grpc::gather::GATHER_CAP);
    let calls = async move {
        let handshake = h2::client::Builder::new()
            .initial_window_size(2 << 20)
            .initial_connection_window_size(8 << 20)
            .max_frame_size(64 << 10)
            .handshake::<_, Bytes>(io)
            .await;
        let (send, h2conn) = match handshake {
            Ok(pair) => pair,
            Err(e) => {
                tracing::debug!(error = %e, "bench gRPC handshake failed");
                meter.failed(Failure::Send);
                return;
            }
        };
        let run = Run {
            send,
            head: head(conn.uri),
            spec,
            inflight: inflight.max(1),
            budget,
            meter,
            pid: std::process::id(),
            seq: 0,
        };
        run.drive(h2conn, stop).await;
    };
    flusher.drive(calls).await;
}

/// The request head shared by every call (`:path`, content type, `te`,
/// client id).
fn head(uri: Uri) -> Request<()> {
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/grpc"),
    );
    headers.insert(header::TE, HeaderValue::from_static("trailers"));
    let id = format!("apogee-bench@{}", std::process::id());
    headers.insert(
        "x-mq-client-id",
        HeaderValue::try_from(id).unwrap_or_else(|_| HeaderValue::from_static("apogee-bench")),
    );
    let mut req = Request::new(());
    *req.method_mut() = Method::POST;
    *req.uri_mut() = uri;
    *req.headers_mut() = headers;
    req
}

struct Run {
    send: SendRequest<Bytes>,
    head: Request<()>,
    spec: Arc<SendSpec>,
    inflight: usize,
    budget: Arc<AtomicI64>,
    meter: Arc<Meter>,
    pid: u32,
    seq: u64,
}

impl Run {
    /// One new call, or None when the budget is spent.
    fn next_call(&mut self) -> Option<impl Future<Output = Outcome>> {
        if claim(&self.budget, 1) != 1 {
            return None;
        }
        self.seq += 1;
        let msg = pb::Message {
            topic: Some(pb::Resource {
                resource_namespace: String::new(),
                name: self.spec.topic.clone(),
            }),
            user_properties: Default::default(),
            system_properties: Some(pb::SystemProperties {
                message_id: format!("01{:016X}{:016X}", self.pid, self.seq ^ now_ms() as u64),
                body_encoding: pb::Encoding::Identity as i32,
                message_type: pb::MessageType::Normal as i32,
                born_timestamp: Some(grpc::convert::timestamp(now_ms())),
                ..Default::default()
            }),
            body: self.spec.body.clone(),
        };
        let body = frame(&pb::SendMessageRequest {
            messages: vec![msg],
        });
        let mut req = Request::new(());
        *req.method_mut() = Method::POST;
        *req.uri_mut() = self.head.uri().clone();
        *req.headers_mut() = self.head.headers().clone();
        Some(call(self.send.clone(), req, body))
    }

    fn record(&self, outcome: Outcome) {
        match outcome {
            Outcome::Sent(us) => self.meter.ok(1, us, 0),
            Outcome::Refused => self.meter.failed(Failure::Response),
            Outcome::Failed => self.meter.failed(Failure::Send),
        }
    }

    /// The pass loop: see the module's documentation.
    async fn drive<T>(mut self, h2conn: h2::client::Connection<T, Bytes>, stop: CancellationToken)
    where
        T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    {
        let mut h2conn = pin!(h2conn);
        let mut cancelled = pin!(stop.cancelled_owned());
        let mut grace: Option<Pin<Box<tokio::time::Sleep>>> = None;
        let mut calls = FuturesUnordered::new();
        let mut conn_done = false;
        poll_fn(|cx: &mut Context<'_>| {
            if grace.is_none() && cancelled.as_mut().poll(cx).is_ready() {
                grace = Some(Box::pin(tokio::time::sleep(STOP_GRACE)));
            }
            let mut first = true;
            loop {
                // Calls whose answers arrived (or that failed) end here.
                let mut completed = false;
                while let Poll::Ready(Some(outcome)) = calls.poll_next_unpin(cx) {
                    self.record(outcome);
                    completed = true;
                }
                let grace_over = grace
                    .as_mut()
                    .is_some_and(|g| g.as_mut().poll(cx).is_ready());
                if conn_done || grace_over {
                    for _ in 0..calls.len() {
                        self.meter.failed(Failure::Send);
                    }
                    return Poll::Ready(());
                }
                // Free slots take new calls; polling them queues their frames.
                let mut started = false;
                while grace.is_none() && calls.len() < self.inflight {
                    let Some(call) = self.next_call() else { break };
                    calls.push(call);
                    started = true;
                }
                while let Poll::Ready(Some(outcome)) = calls.poll_next_unpin(cx) {
                    self.record(outcome);
                    completed = true;
                }
                if calls.is_empty() {
                    // The budget is spent, the run stopped, or every new
                    // call failed at once (the connection is gone).
                    return Poll::Ready(());
                }
                if !first && !completed && !started {
                    // The connection wrote everything queued and read what
                    // there was; the gather flusher writes it all now.
                    return Poll::Pending;
                }
                first = false;
                // Write what the calls queued, read what arrived.
                if let Poll::Ready(r) = h2conn.as_mut().poll(cx) {
                    if let Err(e) = r {
                        tracing::debug!(error = %e, "bench gRPC connection ended");
                    }
                    conn_done = true;
                }
            }
        })
        .await;
    }
}

/// A gRPC message frame: uncompressed flag, big-endian length, message.
fn frame(msg: &impl prost::Message) -> Bytes {
    let len = msg.encoded_len();
    let mut buf = BytesMut::with_capacity(5 + len);
    buf.put_u8(0);
    buf.put_u32(u32::try_from(len).unwrap_or(u32::MAX));
    // Cannot fail: the buffer has the room encoded_len asked for.
    let _ = msg.encode(&mut buf);
    buf.freeze()
}

/// One SendMessage call on the connection's own task.
async fn call(send: SendRequest<Bytes>, req: Request<()>, body: Bytes) -> Outcome {
    let started = Instant::now();
    match exchange(send, req, body).await {
        Ok(resp) => match resp.status.as_ref().map(|s| s.code) {
            Some(c) if c == Code::Ok as i32 => Outcome::Sent(started.elapsed().as_micros() as u64),
            _ => {
                tracing::debug!(status = ?resp.status, "bench send refused");
                Outcome::Refused
            }
        },
        Err(e) => {
            tracing::debug!(error = %e, "bench send failed");
            Outcome::Failed
        }
    }
}

/// Why a call got no usable answer.
#[derive(Debug, thiserror::Error)]
enum CallError {
    #[error("HTTP/2: {0}")]
    H2(#[from] h2::Error),
    #[error("HTTP status {0}")]
    Http(StatusCode),
    #[error("grpc-status {0}")]
    Status(String),
    #[error("no grpc-status in the trailers")]
    NoStatus,
    #[error("bad gRPC message frame")]
    Frame,
    #[error("bad SendMessageResponse: {0}")]
    Decode(#[from] prost::DecodeError),
}

/// `Ok` when grpc-status is 0; the status otherwise.
fn check_status(headers: &HeaderMap) -> Result<(), CallError> {
    match headers.get("grpc-status") {
        None => Err(CallError::NoStatus),
        Some(v) if v.as_bytes() == b"0" => Ok(()),
        Some(v) => {
            let msg = headers
                .get("grpc-message")
                .map(|m| String::from_utf8_lossy(m.as_bytes()).into_owned())
                .unwrap_or_default();
            Err(CallError::Status(format!(
                "{} {msg}",
                String::from_utf8_lossy(v.as_bytes())
            )))
        }
    }
}

async fn exchange(
    mut send: SendRequest<Bytes>,
    req: Request<()>,
    body: Bytes,
) -> Result<pb::SendMessageResponse, CallError> {
    send = send.ready().await?;
    let (response, mut stream) = send.send_request(req, false)?;
    stream.send_data(body, true)?;
    let (parts, mut body) = response.await?.into_parts();
    if parts.status != StatusCode::OK {
        return Err(CallError::Http(parts.status));
    }
    if parts.headers.contains_key("grpc-status") {
        // Trailers-only answer: an error (an OK carries a message).
        check_status(&parts.headers)?;
        return Err(CallError::Frame);
    }
    // An answer usually arrives as one DATA frame: keep it as it is, and
    // copy only when it comes in pieces.
    let mut data = Bytes::new();
    let mut pieces: Option<BytesMut> = None;
    while let Some(chunk) = body.data().await {
        let chunk = chunk?;
        body.flow_control().release_capacity(chunk.len())?;
        if let Some(joined) = pieces.as_mut() {
            joined.extend_from_slice(&chunk);
        } else if data.is_empty() {
            data = chunk;
        } else {
            let mut joined = BytesMut::from(&data[..]);
            joined.extend_from_slice(&chunk);
            pieces = Some(joined);
        }
    }
    let trailers = body.trailers().await?.unwrap_or_default();
    check_status(&trailers)?;
    match pieces {
        Some(joined) => unframe(&joined),
        None => unframe(&data),
    }
}

/// The one message of a unary answer.
fn unframe(data: &[u8]) -> Result<pb::SendMessageResponse, CallError> {
    let Some((&[flag, a, b, c, d], rest)) = data.split_first_chunk::<5>() else {
        return Err(CallError::Frame);
    };
    let len = u32::from_be_bytes([a, b, c, d]) as usize;
    if flag != 0 || rest.len() != len {
        return Err(CallError::Frame);
    }
    Ok(pb::SendMessageResponse::decode(rest)?)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use std::sync::atomic::{AtomicU64, Ordering};

    use tokio::net::TcpListener;

    use super::*;

    /// How the fake endpoint answers the n-th request (from 1).
    #[derive(Clone, Copy)]
    enum Mode {
        /// Every send OK.
        Ok,
        /// Even requests get grpc-status 13 in the trailers, requests
        /// divisible by 3 (and odd) a response status that is not OK.
        Mixed,
        /// The connection closes at this request, unanswered.
        CloseAt(u64),
    }

    /// Serves one HTTP/2 connection as a SendMessage endpoint; counts the
    /// requests and checks each one's head and message.
    async fn serve(listener: TcpListener, mode: Mode, seen: Arc<AtomicU64>) {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut conn = h2::server::handshake(tcp).await.unwrap();
        while let Some(next) = conn.accept().await {
            let Ok((req, mut respond)) = next else { return };
            let n = seen.fetch_add(1, Ordering::SeqCst) + 1;
            assert_eq!(req.uri().path(), SEND_PATH);
            assert_eq!(req.method(), Method::POST);
            let h = req.headers();
            assert_eq!(h["content-type"], "application/grpc");
            assert_eq!(h["te"], "trailers");
            assert!(h["x-mq-client-id"]
                .to_str()
                .unwrap()
                .starts_with("apogee-bench@"));
            let mut body = req.into_body();
            let mut data = BytesMut::new();
            while let Some(chunk) = body.data().await {
                let chunk = chunk.unwrap();
                body.flow_control().release_capacity(chunk.len()).unwrap();
                data.extend_from_slice(&chunk);
            }
            let (_, msg) = data.split_at(5);
            assert_eq!(
                u32::from_be_bytes(data[1..5].try_into().unwrap()) as usize,
                msg.len()
            );
            let sent = pb::SendMessageRequest::decode(msg).unwrap();
            assert_eq!(sent.messages.len(), 1);
            let m = &sent.messages[0];
            assert_eq!(m.topic.as_ref().unwrap().name, "T");
            assert_eq!(&m.body[..], b"hello");
            if matches!(mode, Mode::CloseAt(at) if n >= at) {
                return;
            }
            let code = match mode {
                Mode::Mixed if n.is_multiple_of(3) && !n.is_multiple_of(2) => Code::BadRequest,
                _ => Code::Ok,
            };
            let resp = hyper::http::Response::builder()
                .header("content-type", "application/grpc")
                .body(())
                .unwrap();
            let mut stream = respond.send_response(resp, false).unwrap();
            let mut answer = frame(&pb::SendMessageResponse {
                status: Some(pb::Status {
                    code: code as i32,
                    message: String::new(),
                }),
                entries: Vec::new(),
            });
            // Every fifth answer comes in two DATA frames, which the client
            // must join.
            if n.is_multiple_of(5) {
                stream.send_data(answer.split_to(3), false).unwrap();
            }
            stream.send_data(answer, false).unwrap();
            let mut trailers = HeaderMap::new();
            let status = if matches!(mode, Mode::Mixed) && n.is_multiple_of(2) {
                "13"
            } else {
                "0"
            };
            trailers.insert("grpc-status", HeaderValue::from_static(status));
            stream.send_trailers(trailers).unwrap();
        }
    }

    /// Runs `count` sends with `inflight` in flight against `mode`; the
    /// meter and the requests the endpoint saw.
    async fn run(mode: Mode, count: i64, inflight: usize) -> (Arc<Meter>, u64) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let seen = Arc::new(AtomicU64::new(0));
        let server = tokio::spawn(serve(listener, mode, seen.clone()));
        let conn = connect(&addr).await.unwrap();
        let meter = Arc::new(Meter::new().unwrap());
        let spec = Arc::new(SendSpec {
            topic: "T".into(),
            body: Bytes::from_static(b"hello"),
        });
        tokio::time::timeout(
            Duration::from_secs(20),
            send_conn(
                conn,
                spec,
                inflight,
                Arc::new(AtomicI64::new(count)),
                meter.clone(),
                CancellationToken::new(),
            ),
        )
        .await
        .expect("the send loop ends");
        server.abort();
        (meter, seen.load(Ordering::SeqCst))
    }

    #[tokio::test]
    async fn every_send_arrives_and_counts() {
        let (meter, seen) = run(Mode::Ok, 500, 16).await;
        let t = meter.total();
        assert_eq!(seen, 500);
        assert_eq!((t.msgs, t.send_failed, t.response_failed), (500, 0, 0));
    }

    #[tokio::test]
    async fn errors_count_as_failures() {
        let (meter, seen) = run(Mode::Mixed, 60, 4).await;
        let t = meter.total();
        assert_eq!(seen, 60);
        // 30 even (grpc-status 13), 10 odd multiples of 3 (status not OK).
        assert_eq!((t.msgs, t.send_failed, t.response_failed), (20, 30, 10));
    }

    #[tokio::test]
    async fn a_closed_connection_ends_the_loop() {
        let (meter, seen) = run(Mode::CloseAt(40), 1_000_000, 8).await;
        let t = meter.total();
        assert!(seen >= 40, "{seen}");
        // Answers queued when the endpoint dropped the connection may be lost.
        assert!(t.msgs >= 1 && t.msgs < 40, "{}", t.msgs);
        assert!(t.send_failed >= 1, "{}", t.send_failed);
    }

    #[tokio::test]
    async fn stop_ends_the_loop() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let seen = Arc::new(AtomicU64::new(0));
        let server = tokio::spawn(serve(listener, Mode::Ok, seen.clone()));
        let conn = connect(&addr).await.unwrap();
        let meter = Arc::new(Meter::new().unwrap());
        let stop = CancellationToken::new();
        let spec = Arc::new(SendSpec {
            topic: "T".into(),
            body: Bytes::from_static(b"hello"),
        });
        let task = tokio::spawn(send_conn(
            conn,
            spec,
            4,
            Arc::new(AtomicI64::new(i64::MAX)),
            meter.clone(),
            stop.clone(),
        ));
        tokio::time::sleep(Duration::from_millis(200)).await;
        stop.cancel();
        tokio::time::timeout(Duration::from_secs(10), task)
            .await
            .expect("the send loop ends")
            .unwrap();
        server.abort();
        let t = meter.total();
        assert!(t.msgs > 0);
        assert_eq!(t.msgs, seen.load(Ordering::SeqCst));
        assert_eq!(t.send_failed + t.response_failed, 0);
    }
}
