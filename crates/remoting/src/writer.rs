//! The writer task of a connection: owns the socket's write half, takes
//! commands from the connection's queue and writes every command that is
//! ready in one go.

use std::io::{self, IoSlice};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use protocol::frame::encode_head;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tracing::{debug, warn};

use crate::connection::Connection;
use crate::outbound::Outbound;
use crate::stream::WriteHalf;

/// Bodies and body parts at least this long are written from their own
/// buffer (one slice of a vectored write) instead of being copied into the
/// batch; shorter ones are copied, which costs less than a slice each. A
/// pull answer's body is the commit log's mapped slices, one per message
/// (docs/architecture.md, "Pull"): they go to the socket without a copy.
pub(crate) const SHARE_MIN: usize = 512;
/// A batch stops collecting commands once it holds this many bytes.
const MAX_BATCH: usize = 1024 * 1024;
/// A batch stops collecting commands once it holds this many slices.
const MAX_SEGMENTS: usize = 1024;
/// Slices handed to one vectored write (Linux's IOV_MAX): a batch of
/// pull answers, a slice a message, leaves in as few writes as when it was
/// one copied buffer.
const MAX_IOV: usize = 1024;
/// After a close, frames already queued get this long to leave.
const CLOSE_FLUSH: Duration = Duration::from_millis(200);
/// The batch buffer's size at rest; a burst may grow it, and it shrinks
/// back once the queue is empty so idle connections hold little.
const BATCH_AT_REST: usize = 64 * 1024;

/// The socket's write half, with how long a write may make no progress
/// before the peer counts as gone (zero: wait forever).
pub(crate) struct Sink {
    pub wr: WriteHalf,
    pub stall: Duration,
}

impl Sink {
    /// One write call, given up on after the stall timeout.
    async fn write(&mut self, slices: &[IoSlice<'_>]) -> io::Result<usize> {
        let write = self.wr.write_vectored(slices);
        if self.stall.is_zero() {
            return write.await;
        }
        match tokio::time::timeout(self.stall, write).await {
            Ok(n) => n,
            Err(_) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!(
                    "the peer took nothing for {} ms (not reading its answers)",
                    self.stall.as_millis()
                ),
            )),
        }
    }

    /// Pushes out what TLS still holds (nothing to do on plain TCP), under
    /// the same stall timeout as a write.
    async fn flush(&mut self) -> io::Result<()> {
        let stall = self.stall;
        let flush = self.wr.flush();
        if stall.is_zero() {
            return flush.await;
        }
        tokio::time::timeout(stall, flush)
            .await
            .unwrap_or_else(|_| Err(io::ErrorKind::TimedOut.into()))
    }
}

/// One stretch of a batch, in wire order.
enum Segment {
    /// `buf[previous segment's end..end]`: heads and small bodies, copied.
    Copied { end: usize },
    /// A body (or body part) written from its own buffer.
    Shared(Bytes),
}

/// The frames that leave in the next write: copied bytes and shared
/// buffers, in order.
struct Batch {
    buf: BytesMut,
    segments: Vec<Segment>,
    shared_len: usize,
    /// Whether the stream takes vectored writes; if not, everything is
    /// copied (one write per batch rather than one per slice).
    vectored: bool,
}

impl Batch {
    fn new(vectored: bool) -> Self {
        Self {
            buf: BytesMut::with_capacity(BATCH_AT_REST),
            segments: Vec::new(),
            shared_len: 0,
            vectored,
        }
    }

    fn len(&self) -> usize {
        self.buf.len() + self.shared_len
    }

    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn is_full(&self) -> bool {
        self.len() >= MAX_BATCH || self.segments.len() >= MAX_SEGMENTS
    }

    /// Records that `buf` grew: the last copied segment now ends at its end.
    fn seal_copied(&mut self) {
        let end = self.buf.len();
        match self.segments.last_mut() {
            Some(Segment::Copied { end: last }) => *last = end,
            _ => self.segments.push(Segment::Copied { end }),
        }
    }

    /// Appends a body: copied when short, shared otherwise.
    fn put_body(&mut self, body: &Bytes) {
        if body.is_empty() {
            return;
        }
        if body.len() < SHARE_MIN || !self.vectored {
            self.buf.extend_from_slice(body);
            self.seal_copied();
        } else {
            self.shared_len += body.len();
            self.segments.push(Segment::Shared(body.clone()));
        }
    }

    /// Appends one frame.
    fn push(&mut self, out: &Outbound) {
        match out {
            Outbound::Command(cmd) => {
                encode_head(cmd, &mut self.buf);
                self.seal_copied();
                self.put_body(&cmd.body);
                for part in cmd.body_parts.iter() {
                    self.put_body(part);
                }
            }
            Outbound::Frame(f) => {
                self.buf.extend_from_slice(&f.head);
                self.seal_copied();
                self.put_body(&f.body);
            }
        }
    }

