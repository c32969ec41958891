//! Shared pieces of the remoting integration tests: a scripted processor,
//! raw-socket frame helpers and log capture.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, dead_code)]

use std::cell::RefCell;
use std::collections::HashSet;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Once};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use protocol::frame::{decode_frame, encode};
use protocol::RemotingCommand;
use remoting::{not_supported, BoxFuture, Connection, Processor, Server, ServerConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Notify;
use tracing_subscriber::filter::{dynamic_filter_fn, LevelFilter};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::Layer;

/// Echoes the body and extFields back with SUCCESS.
pub const ECHO: i32 = 9001;
/// Sleeps `ms` milliseconds (extField), then echoes.
pub const SLEEP: i32 = 9002;
/// Closes the connection it arrived on and answers nothing.
pub const CLOSE: i32 = 9003;
/// Answers nothing.
pub const SILENT: i32 = 9004;
/// Signals `started` and never finishes.
pub const HANG: i32 = 9005;
/// Answers a body of `size` bytes (extField), noting the connection's
/// backlog when it started.
pub const BIG: i32 = 9006;

pub const WAIT: Duration = Duration::from_secs(5);

/// A processor whose behaviour is chosen by the request code; it records
/// what it saw.
#[derive(Default)]
pub struct Scripted {
    pub requests: AtomicUsize,
    pub connections: Mutex<HashSet<u64>>,
    pub last_conn: Mutex<Option<Connection>>,
    pub closed: Mutex<Vec<u64>>,
    pub started: Notify,
    /// The most bytes queued on a connection a BIG request saw.
    pub max_backlog: AtomicUsize,
}

impl Processor for Scripted {
    fn process(
        &self,
        conn: Connection,
        request: RemotingCommand,
    ) -> BoxFuture<Option<RemotingCommand>> {
        self.requests.fetch_add(1, Ordering::SeqCst);
        self.connections.lock().unwrap().insert(conn.id());
        *self.last_conn.lock().unwrap() = Some(conn.clone());
        match request.code {
            ECHO => Box::pin(async move { Some(echo(&request)) }),
            SLEEP => {
                let ms: u64 = request.field("ms").unwrap_or("0").parse().unwrap();
                Box::pin(async move {
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                    Some(echo(&request))
                })
            }
            CLOSE => {
                conn.close();
                Box::pin(async { None })
            }
            SILENT => Box::pin(async { None }),
            HANG => {
                self.started.notify_one();
                Box::pin(std::future::pending())
            }
            BIG => {
                self.max_backlog
                    .fetch_max(conn.queued_bytes(), Ordering::SeqCst);
                let size: usize = request.field("size").unwrap_or("0").parse().unwrap();
                let answer = RemotingCommand::success().with_body(Bytes::from(vec![7u8; size]));
                Box::pin(async move { Some(answer) })
            }
            _ => Box::pin(async move { Some(not_supported(&request)) }),
        }
    }

    fn on_connection_closed(&self, conn: &Connection) {
        self.closed.lock().unwrap().push(conn.id());
    }
}

pub fn echo(request: &RemotingCommand) -> RemotingCommand {
    let mut resp = RemotingCommand::success().with_body(request.body.clone());
    resp.ext_fields = request.ext_fields.clone();
    resp
}

pub fn request(code: i32) -> RemotingCommand {
    RemotingCommand::request_code(code)
}

pub async fn server_with(config: ServerConfig) -> (Server, Arc<Scripted>) {
    let processor = Arc::new(Scripted::default());
    let addr: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let server = Server::bind(addr, config, processor.clone()).await.unwrap();
    (server, processor)
}

pub async fn server() -> (Server, Arc<Scripted>) {
    server_with(ServerConfig::default()).await
}

/// Writes one command as a frame on a raw socket.
pub async fn write_cmd(stream: &mut TcpStream, cmd: &RemotingCommand) {
    let mut buf = BytesMut::new();
    encode(cmd, &mut buf);
    stream.write_all(&buf).await.unwrap();
}

/// Reads one whole frame from a raw socket; returns the raw bytes.
pub async fn read_frame_bytes(stream: &mut TcpStream) -> Bytes {
    let mut len = [0u8; 4];
    tokio::time::timeout(WAIT, stream.read_exact(&mut len))
        .await
        .unwrap()
        .unwrap();
    let n = u32::from_be_bytes(len) as usize;
    let mut frame = vec![0u8; 4 + n];
    frame[..4].copy_from_slice(&len);
    tokio::time::timeout(WAIT, stream.read_exact(&mut frame[4..]))
        .await
        .unwrap()
        .unwrap();
    Bytes::from(frame)
}

pub async fn read_cmd(stream: &mut TcpStream) -> RemotingCommand {
    decode_frame(read_frame_bytes(stream).await).unwrap()
}

/// Waits until the peer closes the socket (EOF or reset), ignoring data.
pub async fn expect_closed(stream: &mut TcpStream) {
    let mut sink = [0u8; 1024];
    let closed = tokio::time::timeout(WAIT, async {
        loop {
            match stream.read(&mut sink).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "the server did not close the connection");
}

/// Log lines written on this thread while the returned guard lives (use a
/// current-thread runtime so the server's tasks log here too).
///
/// One process-wide subscriber routes each line to the capture of the
/// thread that wrote it. A per-test scoped subscriber (`set_default`) is not
/// enough: while it is the only one in the process, the first thread to
/// reach a log statement decides whether that statement is ever enabled, and
/// a test thread without a subscriber disables it for every thread
/// (tokio-rs/tracing#3611), so a capture would miss lines now and then.
#[derive(Clone, Default)]
pub struct Logs(Arc<Mutex<Vec<u8>>>);

thread_local! {
    static CAPTURE: RefCell<Option<Logs>> = const { RefCell::new(None) };
}

/// Stops this thread's capture when dropped.
pub struct Capturing(());

impl Drop for Capturing {
    fn drop(&mut self) {
        CAPTURE.with(|c| c.borrow_mut().take());
    }
}

/// Writes to the capture of the thread it was made on, if any.
struct ThreadSink;

impl Write for ThreadSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        CAPTURE.with(|c| {
            if let Some(logs) = c.borrow().as_ref() {
                logs.0.lock().unwrap().extend_from_slice(buf);
            }
        });
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn capturing() -> bool {
    CAPTURE.with(|c| c.borrow().is_some())
}

impl Logs {
    pub fn capture(&self) -> Capturing {
        static INSTALL: Once = Once::new();
        INSTALL.call_once(|| {
            // A dynamic filter is asked on every event, on the thread that
            // logs it: its answer is never cached for the log statement.
            let filter =
                dynamic_filter_fn(|meta, _| *meta.level() <= tracing::Level::DEBUG && capturing())
                    .with_max_level_hint(LevelFilter::DEBUG);
            let layer = tracing_subscriber::fmt::layer()
                .with_ansi(false)
                .with_writer(|| ThreadSink)
                .with_filter(filter);
            tracing::subscriber::set_global_default(tracing_subscriber::registry().with(layer))
                .expect("no other global subscriber in the remoting tests");
        });
        CAPTURE.with(|c| *c.borrow_mut() = Some(self.clone()));
        Capturing(())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// Polls `cond` until it holds (fails the test after [`WAIT`]).
pub async fn wait_until(cond: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !cond() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "condition not reached in time"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
