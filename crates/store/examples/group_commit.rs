#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Group-commit probe: N concurrent appenders of 1 KiB records for three
//! seconds; prints appends per second and records per flush round, which
//! shows how well sync flush groups.
//!
//! `cargo run --release -p apogee-store --example group_commit -- 256 [async]`
use std::sync::Arc;
use std::time::{Duration, Instant};
use store::record::build_test_record;
use store::{FlushDiskType, MessageStore, StoreConfig};

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .unwrap_or("256".into())
        .parse()
        .unwrap();
    let sync = std::env::args().nth(2).as_deref() != Some("async");
    let dir = tempfile::tempdir().unwrap();
    let cfg = StoreConfig {
        mapped_file_size_commit_log: 256 << 20,
        flush_disk_type: if sync {
            FlushDiskType::SyncFlush
        } else {
            FlushDiskType::AsyncFlush
        },
        message_index_enable: false,
        ..StoreConfig::with_root(dir.path())
    };
    let store = Arc::new(MessageStore::open(cfg).unwrap());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let body = vec![b'x'; 1024 - 91 - 5 - 7];
    let secs = 3;
    let (count, elapsed) = rt.block_on(async {
        let start = Instant::now();
        let deadline = start + Duration::from_secs(secs);
        let tasks: Vec<_> = (0..n)
            .map(|t| {
                let store = Arc::clone(&store);
                let rec = build_test_record("Bench", (t % 8) as i32, &body, &[("TAGS", "a")]);
                tokio::spawn(async move {
                    let mut c = 0u64;
                    while Instant::now() < deadline {
                        store.put(&rec, true).await.unwrap();
                        c += 1;
                    }
                    c
                })
            })
            .collect();
        let mut total = 0;
        for t in tasks {
            total += t.await.unwrap();
        }
        (total, start.elapsed())
    });
    let info = store.runtime_info();
    println!(
        "appenders={n} sync={sync} msgs/s={:.0} rounds={} per_round={:.1}",
        count as f64 / elapsed.as_secs_f64(),
        info.flush_rounds,
        count as f64 / info.flush_rounds.max(1) as f64
    );
}
