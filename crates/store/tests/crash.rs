#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Process-level crash test: a child process (this test binary re-invoked
//! with an environment variable) appends with SYNC_FLUSH from several tasks
//! and prints every acknowledged append; the parent SIGKILLs it at random
//! moments, reopens the store and checks that every acknowledged record is
//! present and intact and that nothing torn is served.
//!
//! The same runs with ASYNC_FLUSH: the child also reports the durable
//! (flushed) offset as it moves, so the parent knows how much acknowledged
//! data was only in memory at the kill. A kill -9 keeps the page cache, so
//! the expectation is that nothing is lost; the contract checked is that a
//! loss never exceeds the unflushed window, and the figures are printed.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use store::record::{build_test_record, RecordView};
use store::{FlushDiskType, MessageStore, StoreConfig};

const CHILD_ENV: &str = "APOGEE_STORE_CRASH_CHILD_DIR";
const ROUND_ENV: &str = "APOGEE_STORE_CRASH_ROUND";
const FLUSH_ENV: &str = "APOGEE_STORE_CRASH_FLUSH";
const TASKS: i32 = 4;

fn config(dir: &Path, flush: FlushDiskType) -> StoreConfig {
    StoreConfig {
        mapped_file_size_commit_log: 128 * 1024,
        mapped_file_size_consume_queue: 20 * 256,
        max_message_size: 16 * 1024,
        max_hash_slot_num: 256,
        max_index_num: 4096,
        flush_disk_type: flush,
        flush_interval_consume_queue: 100,
        // This test is about kill -9, not disk pressure: on a crowded disk
        // forcible cleaning would delete acknowledged (unexpired) segments
        // by design, and the warning level would refuse puts.
        clean_file_forcibly_enable: false,
        disk_space_warning_level_ratio: 100,
        ..StoreConfig::with_root(dir)
    }
}

fn body(round: u32, task: i32, seq: u64) -> Vec<u8> {
    let head = format!("{round}:{task}:{seq}:");
    let pad = ((seq * 7919 + task as u64 * 104_729) % 3000) as usize;
    let mut b = head.into_bytes();
    b.extend(std::iter::repeat_n(b'a' + (seq % 26) as u8, pad));
    b
}

/// Opens the store, waiting while the directory is `Locked`: the parent's
/// other test may have forked a child of its own while this directory's
/// check held the lock, and that fork keeps a copy of the lock's file
/// descriptor until it execs.
fn open_when_unlocked(dir: &Path, flush: FlushDiskType) -> MessageStore {
    for _ in 0..200 {
        match MessageStore::open(config(dir, flush)) {
            Err(store::StoreError::Locked(_)) => std::thread::sleep(Duration::from_millis(50)),
            other => return other.unwrap(),
        }
    }
    MessageStore::open(config(dir, flush)).unwrap()
}

