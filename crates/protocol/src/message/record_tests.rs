//! Tests of the record codec: golden bytes, round trips, hostile input.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;

use super::msgid::normalize_addr;
use super::properties::Properties;
use super::record::*;
use super::record_encode::*;
use super::sysflag;
use crate::error::ProtocolError;

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn sample<'a>(topic: &'a str, body: &'a [u8], props: &'a [u8]) -> NewRecord<'a> {
    NewRecord {
        topic,
        queue_id: 3,
        flag: 5,
        sysflag: 0,
        born_timestamp: 1000,
        born_host: addr("10.0.0.1:1234"),
        store_host: addr("10.0.0.2:10911"),
        reconsume_times: 0,
        prepared_transaction_offset: 0,
        body,
        properties: props,
    }
}

fn view(buf: &[u8]) -> RecordView<'_> {
    match decode_record(buf).unwrap() {
        (DecodedRecord::Message(v), used) => {
            assert_eq!(used, buf.len());
            v
        }
        other => panic!("expected a message, got {other:?}"),
    }
}

#[test]
fn golden_bytes_ipv4_v1() {
    let mut out = BytesMut::new();
    let layout = encode_record(&sample("T", b"hi", b"A\x01b\x02"), &mut out).unwrap();
    let expected: Vec<u8> = [
        &[0, 0, 0, 98][..],               // TOTALSIZE = 91 + 2 + 1 + 4
        &[0xDA, 0xA3, 0x20, 0xA7],        // MAGIC v1
        &[0x58, 0x93, 0x2A, 0xAC],        // CRC32("hi") & 0x7FFFFFFF
        &[0, 0, 0, 3],                    // QUEUEID
        &[0, 0, 0, 5],                    // FLAG
        &[0; 8],                          // QUEUEOFFSET placeholder
        &[0; 8],                          // PHYSICALOFFSET placeholder
        &[0, 0, 0, 0],                    // SYSFLAG
        &[0, 0, 0, 0, 0, 0, 0x03, 0xE8],  // BORNTIMESTAMP 1000
        &[10, 0, 0, 1, 0, 0, 0x04, 0xD2], // BORNHOST 10.0.0.1:1234
        &[0; 8],                          // STORETIMESTAMP placeholder
        &[10, 0, 0, 2, 0, 0, 0x2A, 0x9F], // STOREHOST 10.0.0.2:10911
        &[0, 0, 0, 0],                    // RECONSUMETIMES
        &[0; 8],                          // PREPARED TX OFFSET
        &[0, 0, 0, 2],                    // BODY length
        b"hi",
        &[1], // TOPIC length
        b"T",
        &[0, 4], // PROPERTIES length
        b"A\x01b\x02",
    ]
    .concat();
    assert_eq!(&out[..], &expected[..]);
    assert_eq!(
        layout,
        RecordLayout {
            total_size: 98,
            queue_offset_pos: 20,
            physical_offset_pos: 28,
            store_timestamp_pos: 56,
        }
    );
}

#[test]
fn fixed_overhead_is_91() {
    let mut out = BytesMut::new();
    let msg = sample("T", b"", b"");
    let layout = encode_record(&msg, &mut out).unwrap();
    assert_eq!(layout.total_size, FIXED_OVERHEAD_V4 + 1);
    assert_eq!(msg.encoded_len(), layout.total_size);
    assert_eq!(out.len(), 92);
}

