#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Put/get behaviour of the store facade over real files.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use store::record::{build_test_record, tag_hash, RecordView};
use store::{BoundaryType, FlushDiskType, GetStatus, MessageStore, StoreConfig, StoreError};

fn small_config(dir: &std::path::Path) -> StoreConfig {
    StoreConfig {
        mapped_file_size_commit_log: 64 * 1024,
        mapped_file_size_consume_queue: 20 * 64,
        max_message_size: 32 * 1024,
        max_hash_slot_num: 64,
        max_index_num: 256,
        flush_interval_consume_queue: 50,
        // The host disk is shared and may be nearly full: only the
        // disk-full test below lowers these.
        disk_space_warning_level_ratio: 100,
        disk_max_used_space_ratio: 100,
        disk_space_clean_forcibly_ratio: 100,
        ..StoreConfig::with_root(dir)
    }
}

fn rec(topic: &str, qid: i32, i: usize, tag: &str) -> Vec<u8> {
    let body = format!("body-{i}-{}", "x".repeat(i % 300));
    let key = format!("key{i}");
    let uniq = format!("U{i:08}");
    build_test_record(
        topic,
        qid,
        body.as_bytes(),
        &[("TAGS", tag), ("KEYS", &key), ("UNIQ_KEY", &uniq)],
    )
}

async fn settle(store: &MessageStore) {
    assert!(
        store
            .wait_dispatched(store.commitlog_max_offset(), Duration::from_secs(5))
            .await
    );
}

#[tokio::test]
async fn put_then_pull_with_statuses_and_filter() {
    let dir = tempfile::tempdir().unwrap();
    let store = MessageStore::open(small_config(dir.path())).unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s2 = Arc::clone(&seen);
    store.set_arrival_listener(Arc::new(move |t: &str, q: i32, max: u64, _tag: i64| {
        s2.lock().unwrap().push((t.to_owned(), q, max));
    }));
    let empty = store.get_messages("T", 0, 0, 32, 1 << 20, |_| true);
    assert_eq!(empty.status, GetStatus::NoMatchedLogicQueue);
    for i in 0..300 {
        let tag = if i % 2 == 0 { "A" } else { "B" };
        let r = store
            .put(&rec("T", (i % 3) as i32, i, tag), true)
            .await
            .unwrap();
        assert_eq!(r.queue_offset, (i / 3) as u64);
        assert!(!r.flush_timed_out);
    }
    settle(&store).await;
    assert_eq!(store.max_offset("T", 0), 100);
    assert_eq!(store.min_offset("T", 0), 0);
    assert!(
        store.commitlog_max_offset() > 64 * 1024,
        "several segments used"
    );
    let got = store.get_messages("T", 1, 0, 32, 1 << 20, |_| true);
    assert_eq!(got.status, GetStatus::Found);
    assert_eq!(got.messages.len(), 32);
    assert_eq!(got.next_begin_offset, 32);
    for (m, qo) in got.messages.iter().zip(&got.queue_offsets) {
        let v = RecordView::parse(m).unwrap();
        assert_eq!((v.topic, v.queue_id, v.queue_offset as u64), ("T", 1, *qo));
        assert!(v.body_crc_ok());
    }
    // Byte limit: the first message always comes, then stop before overflow.
    let small = store.get_messages("T", 1, 0, 32, 10, |_| true);
    assert_eq!(small.messages.len(), 1);
    assert_eq!(small.next_begin_offset, 1);
    // Filter: queue 0 holds i = 0,3,6,… ; tag A for even i.
    let a = tag_hash("A");
    let only_a = store.get_messages("T", 0, 0, 1000, 1 << 30, |h| h == a);
    assert_eq!(only_a.messages.len(), 50);
    assert!(only_a
        .messages
        .iter()
        .all(|m| RecordView::parse(m).unwrap().property("TAGS") == Some("A")));
    let none = store.get_messages("T", 0, 0, 10, 1 << 20, |_| false);
    assert_eq!(none.status, GetStatus::NoMatchedMessage);
    assert!(none.next_begin_offset > 0);
    assert_eq!(
        store
            .get_messages("T", 0, 100, 10, 1 << 20, |_| true)
            .status,
        GetStatus::OffsetOverflowOne
    );
    let bad = store.get_messages("T", 0, 500, 10, 1 << 20, |_| true);
    assert_eq!(
        (bad.status, bad.next_begin_offset),
        (GetStatus::OffsetOverflowBadly, 0)
    );
    // Listener saw every append.
    assert_eq!(seen.lock().unwrap().len(), 300);
    assert!(seen.lock().unwrap().contains(&("T".to_owned(), 2, 100)));
    // Lookups.
    let first = store.message_at("T", 2, 0).unwrap();
    let phys = RecordView::parse(&first).unwrap().phys_offset as u64;
    assert_eq!(store.read_message_at(phys).unwrap(), first);
    let q = store.query_by_key("T", "key42", 10, 0, i64::MAX);
    assert_eq!(q.len(), 1);
    assert_eq!(
        RecordView::parse(&q[0]).unwrap().property("KEYS"),
        Some("key42")
    );
    assert_eq!(
        store.query_by_key("T", "U00000007", 10, 0, i64::MAX).len(),
        1
    );
    assert!(store
        .query_by_key("Other", "key42", 10, 0, i64::MAX)
        .is_empty());
    store.shutdown().unwrap();
}

