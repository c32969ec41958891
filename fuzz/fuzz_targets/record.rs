#![no_main]
//! Arbitrary bytes as stored records and as a batch body: decoders return
//! errors, never panic; a decoded record re-encodes to the same bytes.
use libfuzzer_sys::fuzz_target;
use protocol::message::{self, record::DecodedRecord};

fuzz_target!(|data: &[u8]| {
    if let Ok((DecodedRecord::Message(view), used)) = message::decode_record(data) {
        let owned = view.to_record();
        let mut buf = bytes::BytesMut::new();
        if owned.encode(&mut buf).is_ok() {
            let again = message::decode_record(&buf);
            assert!(again.is_ok(), "re-encoded record does not decode");
        }
        let _ = view.verify_crc();
        let _ = used;
    }
    for r in message::records(data) {
        if r.is_err() {
            break;
        }
    }
    let _ = message::decode_batch(data);
});