#[test]
fn view_reads_every_field_and_patch_works() {
    let mut out = BytesMut::new();
    let layout =
        encode_record(&sample("TopicTest", b"body", b"TAGS\x01TagA\x02"), &mut out).unwrap();
    layout.patch(&mut out, 42, 4096, 777).unwrap();
    let v = view(&out);
    assert_eq!(v.total_size(), out.len());
    assert_eq!(v.magic(), MAGIC_V1);
    assert_eq!(v.version(), MagicVersion::V1);
    assert_eq!(v.queue_id(), 3);
    assert_eq!(v.flag(), 5);
    assert_eq!(v.queue_offset(), 42);
    assert_eq!(v.physical_offset(), 4096);
    assert_eq!(v.store_timestamp(), 777);
    assert_eq!(v.store_timestamp_pos(), 56);
    assert_eq!(v.sysflag(), 0);
    assert_eq!(v.born_timestamp(), 1000);
    assert_eq!(v.born_host(), addr("10.0.0.1:1234"));
    assert_eq!(v.store_host(), addr("10.0.0.2:10911"));
    assert_eq!(v.reconsume_times(), 0);
    assert_eq!(v.prepared_transaction_offset(), 0);
    assert_eq!(v.body(), b"body");
    assert_eq!(v.topic(), "TopicTest");
    assert_eq!(v.properties_str(), "TAGS\u{1}TagA\u{2}");
    assert_eq!(v.property("TAGS"), Some("TagA"));
    assert_eq!(v.tags_code(), 2_598_919);
    assert_eq!(v.offset_msg_id(), "0A00000200002A9F0000000000001000");
    v.verify_crc().unwrap();
    assert!(layout.patch(&mut [0u8; 10], 0, 0, 0).is_err());
}

#[test]
fn crc_mismatch_detected() {
    let mut out = BytesMut::new();
    encode_record(&sample("T", b"body", b""), &mut out).unwrap();
    // body, then topic length (1), topic "T" (1), properties length (2).
    let body_at = out.len() - 2 - 1 - 1 - 4;
    out[body_at] ^= 1;
    assert!(matches!(
        view(&out).verify_crc(),
        Err(ProtocolError::BodyCrcMismatch { .. })
    ));
}

#[test]
fn long_topic_uses_v2_and_limits_are_named() {
    let topic = format!("%RETRY%{}", "g".repeat(150));
    let mut out = BytesMut::new();
    let msg = sample(&topic, b"x", b"");
    let layout = encode_record(&msg, &mut out).unwrap();
    assert_eq!(layout.total_size, FIXED_OVERHEAD_V4 + 1 + 1 + topic.len());
    assert_eq!(msg.encoded_len(), layout.total_size);
    let v = view(&out);
    assert_eq!(v.version(), MagicVersion::V2);
    assert_eq!(v.topic(), topic);

    let mut out = BytesMut::new();
    let too_long = "t".repeat(256);
    let err = encode_record(&sample(&too_long, b"", b""), &mut out).unwrap_err();
    assert_eq!(
        err,
        ProtocolError::TooLong {
            field: "topic",
            len: 256,
            max: 255
        }
    );
    assert!(err.to_string().contains("255"));
    let props = vec![b'a'; 32_768];
    let err = encode_record(&sample("T", b"", &props), &mut out).unwrap_err();
    assert!(matches!(
        err,
        ProtocolError::TooLong {
            field: "properties",
            ..
        }
    ));
    assert!(encode_record(&sample("", b"", b""), &mut out).is_err());
    assert!(out.is_empty(), "nothing written on error");
}

#[test]
fn ipv6_hosts_set_bits_and_mapped_hosts_stay_v4() {
    let mut msg = sample("T", b"b", b"");
    msg.born_host = addr("[fe80::1]:5000");
    msg.store_host = addr("[::ffff:10.0.0.2]:10911");
    msg.sysflag = sysflag::message::STOREHOST_V6 | sysflag::message::COMPRESSED;
    let mut out = BytesMut::new();
    let layout = encode_record(&msg, &mut out).unwrap();
    assert_eq!(msg.encoded_len(), layout.total_size);
    assert_eq!(layout.store_timestamp_pos, 68);
    assert_eq!(layout.total_size, 92 + 1 + 12);
    let v = view(&out);
    assert_eq!(
        v.sysflag(),
        sysflag::message::BORNHOST_V6 | sysflag::message::COMPRESSED
    );
    assert_eq!(v.born_host(), addr("[fe80::1]:5000"));
    assert_eq!(v.store_host(), addr("10.0.0.2:10911"));
    assert_eq!(v.store_timestamp_pos(), 68);

    msg.store_host = addr("[2001:db8::2]:10911");
    let mut out = BytesMut::new();
    encode_record(&msg, &mut out).unwrap();
    let v = view(&out);
    assert!(sysflag::is_storehost_v6(v.sysflag()));
    assert_eq!(v.store_host(), addr("[2001:db8::2]:10911"));
    assert_eq!(v.offset_msg_id().len(), 56);
}

