//! The connecting side: a pool of connections keyed by address, opened on
//! demand and reopened when the pooled one has closed.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use protocol::frame::DEFAULT_MAX_FRAME;
use protocol::signature::Signer;
use protocol::RemotingCommand;
use tokio::net::TcpStream;
use tokio::sync::OnceCell;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::debug;

use crate::backlog::FrameBudget;
use crate::connection::Connection;
use crate::driver::{self, Endpoint, Limits};

/// Requests a server may have in flight on one of our connections (the
/// broker asks few: transaction checks, consumer-id changes).
const CLIENT_MAX_IN_FLIGHT: usize = 65_536;
/// Never stop reading: our own requests count in the backlog too, and
/// answers are what drains the server's side, so pausing could stall both
/// ends. Our requests wait for room in the bounded send queue instead.
const CLIENT_HIGH_WATER: usize = usize::MAX;
use crate::error::RemotingError;
use crate::outbound::EncodedFrame;
use crate::stream::Stream;
use crate::tls::{self, ClientTls};
use crate::{not_supported, BoxFuture, Processor};

/// Settings of a [`RemotingClient`].
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// How long opening a TCP connection may take.
    pub connect_timeout: Duration,
    /// The largest frame accepted from a server.
    pub max_frame: usize,
    /// A connection with no traffic in either direction for this long is
    /// closed (and reopened on the next request); zero: never.
    pub idle_timeout: Duration,
    /// ACL account every request is signed with (none: unsigned).
    pub credentials: Option<Credentials>,
    /// TLS on every connection (none: plaintext).
    pub tls: Option<ClientTls>,
}

/// An ACL account: requests carry `AccessKey` and an HMAC-SHA1 `Signature`
/// (and `SecurityToken` when one is set; it is signed too).
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub access_key: String,
    pub secret_key: String,
    pub security_token: Option<String>,
}

impl Credentials {
    /// The account's signer, keyed once.
    pub fn signer(&self) -> Signer {
        Signer::new(
            &self.access_key,
            &self.secret_key,
            self.security_token.as_deref(),
        )
    }
}

impl std::fmt::Debug for Credentials {
    /// Never prints the secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key", &self.access_key)
            .finish_non_exhaustive()
    }
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            connect_timeout: Duration::from_secs(3),
            max_frame: DEFAULT_MAX_FRAME,
            idle_timeout: Duration::from_secs(120),
            credentials: None,
            tls: None,
        }
    }
}

/// A pool of connections keyed by "host:port". Clones share the pool.
#[derive(Clone)]
pub struct RemotingClient {
    inner: Arc<ClientInner>,
}

struct ClientInner {
    ep: Arc<Endpoint>,
    connect_timeout: Duration,
    /// One cell per address: concurrent callers wait for the same connect
    /// instead of racing to open several connections.
    pool: Mutex<HashMap<String, Arc<OnceCell<Connection>>>>,
    signer: Option<Signer>,
    tls: Option<ClientTls>,
}

impl Drop for ClientInner {
    /// The last clone of a client going away closes its connections (without
    /// waiting, unlike [`RemotingClient::shutdown`]).
    fn drop(&mut self) {
        self.ep.shutdown.cancel();
    }
}

/// Answers every server-initiated request REQUEST_CODE_NOT_SUPPORTED.
struct NotSupported;

impl Processor for NotSupported {
    fn process(
        &self,
        _conn: Connection,
        request: RemotingCommand,
    ) -> BoxFuture<Option<RemotingCommand>> {
        Box::pin(async move { Some(not_supported(&request)) })
    }
}

/// A timeout reported with the caller's address and whole timeout, not
/// what was left of it; other errors pass through.
fn caller_timeout(e: RemotingError, addr: &str, timeout: Duration) -> RemotingError {
    match e {
        RemotingError::Timeout { .. } => timeout_error(addr, timeout),
        other => other,
    }
}

fn timeout_error(addr: &str, timeout: Duration) -> RemotingError {
    RemotingError::Timeout {
        addr: addr.to_string(),
        millis: u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX),
    }
}

/// Attempts to get an open connection before giving up (a fresh connection
/// can close at once, e.g. when the server is at its connection limit).
const CONNECT_ATTEMPTS: usize = 2;

