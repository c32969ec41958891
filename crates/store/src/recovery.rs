//! Start-up recovery. Finds the valid end of the commit log by validating
//! records forward from a point known durable, cuts the torn tail, drops
//! consume-queue entries beyond the end and re-dispatches every validated
//! record (entries already present are skipped).
//!
//! Validation starts at the segment holding the lower of the checkpoint's
//! flushed commit-log offset and flushed queue offset, so a clean restart
//! scans at most one segment; without our checkpoint fields (a Java store,
//! or no checkpoint) it starts three segments from the end after a clean
//! exit and at the first segment after a crash.

use std::sync::Arc;

use crate::checkpoint::CheckpointData;
use crate::commitlog::CommitLog;
use crate::consume_queue::ConsumeQueues;
use crate::dispatch::Dispatcher;
use crate::error::Result;
use crate::index::IndexService;
use crate::mapped_file::MappedFile;
use crate::record::{peek_head, Head, RecordView};

/// What recovery found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveryReport {
    /// Offset validation started at.
    pub validated_from: u64,
    /// The recovered commit-log end.
    pub end: u64,
    /// Corrupt ranges `(offset, length)` skipped before the end.
    pub skipped: Vec<(u64, u64)>,
}

fn start_offset(log: &CommitLog, cp: &CheckpointData, abnormal: bool) -> u64 {
    let files = log.files().files();
    let (Some(first), Some(last)) = (files.first(), files.last()) else {
        return 0;
    };
    let from_checkpoint = match (cp.physic_offset, cp.logics_offset) {
        (Some(p), Some(l)) if p.min(l) <= last.end() => Some(p.min(l)),
        _ => None,
    };
    let target = match from_checkpoint {
        Some(off) => off.max(first.start()),
        None if abnormal => first.start(),
        None => files[files.len().saturating_sub(3)].start(),
    };
    // Segment granularity: segment starts are always record boundaries.
    log.files()
        .find(target)
        .map_or(first.start(), |f| f.start())
}

/// Remembers how far the current run of data goes, so that recovery reads
/// nothing from holes (see `mmap::data_end`) for two `lseek`s per run
/// rather than per record.
#[derive(Default)]
struct Extent {
    start: u64,
    until: u64,
}

impl Extent {
    /// The `len` bytes at `pos` of `file`, when they are all data.
    fn slice<'a>(&mut self, file: &'a MappedFile, pos: u64, len: usize) -> Option<&'a [u8]> {
        let end = pos + len as u64;
        if self.start != file.start() || pos >= self.until || end > self.until {
            self.start = file.start();
            self.until = file.data_end(pos);
        }
        (end <= self.until)
            .then(|| file.slice_raw(pos, len))
            .flatten()
    }
}

/// Where the bytes at `at` lead: past one valid record or end marker,
/// or nowhere (invalid).
fn step(log: &CommitLog, ext: &mut Extent, at: u64, check_crc: bool) -> Option<u64> {
    let file = log.files().find(at)?;
    let pos = at - file.start();
    match ext.slice(&file, pos, 8).map_or(Head::Invalid, peek_head) {
        Head::Blank => {
            // The marker must really cover the rest of the segment.
            let covers = ext
                .slice(&file, pos, 4)
                .and_then(|b| b.try_into().ok())
                .map(u32::from_be_bytes)
                .is_some_and(|n| u64::from(n) == file.size() - pos);
            covers.then(|| file.end())
        }
        Head::Record(size) => {
            let ok = ext
                .slice(&file, pos, size)
                .is_some_and(|b| match RecordView::parse(b) {
                    Ok(v) => {
                        v.phys_offset == at as i64
                            && v.text_is_intact()
                            && (!check_crc || v.body_crc_ok())
                    }
                    Err(_) => false,
                });
            ok.then_some(at + size as u64)
        }
        Head::Invalid => None,
    }
}

/// The next valid record after an invalid one at `bad`, within the same
/// segment and at most `window` bytes on (a record is never longer than
/// `maxMessageSize`), else the start of the next segment when a valid
/// record or marker is there. `None` means `bad` is the torn end of the log.
///
/// A candidate must carry its own position in PHYSICALOFFSET, so stale or
/// random bytes practically never pass for a record.
fn resync(
    log: &CommitLog,
    ext: &mut Extent,
    bad: u64,
    window: u64,
    check_crc: bool,
) -> Option<u64> {
    let file = log.files().find(bad)?;
    let pos = bad - file.start();
    // Most often only the body (CRC) is damaged and the size still holds.
    if let Some(Head::Record(size)) = ext.slice(&file, pos, 8).map(peek_head) {
        let next = bad + size as u64;
        if next < file.end() && step(log, ext, next, check_crc).is_some() {
            return Some(next);
        }
    }
    let limit = (pos + window)
        .min(file.size().saturating_sub(8))
        .min(file.data_end(pos).saturating_sub(8));
    let found = match limit.checked_sub(pos) {
        Some(n) if n > 0 => {
            let region = ext.slice(&file, pos, usize::try_from(n).ok()? + 8)?;
            region
                .windows(8)
                .enumerate()
                .skip(1)
                .filter(|(_, w)| !matches!(peek_head(w), Head::Invalid))
                .map(|(i, _)| bad + i as u64)
                .find(|at| step(log, ext, *at, check_crc).is_some())
        }
        _ => None,
    };
    if found.is_some() {
        return found;
    }
    let last = log.files().last()?;
    (file.start() != last.start() && step(log, ext, file.end(), check_crc).is_some())
        .then(|| file.end())
}