#[test]
fn blank_marker() {
    let mut out = BytesMut::new();
    encode_blank(1234, &mut out);
    assert_eq!(&out[..], &[0, 0, 4, 0xD2, 0xCB, 0xD4, 0x31, 0x94]);
    assert_eq!(
        decode_record(&out).unwrap(),
        (DecodedRecord::Blank { total_size: 1234 }, BLANK_LEN)
    );
    assert!(MessageRecord::decode(&out).is_err());
}

#[test]
fn zeroed_space_is_bad_magic_and_short_input_truncated() {
    assert_eq!(
        decode_record(&[0u8; 100]).unwrap_err(),
        ProtocolError::BadMagic(0)
    );
    assert!(matches!(
        decode_record(&[0u8; 3]),
        Err(ProtocolError::Truncated { .. })
    ));
}

#[test]
fn every_cut_point_is_an_error() {
    let mut out = BytesMut::new();
    encode_record(&sample("TopicTest", b"hello", b"K\x01v\x02"), &mut out).unwrap();
    for cut in 0..out.len() {
        let err = decode_record(&out[..cut]).unwrap_err();
        assert!(
            matches!(err, ProtocolError::Truncated { .. }),
            "cut {cut}: {err}"
        );
    }
}

#[test]
fn inconsistent_lengths_are_errors() {
    let mut out = BytesMut::new();
    encode_record(&sample("TopicTest", b"hello", b"K\x01v\x02"), &mut out).unwrap();
    let body_len_pos = 84;
    for (pos, value) in [
        (body_len_pos + 3, 6u8),
        (body_len_pos, 0xFF),
        (body_len_pos + 3, 4),
    ] {
        let mut bad = out.to_vec();
        bad[pos] = value;
        assert!(matches!(
            decode_record(&bad),
            Err(ProtocolError::BadMessage(_))
        ));
    }
    // TOTALSIZE one larger than the fields (with the extra byte present).
    let mut bad = out.to_vec();
    bad[3] += 1;
    bad.push(0);
    assert!(matches!(
        decode_record(&bad),
        Err(ProtocolError::BadMessage(_))
    ));
    // TOTALSIZE below the minimum, or negative.
    let mut bad = out.to_vec();
    bad[..4].copy_from_slice(&90i32.to_be_bytes());
    assert!(decode_record(&bad).is_err());
    bad[..4].copy_from_slice(&(-5i32).to_be_bytes());
    assert!(decode_record(&bad).is_err());
    // Port out of range.
    let mut bad = out.to_vec();
    bad[52] = 1;
    assert!(decode_record(&bad).is_err());
}

#[test]
fn records_iterates_a_pull_body() {
    let mut out = BytesMut::new();
    encode_record(&sample("A", b"1", b""), &mut out).unwrap();
    encode_record(&sample("B", b"22", b""), &mut out).unwrap();
    let topics: Vec<_> = records(&out).map(|r| r.unwrap().topic()).collect();
    assert_eq!(topics, ["A", "B"]);
    let cut = &out[..out.len() - 1];
    let results: Vec<_> = records(cut).collect();
    assert_eq!(results.len(), 2);
    assert!(results[1].is_err());
}