    /// Up to [`MAX_IOV`] slices of what is left after the first `skip` bytes.
    fn slices<'a>(&'a self, mut skip: usize, out: &mut Vec<IoSlice<'a>>) {
        let mut start = 0;
        for segment in &self.segments {
            let bytes: &[u8] = match segment {
                Segment::Copied { end } => {
                    let s = &self.buf[start..*end];
                    start = *end;
                    s
                }
                Segment::Shared(b) => b,
            };
            if skip >= bytes.len() {
                skip -= bytes.len();
                continue;
            }
            out.push(IoSlice::new(&bytes[skip..]));
            skip = 0;
            if out.len() == MAX_IOV {
                break;
            }
        }
    }

    /// Writes the whole batch, then empties it (an error leaves it as it
    /// is, so a close can tell that a frame was cut off).
    async fn write_all(&mut self, wr: &mut Sink) -> io::Result<()> {
        let total = self.len();
        let mut done = 0;
        while done < total {
            let mut iov = Vec::with_capacity(self.segments.len().min(MAX_IOV));
            self.slices(done, &mut iov);
            let written = wr.write(&iov).await?;
            if written == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            done += written;
        }
        self.clear();
        Ok(())
    }

    fn clear(&mut self) {
        self.buf.clear();
        self.segments.clear();
        self.shared_len = 0;
    }

    /// Gives back what a burst made the buffers grow to.
    fn shrink(&mut self) {
        if self.buf.capacity() > BATCH_AT_REST {
            self.buf = BytesMut::with_capacity(BATCH_AT_REST);
        }
        if self.segments.capacity() > 64 {
            self.segments = Vec::new();
        }
    }
}

/// Runs until the connection closes or a write fails; either way the
/// connection is closed when this returns.
pub(crate) async fn run(mut wr: Sink, mut rx: mpsc::Receiver<Outbound>, conn: Connection) {
    let mut batch = Batch::new(wr.wr.is_write_vectored());
    let closed = conn.closed_token().clone();
    let result = tokio::select! {
        _ = closed.cancelled() => Ok(()),
        r = write_loop(&mut wr, &mut rx, &mut batch, &conn) => r,
    };
    match result {
        // Best effort: a command queued just before close() (say a notice
        // the broker sends before dropping a client) still goes out. Only
        // when no write was cut off halfway (the batch is emptied after
        // every completed write), or the peer would see a torn frame.
        Ok(()) if batch.is_empty() => {
            let _ = tokio::time::timeout(
                CLOSE_FLUSH,
                drain_ready(&mut wr, &mut rx, &mut batch, &conn),
            )
            .await;
        }
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::TimedOut => {
            warn!(conn = conn.id(), peer = %conn.peer_addr(), "closing connection: {e}");
        }
        Err(e) => debug!(conn = conn.id(), peer = %conn.peer_addr(), "write failed: {e}"),
    }
    conn.close();
}

async fn write_loop(
    wr: &mut Sink,
    rx: &mut mpsc::Receiver<Outbound>,
    batch: &mut Batch,
    conn: &Connection,
) -> io::Result<()> {
    while let Some(first) = rx.recv().await {
        push(batch, &first, conn);
        // Let the tasks that are runnable right now (say every sender the
        // last batch of responses woke) queue their frames first, so they
        // leave in one write instead of one write (and one wakeup of the
        // peer) each.
        tokio::task::yield_now().await;
        drain_ready(wr, rx, batch, conn).await?;
        conn.touch();
        if rx.is_empty() {
            batch.shrink();
        }
    }
    Ok(())
}

/// Adds every command already queued to the batch, then writes the batch.
async fn drain_ready(
    wr: &mut Sink,
    rx: &mut mpsc::Receiver<Outbound>,
    batch: &mut Batch,
    conn: &Connection,
) -> io::Result<()> {
    loop {
        while !batch.is_full() {
            match rx.try_recv() {
                Ok(cmd) => push(batch, &cmd, conn),
                Err(_) => break,
            }
        }
        if batch.is_empty() {
            return wr.flush().await;
        }
        batch.write_all(wr).await?;
    }
}

