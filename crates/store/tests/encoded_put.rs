#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! `put_encoded` (records encoded in this process, BODYCRC not computed a
//! second time) stores exactly what `put_batch` stores for the same bytes:
//! same places, same queue offsets, same record bytes (up to the store
//! timestamp, which is the clock's), a BODYCRC that verifies, and a store
//! that reopens to the same queues.

use std::time::Duration;

use protocol::message::{EncodedRecords, NewRecord};
use store::record::RecordView;
use store::{MessageStore, StoreConfig, StoreError};

fn config(dir: &std::path::Path) -> StoreConfig {
    StoreConfig {
        // Small segments: the batches below roll over several of them.
        mapped_file_size_commit_log: 64 * 1024,
        mapped_file_size_consume_queue: 20 * 64,
        max_message_size: 32 * 1024,
        max_hash_slot_num: 64,
        max_index_num: 256,
        disk_space_warning_level_ratio: 100,
        disk_max_used_space_ratio: 100,
        disk_space_clean_forcibly_ratio: 100,
        ..StoreConfig::with_root(dir)
    }
}

/// Batch `b` of 16: queues 0, 0, 1, 1, 2, 0... (runs of one queue and
/// changes of queue within a batch), bodies of 1–5 KiB, the properties a
/// producer sends.
fn batch(b: usize) -> EncodedRecords {
    let mut out = EncodedRecords::default();
    for i in 0..16 {
        let n = b * 16 + i;
        let body = vec![(n % 251) as u8; 1024 + (n * 397) % 4096];
        let props = format!(
            "UNIQ_KEY\u{1}U{n:08}\u{2}KEYS\u{1}k{n} j{n}\u{2}TAGS\u{1}T{}\u{2}",
            n % 3
        );
        out.push(&NewRecord {
            topic: "Enc",
            queue_id: [0, 0, 1, 1, 2][i % 5],
            flag: i as i32,
            sysflag: 0,
            born_timestamp: 1_700_000_000_000 + n as i64,
            born_host: "10.0.0.1:4000".parse().unwrap(),
            store_host: "10.0.0.2:10911".parse().unwrap(),
            reconsume_times: 0,
            prepared_transaction_offset: 0,
            body: &body,
            properties: props.as_bytes(),
        })
        .unwrap();
    }
    out
}

async fn settle(store: &MessageStore) {
    assert!(
        store
            .wait_dispatched(store.commitlog_max_offset(), Duration::from_secs(5))
            .await
    );
}

/// The stored record at `phys`, with its STORETIMESTAMP zeroed.
fn stored(store: &MessageStore, phys: u64, size: u32) -> Vec<u8> {
    let bytes = store.read_commitlog(phys, size as usize).unwrap();
    assert_eq!(bytes.len(), size as usize);
    let view = RecordView::parse(&bytes).unwrap();
    assert!(view.body_crc_ok(), "BODYCRC of the record at {phys}");
    assert_eq!(view.phys_offset, phys as i64);
    without_store_time(&bytes)
}

/// A record with its store timestamp zeroed: the two stores append the
/// same records a moment apart, sometimes across a millisecond.
fn without_store_time(bytes: &[u8]) -> Vec<u8> {
    let view = RecordView::parse(bytes).unwrap();
    let mut out = bytes.to_vec();
    out[view.store_timestamp_pos..view.store_timestamp_pos + 8].fill(0);
    out
}

#[tokio::test]
async fn encoded_records_are_stored_as_put_batch_stores_them() {
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let checked = MessageStore::open(config(dir_a.path())).unwrap();
    let encoded = MessageStore::open(config(dir_b.path())).unwrap();
    let mut places = Vec::new();
    for b in 0..12 {
        let records = batch(b);
        let plain: Vec<&[u8]> = records.iter().collect();
        let a = checked.put_batch(&plain, false).await.unwrap();
        let e = encoded.put_encoded(&records, false).await.unwrap();
        assert_eq!(a.records.len(), 16);
        for (x, y) in a.records.iter().zip(&e.records) {
            assert_eq!(
                (x.phys_offset, x.size, x.queue_offset),
                (y.phys_offset, y.size, y.queue_offset)
            );
            places.push((y.phys_offset, y.size));
        }
    }
    assert!(
        encoded.runtime_info().commitlog_files > 3,
        "batches rolled segments"
    );
    for &(phys, size) in &places {
        assert_eq!(stored(&checked, phys, size), stored(&encoded, phys, size));
    }
    settle(&checked).await;
    settle(&encoded).await;
    // Queue offsets are consecutive per queue across and within batches.
    for (queue, count) in [(0, 12 * 7), (1, 12 * 6), (2, 12 * 3)] {
        assert_eq!(checked.max_offset("Enc", queue), count);
        assert_eq!(encoded.max_offset("Enc", queue), count);
        let got = encoded.get_messages("Enc", queue, 0, 1000, 64 << 20, |_| true);
        assert_eq!(got.queue_offsets, (0..count).collect::<Vec<_>>());
    }
    let by_key = |store: &MessageStore| -> Vec<Vec<u8>> {
        let found = store.query_by_key("Enc", "k77", 10, 0, i64::MAX);
        found.iter().map(|r| without_store_time(r)).collect()
    };
    assert_eq!(by_key(&encoded), by_key(&checked));
    assert!(!by_key(&encoded).is_empty());
    checked.shutdown().unwrap();
    encoded.shutdown().unwrap();
    drop(encoded);

    // Reopened, the store finds every record intact and the queues whole,
    // and appends go on where they left off.
    let reopened = MessageStore::open(config(dir_b.path())).unwrap();
    assert!(reopened.recovery_report().skipped.is_empty());
    for &(phys, size) in &places {
        stored(&reopened, phys, size);
    }
    let next = reopened.put_encoded(&batch(12), false).await.unwrap();
    assert_eq!(next.records[0].queue_offset, 12 * 7);
    assert_eq!(next.records[2].queue_offset, 12 * 6);
    reopened.shutdown().unwrap();
}

#[tokio::test]
async fn put_batch_still_checks_the_body_crc() {
    let dir = tempfile::tempdir().unwrap();
    let store = MessageStore::open(config(dir.path())).unwrap();
    let records = batch(0);
    let mut plain: Vec<Vec<u8>> = records.iter().map(<[u8]>::to_vec).collect();
    // A body byte changed after encoding: BODYCRC no longer matches.
    let body_at = plain[3].len() - 200;
    plain[3][body_at] ^= 0x55;
    let err = store.put_batch(&plain, false).await.unwrap_err();
    assert!(
        matches!(err, StoreError::BadRecord(ref m) if m.contains("BODYCRC")),
        "{err}"
    );
    assert_eq!(store.commitlog_max_offset(), 0);
    store.shutdown().unwrap();
}
