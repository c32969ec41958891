#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Recovery after damage: the commit log is cut at, corrupted at, or
//! truncated at many points; after a crash-style restart every record before
//! a cut must be served intact, nothing from the cut on may be served,
//! consume queues must agree, and appends must continue. A flipped byte is
//! not a cut: only the damaged record is dropped and every record after it
//! is kept (unless it was the very last record, which looks like a torn
//! write).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use store::record::{build_test_record, RecordView};
use store::{MessageStore, StoreConfig};

const SEG: u64 = 16 * 1024;

fn config(dir: &Path) -> StoreConfig {
    StoreConfig {
        mapped_file_size_commit_log: SEG,
        mapped_file_size_consume_queue: 20 * 32,
        max_message_size: 8 * 1024,
        max_hash_slot_num: 64,
        max_index_num: 512,
        // The host disk is shared and may be nearly full: no refusals and
        // no forcible cleaning because of it.
        disk_space_warning_level_ratio: 100,
        disk_max_used_space_ratio: 100,
        disk_space_clean_forcibly_ratio: 100,
        ..StoreConfig::with_root(dir)
    }
}

/// One stored record of the golden store.
#[derive(Clone, Debug)]
struct Stored {
    topic: String,
    qid: i32,
    qo: u64,
    phys: u64,
    bytes: Vec<u8>,
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

fn golden(dir: &Path) -> Vec<Stored> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let store = MessageStore::open(config(dir)).unwrap();
    rt.block_on(async {
        for i in 0..160usize {
            let topic = if i % 5 == 0 { "Other" } else { "Main" };
            let body = vec![b'a' + (i % 26) as u8; 40 + (i * 37) % 700];
            let uniq = format!("U{i:06}");
            let r = build_test_record(
                topic,
                (i % 3) as i32,
                &body,
                &[("TAGS", "t"), ("UNIQ_KEY", &uniq)],
            );
            store.put(&r, false).await.unwrap();
        }
    });
    store.shutdown().unwrap();
    let mut out = Vec::new();
    for topic in ["Main", "Other"] {
        for qid in 0..3 {
            let got = store.get_messages(topic, qid, 0, 10_000, usize::MAX, |_| true);
            for (m, qo) in got.messages.iter().zip(got.queue_offsets) {
                let v = RecordView::parse(m).unwrap();
                out.push(Stored {
                    topic: topic.into(),
                    qid,
                    qo,
                    phys: v.phys_offset as u64,
                    bytes: m.to_vec(),
                });
            }
        }
    }
    out.sort_by_key(|s| s.phys);
    assert_eq!(out.len(), 160);
    out
}

