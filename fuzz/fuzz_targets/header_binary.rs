#![no_main]
//! Arbitrary bytes as a ROCKETMQ binary header: never panics; what decodes
//! re-encodes to something that decodes to the same fields.
use libfuzzer_sys::fuzz_target;
use protocol::header_binary;

fuzz_target!(|data: &[u8]| {
    if let Ok(cmd) = header_binary::decode(data) {
        let mut buf = bytes::BytesMut::new();
        header_binary::encode(&cmd, &mut buf);
        let back = header_binary::decode(&buf).expect("our own header must decode");
        assert_eq!(back.ext_fields, cmd.ext_fields);
        assert_eq!(back.opaque, cmd.opaque);
    }
});
