//! The two halves of a connection's byte stream, plain TCP or TLS over
//! TCP, so the reader and writer tasks run the same code for both. An
//! `Either` rather than a boxed trait object: plain connections keep TCP's
//! own split halves (no lock between reader and writer) and every call is a
//! direct one.

use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio_rustls::TlsStream;
use tokio_util::either::Either;

/// An open connection's stream, before it is split.
pub(crate) enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl Stream {
    /// The TCP socket underneath (for addresses and socket options).
    pub(crate) fn tcp(&self) -> &TcpStream {
        match self {
            Stream::Plain(s) => s,
            Stream::Tls(s) => s.get_ref().0,
        }
    }

    pub(crate) fn into_split(self) -> (ReadHalf, WriteHalf) {
        match self {
            Stream::Plain(s) => {
                let (r, w) = s.into_split();
                (Either::Left(r), Either::Left(w))
            }
            Stream::Tls(s) => {
                let (r, w) = tokio::io::split(*s);
                (Either::Right(r), Either::Right(w))
            }
        }
    }
}

/// The reading half of a [`Stream`] (`Either` forwards every read to the
/// side it holds).
pub(crate) type ReadHalf = Either<OwnedReadHalf, tokio::io::ReadHalf<TlsStream<TcpStream>>>;

/// The writing half of a [`Stream`]. TLS keeps records it could not write
/// yet, so the writer flushes after every batch (a no-op on plain TCP).
pub(crate) type WriteHalf = Either<OwnedWriteHalf, tokio::io::WriteHalf<TlsStream<TcpStream>>>;