#[tokio::test]
async fn batch_gets_consecutive_offsets_and_times_search() {
    let dir = tempfile::tempdir().unwrap();
    let store = MessageStore::open(small_config(dir.path())).unwrap();
    let before = store.put(&rec("B", 0, 0, "t"), true).await.unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let batch: Vec<Vec<u8>> = (1..=5).map(|i| rec("B", 0, i, "t")).collect();
    let res = store.put_batch(&batch, true).await.unwrap();
    let qos: Vec<u64> = res.records.iter().map(|a| a.queue_offset).collect();
    assert_eq!(qos, vec![1, 2, 3, 4, 5]);
    tokio::time::sleep(Duration::from_millis(20)).await;
    let after = store.put(&rec("B", 0, 6, "t"), true).await.unwrap();
    settle(&store).await;
    let t_batch = res.records[0].store_timestamp;
    assert!(before.store_timestamp < t_batch && t_batch < after.store_timestamp);
    assert_eq!(
        store.offset_by_time("B", 0, t_batch, BoundaryType::Lower),
        1
    );
    assert_eq!(
        store.offset_by_time("B", 0, t_batch, BoundaryType::Upper),
        5
    );
    assert_eq!(
        store.offset_by_time("B", 0, i64::MAX, BoundaryType::Lower),
        7
    );
    assert_eq!(store.offset_by_time("B", 0, 0, BoundaryType::Upper), 0);
    assert_eq!(store.earliest_time("B", 0), Some(before.store_timestamp));
    assert_eq!(store.store_time_at("B", 0, 6), Some(after.store_timestamp));
    // A malformed record rejects the batch without storing anything.
    let mut broken = rec("B", 0, 9, "t");
    broken[90] ^= 0xFF;
    let err = store
        .put_batch(&[rec("B", 0, 8, "t"), broken], true)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::BadRecord(_)), "{err}");
    settle(&store).await;
    assert_eq!(store.max_offset("B", 0), 7);
}

/// A costly record filter (SQL92) is bounded by filterScanBudgetMillis: with
/// a budget of 0 a read scans its first 32 entries and stops, answering
/// where the next read goes on; nothing is skipped on the way.
#[tokio::test]
async fn record_filter_scans_stop_at_the_time_budget_and_resume() {
    let dir = tempfile::tempdir().unwrap();
    let store = MessageStore::open(StoreConfig {
        filter_scan_budget_millis: 0,
        ..small_config(dir.path())
    })
    .unwrap();
    for i in 0..100 {
        store.put(&rec("S", 0, i, "t"), true).await.unwrap();
    }
    settle(&store).await;
    let wanted = |b: &[u8]| RecordView::parse(b).unwrap().queue_offset == 90;
    let first = store.get_messages_filtered("S", 0, 0, 32, 1 << 20, &|_| true, &wanted);
    assert_eq!(first.status, GetStatus::NoMatchedMessage);
    assert_eq!(first.next_begin_offset, 32);
    // Reading on from each answer reaches the one wanted message.
    let mut from = first.next_begin_offset;
    let found = loop {
        let r = store.get_messages_filtered("S", 0, from, 32, 1 << 20, &|_| true, &wanted);
        assert!(r.next_begin_offset > from, "each read makes progress");
        if r.status == GetStatus::Found {
            break r;
        }
        assert_eq!(r.status, GetStatus::NoMatchedMessage);
        from = r.next_begin_offset;
    };
    assert_eq!(found.queue_offsets, vec![90]);
    // Only records the filter turns down count against the budget: a read
    // that takes what it sees is bounded by its count alone.
    let plain = store.get_messages("S", 0, 0, 64, 1 << 20, |_| true);
    assert_eq!(plain.queue_offsets, (0..64).collect::<Vec<u64>>());
    assert_eq!(plain.next_begin_offset, 64);
}