impl RemotingClient {
    /// `processor` handles requests the server sends on our connections
    /// (None: answer REQUEST_CODE_NOT_SUPPORTED).
    pub fn new(config: ClientConfig, processor: Option<Arc<dyn Processor>>) -> RemotingClient {
        let processor = processor.unwrap_or_else(|| Arc::new(NotSupported));
        RemotingClient {
            inner: Arc::new(ClientInner {
                ep: Arc::new(Endpoint {
                    processor,
                    max_frame: config.max_frame,
                    idle_timeout: config.idle_timeout,
                    limits: Limits {
                        max_in_flight: CLIENT_MAX_IN_FLIGHT,
                        high_water: CLIENT_HIGH_WATER,
                        write_stall: Duration::ZERO,
                        frames: FrameBudget::new(usize::MAX),
                    },
                    shutdown: CancellationToken::new(),
                    tracker: TaskTracker::new(),
                    yield_after_dispatch: true,
                    inline_first_poll: false,
                }),
                connect_timeout: config.connect_timeout,
                pool: Mutex::new(HashMap::new()),
                signer: config.credentials.as_ref().map(Credentials::signer),
                tls: config.tls,
            }),
        }
    }

    /// Sends a request to `addr` and waits for the response. `timeout`
    /// covers connecting too.
    ///
    /// # Errors
    /// As [`RemotingClient::connection`] and [`Connection::invoke`];
    /// [`RemotingError::Timeout`] if connecting used up the whole timeout.
    pub async fn invoke(
        &self,
        addr: &str,
        request: RemotingCommand,
        timeout: Duration,
    ) -> Result<RemotingCommand, RemotingError> {
        let request = self.signed(request);
        let (conn, left) = self.connection_within(addr, timeout).await?;
        // Report the caller's timeout, not what was left of it.
        conn.invoke(request, left)
            .await
            .map_err(|e| caller_timeout(e, addr, timeout))
    }

    /// Like [`RemotingClient::invoke`], for a request the caller encodes
    /// itself (see [`Connection::invoke_encoded`]). Not signed here: when
    /// [`RemotingClient::signer`] is some, the caller writes `AccessKey` and
    /// `Signature` into its frame.
    ///
    /// # Errors
    /// As [`RemotingClient::invoke`].
    pub async fn invoke_encoded(
        &self,
        addr: &str,
        encode: impl FnOnce(i32) -> EncodedFrame,
        timeout: Duration,
    ) -> Result<RemotingCommand, RemotingError> {
        let (conn, left) = self.connection_within(addr, timeout).await?;
        conn.invoke_encoded(encode, left)
            .await
            .map_err(|e| caller_timeout(e, addr, timeout))
    }

    /// The connection to `addr` and what is left of `timeout` after getting it.
    async fn connection_within(
        &self,
        addr: &str,
        timeout: Duration,
    ) -> Result<(Connection, Duration), RemotingError> {
        // The usual case: an open pooled connection, got without waiting,
        // so the whole timeout is left (and no clock is read).
        if let Some(conn) = self.ready_connection(addr) {
            return Ok((conn, timeout));
        }
        let started = Instant::now();
        let conn = self.connection(addr).await?;
        let left = timeout.saturating_sub(started.elapsed());
        if left.is_zero() {
            return Err(timeout_error(addr, timeout));
        }
        Ok((conn, left))
    }

    /// Sends a oneway request to `addr`.
    ///
    /// # Errors
    /// As [`RemotingClient::connection`] and [`Connection::invoke_oneway`].
    pub async fn invoke_oneway(
        &self,
        addr: &str,
        request: RemotingCommand,
    ) -> Result<(), RemotingError> {
        let request = self.signed(request);
        self.connection(addr).await?.invoke_oneway(request).await
    }

    /// Whether requests are signed.
    pub fn signs(&self) -> bool {
        self.inner.signer.is_some()
    }

    /// The account requests are signed with: callers that encode frames
    /// themselves ([`RemotingClient::invoke_encoded`]) sign with it.
    pub fn signer(&self) -> Option<&Signer> {
        self.inner.signer.as_ref()
    }

    fn signed(&self, mut request: RemotingCommand) -> RemotingCommand {
        if let Some(s) = &self.inner.signer {
            s.sign_request(&mut request);
        }
        request
    }

