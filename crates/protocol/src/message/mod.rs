//! Message records (the stored = pull format), properties, batches, ids,
//! hashes, flag words and the names of system topics and property keys.
//!
//! Everything here is a pure function over bytes: `decode_record` and
//! `decode_batch` are the entry points fuzz targets exercise.

pub mod batch;
pub mod encoded_records;
pub mod hash;
pub mod keys;
pub mod msgid;
pub mod properties;
pub mod recall;
pub mod record;
pub mod record_encode;
pub mod sysflag;
pub mod topics;

#[cfg(test)]
mod record_tests;

pub use batch::{batch_items, decode_batch, decode_batch_item, encode_batch, BatchItem};
pub use encoded_records::EncodedRecords;
pub use hash::{index_key_hash, java_string_hash, tag_hash};
pub use msgid::{decode_offset_msg_id, encode_offset_msg_id, UniqIdGenerator};
pub use properties::{find_property, property_pairs, DispatchProperties, Properties};
pub use record::{
    body_crc, decode_record, peek_record_header, records, DecodedRecord, MagicVersion, RecordView,
};
pub use record_encode::{encode_blank, encode_record, MessageRecord, NewRecord, RecordLayout};
pub use sysflag::TransactionType;
