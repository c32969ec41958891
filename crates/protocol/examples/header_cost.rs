//! The cost of decoding a send request's frame and reading its header, with
//! the extFields read straight from the wire bytes (`wire`) or through the
//! map built from them (`map`, what every request paid before). For
//! instruction counts: run under `valgrind --tool=callgrind` at two counts
//! and divide the difference by the difference of counts.
//!
//! Usage: header_cost wire|map json|binary COUNT

use bytes::{Bytes, BytesMut};
use protocol::command::SerializeType;
use protocol::frame::{decode_frame, encode};
use protocol::header::send::SendMessageRequestHeader;
use protocol::{RemotingCommand, RequestCode};

/// A SEND_MESSAGE_V2 request as a Java producer sends it (1 KiB body).
fn frame(serialize_type: SerializeType) -> Bytes {
    let header = SendMessageRequestHeader {
        producer_group: "apogee_bench_producer".into(),
        topic: "BenchmarkTest".into(),
        default_topic: "TBW102".into(),
        default_topic_queue_nums: 4,
        queue_id: 3,
        sys_flag: 0,
        born_timestamp: 1_765_000_000_000,
        flag: 0,
        properties: Some(
            "UNIQ_KEY\u{1}7F0000010001B4AAC6E05D3E2A1F0000\u{2}WAIT\u{1}true\u{2}".into(),
        ),
        reconsume_times: Some(0),
        unit_mode: Some(false),
        max_reconsume_times: None,
        batch: Some(false),
        broker_name: Some("broker-a".into()),
    };
    let mut cmd = RemotingCommand::request(RequestCode::SEND_MESSAGE_V2);
    header.write_v2(&mut cmd.ext_fields);
    cmd.opaque = 12345;
    cmd.serialize_type = serialize_type;
    cmd.body = Bytes::from(vec![b'x'; 1024]);
    let mut buf = BytesMut::new();
    encode(&cmd, &mut buf);
    buf.freeze()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(mode), Some(kind), Some(count)) = (args.get(1), args.get(2), args.get(3)) else {
        eprintln!("usage: header_cost wire|map json|binary COUNT");
        std::process::exit(2);
    };
    let count: u64 = count.parse().unwrap_or(0);
    let st = if kind == "binary" {
        SerializeType::RocketMq
    } else {
        SerializeType::Json
    };
    let frame = frame(st);
    let mut sum = 0i64;
    for _ in 0..count {
        let cmd = match decode_frame(frame.clone()) {
            Ok(cmd) => cmd,
            Err(e) => {
                eprintln!("decode: {e}");
                std::process::exit(1);
            }
        };
        let header = if mode == "map" {
            let map = cmd.ext_fields.map();
            SendMessageRequestHeader::read_for_code(RequestCode::SEND_MESSAGE_V2, map)
        } else {
            SendMessageRequestHeader::from_command(&cmd)
        };
        match header {
            Ok(h) => sum += h.born_timestamp + i64::from(h.queue_id),
            Err(e) => {
                eprintln!("header: {e}");
                std::process::exit(1);
            }
        }
    }
    println!("{sum}");
}
