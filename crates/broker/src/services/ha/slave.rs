//! Slave side: connects to the master's HA address, reports its commit-log
//! end (after connecting, after every applied frame, and every
//! `haSendHeartbeatInterval`), and appends the master's bytes verbatim. A
//! master whose stream starts below our end (we followed a master that had
//! more) makes us truncate to that point; any other gap drops the
//! connection and we reconnect.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::state::BrokerState;

/// Frames larger than this are a protocol error, not an allocation.
const MAX_FRAME: u32 = 64 << 20;

/// Follows the master until cancelled, reconnecting after failures.
pub async fn run(state: Arc<BrokerState>, cancel: CancellationToken) {
    let mut backoff = Duration::from_millis(200);
    loop {
        if cancel.is_cancelled() {
            break;
        }
        let Some(addr) = master_ha_addr(&state) else {
            tokio::select! {
                _ = cancel.cancelled() => break,
                _ = tokio::time::sleep(Duration::from_millis(500)) => continue,
            }
        };
        match follow(&state, &addr, &cancel).await {
            Ok(applied) => {
                if applied {
                    backoff = Duration::from_millis(200);
                }
            }
            Err(e) => tracing::warn!(master = %addr, error = %e, "replication connection failed"),
        }
        state.ha.follow_disconnected();
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
}

/// `haMasterAddress`, else what registration told us.
fn master_ha_addr(state: &BrokerState) -> Option<String> {
    if !state.config.ha_master_address.is_empty() {
        return Some(state.config.ha_master_address.clone());
    }
    state.master.lock().ha_server_addr.clone()
}

/// One connection. Returns Ok(true) if it applied any data.
async fn follow(
    state: &Arc<BrokerState>,
    addr: &str,
    cancel: &CancellationToken,
) -> io::Result<bool> {
    let connect = tokio::time::timeout(Duration::from_secs(3), TcpStream::connect(addr));
    let sock = tokio::select! {
        _ = cancel.cancelled() => return Ok(false),
        c = connect => c.map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "connect timed out"))??,
    };
    sock.set_nodelay(true)?;
    let (mut rd, mut wr) = sock.into_split();
    if state.role.controller_mode() {
        let idle = Duration::from_millis(state.config.ha_housekeeping_interval);
        tokio::select! {
            _ = cancel.cancelled() => return Ok(false),
            r = super::epochs::slave_handshake(state, &mut rd, &mut wr, idle) => r?,
        }
    }
    state.ha.follow_connected(addr);
    tracing::info!(master = %addr, end = state.store.commitlog_max_offset(), "following the master");
    let (end_tx, end_rx) = watch::channel(state.store.commitlog_max_offset());
    let mut applied = false;
    let result = tokio::select! {
        _ = cancel.cancelled() => Ok(()),
        r = report(state, wr, end_rx) => r,
        r = apply_frames(state, rd, &end_tx, &mut applied) => r,
    };
    result.map(|()| applied)
}

/// Sends our end after every change and at least every heartbeat interval.
async fn report(
    state: &BrokerState,
    mut wr: OwnedWriteHalf,
    mut end: watch::Receiver<u64>,
) -> io::Result<()> {
    let heartbeat = Duration::from_millis(state.config.ha_send_heartbeat_interval);
    loop {
        let at = *end.borrow_and_update();
        wr.write_all(&at.to_be_bytes()).await?;
        tokio::select! {
            changed = end.changed() => {
                if changed.is_err() {
                    return Ok(());
                }
            }
            _ = tokio::time::sleep(heartbeat) => {}
        }
    }
}

async fn apply_frames(
    state: &BrokerState,
    rd: OwnedReadHalf,
    end_tx: &watch::Sender<u64>,
    applied: &mut bool,
) -> io::Result<()> {
    let idle = Duration::from_millis(state.config.ha_housekeeping_interval);
    let mut rd = BufReader::with_capacity(256 * 1024, rd);
    let mut first = true;
    loop {
        let mut header = [0u8; super::FRAME_HEADER_LEN];
        tokio::time::timeout(idle, rd.read_exact(&mut header))
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "the master went silent"))??;
        let (offset, size) = parse_header(&header);
        if size > MAX_FRAME {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("frame of {size} bytes exceeds {MAX_FRAME}"),
            ));
        }
        let mut body = BytesMut::zeroed(size as usize);
        tokio::time::timeout(idle, rd.read_exact(&mut body))
            .await
            .map_err(|_| {
                io::Error::new(io::ErrorKind::TimedOut, "the master stalled mid-frame")
            })??;
        if first {
            align_with_master(state, offset).await?;
            first = false;
        }
        let end = append(state, offset, body.freeze()).await?;
        if size > 0 {
            *applied = true;
        }
        state.ha.follow_progress(offset + u64::from(size), end);
        end_tx.send_replace(end);
    }
}

fn parse_header(h: &[u8; super::FRAME_HEADER_LEN]) -> (u64, u32) {
    let mut off = [0u8; 8];
    off.copy_from_slice(&h[..8]);
    let mut size = [0u8; 4];
    size.copy_from_slice(&h[8..]);
    (u64::from_be_bytes(off), u32::from_be_bytes(size))
}

/// The master's first frame says where it starts; if that is below our
/// end, what we hold past it never reached this master: cut it.
async fn align_with_master(state: &BrokerState, offset: u64) -> io::Result<()> {
    let ours = state.store.commitlog_max_offset();
    state.ha.follow_reset(offset);
    if offset >= ours {
        return Ok(());
    }
    tracing::warn!(
        ours,
        master = offset,
        "the master starts below our end; truncating"
    );
    let store = state.store.clone();
    tokio::task::spawn_blocking(move || store.truncate_commitlog(offset))
        .await
        .map_err(|e| io::Error::other(format!("truncate task failed: {e}")))?
        .map_err(|e| io::Error::other(format!("cannot truncate to {offset}: {e}")))
}

/// Appends a frame at `offset` (a heartbeat only checks the position).
async fn append(state: &BrokerState, offset: u64, body: bytes::Bytes) -> io::Result<u64> {
    let ours = state.store.commitlog_max_offset();
    let empty = ours == 0 && state.store.commitlog_min_offset() == 0;
    if offset != ours && !empty {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("the master sent offset {offset} but our commit log ends at {ours}"),
        ));
    }
    if body.is_empty() {
        return Ok(ours);
    }
    let store = state.store.clone();
    tokio::task::spawn_blocking(move || store.append_replicated(offset, &body))
        .await
        .map_err(|e| io::Error::other(format!("append task failed: {e}")))?
        .map_err(|e| io::Error::other(format!("cannot append at {offset}: {e}")))
}
