#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Process-level crash test: a child process (this test binary re-invoked
//! with an environment variable) appends with SYNC_FLUSH from several tasks
//! and prints every acknowledged append; the parent SIGKILLs it at random
//! moments, reopens the store and checks that every acknowledged record is
//! present and intact and that nothing torn is served.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use store::record::{build_test_record, RecordView};
use store::{FlushDiskType, MessageStore, StoreConfig};

const CHILD_ENV: &str = "APOGEE_STORE_CRASH_CHILD_DIR";
const ROUND_ENV: &str = "APOGEE_STORE_CRASH_ROUND";
const TASKS: i32 = 4;

fn config(dir: &Path) -> StoreConfig {
    StoreConfig {
        mapped_file_size_commit_log: 128 * 1024,
        mapped_file_size_consume_queue: 20 * 256,
        max_message_size: 16 * 1024,
        max_hash_slot_num: 256,
        max_index_num: 4096,
        flush_disk_type: FlushDiskType::SyncFlush,
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

/// The child: append forever, print each acknowledged append.
#[test]
#[ignore = "child process of kill_nine_never_loses_acknowledged_appends"]
fn crash_child() {
    let dir = std::env::var(CHILD_ENV).expect("run by the parent test only");
    let round: u32 = std::env::var(ROUND_ENV).unwrap().parse().unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let store = Arc::new(MessageStore::open(config(Path::new(&dir))).unwrap());
    let out = Arc::new(Mutex::new(std::io::stdout()));
    rt.block_on(async {
        let mut tasks = Vec::new();
        for task in 0..TASKS {
            let (store, out) = (Arc::clone(&store), Arc::clone(&out));
            tasks.push(tokio::spawn(async move {
                for seq in 0u64.. {
                    let rec =
                        build_test_record("Crash", task, &body(round, task, seq), &[("TAGS", "c")]);
                    let r = store.put(&rec, true).await.unwrap();
                    assert!(!r.flush_timed_out);
                    let mut o = out.lock().unwrap();
                    writeln!(
                        o,
                        "ACK {round} {task} {seq} {} {}",
                        r.phys_offset, r.queue_offset
                    )
                    .unwrap();
                    o.flush().unwrap();
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
}

fn parse_ack(line: &str) -> Option<Ack> {
    let mut it = line.strip_prefix("ACK ")?.split(' ');
    Some(Ack {
        round: it.next()?.parse().ok()?,
        task: it.next()?.parse().ok()?,
        seq: it.next()?.parse().ok()?,
        phys: it.next()?.parse().ok()?,
        qo: it.next()?.parse().ok()?,
    })
}

fn run_child(dir: &Path, round: u32, kill_after: Duration) -> Vec<Ack> {
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
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        // Only complete lines count: a line cut by the kill was never seen.
        let mut acks = Vec::new();
        let mut r = BufReader::new(stdout);
        let mut line = String::new();
        while r.read_line(&mut line).unwrap_or(0) > 0 {
            if line.ends_with('\n') {
                acks.extend(parse_ack(line.trim_end()));
            }
            line.clear();
        }
        acks
    });
    std::thread::sleep(kill_after);
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    reader.join().unwrap()
}

fn verify(dir: &Path, acked: &[Ack]) {
    let store = MessageStore::open(config(dir)).unwrap();
    for a in acked {
        let rec = store
            .read_message_at(a.phys)
            .unwrap_or_else(|| panic!("acknowledged {a:?} lost"));
        let v = RecordView::parse(&rec).unwrap();
        assert!(v.body_crc_ok(), "{a:?}");
        assert_eq!(v.body(), &body(a.round, a.task, a.seq)[..], "{a:?}");
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
}

#[test]
fn kill_nine_never_loses_acknowledged_appends() {
    let dir = tempfile::tempdir().unwrap();
    let mut seed = Instant::now().elapsed().as_nanos() as u64 | 1;
    let mut rand = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut all = Vec::new();
    let started = Instant::now();
    for round in 0..20u32 {
        let kill_after = Duration::from_millis(150 + rand() % 350);
        let acks = run_child(dir.path(), round, kill_after);
        all.extend(acks);
        verify(dir.path(), &all);
    }
    assert!(
        all.len() > 100,
        "children acknowledged only {} appends",
        all.len()
    );
    eprintln!(
        "{} acknowledged appends verified in {:?}",
        all.len(),
        started.elapsed()
    );
}
