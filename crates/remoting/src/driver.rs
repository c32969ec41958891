//! Runs one connection: the reader task splits frames, hands responses to
//! their waiting requests and starts a task per incoming request; the
//! writer task (see `writer`) sends.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::BytesMut;
use protocol::command::FLAG_RESPONSE;
use protocol::frame::{decode_frame, frame_len};
use protocol::{ProtocolError, RemotingCommand, ResponseCode};
use tokio::io::AsyncReadExt;
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, info, warn, Instrument};

use crate::admission::Ticket;
use crate::backlog::{FrameBudget, FrameHold};
use crate::connection::Connection;
use crate::stream::{ReadHalf, Stream};
use crate::writer::Sink;
use crate::{writer, Processor};

/// Commands waiting for the writer; senders wait when it is full.
const OUTBOUND_QUEUE: usize = 4096;
/// Read buffer growth step, and the buffer size a connection keeps at rest.
const READ_CHUNK: usize = 64 * 1024;

/// What one connection may hold on behalf of its peer.
pub(crate) struct Limits {
    /// Requests of one connection processed at the same time; beyond this
    /// the connection is answered SYSTEM_BUSY (as Java's full thread pools
    /// do). Parked long-polling pulls count too.
    pub max_in_flight: usize,
    /// Bytes of answers queued for a peer past which its connection is no
    /// longer read (and its requests wait before being processed).
    pub high_water: usize,
    /// A write that makes no progress for this long closes the connection
    /// (zero: never).
    pub write_stall: Duration,
    /// Bytes of unfinished frames held across the endpoint's connections.
    pub frames: Arc<FrameBudget>,
}

/// What the connections of one server (or one client) share.
pub(crate) struct Endpoint {
    pub processor: Arc<dyn Processor>,
    pub max_frame: usize,
    pub idle_timeout: Duration,
    pub limits: Limits,
    /// Cancelled at shutdown: closes every connection and abandons the
    /// requests still being processed.
    pub shutdown: CancellationToken,
    pub tracker: TaskTracker,
    /// After handing out a chunk's frames, let the tasks they woke run
    /// before reading again (clients: the senders those responses freed
    /// queue their next requests, which then leave in one write, and the
    /// next read finds more responses waiting instead of one or two).
    pub yield_after_dispatch: bool,
    /// Run a request's first poll inside the reader task (servers): a
    /// request that completes without waiting (a send under asynchronous
    /// flush, most pulls, most admin calls) is answered without a task of
    /// its own - no spawn, no run-queue trip, no wakeup of another worker.
    /// Only one that has to wait (sync flush, a parked pull) gets a task.
    pub inline_first_poll: bool,
}

/// Starts the reader and writer tasks of a freshly opened connection.
/// `permit` (the server's connection slot) is released when it closes.
pub(crate) fn start(
    ep: &Arc<Endpoint>,
    stream: Stream,
    permit: Option<Ticket>,
) -> std::io::Result<Connection> {
    let peer = stream.tcp().peer_addr()?;
    let local = stream.tcp().local_addr()?;
    // Small request/response frames must not wait for Nagle.
    stream.tcp().set_nodelay(true)?;
    let (rd, wr) = stream.into_split();
    let (tx, rx) = mpsc::channel(OUTBOUND_QUEUE);
    let conn = Connection::new(
        peer,
        local,
        tx,
        ep.shutdown.child_token(),
        ep.limits.high_water,
    );
    let sink = Sink {
        wr,
        stall: ep.limits.write_stall,
    };
    ep.tracker.spawn(writer::run(sink, rx, conn.clone()));
    ep.tracker
        .spawn(read_task(Arc::clone(ep), rd, conn.clone(), permit));
    Ok(conn)
}

/// Why a connection stopped reading.
enum CloseReason {
    ByPeer,
    Local,
    Idle(Duration),
    Truncated(usize),
    BadFrame(ProtocolError),
    /// Growing this connection's unfinished frame would pass the cap on
    /// such bytes across all connections (the total it would have made).
    FrameBudget {
        total: usize,
        cap: usize,
    },
    Io(std::io::Error),
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CloseReason::ByPeer => write!(f, "closed by the peer"),
            CloseReason::Local => write!(f, "closed locally"),
            CloseReason::Idle(d) => write!(f, "no traffic for {} ms", d.as_millis()),
            CloseReason::Truncated(n) => {
                write!(f, "peer closed in the middle of a frame ({n} bytes unread)")
            }
            CloseReason::BadFrame(e) => write!(f, "bad frame: {e}"),
            CloseReason::FrameBudget { total, cap } => write!(
                f,
                "unfinished frames would hold {total} bytes across connections; the cap is {cap}"
            ),
            CloseReason::Io(e) => write!(f, "read failed: {e}"),
        }
    }
}

