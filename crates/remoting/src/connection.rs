//! A cheap handle to one live connection, and the table of requests on it
//! that still wait for their responses.

use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use protocol::command::{FLAG_ONEWAY, FLAG_RESPONSE};
use protocol::RemotingCommand;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::backlog::Backlog;
use crate::error::RemotingError;
use crate::outbound::{command_cost, EncodedFrame, Outbound};

static NEXT_CONNECTION_ID: AtomicU64 = AtomicU64::new(1);
static NEXT_OPAQUE: AtomicI32 = AtomicI32::new(0);

/// The next request id of this process. One counter for every connection
/// (as Java does); it wraps to negative numbers, which the protocol allows.
pub fn next_opaque() -> i32 {
    NEXT_OPAQUE.fetch_add(1, Ordering::Relaxed)
}

/// A cheap, cloneable handle to one live connection (either side). Clones
/// share the connection; closing one closes it for all.
#[derive(Clone)]
pub struct Connection {
    inner: Arc<Inner>,
}

struct Inner {
    id: u64,
    peer: SocketAddr,
    local: SocketAddr,
    outbound: mpsc::Sender<Outbound>,
    pending: Mutex<Pending>,
    closed: CancellationToken,
    activity: Activity,
    backlog: Backlog,
}

/// Requests sent on this connection that wait for a response. Dropping a
/// sender wakes its invoker with "connection closed".
#[derive(Default)]
struct Pending {
    waiting: HashMap<i32, oneshot::Sender<RemotingCommand>, BuildHasherDefault<OpaqueHasher>>,
    /// Set once, when the connection closes; later requests are refused
    /// instead of waiting for a response that can never come.
    closed: bool,
}

/// Hashes the opaques of the pending table. They are numbers this process
/// hands out in sequence, so a multiplicative hash spreads them well, and
/// SipHash's protection against chosen keys buys nothing (a peer only
/// looks keys up). Every request inserts and removes one.
#[derive(Default)]
struct OpaqueHasher(u64);

impl Hasher for OpaqueHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(*b)).wrapping_mul(FIB_MULT);
        }
    }

    fn write_i32(&mut self, n: i32) {
        self.0 = u64::from(n as u32).wrapping_mul(FIB_MULT);
    }
}

/// 2^64 / golden ratio, odd: multiplying by it is a bijection that mixes
/// low bits into the high ones the table's control bytes use.
const FIB_MULT: u64 = 0x9E37_79B9_7F4A_7C15;

/// When the connection last moved bytes in either direction, as
/// milliseconds since it opened (an atomic, so reader and writer can both
/// touch it without a lock).
struct Activity {
    origin: Instant,
    last_ms: AtomicU64,
}

impl Activity {
    fn new() -> Self {
        Activity {
            origin: Instant::now(),
            last_ms: AtomicU64::new(0),
        }
    }

    fn touch(&self) {
        let ms = u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.fetch_max(ms, Ordering::Relaxed);
    }

    fn last(&self) -> Instant {
        self.origin + Duration::from_millis(self.last_ms.load(Ordering::Relaxed))
    }
}

impl Connection {
    pub(crate) fn new(
        peer: SocketAddr,
        local: SocketAddr,
        outbound: mpsc::Sender<Outbound>,
        closed: CancellationToken,
        high_water: usize,
    ) -> Self {
        Connection {
            inner: Arc::new(Inner {
                id: NEXT_CONNECTION_ID.fetch_add(1, Ordering::Relaxed),
                peer,
                local,
                outbound,
                pending: Mutex::new(Pending::default()),
                closed,
                activity: Activity::new(),
                backlog: Backlog::new(high_water),
            }),
        }
    }

    /// A number unique to this connection within the process.
    pub fn id(&self) -> u64 {
        self.inner.id
    }

    /// The remote end's address.
    pub fn peer_addr(&self) -> SocketAddr {
        self.inner.peer
    }

    /// Our end's address.
    pub fn local_addr(&self) -> SocketAddr {
        self.inner.local
    }

    /// Whether the connection has closed (or is closing). A closed
    /// connection never reopens.
    pub fn is_closed(&self) -> bool {
        self.inner.closed.is_cancelled()
    }

    /// Completes when the connection closes (for work parked on behalf of
    /// the peer, such as a long-polling pull, to give up early).
    pub async fn closed(&self) {
        self.inner.closed.cancelled().await;
    }

    /// How many requests sent on this connection still wait for a response.
    pub fn pending_requests(&self) -> usize {
        self.inner.pending.lock().waiting.len()
    }

    /// Sends a request on this connection and waits for its response. The
    /// transport assigns the opaque and clears the oneway flag.
    ///
    /// # Errors
    /// [`RemotingError::ConnectionClosed`] if the connection is closed or
    /// closes before the response arrives; [`RemotingError::Timeout`] if no
    /// response arrives within `timeout` (the request is then forgotten, and a
    /// late response is ignored).
    pub async fn invoke(
        &self,
        mut request: RemotingCommand,
        timeout: Duration,
    ) -> Result<RemotingCommand, RemotingError> {
        request.flag &= !(FLAG_RESPONSE | FLAG_ONEWAY);
        request.opaque = next_opaque();
        self.exchange(request.opaque, Outbound::Command(request), timeout)
            .await
    }