    /// The pooled connection to `addr`, connecting if there is none or the
    /// pooled one has closed.
    ///
    /// # Errors
    /// [`RemotingError::Connect`], [`RemotingError::ConnectTimeout`],
    /// [`RemotingError::ConnectionClosed`] if even a fresh connection closed
    /// at once, [`RemotingError::Shutdown`] after [`RemotingClient::shutdown`].
    pub async fn connection(&self, addr: &str) -> Result<Connection, RemotingError> {
        for _ in 0..CONNECT_ATTEMPTS {
            if self.inner.ep.shutdown.is_cancelled() {
                return Err(RemotingError::Shutdown);
            }
            let cell = {
                let mut pool = self.inner.pool.lock();
                // Look up before `entry`: every request comes here, and
                // only the first one needs the owned key.
                match pool.get(addr) {
                    Some(c) => Arc::clone(c),
                    None => Arc::clone(pool.entry(addr.to_string()).or_default()),
                }
            };
            let conn = cell.get_or_try_init(|| self.connect(addr)).await?;
            if !conn.is_closed() {
                return Ok(conn.clone());
            }
            // Forget the closed connection, unless another caller already
            // replaced it.
            let mut pool = self.inner.pool.lock();
            if pool.get(addr).is_some_and(|c| Arc::ptr_eq(c, &cell)) {
                pool.remove(addr);
            }
        }
        Err(RemotingError::ConnectionClosed {
            addr: addr.to_string(),
        })
    }

    /// The pooled connection to `addr` if it is open now.
    fn ready_connection(&self, addr: &str) -> Option<Connection> {
        if self.inner.ep.shutdown.is_cancelled() {
            return None;
        }
        let pool = self.inner.pool.lock();
        let conn = pool.get(addr)?.get()?;
        (!conn.is_closed()).then(|| conn.clone())
    }

    /// Closes the pooled connection to `addr`, if any (the next request
    /// opens a new one).
    pub fn close(&self, addr: &str) {
        let cell = self.inner.pool.lock().remove(addr);
        if let Some(conn) = cell.as_ref().and_then(|c| c.get()) {
            conn.close();
        }
    }

    /// Closes every connection and waits for their tasks. The client opens
    /// no connections afterwards.
    pub async fn shutdown(&self) {
        self.inner.ep.shutdown.cancel();
        self.inner.pool.lock().clear();
        self.inner.ep.tracker.close();
        self.inner.ep.tracker.wait().await;
    }

    async fn connect(&self, addr: &str) -> Result<Connection, RemotingError> {
        let timeout = self.inner.connect_timeout;
        let stream = match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
            Ok(Ok(stream)) => stream,
            Ok(Err(source)) => {
                return Err(RemotingError::Connect {
                    addr: addr.to_string(),
                    source,
                })
            }
            Err(_) => {
                return Err(RemotingError::ConnectTimeout {
                    addr: addr.to_string(),
                    millis: u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX),
                })
            }
        };
        let stream = match &self.inner.tls {
            None => Stream::Plain(stream),
            Some(tls) => self.handshake(tls, addr, stream).await?,
        };
        let conn = driver::start(&self.inner.ep, stream, None).map_err(|source| {
            RemotingError::Connect {
                addr: addr.to_string(),
                source,
            }
        })?;
        debug!(conn = conn.id(), %addr, local = %conn.local_addr(), "connected");
        Ok(conn)
    }

    /// The TLS handshake on a fresh TCP connection, within the connect
    /// timeout.
    async fn handshake(
        &self,
        tls: &ClientTls,
        addr: &str,
        stream: TcpStream,
    ) -> Result<Stream, RemotingError> {
        let name = tls::server_name(addr)?;
        let timeout = self.inner.connect_timeout;
        match tokio::time::timeout(timeout, tls.connector.connect(name, stream)).await {
            Ok(Ok(s)) => Ok(Stream::Tls(Box::new(s.into()))),
            Ok(Err(source)) => Err(RemotingError::TlsHandshake {
                addr: addr.to_string(),
                source,
            }),
            Err(_) => Err(RemotingError::ConnectTimeout {
                addr: addr.to_string(),
                millis: u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX),
            }),
        }
    }
}