async fn read_task(ep: Arc<Endpoint>, rd: ReadHalf, conn: Connection, permit: Option<Ticket>) {
    let why = read_loop(&ep, rd, &conn).await;
    let (id, peer) = (conn.id(), conn.peer_addr());
    match &why {
        CloseReason::BadFrame(_) | CloseReason::Truncated(_) | CloseReason::FrameBudget { .. } => {
            warn!(conn = id, %peer, "closing connection: {why}");
        }
        CloseReason::Idle(_) => info!(conn = id, %peer, "closing idle connection: {why}"),
        CloseReason::ByPeer | CloseReason::Local | CloseReason::Io(_) => {
            debug!(conn = id, %peer, "connection closed: {why}");
        }
    }
    conn.shut();
    ep.processor.on_connection_closed(&conn);
    drop(permit);
}

async fn read_loop(ep: &Arc<Endpoint>, mut rd: ReadHalf, conn: &Connection) -> CloseReason {
    let mut buf = BytesMut::with_capacity(READ_CHUNK);
    let in_flight = Arc::new(Semaphore::new(ep.limits.max_in_flight));
    let mut hold = FrameHold::new(Arc::clone(&ep.limits.frames));
    loop {
        let split = std::future::poll_fn(|cx| {
            Poll::Ready(split_frames(ep, conn, &mut buf, &in_flight, cx))
        })
        .await;
        match split {
            Err(e) => return CloseReason::BadFrame(e),
            Ok(0) => {}
            Ok(_) if ep.yield_after_dispatch => tokio::task::yield_now().await,
            Ok(_) => {}
        }
        if let Err(why) = make_room(&mut buf, &mut hold, ep.limits.frames.cap()) {
            return why;
        }
        if conn.backlog().over() {
            // The peer does not read its answers: leave its requests in
            // the socket (TCP then slows the peer down) until it does.
            tokio::select! {
                _ = conn.closed_token().cancelled() => return CloseReason::Local,
                _ = conn.backlog().wait_for_room() => {}
            }
        }
        let idle_at = idle_deadline(conn, ep.idle_timeout);
        tokio::select! {
            _ = conn.closed_token().cancelled() => return CloseReason::Local,
            read = rd.read_buf(&mut buf) => match read {
                Ok(0) if buf.is_empty() => return CloseReason::ByPeer,
                Ok(0) => return CloseReason::Truncated(buf.len()),
                Ok(_) => conn.touch(),
                Err(e) => return CloseReason::Io(e),
            },
            _ = sleep_until(idle_at) => {
                // The writer may have moved bytes meanwhile.
                if idle_deadline(conn, ep.idle_timeout).is_some_and(|at| at <= Instant::now()) {
                    return CloseReason::Idle(ep.idle_timeout);
                }
            }
        }
    }
}

/// Grows the read buffer as a frame's bytes arrive (never ahead of them by
/// more than the bytes already there), charging the growth to the shared
/// budget for unfinished frames, and gives a burst's big buffer back once
/// it has been handed out.
fn make_room(buf: &mut BytesMut, hold: &mut FrameHold, cap: usize) -> Result<(), CloseReason> {
    if buf.capacity() > 4 * READ_CHUNK && buf.len() < READ_CHUNK / 2 {
        // The frames that used the big allocation now own it; start a
        // small buffer so it is freed when they are.
        let mut fresh = BytesMut::with_capacity(READ_CHUNK);
        fresh.extend_from_slice(buf);
        *buf = fresh;
    }
    if buf.capacity() - buf.len() < READ_CHUNK / 4 {
        let grown = buf.len() + READ_CHUNK.max(buf.len());
        hold.set(grown.saturating_sub(2 * READ_CHUNK))
            .map_err(|total| CloseReason::FrameBudget { total, cap })?;
        buf.reserve(READ_CHUNK.max(buf.len()));
    }
    // What the buffer holds beyond its resting size counts as unfinished
    // frame bytes (it only grows for frames bigger than that).
    hold.set(buf.capacity().saturating_sub(2 * READ_CHUNK))
        .map_err(|total| CloseReason::FrameBudget { total, cap })
}