fn segments(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir.join("commitlog"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    v.sort();
    v
}

#[derive(Clone, Copy, Debug)]
enum Damage {
    /// Zero from the offset to the end of its segment and drop later
    /// segments (an unflushed tail).
    ZeroTail(u64),
    /// Flip one byte.
    Flip(u64),
    /// Shorten the segment file holding the offset to end there, drop later ones.
    ShortFile(u64),
}

fn apply(dir: &Path, d: Damage) {
    let at = match d {
        Damage::ZeroTail(a) | Damage::Flip(a) | Damage::ShortFile(a) => a,
    };
    let seg_start = at / SEG * SEG;
    for s in segments(dir) {
        let start: u64 = s.file_name().unwrap().to_str().unwrap().parse().unwrap();
        if start > seg_start && !matches!(d, Damage::Flip(_)) {
            std::fs::remove_file(&s).unwrap();
        } else if start == seg_start {
            let mut data = std::fs::read(&s).unwrap();
            let pos = (at - start) as usize;
            match d {
                Damage::ZeroTail(_) => data[pos..].fill(0),
                Damage::Flip(_) => data[pos] ^= 0x5A,
                Damage::ShortFile(_) => data.truncate(pos),
            }
            std::fs::write(&s, &data).unwrap();
        }
    }
    // Crash-style restart with no usable checkpoint: full validation.
    std::fs::write(dir.join("abort"), b"").unwrap();
    std::fs::remove_file(dir.join("checkpoint")).unwrap();
}

/// Where the log ends after recovery, and the record a flip damaged (kept
/// out of reads while everything after it stays).
fn expected(records: &[Stored], d: Damage) -> (u64, Option<u64>) {
    let cut = expected_cut(records, d);
    let end = records
        .last()
        .map(|r| r.phys + r.bytes.len() as u64)
        .unwrap();
    let last = records.last().unwrap().phys;
    match d {
        Damage::Flip(_) if cut != end && cut != last => (end, Some(cut)),
        _ => (cut, None),
    }
}

/// Offset of the first record (or end marker) whose bytes were changed.
fn expected_cut(records: &[Stored], d: Damage) -> u64 {
    let end = records
        .last()
        .map(|r| r.phys + r.bytes.len() as u64)
        .unwrap();
    // Items in log order: (start, checked bytes). A marker's checked bytes
    // are its 8-byte header (always non-zero); padding is not checked.
    let mut items: Vec<(u64, Vec<u8>)> = Vec::new();
    for r in records {
        if let Some((prev, bytes)) = items.last() {
            let prev_end = prev + bytes.len() as u64;
            if r.phys != prev_end {
                items.push((prev_end, vec![0xFF; 8]));
            }
        }
        items.push((r.phys, r.bytes.clone()));
    }
    for (start, bytes) in &items {
        let item_end = start + bytes.len() as u64;
        let changed = match d {
            Damage::ZeroTail(at) | Damage::ShortFile(at) => {
                if *start / SEG > at / SEG {
                    true // the segment was dropped
                } else if item_end > at {
                    // Zeroing bytes that were already zero changes nothing.
                    bytes[at.saturating_sub(*start) as usize..]
                        .iter()
                        .any(|b| *b != 0)
                } else {
                    false
                }
            }
            Damage::Flip(at) => {
                if *start <= at && at < item_end {
                    if bytes.len() != 8 {
                        let field = (at - start) as usize;
                        let r = records.iter().find(|r| r.phys == *start).unwrap();
                        assert!(detectable(field, r), "flip at undetectable field {field}");
                    }
                    true
                } else {
                    false
                }
            }
        };
        if changed {
            return *start;
        }
    }
    end
}

/// Start of the end-of-segment marker in the segment holding `at`.
fn marker_pos(records: &[Stored], at: u64) -> u64 {
    let seg = at / SEG * SEG;
    records
        .iter()
        .filter(|r| r.phys >= seg && r.phys < seg + SEG)
        .map(|r| r.phys + r.bytes.len() as u64)
        .max()
        .unwrap_or(seg)
}

fn detectable(field: usize, r: &Stored) -> bool {
    let v = RecordView::parse(&r.bytes).unwrap();
    let body_start = 88;
    let body_end = body_start + v.body().len();
    matches!(field, 0..=7 | 28..=35)
        || (body_start..body_end).contains(&field)
        || field == r.bytes.len() - 1
}

fn check(dir: &Path, records: &[Stored], d: Damage) {
    let (cut, damaged) = expected(records, d);
    let store = MessageStore::open(config(dir)).unwrap();
    assert!(store.recovered_abnormally());
    assert_eq!(store.commitlog_max_offset(), cut, "{d:?}");
    let skipped = store.recovery_report().skipped;
    if let (Some(start), Damage::Flip(at)) = (damaged, d) {
        assert!(
            skipped.iter().any(|(s, len)| *s == start && at < s + len),
            "{d:?}: the damage is reported as skipped: {skipped:?}"
        );
    }
    let mut per_queue: HashMap<(String, i32), u64> = HashMap::new();
    let mut lost_in_queue: HashMap<(String, i32), u64> = HashMap::new();
    for r in records {
        let key = (r.topic.clone(), r.qid);
        if Some(r.phys) == damaged {
            assert!(store.message_at(&r.topic, r.qid, r.qo).is_none(), "{d:?}");
            assert!(store.read_message_at(r.phys).is_none(), "{d:?}");
            *per_queue.entry(key.clone()).or_default() = r.qo + 1;
            *lost_in_queue.entry(key).or_default() += 1;
            continue;
        }
        if r.phys < cut {
            let m = store
                .message_at(&r.topic, r.qid, r.qo)
                .unwrap_or_else(|| panic!("{d:?}: lost {r:?}"));
            assert_eq!(&m[..], &r.bytes[..], "{d:?}: record at {} differs", r.phys);
            assert_eq!(store.read_message_at(r.phys).as_deref(), Some(&r.bytes[..]));
            *per_queue.entry(key).or_default() = r.qo + 1;
        } else {
            assert!(
                store.read_message_at(r.phys).is_none(),
                "{d:?}: served data at {} past cut {cut}",
                r.phys
            );
            per_queue.entry(key).or_default();
        }
    }
    for ((topic, qid), n) in &per_queue {
        assert_eq!(
            store.max_offset(topic, *qid),
            *n,
            "{d:?}: queue {topic}/{qid}"
        );
        let got = store.get_messages(topic, *qid, 0, 10_000, usize::MAX, |_| true);
        let lost = lost_in_queue
            .get(&(topic.clone(), *qid))
            .copied()
            .unwrap_or(0);
        assert_eq!(got.messages.len() as u64, *n - lost, "{d:?}");
        assert!(got
            .messages
            .iter()
            .all(|m| RecordView::parse(m).unwrap().body_crc_ok()));
    }
    // Appending continues at the cut with the next queue offsets.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let next = rt
        .block_on(store.put(&build_test_record("Main", 1, b"after", &[]), true))
        .unwrap();
    assert_eq!(
        next.queue_offset,
        per_queue[&("Main".to_owned(), 1)],
        "{d:?}"
    );
    assert!(next.phys_offset >= cut);
    assert!(rt.block_on(store.wait_dispatched(
        store.commitlog_max_offset(),
        std::time::Duration::from_secs(5)
    )));
    let back = store.message_at("Main", 1, next.queue_offset).unwrap();
    assert_eq!(RecordView::parse(&back).unwrap().body(), b"after");
    drop(store);
    // And a clean restart after that keeps everything.
    let store = MessageStore::open(config(dir)).unwrap();
    assert!(!store.recovered_abnormally());
    assert_eq!(store.max_offset("Main", 1), next.queue_offset + 1);
}

fn damage_points(records: &[Stored]) -> Vec<Damage> {
    let mut v = Vec::new();
    let end = records
        .last()
        .map(|r| r.phys + r.bytes.len() as u64)
        .unwrap();
    for (i, r) in records.iter().enumerate().step_by(7) {
        v.push(Damage::ZeroTail(r.phys));
        v.push(Damage::ZeroTail(r.phys + 3));
        v.push(Damage::ZeroTail(r.phys + 50));
        v.push(Damage::ZeroTail(r.phys + r.bytes.len() as u64 - 1));
        v.push(Damage::Flip(r.phys + 100 + (i as u64 % 20)));
        v.push(Damage::Flip(r.phys + 4));
        v.push(Damage::Flip(r.phys + 30));
        v.push(Damage::ShortFile(r.phys + 11));
    }
    // End-of-segment markers and the padding after them.
    for seg in 0..end / SEG {
        let m = marker_pos(records, seg * SEG);
        v.push(Damage::Flip(m + 5));
        v.push(Damage::Flip(m + 9));
        v.push(Damage::ZeroTail(m + 2));
    }
    v.push(Damage::ZeroTail(end));
    v
}

#[test]
fn damaged_commitlog_recovers_to_the_last_intact_record() {
    let base = tempfile::tempdir().unwrap();
    let gold = base.path().join("gold");
    let records = golden(&gold);
    let points = damage_points(&records);
    assert!(points.len() > 150);
    for (n, d) in points.into_iter().enumerate() {
        let dir = base.path().join(format!("case{n}"));
        copy_dir(&gold, &dir);
        apply(&dir, d);
        check(&dir, &records, d);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

#[test]
fn lost_consume_queue_pages_are_rebuilt_from_the_commitlog() {
    let base = tempfile::tempdir().unwrap();
    let gold = base.path().join("gold");
    let records = golden(&gold);
    // Zero the tail half of every consume-queue file and drop later ones.
    for topic in ["Main", "Other"] {
        for qid in 0..3 {
            let qdir = gold.join("consumequeue").join(topic).join(qid.to_string());
            let mut files: Vec<PathBuf> = std::fs::read_dir(&qdir)
                .unwrap()
                .map(|e| e.unwrap().path())
                .collect();
            files.sort();
            let data = std::fs::read(&files[0]).unwrap();
            let mut zeroed = data.clone();
            zeroed[200..].fill(0);
            std::fs::write(&files[0], zeroed).unwrap();
            for f in &files[1..] {
                std::fs::remove_file(f).unwrap();
            }
        }
    }
    apply(
        &gold,
        Damage::Flip(
            records.last().unwrap().phys + records.last().unwrap().bytes.len() as u64 + 2000,
        ),
    );
    let store = MessageStore::open(config(&gold)).unwrap();
    for r in &records {
        assert_eq!(
            &store.message_at(&r.topic, r.qid, r.qo).unwrap()[..],
            &r.bytes[..]
        );
    }
    // The key index still finds a record.
    assert_eq!(
        store.query_by_key("Main", "U000157", 4, 0, i64::MAX).len(),
        1
    );
}
