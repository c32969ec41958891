#![no_main]
//! Arbitrary bytes as a remoting stream: split frames, decode each, and
//! re-encode whatever decodes (it must decode again to the same command).
use libfuzzer_sys::fuzz_target;
use protocol::frame;

fuzz_target!(|data: &[u8]| {
    let mut rest = data;
    while let Ok(Some((cmd, used))) = frame::decode(rest, 1 << 20) {
        let mut buf = bytes::BytesMut::new();
        frame::encode(&cmd, &mut buf);
        let again = frame::decode(&buf, usize::MAX >> 8);
        assert!(matches!(again, Ok(Some(_))), "re-encoded frame does not decode");
        rest = &rest[used..];
    }
});
