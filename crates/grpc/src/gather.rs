//! Gathered writes for an HTTP/2 connection: the frames one pass of the
//! connection's task writes go to the socket in one write, after the pass.
//!
//! h2 writes a DATA frame of 256 bytes or more straight from the caller's
//! buffer and flushes it before it takes the next frame, so every 1 KiB
//! message would be its own `writev` and the peer would read them one by
//! one. [`gather`] splits a socket in two halves that live on the same
//! task: [`GatherIo`], the IO handed to hyper, copies writes into a buffer
//! (up to a cap, beyond which it writes what it holds and then through) and
//! flushes nothing; [`Flusher::drive`] polls the connection's future and,
//! after every poll of it, writes the buffer out. On `WouldBlock` the bytes
//! stay buffered and the socket wakes the task when it is writable. The
//! halves share the socket through a mutex that is never contended (one
//! task), because hyper needs the IO to be `Send`.

use std::future::{poll_fn, Future};
use std::io::{self, IoSlice};
use std::pin::{pin, Pin};
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use parking_lot::Mutex;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Bytes a pass may gather before writes go to the socket at once.
pub const GATHER_CAP: usize = 256 << 10;
/// Capacity the buffer keeps once written out, so that a connection which
/// once sent a large batch does not hold a whole cap while idle.
const KEEP: usize = 64 << 10;

/// Splits `io` into the IO for the connection and the flusher that drives
/// it; `cap` bounds the bytes held between passes.
pub fn gather<T>(io: T, cap: usize) -> (GatherIo<T>, Flusher<T>) {
    let shared = Arc::new(Mutex::new(Shared {
        io,
        buf: Vec::new(),
        sent: 0,
        cap,
        unflushed: false,
        failed: None,
    }));
    (GatherIo(shared.clone()), Flusher(shared))
}

/// The connection's side: reads pass through, writes are gathered.
pub struct GatherIo<T>(Arc<Mutex<Shared<T>>>);

/// The task's side: writes out what a pass gathered.
pub struct Flusher<T>(Arc<Mutex<Shared<T>>>);

struct Shared<T> {
    io: T,
    buf: Vec<u8>,
    /// Bytes at the front of `buf` already written.
    sent: usize,
    cap: usize,
    /// Bytes went to `io` since its last flush (TLS holds records until
    /// flushed; a TCP flush does nothing).
    unflushed: bool,
    /// A write of the flusher failed; the connection is told on its next
    /// read or write.
    failed: Option<io::ErrorKind>,
}

impl<T: AsyncWrite + Unpin> Shared<T> {
    fn held(&self) -> usize {
        self.buf.len() - self.sent
    }

    fn check(&self) -> io::Result<()> {
        match self.failed {
            Some(kind) => Err(io::Error::new(kind, "an earlier gathered write failed")),
            None => Ok(()),
        }
    }