    /// Like [`Connection::invoke`], for a request the caller encodes itself:
    /// `encode` gets the opaque the transport assigned and returns the whole
    /// frame, which must carry that opaque and the flags of a plain request
    /// (no response or oneway bit).
    ///
    /// # Errors
    /// As [`Connection::invoke`].
    pub async fn invoke_encoded(
        &self,
        encode: impl FnOnce(i32) -> EncodedFrame,
        timeout: Duration,
    ) -> Result<RemotingCommand, RemotingError> {
        let opaque = next_opaque();
        let frame = encode(opaque);
        self.exchange(opaque, Outbound::Frame(frame), timeout).await
    }

    /// Queues a request with `opaque` and waits for its response.
    async fn exchange(
        &self,
        opaque: i32,
        request: Outbound,
        timeout: Duration,
    ) -> Result<RemotingCommand, RemotingError> {
        let waiting = self.register(opaque)?;
        // Removes the table entry however this future ends: answered, timed
        // out, or dropped by the caller.
        let _forget = Forget { conn: self, opaque };
        let exchange = async {
            self.queue(request).await?;
            waiting.await.map_err(|_| self.closed_error())
        };
        match tokio::time::timeout(timeout, exchange).await {
            Ok(result) => result,
            Err(_) => Err(RemotingError::Timeout {
                addr: self.inner.peer.to_string(),
                millis: u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX),
            }),
        }
    }

    /// Sends a request with the oneway flag and does not wait for anything
    /// but room in the connection's send queue.
    ///
    /// # Errors
    /// [`RemotingError::ConnectionClosed`] if the connection is closed.
    pub async fn invoke_oneway(&self, mut request: RemotingCommand) -> Result<(), RemotingError> {
        request.flag = (request.flag & !FLAG_RESPONSE) | FLAG_ONEWAY;
        request.opaque = next_opaque();
        self.send(request).await
    }

    /// Closes the connection: both directions stop, waiting requests fail
    /// with [`RemotingError::ConnectionClosed`].
    pub fn close(&self) {
        self.inner.closed.cancel();
    }

    /// Queues one frame for the writer task.
    pub(crate) async fn send(&self, cmd: RemotingCommand) -> Result<(), RemotingError> {
        self.queue(Outbound::Command(cmd)).await
    }

    async fn queue(&self, out: Outbound) -> Result<(), RemotingError> {
        if self.is_closed() {
            return Err(self.closed_error());
        }
        let cost = out.cost();
        self.inner.backlog.add(cost);
        let sent = self.inner.outbound.send(out).await;
        if sent.is_err() {
            self.inner.backlog.remove(cost);
        }
        sent.map_err(|_| self.closed_error())
    }

    /// Queues one frame if there is room right now (for the reader task,
    /// which must not wait on its own writer).
    pub(crate) fn try_send(&self, cmd: RemotingCommand) -> bool {
        if self.is_closed() {
            return false;
        }
        let cost = command_cost(&cmd);
        self.inner.backlog.add(cost);
        let sent = self.inner.outbound.try_send(Outbound::Command(cmd)).is_ok();
        if !sent {
            self.inner.backlog.remove(cost);
        }
        sent
    }

    /// Bytes queued for the peer that the writer has not taken yet.
    pub fn queued_bytes(&self) -> usize {
        self.inner.backlog.bytes()
    }

    pub(crate) fn backlog(&self) -> &Backlog {
        &self.inner.backlog
    }

    /// Hands a response to the request waiting for it. Returns false if no
    /// request waits for that opaque (it timed out, or the peer is confused).
    pub(crate) fn complete(&self, response: RemotingCommand) -> bool {
        let waiter = self.inner.pending.lock().waiting.remove(&response.opaque);
        match waiter {
            Some(tx) => tx.send(response).is_ok(),
            None => false,
        }
    }

    /// Marks the connection closed and fails every waiting request.
    pub(crate) fn shut(&self) {
        self.inner.closed.cancel();
        let waiting = {
            let mut pending = self.inner.pending.lock();
            pending.closed = true;
            std::mem::take(&mut pending.waiting)
        };
        // Dropping the senders (outside the lock) wakes the invokers.
        drop(waiting);
    }

    pub(crate) fn closed_token(&self) -> &CancellationToken {
        &self.inner.closed
    }

    pub(crate) fn touch(&self) {
        self.inner.activity.touch();
    }

    pub(crate) fn last_activity(&self) -> Instant {
        self.inner.activity.last()
    }

    fn register(&self, opaque: i32) -> Result<oneshot::Receiver<RemotingCommand>, RemotingError> {
        let (tx, rx) = oneshot::channel();
        let mut pending = self.inner.pending.lock();
        if pending.closed || self.is_closed() {
            return Err(self.closed_error());
        }
        pending.waiting.insert(opaque, tx);
        Ok(rx)
    }

    fn closed_error(&self) -> RemotingError {
        RemotingError::ConnectionClosed {
            addr: self.inner.peer.to_string(),
        }
    }
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("id", &self.inner.id)
            .field("peer", &self.inner.peer)
            .field("local", &self.inner.local)
            .field("closed", &self.is_closed())
            .finish()
    }
}

/// Removes a request's entry from the pending table when dropped.
struct Forget<'a> {
    conn: &'a Connection,
    opaque: i32,
}

impl Drop for Forget<'_> {
    fn drop(&mut self) {
        self.conn.inner.pending.lock().waiting.remove(&self.opaque);
    }
}