/// When the connection counts as idle; None when that never happens (a
/// zero timeout disables the check, a huge one overflows the clock).
fn idle_deadline(conn: &Connection, idle_timeout: Duration) -> Option<Instant> {
    if idle_timeout.is_zero() {
        return None;
    }
    conn.last_activity().checked_add(idle_timeout)
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Takes every complete frame off the front of `buf` and dispatches it;
/// returns how many there were. `cx` is the reader task's (see
/// [`Endpoint::inline_first_poll`]).
fn split_frames(
    ep: &Arc<Endpoint>,
    conn: &Connection,
    buf: &mut BytesMut,
    in_flight: &Arc<Semaphore>,
    cx: &mut Context<'_>,
) -> Result<usize, ProtocolError> {
    let mut n = 0;
    while let Some(len) = frame_len(buf, ep.max_frame)? {
        if buf.len() < len {
            break;
        }
        let cmd = decode_frame(buf.split_to(len).freeze())?;
        dispatch(ep, conn, cmd, in_flight, cx);
        n += 1;
    }
    Ok(n)
}

fn dispatch(
    ep: &Arc<Endpoint>,
    conn: &Connection,
    cmd: RemotingCommand,
    in_flight: &Arc<Semaphore>,
    cx: &mut Context<'_>,
) {
    if cmd.is_response() {
        let opaque = cmd.opaque;
        if !conn.complete(cmd) {
            debug!(conn = conn.id(), peer = %conn.peer_addr(), opaque, "response to no waiting request (timed out?)");
        }
        return;
    }
    let span = tracing::debug_span!(
        "request",
        conn = conn.id(),
        peer = %conn.peer_addr(),
        code = cmd.code,
        opaque = cmd.opaque
    );
    let Ok(permit) = Arc::clone(in_flight).try_acquire_owned() else {
        span.in_scope(|| reject_busy(conn, &cmd, ep.limits.max_in_flight));
        return;
    };
    let task = serve(Arc::clone(ep), conn.clone(), cmd, permit).instrument(span);
    if !ep.inline_first_poll {
        ep.tracker.spawn(task);
        return;
    }
    // Polled here with the reader's waker; if it has to wait, its task
    // polls it again at once (registering the task's own waker), so the
    // reader at most sees one spurious wakeup.
    let mut task = Box::pin(task);
    if task.as_mut().poll(cx).is_pending() {
        ep.tracker.spawn(task);
    }
}

/// Processes one request in its own task and queues the answer.
async fn serve(
    ep: Arc<Endpoint>,
    conn: Connection,
    request: RemotingCommand,
    _permit: OwnedSemaphorePermit,
) {
    debug!("request received");
    // Held until the answer is queued (a turn of a backed-up connection).
    let _turn = tokio::select! {
        _ = conn.closed_token().cancelled() => return,
        turn = conn.backlog().admit() => turn,
    };
    let (opaque, serialize_type, oneway) =
        (request.opaque, request.serialize_type, request.is_oneway());
    let processing = ep.processor.process(conn.clone(), request);
    let answer = tokio::select! {
        biased;
        _ = ep.shutdown.cancelled() => {
            debug!("request abandoned: shutting down");
            return;
        }
        answer = processing => answer,
    };
    let Some(mut response) = answer else {
        debug!("processor sent no response");
        return;
    };
    if oneway {
        debug!("answer to a oneway request dropped");
        return;
    }
    // The same rule as RemotingCommand::answering (the request itself was
    // moved into the processor).
    response.opaque = opaque;
    response.serialize_type = serialize_type;
    response.flag |= FLAG_RESPONSE;
    debug!(response_code = response.code, "responding");
    if conn.send(response).await.is_err() {
        debug!("connection closed before the response could be sent");
    }
}

/// The remark Java brokers answer SYSTEM_BUSY with when a request cannot be
/// taken; clients match on it.
pub(crate) const SYSTEM_BUSY_REMARK: &str = "[REJECTREQUEST]system busy";

fn reject_busy(conn: &Connection, request: &RemotingCommand, max: usize) {
    debug!(
        max_in_flight = max,
        "too many requests in flight on this connection; answering SYSTEM_BUSY"
    );
    if request.is_oneway() {
        return;
    }
    let busy = RemotingCommand::error(
        ResponseCode::SYSTEM_BUSY,
        format!("{SYSTEM_BUSY_REMARK}, more than {max} requests in flight on this connection"),
    )
    .answering(request);
    if !conn.try_send(busy) {
        debug!("send queue full; SYSTEM_BUSY answer dropped");
    }
}