#[tokio::test]
async fn restart_keeps_everything_and_continues_offsets() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = MessageStore::open(small_config(dir.path())).unwrap();
        for i in 0..200 {
            store
                .put(&rec("R", (i % 2) as i32, i, "x"), false)
                .await
                .unwrap();
        }
        assert!(matches!(
            MessageStore::open(small_config(dir.path())),
            Err(StoreError::Locked(_))
        ));
        store.shutdown().unwrap();
    }
    assert!(!dir.path().join("abort").exists());
    let store = MessageStore::open(small_config(dir.path())).unwrap();
    assert!(!store.recovered_abnormally());
    assert_eq!(store.max_offset("R", 0), 100);
    assert_eq!(store.max_offset("R", 1), 100);
    let r = store.put(&rec("R", 1, 999, "x"), true).await.unwrap();
    assert_eq!(r.queue_offset, 100);
    settle(&store).await;
    let all = store.get_messages("R", 0, 0, 1000, 1 << 30, |_| true);
    assert_eq!(all.messages.len(), 100);
}

#[tokio::test]
async fn sync_flush_group_commit_with_many_appenders() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = StoreConfig {
        flush_disk_type: FlushDiskType::SyncFlush,
        ..small_config(dir.path())
    };
    let store = Arc::new(MessageStore::open(cfg).unwrap());
    let mut tasks = Vec::new();
    for t in 0..16 {
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            let mut ends = Vec::new();
            for i in 0..20 {
                let r = store.put(&rec("S", t, i, "x"), true).await.unwrap();
                assert!(!r.flush_timed_out);
                // Acknowledged ⇒ durable.
                assert!(store.flushed_offset() >= r.phys_offset + u64::from(r.size));
                ends.push(r.queue_offset);
            }
            ends
        }));
    }
    for (t, task) in tasks.into_iter().enumerate() {
        assert_eq!(
            task.await.unwrap(),
            (0..20).collect::<Vec<u64>>(),
            "queue {t}"
        );
    }
    // WAIT=false returns without waiting but is flushed soon after.
    let r = store.put(&rec("S", 0, 99, "x"), false).await.unwrap();
    let end = r.phys_offset + u64::from(r.size);
    for _ in 0..200 {
        if store.flushed_offset() >= end {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(store.flushed_offset() >= end);
}

#[tokio::test]
async fn retention_deletes_old_segments_and_moves_min_offsets() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = StoreConfig {
        file_reserved_time: 0,
        ..small_config(dir.path())
    };
    let store = MessageStore::open(cfg).unwrap();
    for i in 0..600 {
        store.put(&rec("D", 0, i, "x"), false).await.unwrap();
    }
    settle(&store).await;
    let segments = store.runtime_info().commitlog_files;
    assert!(segments >= 3);
    let report = store.clean_expired_files(true).unwrap();
    assert_eq!(
        report.commitlog_files,
        segments - 1,
        "all but the active segment"
    );
    assert!(report.cq_files > 0);
    let min = store.min_offset("D", 0);
    assert!(min > 0 && min < 600);
    let too_small = store.get_messages("D", 0, 0, 10, 1 << 20, |_| true);
    assert_eq!(
        (too_small.status, too_small.next_begin_offset),
        (GetStatus::OffsetTooSmall, min)
    );
    let ok = store.get_messages("D", 0, min, 1000, 1 << 30, |_| true);
    assert_eq!(ok.status, GetStatus::Found);
    assert_eq!(ok.messages.len() as u64, 600 - min);
    assert!(store.read_message_at(0).is_none());
    // Survives a restart with the first segment gone.
    drop(store);
    let store = MessageStore::open(StoreConfig {
        file_reserved_time: 0,
        ..small_config(dir.path())
    })
    .unwrap();
    assert_eq!(store.min_offset("D", 0), min);
    assert_eq!(store.max_offset("D", 0), 600);
}

#[tokio::test]
async fn disk_full_refuses_puts_but_serves_reads() {
    let dir = tempfile::tempdir().unwrap();
    let store = MessageStore::open(small_config(dir.path())).unwrap();
    store.put(&rec("F", 0, 1, "x"), true).await.unwrap();
    settle(&store).await;
    drop(store);
    let cfg = StoreConfig {
        disk_space_warning_level_ratio: 1,
        ..small_config(dir.path())
    };
    let store = MessageStore::open(cfg).unwrap();
    store.clean_expired_files(false).unwrap();
    if store.is_disk_full() {
        let err = store.put(&rec("F", 0, 2, "x"), true).await.unwrap_err();
        assert!(matches!(err, StoreError::DiskFull { .. }), "{err}");
        assert_eq!(
            store
                .get_messages("F", 0, 0, 10, 1 << 20, |_| true)
                .messages
                .len(),
            1
        );
    } else {
        // Only an empty file system reports under 1 % use.
        assert!(store.runtime_info().disk_full == store.is_disk_full());
    }
}

