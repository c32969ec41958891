#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Append and read benchmarks: 1 KiB records with async flush, sync flush
//! (group commit) with 1/16/256 concurrent appenders, and a 32-message range
//! read. Benchmarks report figures; nothing here asserts on speed.
//!
//! Each group also prints `cpu:` lines: the CPU this process spent per
//! message while it was measured (utime + stime of every thread from
//! /proc/self/stat: the appenders, the flush and dispatch threads), which
//! is what a message costs the broker's store whatever the wall time.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use store::record::build_test_record;
use store::{FlushDiskType, MessageStore, StoreConfig};

fn config(dir: &std::path::Path, flush: FlushDiskType) -> StoreConfig {
    StoreConfig {
        mapped_file_size_commit_log: 256 << 20,
        flush_disk_type: flush,
        message_index_enable: false,
        ..StoreConfig::with_root(dir)
    }
}

/// utime + stime of this process in µs (USER_HZ, the unit of
/// /proc/PID/stat, is 100 on every Linux ABI).
fn cpu_us() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let rest = stat.rfind(')').map_or("", |i| &stat[i + 1..]);
    let mut f = rest.split_ascii_whitespace().skip(11);
    let mut next = || f.next().and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    (next() + next()) * 10_000
}

/// CPU and messages of one benchmark's measured iterations.
#[derive(Default)]
struct CpuCount {
    us: AtomicU64,
    msgs: AtomicU64,
}

impl CpuCount {
    fn add(&self, since: u64, msgs: u64) {
        self.us
            .fetch_add(cpu_us().saturating_sub(since), Ordering::Relaxed);
        self.msgs.fetch_add(msgs, Ordering::Relaxed);
    }

    fn print(&self, name: &str) {
        let msgs = self.msgs.load(Ordering::Relaxed).max(1);
        let us = self.us.load(Ordering::Relaxed) as f64;
        println!(
            "{name} cpu: {:.2} us/msg (process CPU, all threads)",
            us / msgs as f64
        );
    }
}

fn record(qid: i32) -> Vec<u8> {
    let body = vec![b'x'; 1024 - 91 - 5 - 7];
    build_test_record("Bench", qid, &body, &[("TAGS", "a")])
}

fn append_async(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let store = MessageStore::open(config(dir.path(), FlushDiskType::AsyncFlush)).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let rec = record(0);
    let mut g = c.benchmark_group("append_1k");
    g.throughput(Throughput::Bytes(rec.len() as u64));
    let cpu = CpuCount::default();
    g.bench_function("async_flush", |b| {
        b.iter_custom(|iters| {
            let (t0, start) = (cpu_us(), Instant::now());
            for _ in 0..iters {
                rt.block_on(store.put(&rec, true)).unwrap();
            }
            let took = start.elapsed();
            cpu.add(t0, iters);
            took
        })
    });
    g.finish();
    cpu.print("append_1k/async_flush");
}

fn append_sync(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut g = c.benchmark_group("append_1k_sync_flush");
    for appenders in [1usize, 16, 256] {
        let dir = tempfile::tempdir().unwrap();
        let store =
            Arc::new(MessageStore::open(config(dir.path(), FlushDiskType::SyncFlush)).unwrap());
        g.throughput(Throughput::Elements(appenders as u64));
        let cpu = Arc::new(CpuCount::default());
        let count = Arc::clone(&cpu);
        g.bench_with_input(
            BenchmarkId::from_parameter(appenders),
            &appenders,
            |b, &n| {
                b.iter_custom(|iters| {
                    let store = Arc::clone(&store);
                    let count = Arc::clone(&count);
                    rt.block_on(async move {
                        let t0 = cpu_us();
                        let start = Instant::now();
                        let tasks: Vec<_> = (0..n)
                            .map(|t| {
                                let store = Arc::clone(&store);
                                tokio::spawn(async move {
                                    let rec = record((t % 8) as i32);
                                    for _ in 0..iters {
                                        store.put(&rec, true).await.unwrap();
                                    }
                                })
                            })
                            .collect();
                        for t in tasks {
                            t.await.unwrap();
                        }
                        let took = start.elapsed();
                        count.add(t0, iters * n as u64);
                        took
                    })
                });
            },
        );
        cpu.print(&format!("append_1k_sync_flush/{appenders}"));
    }
    g.finish();
}

fn range_read(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let store = MessageStore::open(config(dir.path(), FlushDiskType::AsyncFlush)).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let rec = record(0);
    rt.block_on(async {
        for _ in 0..20_000 {
            store.put(&rec, false).await.unwrap();
        }
        assert!(
            store
                .wait_dispatched(store.commitlog_max_offset(), Duration::from_secs(30))
                .await
        );
    });
    let mut g = c.benchmark_group("range_read");
    g.throughput(Throughput::Elements(32));
    let mut offset = 0u64;
    let cpu = CpuCount::default();
    g.bench_function("get_messages_32x1k", |b| {
        b.iter_custom(|iters| {
            let (t0, start) = (cpu_us(), Instant::now());
            for _ in 0..iters {
                let r = store.get_messages("Bench", 0, offset, 32, 256 * 1024, |_| true);
                offset = (offset + 32) % 19_000;
                std::hint::black_box(r.messages.len());
            }
            let took = start.elapsed();
            cpu.add(t0, iters * 32);
            took
        })
    });
    g.finish();
    cpu.print("range_read/get_messages_32x1k");
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = append_async, append_sync, range_read
}
criterion_main!(benches);
