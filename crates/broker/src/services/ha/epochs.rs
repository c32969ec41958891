//! The epoch handshake of controller mode, before Apogee's usual
//! replication stream (reference controller.md §4.6, steps 1-5; Apogee
//! keeps its own framing, not Java's AutoSwitchHA bytes):
//!
//! * slave → master: its controller id (i64) and whether it is an async
//!   learner (u8);
//! * master → slave: its commit-log end (u64), the number of epoch entries
//!   (u32), then each entry as epoch (i32) and start offset (u64).
//!
//! The slave then cuts its log at the last point it shares with the
//! master (the newest epoch both hold with the same start; the smaller of
//! the two ends of that epoch), so it never keeps a tail written in an
//! older epoch that the new master does not have, takes the master's
//! newer epoch entries, and only then reports its end as usual.

use std::io;
use std::time::Duration;

use store::epoch::{truncation_point, EpochEntry};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

use crate::state::BrokerState;

/// More entries than this is a protocol error (Java keeps at most 1000).
const MAX_ENTRIES: u32 = 100_000;

fn no_epochs() -> io::Error {
    io::Error::other("controller mode without an epoch file")
}

/// Master side: reads the slave's id and learner flag, sends our epochs.
pub async fn master_handshake(
    state: &BrokerState,
    rd: &mut OwnedReadHalf,
    wr: &mut OwnedWriteHalf,
    idle: Duration,
) -> io::Result<(i64, bool)> {
    let mut hello = [0u8; 9];
    tokio::time::timeout(idle, rd.read_exact(&mut hello))
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "no handshake from the slave"))??;
    let mut id = [0u8; 8];
    id.copy_from_slice(&hello[..8]);
    let (id, learner) = (i64::from_be_bytes(id), hello[8] != 0);
    let entries = state.epochs.as_ref().ok_or_else(no_epochs)?.entries();
    let end = state.store.commitlog_max_offset();
    let mut buf = Vec::with_capacity(12 + entries.len() * 12);
    buf.extend_from_slice(&end.to_be_bytes());
    buf.extend_from_slice(&(entries.len() as u32).to_be_bytes());
    for e in &entries {
        buf.extend_from_slice(&e.epoch.to_be_bytes());
        buf.extend_from_slice(&e.start_offset.to_be_bytes());
    }
    wr.write_all(&buf).await?;
    Ok((id, learner))
}

/// Slave side: says who we are, learns the master's epochs, cuts our log
/// where it diverges and adopts the master's newer epochs.
pub async fn slave_handshake(
    state: &BrokerState,
    rd: &mut OwnedReadHalf,
    wr: &mut OwnedWriteHalf,
    idle: Duration,
) -> io::Result<()> {
    let epochs = state.epochs.as_ref().ok_or_else(no_epochs)?;
    let me = state
        .role
        .replicas()
        .controller_id
        .ok_or_else(|| io::Error::other("no controller id yet"))?;
    let mut hello = Vec::with_capacity(9);
    hello.extend_from_slice(&me.to_be_bytes());
    hello.push(u8::from(state.config.async_learner));
    wr.write_all(&hello).await?;
    let timed = |what: &'static str| move |_| io::Error::new(io::ErrorKind::TimedOut, what);
    let master_end = tokio::time::timeout(idle, rd.read_u64())
        .await
        .map_err(timed("no epochs from the master"))??;
    let n = tokio::time::timeout(idle, rd.read_u32())
        .await
        .map_err(timed("no epochs from the master"))??;
    if n > MAX_ENTRIES {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("the master sent {n} epoch entries (at most {MAX_ENTRIES})"),
        ));
    }
    let mut master = Vec::with_capacity(n as usize);
    for _ in 0..n {
        let epoch = tokio::time::timeout(idle, rd.read_i32())
            .await
            .map_err(timed("the master stalled in its epochs"))??;
        let start = tokio::time::timeout(idle, rd.read_u64())
            .await
            .map_err(timed("the master stalled in its epochs"))??;
        master.push(EpochEntry {
            epoch,
            start_offset: start,
        });
    }
    let local = epochs.entries();
    let local_end = state.store.commitlog_max_offset();
    let point = truncation_point(&local, local_end, &master, master_end).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("no epoch in common with the master (ours {local:?}, the master's {master:?})"),
        )
    })?;
    if point < local_end {
        tracing::warn!(
            ours = local_end,
            cut = point,
            "our log holds a tail the master does not have; truncating"
        );
        let store = state.store.clone();
        tokio::task::spawn_blocking(move || store.truncate_commitlog(point))
            .await
            .map_err(|e| io::Error::other(format!("truncate task failed: {e}")))?
            .map_err(|e| io::Error::other(format!("cannot truncate to {point}: {e}")))?;
    }
    let mut next: Vec<EpochEntry> = local
        .into_iter()
        .filter(|e| e.start_offset < point || (e.start_offset == point && point == 0))
        .collect();
    let last = next.last().map(|e| e.epoch);
    next.extend(
        master
            .into_iter()
            .filter(|m| last.is_none_or(|l| m.epoch > l)),
    );
    epochs.replace(next)?;
    Ok(())
}
