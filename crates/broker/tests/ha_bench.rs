#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Replication throughput (a measurement, not a test; ignored by default):
//!     cargo test --release -p apogee-broker --test ha_bench -- --ignored --nocapture
//! Fills a master's commit log, then starts an empty slave with the same
//! segment size and times how long it takes to copy the log over loopback
//! and to rebuild its consume queues.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use broker::{Broker, BrokerConfig, BrokerRole};
use protocol::message::record_encode::{encode_record, NewRecord};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement; run with --ignored --nocapture"]
async fn replication_throughput() {
    let mb: u64 = std::env::var("HA_BENCH_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256);
    let dir = tempfile::tempdir().unwrap();
    let lo = SocketAddr::from(([127, 0, 0, 1], 0));
    let store = |name: &str| broker::StoreConfig {
        mapped_file_size_commit_log: 1 << 30,
        disk_max_used_space_ratio: 97,
        disk_space_clean_forcibly_ratio: 98,
        disk_space_warning_level_ratio: 99,
        ..testkit::small_store(&dir.path().join(name))
    };
    let master = Broker::start(BrokerConfig::default(), store("m"), lo)
        .await
        .unwrap();
    let body = vec![b'x'; 1024];
    let mut buf = bytes::BytesMut::new();
    encode_record(
        &NewRecord {
            topic: "Bench",
            queue_id: 0,
            flag: 0,
            sysflag: 0,
            born_timestamp: 1,
            born_host: lo,
            store_host: lo,
            reconsume_times: 0,
            prepared_transaction_offset: 0,
            body: &body,
            properties: b"",
        },
        &mut buf,
    )
    .unwrap();
    let batch: Vec<&[u8]> = (0..64).map(|_| &buf[..]).collect();
    let ms = master.state().store.clone();
    while ms.commitlog_max_offset() < mb << 20 {
        ms.put_batch(&batch, false).await.unwrap();
    }
    let end = ms.commitlog_max_offset();
    let ha = broker::ha::status(master.state());
    assert_eq!(ha.master_offset, end);
    // The slave follows the HA address directly (no NameServer).
    let ha_addr = master.state().ha_addr.clone();
    let started = Instant::now();
    let slave = Broker::start(
        BrokerConfig {
            broker_id: 1,
            broker_role: BrokerRole::Slave,
            ha_master_address: ha_addr,
            ..BrokerConfig::default()
        },
        store("s"),
        lo,
    )
    .await
    .unwrap();
    let ss = slave.state().store.clone();
    while ss.commitlog_max_offset() < end {
        assert!(started.elapsed() < Duration::from_secs(120));
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let copied = started.elapsed();
    assert!(ss.wait_dispatched(end, Duration::from_secs(120)).await);
    let rebuilt = started.elapsed();
    let mib = end as f64 / (1 << 20) as f64;
    eprintln!(
        "replicated {mib:.0} MiB in {:.2} s ({:.0} MiB/s); queues rebuilt after {:.2} s ({:.0} MiB/s)",
        copied.as_secs_f64(),
        mib / copied.as_secs_f64(),
        rebuilt.as_secs_f64(),
        mib / rebuilt.as_secs_f64()
    );
    slave.shutdown().await;
    master.shutdown().await;
}
