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
use crate::record::{peek_head, Head, RecordView};

/// What recovery found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecoveryReport {
    /// Offset validation started at.
    pub validated_from: u64,
    /// The recovered commit-log end.
    pub end: u64,
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

/// Walks records from `from`; returns the offset of the first invalid one.
fn find_end(log: &CommitLog, from: u64, check_crc: bool) -> u64 {
    let mut at = from;
    loop {
        let Some(file) = log.files().find(at) else {
            return at;
        };
        let pos = at - file.start();
        match file.slice_raw(pos, 8).map_or(Head::Invalid, peek_head) {
            Head::Blank => {
                // The marker must really cover the rest of the segment.
                let covers = file
                    .slice_raw(pos, 4)
                    .and_then(|b| b.try_into().ok())
                    .map(u32::from_be_bytes)
                    .is_some_and(|n| u64::from(n) == file.size() - pos);
                if !covers {
                    return at;
                }
                at = file.end();
            }
            Head::Record(size) => {
                let ok = file
                    .slice_raw(pos, size)
                    .is_some_and(|b| match RecordView::parse(b) {
                        Ok(v) => {
                            v.phys_offset == at as i64
                                && v.text_is_intact()
                                && (!check_crc || v.body_crc_ok())
                        }
                        Err(_) => false,
                    });
                if !ok {
                    return at;
                }
                at += size as u64;
            }
            Head::Invalid => return at,
        }
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
    let end = find_end(log, start, check_crc);
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
    dispatcher.dispatch_available(false)?;
    for cq in cqs.all() {
        log.set_next_queue_offset(cq.topic(), cq.queue_id(), cq.max_offset());
        cq.correct_min_offset(log.min_offset());
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
    })
}