/// Appends one frame to the batch and takes it off the connection's
/// backlog: from here the batch limit bounds it.
fn push(batch: &mut Batch, out: &Outbound, conn: &Connection) {
    batch.push(out);
    conn.backlog().remove(out.cost());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outbound::EncodedFrame;
    use bytes::Bytes;
    use protocol::frame::decode;
    use protocol::RemotingCommand;
    use tokio::io::AsyncReadExt;
    use tokio::net::{TcpListener, TcpStream};
    use tokio_util::sync::CancellationToken;

    type Pair = (
        TcpStream,
        tokio::net::tcp::OwnedWriteHalf,
        mpsc::Sender<Outbound>,
        mpsc::Receiver<Outbound>,
        Connection,
    );

    /// A loopback connection: the reading end, the writing half, the
    /// writer's queue and the connection it belongs to.
    async fn pair(max_queued_bytes: usize) -> Pair {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let out = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (inbound, _) = listener.accept().await.unwrap();
        let (peer, local) = (out.peer_addr().unwrap(), out.local_addr().unwrap());
        let (_rd, wr) = out.into_split();
        let (tx, rx) = mpsc::channel(64);
        let conn = Connection::new(
            peer,
            local,
            tx.clone(),
            CancellationToken::new(),
            max_queued_bytes,
        );
        (inbound, wr, tx, rx, conn)
    }

    fn spawn_writer(
        wr: tokio::net::tcp::OwnedWriteHalf,
        rx: mpsc::Receiver<Outbound>,
        conn: &Connection,
    ) -> tokio::task::JoinHandle<()> {
        let sink = Sink {
            wr: tokio_util::either::Either::Left(wr),
            stall: Duration::from_secs(30),
        };
        tokio::spawn(run(sink, rx, conn.clone()))
    }

    /// Reads `n` frames, `chunk` bytes a read (so frames arrive cut).
    async fn read_commands(
        inbound: &mut TcpStream,
        n: usize,
        chunk: usize,
    ) -> Vec<RemotingCommand> {
        let mut received = Vec::new();
        let mut got = Vec::new();
        let mut buf = vec![0u8; chunk];
        while got.len() < n {
            let read = inbound.read(&mut buf).await.unwrap();
            assert!(read > 0, "stream ended early");
            received.extend_from_slice(&buf[..read]);
            while let Some((cmd, used)) = decode(&received, usize::MAX).unwrap() {
                received.drain(..used);
                got.push(cmd);
            }
        }
        got
    }

    #[tokio::test]
    async fn queued_frames_of_mixed_sizes_arrive_in_order() {
        let (mut inbound, wr, tx, rx, conn) = pair(1 << 20).await;

        // Queued before the writer starts, so they go out as batches.
        let sizes = [
            10usize,
            SHARE_MIN + 1,
            0,
            300 * 1024,
            5,
            7,
            SHARE_MIN,
            64 * 1024,
        ];
        for (i, size) in sizes.iter().enumerate() {
            let mut cmd = RemotingCommand::request_code(i as i32)
                .with_body(Bytes::from(vec![i as u8; *size]));
            cmd.opaque = i as i32;
            let out = if i % 2 == 0 {
                Outbound::Command(cmd)
            } else {
                let mut head = BytesMut::new();
                encode_head(&cmd, &mut head);
                Outbound::Frame(EncodedFrame {
                    head: head.freeze(),
                    body: cmd.body,
                })
            };
            tx.send(out).await.unwrap();
        }
        drop(tx);
        let writer = spawn_writer(wr, rx, &conn);

        let got = read_commands(&mut inbound, sizes.len(), 8192).await;
        for (i, cmd) in got.iter().enumerate() {
            assert_eq!(cmd.opaque, i as i32);
            assert_eq!(cmd.body.len(), sizes[i]);
            assert!(cmd.body.iter().all(|b| *b == i as u8));
        }
        // The writer's queue still has a sender (inside `conn`): closing
        // the connection is what ends it.
        conn.close();
        writer.await.unwrap();
    }

    #[tokio::test]
    async fn body_parts_arrive_as_one_body_through_partial_writes() {
        let (mut inbound, wr, tx, rx, conn) = pair(64 << 20).await;

        // Commands of many parts (more than one write's slices), short and
        // long parts mixed, several megabytes in all: the socket takes them
        // in pieces, cutting slices in the middle.
        let mut expected = Vec::new();
        for i in 0..6u32 {
            let parts: Vec<Bytes> = (0..(150 + i * 40))
                .map(|j| {
                    let len = ((j * 7919 + i * 31) % 3000) as usize;
                    Bytes::from(vec![(j % 251) as u8; len])
                })
                .collect();
            let joined: Vec<u8> = parts.iter().flat_map(|p| p.iter().copied()).collect();
            let mut cmd = RemotingCommand::success().with_body_parts(parts);
            cmd.opaque = i as i32;
            expected.push(joined);
            tx.send(Outbound::Command(cmd)).await.unwrap();
        }
        drop(tx);
        let writer = spawn_writer(wr, rx, &conn);

        let got = read_commands(&mut inbound, expected.len(), 4096).await;
        for (i, cmd) in got.iter().enumerate() {
            assert_eq!(cmd.opaque, i as i32);
            assert_eq!(&cmd.body[..], &expected[i][..], "body of {i}");
        }
        conn.close();
        writer.await.unwrap();
    }
}