#[test]
fn reencode_for_retry() {
    let mut out = BytesMut::new();
    let layout = encode_record(&sample("TopicTest", b"x", b"TAGS\x01a\x02"), &mut out).unwrap();
    layout.patch(&mut out, 9, 100, 5).unwrap();
    let (mut rec, _) = MessageRecord::decode(&out).unwrap();
    assert_eq!(rec.queue_offset, 9);
    rec.properties.insert("RETRY_TOPIC", rec.topic.clone());
    rec.topic = "%RETRY%g".to_string();
    rec.queue_id = 0;
    rec.reconsume_times += 1;
    let mut again = BytesMut::new();
    rec.encode_for_append(&mut again).unwrap();
    let v = view(&again);
    assert_eq!(v.topic(), "%RETRY%g");
    assert_eq!(v.queue_offset(), 0);
    assert_eq!(v.physical_offset(), 0);
    assert_eq!(v.store_timestamp(), 0);
    assert_eq!(v.reconsume_times(), 1);
    assert_eq!(v.property("RETRY_TOPIC"), Some("TopicTest"));
    assert_eq!(v.body(), b"x");
}

fn arb_host() -> impl Strategy<Value = SocketAddr> {
    prop_oneof![
        (any::<[u8; 4]>(), any::<u16>())
            .prop_map(|(ip, port)| SocketAddr::new(IpAddr::V4(Ipv4Addr::from(ip)), port)),
        (any::<[u8; 16]>(), any::<u16>()).prop_map(|(ip, port)| normalize_addr(SocketAddr::new(
            IpAddr::V6(Ipv6Addr::from(ip)),
            port
        ))),
    ]
}

prop_compose! {
    fn arb_record()(
        topic in "[a-zA-Z0-9%_-]{1,255}",
        queue_id: i32, flag: i32, queue_offset: i64, physical_offset: i64,
        // Host bits are derived from the hosts, so keep them clear here.
        sysflag in any::<i32>().prop_map(|f| f & !0x30),
        born_timestamp: i64, store_timestamp: i64, reconsume_times: i32,
        prepared_transaction_offset: i64,
        born_host in arb_host(), store_host in arb_host(),
        body in proptest::collection::vec(any::<u8>(), 0..200),
        props in proptest::collection::vec(("[^\u{1}\u{2}]{1,8}", "[^\u{1}\u{2}]{1,8}"), 0..5),
    ) -> MessageRecord {
        let mut sysflag = sysflag;
        if born_host.is_ipv6() { sysflag |= 0x10; }
        if store_host.is_ipv6() { sysflag |= 0x20; }
        MessageRecord {
            topic, queue_id, flag, queue_offset, physical_offset, sysflag, born_timestamp,
            born_host, store_timestamp, store_host, reconsume_times, prepared_transaction_offset,
            body_crc: body_crc(&body),
            body: Bytes::from(body),
            properties: props.into_iter().collect::<Properties>(),
        }
    }
}

proptest! {
    #[test]
    fn owned_roundtrip(rec in arb_record()) {
        let mut out = BytesMut::new();
        let layout = rec.encode(&mut out)?;
        prop_assert_eq!(layout.total_size, out.len());
        let (back, used) = MessageRecord::decode(&out)?;
        prop_assert_eq!(used, out.len());
        prop_assert_eq!(&back, &rec);
        let v = view(&out);
        prop_assert_eq!(v.store_timestamp_pos(), layout.store_timestamp_pos);
        prop_assert!(v.verify_crc().is_ok());
    }

    #[test]
    fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = decode_record(&bytes);
        let _ = records(&bytes).count();
    }

    #[test]
    fn mutated_records_never_panic(rec in arb_record(), pos: usize, byte: u8) {
        let mut out = BytesMut::new();
        rec.encode(&mut out)?;
        let pos = pos % out.len();
        out[pos] = byte;
        if let Ok((DecodedRecord::Message(v), _)) = decode_record(&out) {
            // Every accessor must be callable on whatever decoded.
            let _ = (v.born_host(), v.store_host(), v.body(), v.properties(), v.to_record());
        }
    }
}