    /// Writes the buffer to the socket; Pending (the socket wakes the task
    /// when writable) while it cannot take everything.
    fn drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.sent < self.buf.len() {
            let n = match Pin::new(&mut self.io).poll_write(cx, &self.buf[self.sent..]) {
                Poll::Ready(r) => r?,
                Poll::Pending => {
                    self.buf.drain(..self.sent);
                    self.sent = 0;
                    return Poll::Pending;
                }
            };
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.sent += n;
            self.unflushed = true;
        }
        self.buf.clear();
        self.sent = 0;
        if self.buf.capacity() > KEEP {
            self.buf.shrink_to(KEEP);
        }
        Poll::Ready(Ok(()))
    }

    /// The buffer written and the socket flushed.
    fn write_out(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.drain(cx))?;
        if self.unflushed {
            ready!(Pin::new(&mut self.io).poll_flush(cx))?;
            self.unflushed = false;
        }
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncWrite + Unpin> Flusher<T> {
    /// Runs `conn` (the future that owns the [`GatherIo`]) and writes what
    /// each of its polls gathered; when it ends, what it wrote last still
    /// goes out before its output is returned.
    pub async fn drive<F: Future>(self, conn: F) -> F::Output {
        let mut conn = pin!(conn);
        let out = poll_fn(|cx| {
            let polled = conn.as_mut().poll(cx);
            // Pending: the bytes stay and the socket wakes this task.
            let _ = self.write_out(cx);
            polled
        })
        .await;
        poll_fn(|cx| self.write_out(cx)).await;
        out
    }

    fn write_out(&self, cx: &mut Context<'_>) -> Poll<()> {
        let mut s = self.0.lock();
        if s.failed.is_some() {
            return Poll::Ready(());
        }
        if let Err(e) = ready!(s.write_out(cx)) {
            tracing::debug!(error = %e, "gathered write failed");
            s.failed = Some(e.kind());
            s.buf = Vec::new();
            s.sent = 0;
            // The connection learns of it on its next read or write.
            cx.waker().wake_by_ref();
        }
        Poll::Ready(())
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin> AsyncRead for GatherIo<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let mut s = self.0.lock();
        s.check()?;
        Pin::new(&mut s.io).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for GatherIo<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let mut s = self.0.lock();
        s.check()?;
        if s.held() + data.len() > s.cap {
            // Order: what is held goes first.
            ready!(s.drain(cx))?;
            if data.len() > s.cap {
                let n = ready!(Pin::new(&mut s.io).poll_write(cx, data))?;
                s.unflushed = true;
                return Poll::Ready(Ok(n));
            }
        }
        s.buf.extend_from_slice(data);
        Poll::Ready(Ok(data.len()))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let total: usize = bufs.iter().map(|b| b.len()).sum();
        let mut s = self.0.lock();
        s.check()?;
        if s.held() + total > s.cap {
            ready!(s.drain(cx))?;
            if total > s.cap {
                let n = ready!(Pin::new(&mut s.io).poll_write_vectored(cx, bufs))?;
                s.unflushed = true;
                return Poll::Ready(Ok(n));
            }
        }
        for b in bufs {
            s.buf.extend_from_slice(b);
        }
        Poll::Ready(Ok(total))
    }

    /// Vectored writes are copies into one buffer: always worth it.
    fn is_write_vectored(&self) -> bool {
        true
    }

    /// Nothing to do here: the flusher writes after the pass.
    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.0.lock().check()?;
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut s = self.0.lock();
        s.check()?;
        ready!(s.write_out(cx))?;
        Pin::new(&mut s.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::task::{Wake, Waker};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// What a mock socket was asked to do.
    #[derive(Default)]
    struct Wire {
        /// One entry per accepted write call.
        writes: Vec<Vec<u8>>,
        flushes: usize,
        shut: bool,
        /// Writes return Pending (and keep the waker) while set.
        blocked: bool,
        waker: Option<Waker>,
        /// Writes fail with this while set.
        fail: Option<io::ErrorKind>,
    }

    #[derive(Clone, Default)]
    struct Mock(Arc<Mutex<Wire>>);

    impl Mock {
        fn bytes(&self) -> Vec<u8> {
            self.0.lock().writes.concat()
        }
    }

    impl AsyncRead for Mock {
        fn poll_read(
            self: Pin<&mut Self>,
            _cx: &mut Context<'_>,
            _buf: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    impl AsyncWrite for Mock {
        fn poll_write(
            self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            data: &[u8],
        ) -> Poll<io::Result<usize>> {
            let mut w = self.0.lock();
            if let Some(kind) = w.fail {
                return Poll::Ready(Err(kind.into()));
            }
            if w.blocked {
                w.waker = Some(cx.waker().clone());
                return Poll::Pending;
            }
            w.writes.push(data.to_vec());
            Poll::Ready(Ok(data.len()))
        }

        fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            self.0.lock().flushes += 1;
            Poll::Ready(Ok(()))
        }

        fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            self.0.lock().shut = true;
            Poll::Ready(Ok(()))
        }
    }

    /// Counts its wakes.
    #[derive(Default)]
    struct Count(AtomicUsize);

    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// Pending once, then ready (a pass boundary inside a driven future).
    async fn next_pass() {
        let mut first = true;
        poll_fn(|cx| {
            if std::mem::take(&mut first) {
                cx.waker().wake_by_ref();
                Poll::Pending
            } else {
                Poll::Ready(())
            }
        })
        .await;
    }

    #[tokio::test]
    async fn a_pass_leaves_in_one_write_after_the_poll() {
        let mock = Mock::default();
        let (mut io, flusher) = gather(mock.clone(), 1024);
        let seen = mock.clone();
        let out = flusher
            .drive(async move {
                io.write_all(b"one").await?;
                let n = io
                    .write_vectored(&[IoSlice::new(b"two"), IoSlice::new(b"three")])
                    .await?;
                io.flush().await?;
                // Nothing reaches the socket during the pass.
                let during = seen.0.lock().writes.len();
                next_pass().await;
                // The first pass went out when its poll returned.
                let after = seen.bytes();
                io.write_all(b"four").await?;
                Ok::<_, io::Error>((n, during, after))
            })
            .await;
        let (n, during, after) = out.unwrap();
        assert_eq!(n, 8);
        assert_eq!(during, 0);
        assert_eq!(after, b"onetwothree");
        let w = mock.0.lock();
        assert_eq!(w.writes, vec![b"onetwothree".to_vec(), b"four".to_vec()]);
        // One socket flush per pass that wrote, none for the others.
        assert_eq!(w.flushes, 2);
    }

    #[tokio::test]
    async fn beyond_the_cap_what_is_held_goes_first_then_through() {
        let mock = Mock::default();
        let (mut io, flusher) = gather(mock.clone(), 8);
        flusher
            .drive(async move {
                io.write_all(b"abc").await?;
                io.write_all(&[b'x'; 20]).await?; // over the cap: through
                io.write_all(b"defgh").await?;
                io.write_all(b"ijkl").await?; // 5 + 4 > 8: "defgh" leaves first
                io.write_vectored(&[IoSlice::new(&[b'y'; 6]), IoSlice::new(&[b'z'; 6])])
                    .await
            })
            .await
            .unwrap();
        let w = mock.0.lock();
        let want: Vec<Vec<u8>> = vec![
            b"abc".to_vec(),
            vec![b'x'; 20],
            b"defgh".to_vec(),
            b"ijkl".to_vec(),
            // the mock is not vectored: its default writes the first slice
            vec![b'y'; 6],
        ];
        assert_eq!(w.writes, want);
    }

    #[test]
    fn would_block_keeps_the_bytes_and_the_socket_wakes_the_task() {
        let mock = Mock::default();
        mock.0.lock().blocked = true;
        let (mut io, flusher) = gather(mock.clone(), 1024);
        let done = Arc::new(AtomicBool::new(false));
        let finish = done.clone();
        let mut fut = Box::pin(flusher.drive(async move {
            io.write_all(b"hello").await?;
            poll_fn(|_| match finish.load(Ordering::SeqCst) {
                true => Poll::Ready(()),
                false => Poll::Pending,
            })
            .await;
            io.write_all(b" world").await
        }));
        let count = Arc::new(Count::default());
        let waker = Waker::from(count.clone());
        let mut cx = Context::from_waker(&waker);

        assert!(fut.as_mut().poll(&mut cx).is_pending());
        assert!(mock.0.lock().writes.is_empty());
        // The socket holds the task's waker; it becomes writable.
        let socket_waker = {
            let mut w = mock.0.lock();
            w.blocked = false;
            w.waker.take()
        };
        socket_waker.unwrap().wake();
        assert_eq!(count.0.load(Ordering::SeqCst), 1);

        assert!(fut.as_mut().poll(&mut cx).is_pending());
        assert_eq!(mock.bytes(), b"hello");
        done.store(true, Ordering::SeqCst);
        match fut.as_mut().poll(&mut cx) {
            Poll::Ready(r) => r.unwrap(),
            Poll::Pending => panic!("the driven future should have ended"),
        }
        assert_eq!(mock.bytes(), b"hello world");
    }

    #[tokio::test]
    async fn a_failed_write_reaches_the_connection() {
        let mock = Mock::default();
        let (mut io, flusher) = gather(mock.clone(), 1024);
        let wire = mock.clone();
        let (first, second, read) = flusher
            .drive(async move {
                let first = io.write_all(b"lost").await;
                wire.0.lock().fail = Some(io::ErrorKind::BrokenPipe);
                next_pass().await;
                let second = io.write_all(b"more").await;
                let read = io.read(&mut [0; 4]).await;
                (first, second, read)
            })
            .await;
        assert!(first.is_ok());
        assert_eq!(second.unwrap_err().kind(), io::ErrorKind::BrokenPipe);
        assert_eq!(read.unwrap_err().kind(), io::ErrorKind::BrokenPipe);
        assert!(mock.0.lock().writes.is_empty());
    }

    #[tokio::test]
    async fn shutdown_writes_what_is_held_first() {
        let mock = Mock::default();
        let (mut io, flusher) = gather(mock.clone(), 1024);
        let wire = mock.clone();
        let at_shutdown = flusher
            .drive(async move {
                io.write_all(b"bye").await?;
                io.shutdown().await?;
                let w = wire.0.lock();
                Ok::<_, io::Error>((w.writes.concat(), w.shut))
            })
            .await
            .unwrap();
        assert_eq!(at_shutdown, (b"bye".to_vec(), true));
    }

    /// Over a small pipe (writes block until the reader takes bytes), with
    /// writes under and over the cap across many passes: the reader gets
    /// every byte once, in order.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn nothing_is_lost_or_reordered_over_a_pipe() {
        let (near, mut far) = tokio::io::duplex(97);
        let (mut io, flusher) = gather(near, 300);
        let mut want = Vec::new();
        let mut chunks = Vec::new();
        for i in 0..400u32 {
            let len = [1, 7, 120, 299, 301, 1000][(i % 6) as usize];
            let chunk: Vec<u8> = (0..len).map(|j| (i * 31 + j) as u8).collect();
            want.extend_from_slice(&chunk);
            chunks.push(chunk);
        }
        let total = want.len();
        let reader = tokio::spawn(async move {
            let mut got = Vec::new();
            let mut buf = [0u8; 64];
            while got.len() < total {
                let n = far.read(&mut buf).await?;
                if n == 0 {
                    break;
                }
                got.extend_from_slice(&buf[..n]);
            }
            Ok::<_, io::Error>(got)
        });
        flusher
            .drive(async move {
                for (i, chunk) in chunks.iter().enumerate() {
                    if i % 3 == 0 {
                        let (a, b) = chunk.split_at(chunk.len() / 2);
                        let mut done = 0;
                        while done < chunk.len() {
                            let slices = if done < a.len() {
                                [IoSlice::new(&a[done..]), IoSlice::new(b)]
                            } else {
                                [IoSlice::new(&[]), IoSlice::new(&chunk[done..])]
                            };
                            done += io.write_vectored(&slices).await?;
                        }
                    } else {
                        io.write_all(chunk).await?;
                    }
                    if i % 5 == 0 {
                        next_pass().await;
                    }
                }
                io.flush().await
            })
            .await
            .unwrap();
        let got = reader.await.unwrap().unwrap();
        assert_eq!(got.len(), want.len());
        assert!(got == want, "bytes lost or reordered");
    }
}
