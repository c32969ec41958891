//! The writer task of a connection: owns the socket's write half, takes
//! commands from the connection's queue and writes every command that is
//! ready in one go.

use std::io::{self, IoSlice};
use std::time::Duration;

use bytes::BytesMut;
use protocol::frame::{encode, encode_head};
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;
use tracing::{debug, warn};

use crate::connection::Connection;
use crate::outbound::Outbound;
use crate::stream::WriteHalf;

/// Bodies larger than this are written from their own buffer (one vectored
/// write with the batch) instead of being copied into the batch; smaller
/// ones are copied, which lets many frames leave in one write. A pull
/// response's body is already one buffer: the broker joined the mapped
/// commit-log slices into it (docs/architecture.md, "Pull").
pub(crate) const LARGE_BODY: usize = 64 * 1024;
/// A batch stops collecting commands once it holds this many bytes.
const MAX_BATCH: usize = 1024 * 1024;
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
    async fn write(&mut self, a: &[u8], b: &[u8]) -> io::Result<usize> {
        let slices = [IoSlice::new(a), IoSlice::new(b)];
        let write = self.wr.write_vectored(&slices);
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

    async fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        write_two(self, buf, &[]).await
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

/// Runs until the connection closes or a write fails; either way the
/// connection is closed when this returns.
pub(crate) async fn run(mut wr: Sink, mut rx: mpsc::Receiver<Outbound>, conn: Connection) {
    let mut buf = BytesMut::with_capacity(BATCH_AT_REST);
    let closed = conn.closed_token().clone();
    let result = tokio::select! {
        _ = closed.cancelled() => Ok(()),
        r = write_loop(&mut wr, &mut rx, &mut buf, &conn) => r,
    };
    match result {
        // Best effort: a command queued just before close() (say a notice
        // the broker sends before dropping a client) still goes out. Only
        // when no write was cut off halfway (the batch buffer is emptied
        // after every completed write), or the peer would see a torn frame.
        Ok(()) if buf.is_empty() => {
            let _ =
                tokio::time::timeout(CLOSE_FLUSH, drain_ready(&mut wr, &mut rx, &mut buf, &conn))
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
    buf: &mut BytesMut,
    conn: &Connection,
) -> io::Result<()> {
    while let Some(first) = rx.recv().await {
        push(wr, buf, &first, conn).await?;
        // Let the tasks that are runnable right now (say every sender the
        // last batch of responses woke) queue their frames first, so they
        // leave in one write instead of one write (and one wakeup of the
        // peer) each.
        tokio::task::yield_now().await;
        drain_ready(wr, rx, buf, conn).await?;
        conn.touch();
        if buf.capacity() > BATCH_AT_REST && rx.is_empty() {
            *buf = BytesMut::with_capacity(BATCH_AT_REST);
        }
    }
    Ok(())
}

/// Adds every command already queued to the batch, then writes the batch.
async fn drain_ready(
    wr: &mut Sink,
    rx: &mut mpsc::Receiver<Outbound>,
    buf: &mut BytesMut,
    conn: &Connection,
) -> io::Result<()> {
    loop {
        while buf.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(cmd) => push(wr, buf, &cmd, conn).await?,
                Err(_) => break,
            }
        }
        if buf.is_empty() {
            return wr.flush().await;
        }
        wr.write_all(buf).await?;
        buf.clear();
    }
}

/// Appends one frame to the batch (a large body is written together with
/// the batch, head included, straight from its own buffer), and takes it
/// off the connection's backlog: from here the batch limit bounds it.
async fn push(
    wr: &mut Sink,
    buf: &mut BytesMut,
    out: &Outbound,
    conn: &Connection,
) -> io::Result<()> {
    let written = push_frame(wr, buf, out).await;
    conn.backlog().remove(out.cost());
    written
}

async fn push_frame(wr: &mut Sink, buf: &mut BytesMut, out: &Outbound) -> io::Result<()> {
    let body = match out {
        Outbound::Command(cmd) if cmd.body.len() <= LARGE_BODY => {
            encode(cmd, buf);
            return Ok(());
        }
        Outbound::Command(cmd) => {
            encode_head(cmd, buf);
            &cmd.body
        }
        Outbound::Frame(f) => {
            buf.extend_from_slice(&f.head);
            if f.body.len() <= LARGE_BODY {
                buf.extend_from_slice(&f.body);
                return Ok(());
            }
            &f.body
        }
    };
    write_two(wr, buf, body).await?;
    buf.clear();
    Ok(())
}

/// Writes `a` then `b` with vectored writes, without joining them.
async fn write_two(wr: &mut Sink, mut a: &[u8], mut b: &[u8]) -> io::Result<()> {
    while !a.is_empty() || !b.is_empty() {
        let n = wr.write(a, b).await?;
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        let from_a = n.min(a.len());
        a = &a[from_a..];
        b = &b[n - from_a..];
    }
    Ok(())
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

    #[tokio::test]
    async fn queued_frames_of_mixed_sizes_arrive_in_order() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let out = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (mut inbound, _) = listener.accept().await.unwrap();
        let (peer, local) = (out.peer_addr().unwrap(), out.local_addr().unwrap());
        let (_rd, wr) = out.into_split();
        let (tx, rx) = mpsc::channel(64);
        let conn = Connection::new(peer, local, tx.clone(), CancellationToken::new(), 1 << 20);

        // Queued before the writer starts, so they go out as batches.
        let sizes = [10usize, LARGE_BODY + 1, 0, 300 * 1024, 5, 7];
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
        let sink = Sink {
            wr: tokio_util::either::Either::Left(wr),
            stall: Duration::from_secs(30),
        };
        let writer = tokio::spawn(run(sink, rx, conn.clone()));

        let mut received = Vec::new();
        let mut expected = 0;
        while expected < sizes.len() {
            let mut chunk = [0u8; 8192];
            let n = inbound.read(&mut chunk).await.unwrap();
            assert!(n > 0, "stream ended early");
            received.extend_from_slice(&chunk[..n]);
            while let Some((cmd, used)) = decode(&received, usize::MAX).unwrap() {
                assert_eq!(cmd.opaque, expected as i32);
                assert_eq!(cmd.body.len(), sizes[expected]);
                assert!(cmd.body.iter().all(|b| *b == expected as u8));
                received.drain(..used);
                expected += 1;
            }
        }
        // The writer's queue still has a sender (inside `conn`): closing
        // the connection is what ends it.
        conn.close();
        writer.await.unwrap();
    }
}