/// The child: append forever, print each acknowledged append.
#[test]
#[ignore = "child process of kill_nine_never_loses_acknowledged_appends"]
fn crash_child() {
    let dir = std::env::var(CHILD_ENV).expect("run by the parent test only");
    let round: u32 = std::env::var(ROUND_ENV).unwrap().parse().unwrap();
    let flush = flush_type(&std::env::var(FLUSH_ENV).unwrap());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let store = Arc::new(open_when_unlocked(Path::new(&dir), flush));
    let out = Arc::new(Mutex::new(std::io::stdout()));
    // The durable mark at start, before any append can be acknowledged.
    let mut last = store.flushed_offset();
    // (The newline ends the test harness's "test crash_child ... " prefix.)
    writeln!(out.lock().unwrap(), "\nFLUSHED {last}").unwrap();
    rt.block_on(async {
        let mut tasks = Vec::new();
        let (st, o) = (Arc::clone(&store), Arc::clone(&out));
        tasks.push(tokio::spawn(async move {
            // The durable mark, as it moves (read before the lock so a
            // reported mark never runs ahead of what is really flushed).
            loop {
                let flushed = st.flushed_offset();
                if flushed != last {
                    let mut o = o.lock().unwrap();
                    writeln!(o, "FLUSHED {flushed}").unwrap();
                    o.flush().unwrap();
                    last = flushed;
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        }));
        for task in 0..TASKS {
            let (store, out) = (Arc::clone(&store), Arc::clone(&out));
            tasks.push(tokio::spawn(async move {
                for seq in 0u64.. {
                    let rec =
                        build_test_record("Crash", task, &body(round, task, seq), &[("TAGS", "c")]);
                    let r = store.put(&rec, true).await.unwrap();
                    assert!(!r.flush_timed_out);
                    {
                        let mut o = out.lock().unwrap();
                        writeln!(
                            o,
                            "ACK {round} {task} {seq} {} {} {}",
                            r.phys_offset, r.queue_offset, r.size
                        )
                        .unwrap();
                        o.flush().unwrap();
                    }
                    if flush == FlushDiskType::AsyncFlush {
                        // Leave the runtime room for the flushed-mark reporter.
                        tokio::task::yield_now().await;
                    }
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
    });
}

#[derive(Debug, Clone, Copy)]
struct Ack {
    round: u32,
    task: i32,
    seq: u64,
    phys: u64,
    qo: u64,
    size: u64,
}

impl Ack {
    fn end(&self) -> u64 {
        self.phys + self.size
    }
}

fn flush_type(name: &str) -> FlushDiskType {
    match name {
        "SYNC_FLUSH" => FlushDiskType::SyncFlush,
        "ASYNC_FLUSH" => FlushDiskType::AsyncFlush,
        other => panic!("unknown flush type {other}"),
    }
}

fn flush_name(flush: FlushDiskType) -> &'static str {
    match flush {
        FlushDiskType::SyncFlush => "SYNC_FLUSH",
        FlushDiskType::AsyncFlush => "ASYNC_FLUSH",
    }
}

/// What one child run reported: its acknowledged appends and the last
/// durable mark it saw before the kill.
struct ChildRun {
    acks: Vec<Ack>,
    flushed: u64,
}

fn parse_ack(line: &str) -> Option<Ack> {
    let mut it = line.strip_prefix("ACK ")?.split(' ');
    Some(Ack {
        round: it.next()?.parse().ok()?,
        task: it.next()?.parse().ok()?,
        seq: it.next()?.parse().ok()?,
        phys: it.next()?.parse().ok()?,
        qo: it.next()?.parse().ok()?,
        size: it.next()?.parse().ok()?,
    })
}

fn run_child(dir: &Path, flush: FlushDiskType, round: u32, kill_after: Duration) -> ChildRun {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "crash_child",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, dir)
        .env(ROUND_ENV, round.to_string())
        .env(FLUSH_ENV, flush_name(flush))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        // Only complete lines count: a line cut by the kill was never seen.
        let mut run = ChildRun {
            acks: Vec::new(),
            flushed: 0,
        };
        let mut r = BufReader::new(stdout);
        let mut line = String::new();
        while r.read_line(&mut line).unwrap_or(0) > 0 {
            if line.ends_with('\n') {
                let l = line.trim_end();
                run.acks.extend(parse_ack(l));
                if let Some(f) = l.strip_prefix("FLUSHED ") {
                    run.flushed = f.parse().unwrap();
                    let _ = ready_tx.send(());
                }
            }
            line.clear();
        }
        run
    });
    // The clock starts once the store is open (opening a grown store takes
    // a while in a debug build), so every round really appends.
    ready_rx
        .recv_timeout(Duration::from_secs(60))
        .expect("the child opened its store");
    std::thread::sleep(kill_after);
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    reader.join().unwrap()
}

/// Reopens the store and checks every acknowledged record; returns the ones
/// that are gone (none is ever *changed*: a record either comes back intact
/// or its place holds something later).
fn verify(dir: &Path, flush: FlushDiskType, acked: &[Ack]) -> Vec<Ack> {
    let store = MessageStore::open(config(dir, flush)).unwrap();
    let mut lost = Vec::new();
    for a in acked {
        let Some(rec) = store.read_message_at(a.phys) else {
            lost.push(*a);
            continue;
        };
        let v = RecordView::parse(&rec).unwrap();
        assert!(v.body_crc_ok(), "{a:?}");
        if v.body() != &body(a.round, a.task, a.seq)[..] {
            lost.push(*a);
            continue;
        }
        assert_eq!((v.queue_id, v.queue_offset as u64), (a.task, a.qo));
        let via_cq = store
            .message_at("Crash", a.task, a.qo)
            .unwrap_or_else(|| panic!("{a:?} not queued"));
        assert_eq!(via_cq, rec);
    }
    // Everything served is intact and queue offsets are dense.
    for task in 0..TASKS {
        let got = store.get_messages("Crash", task, 0, usize::MAX, usize::MAX, |_| true);
        let max = store.max_offset("Crash", task);
        assert_eq!(got.messages.len() as u64, max);
        for (i, m) in got.messages.iter().enumerate() {
            let v = RecordView::parse(m).unwrap();
            assert!(v.body_crc_ok());
            assert_eq!((v.queue_id, v.queue_offset), (task, i as i64));
        }
    }
    store.shutdown().unwrap();
    lost
}

struct Totals {
    acked: usize,
    lost: usize,
    /// Largest acknowledged-but-unflushed span seen at a kill, in bytes.
    max_unflushed: u64,
}

/// `rounds` child runs killed at random moments, each followed by a check.
fn crash_rounds(flush: FlushDiskType, rounds: u32) -> Totals {
    let dir = tempfile::tempdir().unwrap();
    let mut seed = Instant::now().elapsed().as_nanos() as u64 | 1;
    let mut rand = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut all = Vec::new();
    let mut totals = Totals {
        acked: 0,
        lost: 0,
        max_unflushed: 0,
    };
    for round in 0..rounds {
        let kill_after = Duration::from_millis(150 + rand() % 350);
        let run = run_child(dir.path(), flush, round, kill_after);
        let acked_end = run.acks.iter().map(Ack::end).max().unwrap_or(0);
        totals.max_unflushed = totals
            .max_unflushed
            .max(acked_end.saturating_sub(run.flushed));
        totals.acked += run.acks.len();
        all.extend(run.acks);
        let lost = verify(dir.path(), flush, &all);
        for a in &lost {
            assert!(
                flush == FlushDiskType::AsyncFlush,
                "acknowledged {a:?} lost under sync flush"
            );
            // Async flush may lose only what was not yet durable.
            assert!(
                a.round == round && a.end() > run.flushed,
                "{a:?} lost although the durable mark was {}",
                run.flushed
            );
        }
        totals.lost += lost.len();
        all.retain(|a| !lost.iter().any(|l| l.phys == a.phys && l.round == a.round));
    }
    totals
}

#[test]
fn kill_nine_never_loses_acknowledged_appends() {
    let started = Instant::now();
    let t = crash_rounds(FlushDiskType::SyncFlush, 20);
    assert!(
        t.acked > 100,
        "children acknowledged only {} appends",
        t.acked
    );
    eprintln!(
        "SYNC_FLUSH: {} acknowledged appends verified in {:?}",
        t.acked,
        started.elapsed()
    );
}

#[test]
fn kill_nine_under_async_flush_loses_at_most_the_unflushed_window() {
    let started = Instant::now();
    let t = crash_rounds(FlushDiskType::AsyncFlush, 10);
    assert!(
        t.acked > 100,
        "children acknowledged only {} appends",
        t.acked
    );
    eprintln!(
        "ASYNC_FLUSH: {} acknowledged appends over 10 kills in {:?}: {} lost; \
         at most {} acknowledged bytes were not yet flushed at a kill",
        t.acked,
        started.elapsed(),
        t.lost,
        t.max_unflushed
    );
}
