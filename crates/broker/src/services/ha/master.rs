//! Master side: one task per slave connection. The slave's first offset
//! report fixes where streaming starts; later reports are its
//! acknowledgements. Frames carry up to `haTransferBatchSize` bytes; an idle
//! stream sends a heartbeat frame every `haSendHeartbeatInterval`.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

use crate::state::BrokerState;

/// Accepts slave connections until cancelled.
pub async fn serve(state: Arc<BrokerState>, listener: TcpListener, cancel: CancellationToken) {
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(ha = %addr, "HA service listening");
    }
    loop {
        let accepted = tokio::select! {
            _ = cancel.cancelled() => break,
            a = listener.accept() => a,
        };
        match accepted {
            Ok((sock, peer)) => {
                let (s, c) = (state.clone(), cancel.clone());
                state.tasks.spawn(async move {
                    match serve_slave(&s, sock, peer, &c).await {
                        Ok(()) => tracing::info!(slave = %peer, "HA connection closed"),
                        Err(e) => tracing::warn!(slave = %peer, error = %e, "HA connection ended"),
                    }
                });
            }
            Err(e) => {
                tracing::warn!(error = %e, "HA accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Removes the slave's link when its task ends, however it ends.
struct LinkGuard<'a> {
    state: &'a BrokerState,
    id: u64,
}

impl Drop for LinkGuard<'_> {
    fn drop(&mut self) {
        self.state.ha.link_closed(self.id);
    }
}

async fn serve_slave(
    state: &Arc<BrokerState>,
    sock: TcpStream,
    peer: SocketAddr,
    cancel: &CancellationToken,
) -> io::Result<()> {
    sock.set_nodelay(true)?;
    let (mut rd, mut wr) = sock.into_split();
    let idle = Duration::from_millis(state.config.ha_housekeeping_interval);
    // Controller mode: only the master serves, the slave says who it is
    // and learns our epochs first; a role change closes the link.
    let role_token = state.role.token();
    let slave = if state.role.controller_mode() {
        if state.is_slave() {
            return Err(io::Error::other(
                "not the master; refusing a replication link",
            ));
        }
        Some(super::epochs::master_handshake(state, &mut rd, &mut wr, idle).await?)
    } else {
        None
    };
    let reported = tokio::time::timeout(idle, rd.read_u64())
        .await
        .map_err(|_| {
            io::Error::new(io::ErrorKind::TimedOut, "no offset report from the slave")
        })??;
    let start = start_point(state, reported)?;
    tracing::info!(slave = %peer, reported, start, "slave connected");
    let id = match slave {
        Some((broker_id, learner)) => {
            state
                .ha
                .link_opened_as(peer, reported, Some(broker_id), learner)
        }
        None => state.ha.link_opened(peer, reported),
    };
    let guard = LinkGuard { state, id };
    let result = tokio::select! {
        _ = cancel.cancelled() => Ok(()),
        _ = role_token.cancelled(), if slave.is_some() => Ok(()),
        r = read_acks(state, guard.id, rd, idle) => r,
        r = stream(state, guard.id, wr, start) => r,
    };
    drop(guard);
    result
}

/// Where streaming starts for a slave reporting `reported`
/// (storage-format §10): an empty slave gets our current last segment. A
/// slave ahead of us followed another master: what it holds past the point
/// where we became master may differ from what we wrote since, so it cuts
/// its log there (or at our end) and we resend from that point.
fn start_point(state: &BrokerState, reported: u64) -> io::Result<u64> {
    let end = state.store.commitlog_max_offset();
    let min = state.store.commitlog_min_offset();
    if reported == 0 {
        let seg = state.store.config().mapped_file_size_commit_log.max(1);
        return Ok(end - end % seg);
    }
    if reported > end {
        let since = state
            .ha
            .master_since
            .load(std::sync::atomic::Ordering::Relaxed);
        let start = since.min(end);
        tracing::warn!(
            reported,
            end,
            start,
            "the slave is ahead of this master; it will truncate"
        );
        return Ok(start);
    }
    if reported < min {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("the slave ends at {reported}, before our oldest data at {min}; it needs a fresh store"),
        ));
    }
    Ok(reported)
}

async fn read_acks(
    state: &BrokerState,
    id: u64,
    mut rd: OwnedReadHalf,
    idle: Duration,
) -> io::Result<()> {
    loop {
        let acked = tokio::time::timeout(idle, rd.read_u64())
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "the slave went silent"))??;
        state
            .ha
            .link_acked(id, acked, state.store.commitlog_max_offset());
    }
}

async fn stream(
    state: &BrokerState,
    link: u64,
    mut wr: OwnedWriteHalf,
    mut next: u64,
) -> io::Result<()> {
    let batch = state.config.ha_transfer_batch_size;
    let heartbeat = Duration::from_millis(state.config.ha_send_heartbeat_interval);
    let mut last_sent = Instant::now();
    // A heartbeat first tells the slave where we start (it may truncate).
    write_frame(&mut wr, next, &[]).await?;
    let mut woke_for_data = false;
    loop {
        let notified = state.ha.new_data.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if let Some(bytes) = state.store.read_commitlog(next, batch) {
            state.ha.link_sent(link, state.store.commitlog_max_offset());
            write_frame(&mut wr, next, &bytes).await?;
            next += bytes.len() as u64;
            last_sent = Instant::now();
            woke_for_data = false;
            continue;
        }
        if next < state.store.commitlog_min_offset() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("offset {next} was deleted before it reached the slave"),
            ));
        }
        if woke_for_data {
            // Data was reported but is not readable yet: do not spin.
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let wait = heartbeat.saturating_sub(last_sent.elapsed());
        woke_for_data = tokio::select! {
            _ = &mut notified => true,
            arrived = state.store.wait_dispatched(next + 1, wait) => arrived,
        };
        if last_sent.elapsed() >= heartbeat {
            write_frame(&mut wr, next, &[]).await?;
            last_sent = Instant::now();
        }
    }
}

async fn write_frame(wr: &mut OwnedWriteHalf, offset: u64, body: &[u8]) -> io::Result<()> {
    let mut header = [0u8; super::FRAME_HEADER_LEN];
    header[..8].copy_from_slice(&offset.to_be_bytes());
    let size = u32::try_from(body.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "frame too large"))?;
    header[8..].copy_from_slice(&size.to_be_bytes());
    if body.is_empty() {
        return wr.write_all(&header).await;
    }
    let mut buf = Vec::with_capacity(header.len() + body.len());
    buf.extend_from_slice(&header);
    buf.extend_from_slice(body);
    wr.write_all(&buf).await
}