/// Walks records from `from`; returns the end of the valid log and the
/// ranges `(offset, length)` skipped as corrupt on the way.
fn find_end(log: &CommitLog, from: u64, check_crc: bool) -> (u64, Vec<(u64, u64)>) {
    let window = log.max_message_size() as u64;
    let mut skipped = Vec::new();
    let mut ext = Extent::default();
    let mut at = from;
    loop {
        if log.files().find(at).is_none() {
            return (at, skipped);
        }
        if let Some(next) = step(log, &mut ext, at, check_crc) {
            at = next;
            continue;
        }
        let Some(next) = resync(log, &mut ext, at, window, check_crc) else {
            return (at, skipped);
        };
        tracing::error!(
            offset = at,
            length = next - at,
            resumed_at = next,
            "corrupt commit-log range skipped; the valid records after it are kept"
        );
        skipped.push((at, next - at));
        at = next;
    }
}

/// Recovers the store; leaves `dispatcher` positioned at the end.
///
/// # Errors
/// I/O failures while truncating or re-dispatching.
pub fn recover(
    log: &CommitLog,
    cqs: &ConsumeQueues,
    index: Option<&Arc<IndexService>>,
    dispatcher: &Dispatcher,
    cp: &CheckpointData,
    abnormal: bool,
    check_crc: bool,
) -> Result<RecoveryReport> {
    let start = start_offset(log, cp, abnormal);
    let (end, skipped) = find_end(log, start, check_crc);
    if abnormal || !log.set_clean_end(end, cp.physic_offset) {
        log.truncate(end)?;
    }
    for cq in cqs.all() {
        cq.truncate_beyond(end)?;
    }
    if let Some(index) = index {
        index.clamp_end(end)?;
    }
    // Re-dispatch: restores entries whose queue/index pages were lost.
    dispatcher.reset(start);
    log.set_skipped(skipped.clone());
    let redispatched = dispatcher.dispatch_available(false);
    for cq in cqs.all() {
        log.set_next_queue_offset(cq.topic(), cq.queue_id(), cq.max_offset());
        cq.correct_min_offset(log.min_offset());
    }
    match redispatched {
        Ok(()) => {}
        // Starting on a full disk: the dispatcher thread finishes once
        // space returns; queue offsets come from the records meanwhile.
        Err(e) if crate::error::is_no_space(&e) => {
            tracing::error!(error = %e, "consume queues not rebuilt for lack of disk; retried in the background");
            next_offsets_from_log(log, dispatcher.dispatched(), end, &skipped);
        }
        Err(e) => return Err(e),
    }
    let min = log.min_offset();
    let cq_floor = cqs
        .all()
        .iter()
        .map(|q| q.max_phys_end())
        .max()
        .unwrap_or(0)
        .max(min);
    tracing::info!(
        validated_from = start,
        end,
        cq_floor,
        abnormal,
        "store recovered"
    );
    Ok(RecoveryReport {
        validated_from: start,
        end,
        skipped,
    })
}

/// Raises next queue offsets past every record in `[from, end)` (records
/// carry their queue offsets), for queues whose consume queue could not be
/// rebuilt yet.
fn next_offsets_from_log(log: &CommitLog, from: u64, end: u64, skipped: &[(u64, u64)]) {
    let mut next: std::collections::HashMap<(String, i32), u64> = Default::default();
    let mut ext = Extent::default();
    let mut at = from;
    while at < end {
        if let Some((s, len)) = skipped.iter().find(|(s, _)| *s == at) {
            at = s + len;
            continue;
        }
        let Some(step_to) = step(log, &mut ext, at, false) else {
            break;
        };
        log.with_record(at, |v| {
            if v.is_dispatchable() {
                let qo = u64::try_from(v.queue_offset).unwrap_or(0) + 1;
                let e = next.entry((v.topic.to_owned(), v.queue_id)).or_insert(0);
                *e = (*e).max(qo);
            }
        });
        at = step_to;
    }
    for ((topic, queue_id), n) in next {
        log.raise_next_queue_offset(&topic, queue_id, n);
    }
}
