//! What checking a signed 1 KiB send costs the broker, and what HMAC-SHA1
//! of 1 KiB costs with the `sha1` crate (SHA-NI when the CPU has it) and
//! with `ring`.
//!
//! `cargo bench -p apogee-acl --bench verify` prints ns per operation of
//! each case. `verify CASE N` runs one case N times and prints nothing, for
//! `valgrind --tool=callgrind` at two counts (instructions per operation =
//! the difference of the totals over the difference of the counts). Cases:
//! `sha1` (`hmac` + `sha1` crates, keyed once), `ring`
//! (`ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY`, keyed once), `validate`
//! (`PlainAcl::validate` of a signed SEND_MESSAGE_V2 of a PUB account),
//! `unsigned` (the same send validated from a whitelisted address: the
//! floor of the check), `wire` (the send decoded from its frame, as the
//! broker gets it, then validated: its fields are still wire bytes) and
//! `decode` (the decoding alone: `wire` less `decode` is the check).

use std::hint::black_box;
use std::net::IpAddr;
use std::time::Instant;

use acl::PlainAcl;
use hmac::{Hmac, Mac};
use protocol::signature::sign_request;
use protocol::{RemotingCommand, RequestCode};
use sha1::Sha1;

const FILE: &str = "\
globalWhiteRemoteAddresses: [10.9.*.*]
accounts:
  - accessKey: publisher
    secretKey: pub-secret
    defaultTopicPerm: PUB
";

const SECRET: &[u8] = b"pub-secret";

/// A send as the Rust and Java clients write it: SEND_MESSAGE_V2's
/// one-letter fields and a 1 KiB body, signed by `publisher`.
fn signed_send() -> RemotingCommand {
    let mut cmd = RemotingCommand::request(RequestCode::SEND_MESSAGE_V2);
    cmd.version = 453;
    for (k, v) in [
        ("a", "ProducerGroupName"),
        ("b", "BenchTopic"),
        ("c", "TBW102"),
        ("d", "4"),
        ("e", "2"),
        ("f", "0"),
        ("g", "1733596800000"),
        ("h", "0"),
        (
            "i",
            "UNIQ_KEY\u{1}7F0000010001186D3E8E3C7A00000000\u{2}WAIT\u{1}true\u{2}",
        ),
        ("j", "0"),
        ("k", "false"),
        ("m", "false"),
        ("n", "broker-a"),
    ] {
        cmd.ext_fields.insert(k.into(), v.into());
    }
    cmd.body = bytes::Bytes::from(vec![b'x'; 1024]);
    sign_request(&mut cmd, "publisher", "pub-secret");
    cmd
}

type Case = Box<dyn FnMut()>;

fn case(name: &str) -> Option<Case> {
    let body = vec![b'x'; 1024];
    match name {
        "sha1" => {
            let keyed = <Hmac<Sha1> as Mac>::new_from_slice(SECRET).ok()?;
            Some(Box::new(move || {
                let mut mac = keyed.clone();
                mac.update(black_box(&body));
                black_box(mac.finalize().into_bytes());
            }))
        }
        "ring" => {
            let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, SECRET);
            Some(Box::new(move || {
                black_box(ring::hmac::sign(&key, black_box(&body)));
            }))
        }
        "validate" | "unsigned" => {
            let acl = PlainAcl::parse(FILE).ok()?;
            let cmd = signed_send();
            let peer: IpAddr = if name == "validate" {
                "127.0.0.1".parse().ok()?
            } else {
                "10.9.0.1".parse().ok()?
            };
            Some(Box::new(move || {
                let verdict = acl.validate(black_box(peer), black_box(&cmd));
                assert!(verdict.is_ok(), "{verdict:?}");
            }))
        }
        "wire" | "decode" => {
            let acl = PlainAcl::parse(FILE).ok()?;
            let mut buf = bytes::BytesMut::new();
            protocol::frame::encode(&signed_send(), &mut buf);
            let frame = buf.freeze();
            let peer: IpAddr = "127.0.0.1".parse().ok()?;
            let check = name == "wire";
            Some(Box::new(move || {
                let decoded = protocol::frame::decode_frame(black_box(frame.clone()));
                assert!(decoded.is_ok(), "{decoded:?}");
                let Ok(cmd) = decoded else { return };
                if check {
                    let verdict = acl.validate(black_box(peer), &cmd);
                    assert!(verdict.is_ok(), "{verdict:?}");
                }
                black_box(cmd);
            }))
        }
        _ => None,
    }
}

const CASES: [&str; 6] = ["sha1", "ring", "validate", "unsigned", "wire", "decode"];

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // `cargo bench` passes `--bench`; a case name and a count run that case.
    if let [name, count] = args.as_slice() {
        let (Some(mut run), Ok(count)) = (case(name), count.parse::<u64>()) else {
            eprintln!("usage: verify [{}] COUNT", CASES.join("|"));
            std::process::exit(2);
        };
        for _ in 0..count {
            run();
        }
        return;
    }
    for name in CASES {
        let Some(mut run) = case(name) else {
            continue;
        };
        let mut best = f64::MAX;
        for _ in 0..5 {
            let n = 200_000;
            let start = Instant::now();
            for _ in 0..n {
                run();
            }
            best = best.min(start.elapsed().as_nanos() as f64 / n as f64);
        }
        println!("{name:>9}: {best:7.0} ns/op (best of 5 x 200,000)");
    }
}