#[tokio::test]
async fn records_from_the_protocol_encoder_are_stored_and_patched() {
    use protocol::message::{encode_record, NewRecord};
    let dir = tempfile::tempdir().unwrap();
    let store = MessageStore::open(small_config(dir.path())).unwrap();
    let msg = NewRecord {
        topic: "Enc",
        queue_id: 2,
        flag: 0,
        sysflag: 0,
        born_timestamp: 1_700_000_000_000,
        born_host: "[::1]:5000".parse().unwrap(),
        store_host: "10.0.0.1:10911".parse().unwrap(),
        reconsume_times: 0,
        prepared_transaction_offset: 0,
        body: b"hello",
        properties: b"TAGS\x01TagA\x02KEYS\x01k1 k2\x02",
    };
    let mut buf = bytes::BytesMut::new();
    encode_record(&msg, &mut buf).unwrap();
    store.put(&buf, true).await.unwrap();
    let r = store.put(&buf, true).await.unwrap();
    settle(&store).await;
    let got = store.get_messages("Enc", 2, 0, 10, 1 << 20, |h| h == tag_hash("TagA"));
    assert_eq!(got.messages.len(), 2);
    let v = RecordView::parse(&got.messages[1]).unwrap();
    assert_eq!(v.queue_offset, 1);
    assert_eq!(v.phys_offset as u64, r.phys_offset);
    assert_eq!(v.store_timestamp, r.store_timestamp);
    assert_eq!(
        v.store_timestamp_pos, 68,
        "IPv6 born host moves STORETIMESTAMP"
    );
    assert_eq!(store.query_by_key("Enc", "k2", 10, 0, i64::MAX).len(), 2);
}

#[tokio::test]
async fn replication_bytes_rebuild_queues_on_a_slave() {
    let master_dir = tempfile::tempdir().unwrap();
    let slave_dir = tempfile::tempdir().unwrap();
    let master = MessageStore::open(small_config(master_dir.path())).unwrap();
    for i in 0..400 {
        master
            .put(&rec("H", (i % 2) as i32, i, "x"), false)
            .await
            .unwrap();
    }
    let slave = MessageStore::open(small_config(slave_dir.path())).unwrap();
    // Ship in odd-sized frames that cut records and cross segments.
    let mut at = 0u64;
    while at < master.commitlog_max_offset() {
        let chunk = master.read_commitlog(at, 7_777).unwrap();
        at = slave.append_replicated(at, &chunk).unwrap();
    }
    assert!(
        slave.append_replicated(5, b"x").is_err(),
        "offset must be our end"
    );
    settle(&slave).await;
    assert_eq!(slave.commitlog_max_offset(), master.commitlog_max_offset());
    for q in 0..2 {
        assert_eq!(slave.max_offset("H", q), 200);
        assert_eq!(
            slave.message_at("H", q, 199),
            master.message_at("H", q, 199)
        );
    }
}

#[tokio::test]
async fn slave_truncates_to_a_new_masters_end_and_follows_it() {
    let a_dir = tempfile::tempdir().unwrap();
    let b_dir = tempfile::tempdir().unwrap();
    let old_master = MessageStore::open(small_config(a_dir.path())).unwrap();
    let slave = MessageStore::open(small_config(b_dir.path())).unwrap();
    for i in 0..300 {
        old_master
            .put(&rec("Tr", (i % 2) as i32, i, "x"), false)
            .await
            .unwrap();
    }
    let mut at = 0u64;
    while at < old_master.commitlog_max_offset() {
        let chunk = old_master.read_commitlog(at, 10_000).unwrap();
        at = slave.append_replicated(at, &chunk).unwrap();
    }
    settle(&slave).await;
    // The new master only had the first 100 records.
    let cut = slave.message_at("Tr", 0, 50).map(|m| {
        let v = RecordView::parse(&m).unwrap();
        v.phys_offset as u64
    });
    let cut = cut.unwrap();
    slave.truncate_commitlog(cut).unwrap();
    assert_eq!(slave.commitlog_max_offset(), cut);
    assert_eq!(slave.max_offset("Tr", 0), 50);
    assert_eq!(slave.max_offset("Tr", 1), 50);
    // Appending at the cut continues both queues where they stopped.
    let new_master_dir = tempfile::tempdir().unwrap();
    let new_master = MessageStore::open(small_config(new_master_dir.path())).unwrap();
    for i in 0..100 {
        new_master
            .put(&rec("Tr", (i % 2) as i32, i, "x"), false)
            .await
            .unwrap();
    }
    assert_eq!(new_master.commitlog_max_offset(), cut);
    new_master
        .put(&rec("Tr", 0, 9999, "new"), false)
        .await
        .unwrap();
    let chunk = new_master.read_commitlog(cut, 1 << 20).unwrap();
    slave.append_replicated(cut, &chunk).unwrap();
    settle(&slave).await;
    settle(&new_master).await;
    assert_eq!(slave.max_offset("Tr", 0), 51);
    assert_eq!(
        slave.message_at("Tr", 0, 50),
        new_master.message_at("Tr", 0, 50)
    );
}
