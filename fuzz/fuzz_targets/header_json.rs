#![no_main]
//! Arbitrary bytes as a JSON header: never panics; what decodes re-encodes.
use libfuzzer_sys::fuzz_target;
use protocol::header_json;

fuzz_target!(|data: &[u8]| {
    if let Ok(cmd) = header_json::decode(data) {
        let mut buf = bytes::BytesMut::new();
        header_json::encode(&cmd, &mut buf);
        let back = header_json::decode(&buf).expect("our own header must decode");
        assert_eq!(back.code, cmd.code);
        assert_eq!(back.ext_fields, cmd.ext_fields);
    }
});
