//! The store's view of commit-log records (remoting-protocol §7.1): a thin
//! adapter over `protocol::message::record`, which owns the codec. The store
//! adds what recovery needs (a cheap head peek, torn-text detection) and
//! keeps the fields it reads often as plain values.

use protocol::message::properties::DispatchProperties;
use protocol::message::record::{decode_record, DecodedRecord};
use protocol::message::sysflag::message as sysflag;

pub use protocol::message::hash::{index_key_hash, tag_hash};
pub use protocol::message::record::{
    BLANK_LEN as END_MARKER_LEN, BLANK_MAGIC as MAGIC_BLANK, MAGIC_V1, MAGIC_V2, MIN_RECORD_LEN,
    PHYSICAL_OFFSET_POS as POS_PHYS_OFFSET, QUEUE_OFFSET_POS as POS_QUEUE_OFFSET,
};

fn be_u32(b: &[u8], at: usize) -> Option<u32> {
    b.get(at..at + 4)?.try_into().ok().map(u32::from_be_bytes)
}

fn be_i32(b: &[u8], at: usize) -> Option<i32> {
    b.get(at..at + 4)?.try_into().ok().map(i32::from_be_bytes)
}

/// What the first eight bytes at a position say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Head {
    /// A message record of this total size.
    Record(usize),
    /// End-of-file marker: skip to the next segment.
    Blank,
    /// Anything else (zeros, garbage, torn write).
    Invalid,
}

/// Classifies the bytes at the start of `buf`.
pub fn peek_head(buf: &[u8]) -> Head {
    let (Some(size), Some(magic)) = (be_i32(buf, 0), be_u32(buf, 4)) else {
        return Head::Invalid;
    };
    match magic {
        MAGIC_BLANK if size > 0 => Head::Blank,
        MAGIC_V1 | MAGIC_V2 if size as usize >= MIN_RECORD_LEN && size > 0 => {
            Head::Record(size as usize)
        }
        _ => Head::Invalid,
    }
}

/// A parsed view of one stored record, borrowing its bytes.
#[derive(Debug, Clone, Copy)]
pub struct RecordView<'a> {
    /// The whole record.
    pub bytes: &'a [u8],
    /// QUEUEID.
    pub queue_id: i32,
    /// QUEUEOFFSET.
    pub queue_offset: i64,
    /// PHYSICALOFFSET.
    pub phys_offset: i64,
    /// SYSFLAG.
    pub sysflag: i32,
    /// STORETIMESTAMP (ms).
    pub store_timestamp: i64,
    /// Position of STORETIMESTAMP (moves with an IPv6 born host).
    pub store_timestamp_pos: usize,
    /// TOPIC.
    pub topic: &'a str,
    inner: protocol::message::record::RecordView<'a>,
}

impl<'a> RecordView<'a> {
    /// Parses the message record at the start of `buf`; `buf` may be longer.
    ///
    /// # Errors
    /// A description of what is wrong (an end-of-file marker is an error
    /// here too: callers peek with [`peek_head`] first).
    pub fn parse(buf: &'a [u8]) -> Result<Self, String> {
        match decode_record(buf) {
            Ok((DecodedRecord::Message(v), _)) => Ok(Self {
                bytes: v.as_bytes(),
                queue_id: v.queue_id(),
                queue_offset: v.queue_offset(),
                phys_offset: v.physical_offset(),
                sysflag: v.sysflag(),
                store_timestamp: v.store_timestamp(),
                store_timestamp_pos: v.store_timestamp_pos(),
                topic: v.topic(),
                inner: v,
            }),
            Ok((DecodedRecord::Blank { .. }, _)) => Err("end-of-file marker, not a record".into()),
            Err(e) => Err(e.to_string()),
        }
    }

    /// Total record size.
    pub fn size(&self) -> usize {
        self.bytes.len()
    }

    /// The body as stored.
    pub fn body(&self) -> &'a [u8] {
        self.inner.body()
    }

    /// True when BODYCRC matches the body (CRC32 & 0x7FFFFFFF).
    pub fn body_crc_ok(&self) -> bool {
        self.inner.verify_crc().is_ok()
    }

    /// A property value (Java decoding rules: last occurrence wins).
    pub fn property(&self, name: &str) -> Option<&'a str> {
        self.inner.property(name)
    }

    /// TAGS, KEYS, UNIQ_KEY and DELAY in one pass over the properties.
    pub fn dispatch_properties(&self) -> DispatchProperties<'a> {
        DispatchProperties::scan(self.inner.properties_str())
    }

    /// A torn write leaves zeros where the tail of the record should be;
    /// the body is covered by its CRC, topic and properties are text that
    /// never contains NUL. Puts are held to the same rule so that recovery
    /// never rejects a record that was accepted.
    pub fn text_is_intact(&self) -> bool {
        text_is_intact(self.topic, self.inner.properties_str().as_bytes())
    }

    /// Half (PREPARED) and ROLLBACK records are neither queued nor indexed.
    pub fn is_dispatchable(&self) -> bool {
        is_dispatchable(self.sysflag)
    }

    /// ROLLBACK records are not indexed.
    pub fn is_rollback(&self) -> bool {
        self.sysflag & sysflag::TRANSACTION_MASK == sysflag::TRANSACTION_ROLLBACK_TYPE
    }
}

/// A non-empty topic, and no NUL in topic or properties (see
/// [`RecordView::text_is_intact`]).
pub fn text_is_intact(topic: &str, properties: &[u8]) -> bool {
    !topic.is_empty() && !topic.as_bytes().contains(&0) && !properties.contains(&0)
}

/// Whether a record with this SYSFLAG is queued and indexed: not a half
/// (PREPARED) or ROLLBACK record.
pub fn is_dispatchable(sysflag: i32) -> bool {
    let tx = sysflag & sysflag::TRANSACTION_MASK;
    tx != sysflag::TRANSACTION_PREPARED_TYPE && tx != sysflag::TRANSACTION_ROLLBACK_TYPE
}

/// Writes a blank end-of-file marker of `remaining` bytes into `buf[..8]`.
pub fn blank_marker(remaining: u32) -> [u8; END_MARKER_LEN] {
    let mut b = [0u8; END_MARKER_LEN];
    b[..4].copy_from_slice(&remaining.to_be_bytes());
    b[4..].copy_from_slice(&MAGIC_BLANK.to_be_bytes());
    b
}

/// Builds a record for tests and benches: IPv4 hosts, v1 magic, placeholders
/// for the fields the store fills.
pub fn build_test_record(
    topic: &str,
    queue_id: i32,
    body: &[u8],
    props: &[(&str, &str)],
) -> Vec<u8> {
    let mut p = String::new();
    for (k, v) in props {
        p.push_str(k);
        p.push('\u{1}');
        p.push_str(v);
        p.push('\u{2}');
    }
    let size = MIN_RECORD_LEN + body.len() + topic.len() + p.len();
    let mut b = Vec::with_capacity(size);
    b.extend_from_slice(&(size as i32).to_be_bytes());
    b.extend_from_slice(&MAGIC_V1.to_be_bytes());
    b.extend_from_slice(&protocol::message::body_crc(body).to_be_bytes());
    b.extend_from_slice(&queue_id.to_be_bytes());
    b.extend_from_slice(&0i32.to_be_bytes()); // flag
    b.extend_from_slice(&0i64.to_be_bytes()); // queue offset
    b.extend_from_slice(&0i64.to_be_bytes()); // phys offset
    b.extend_from_slice(&0i32.to_be_bytes()); // sysflag
    b.extend_from_slice(&1i64.to_be_bytes()); // born ts
    b.extend_from_slice(&[127, 0, 0, 1, 0, 0, 0x27, 0x10]); // born host
    b.extend_from_slice(&0i64.to_be_bytes()); // store ts
    b.extend_from_slice(&[127, 0, 0, 1, 0, 0, 0x2A, 0x9F]); // store host
    b.extend_from_slice(&0i32.to_be_bytes()); // reconsume
    b.extend_from_slice(&0i64.to_be_bytes()); // prepared tx offset
    b.extend_from_slice(&(body.len() as i32).to_be_bytes());
    b.extend_from_slice(body);
    b.push(topic.len() as u8);
    b.extend_from_slice(topic.as_bytes());
    b.extend_from_slice(&(p.len() as u16).to_be_bytes());
    b.extend_from_slice(p.as_bytes());
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_test_record() {
        let rec = build_test_record("T1", 3, b"hello", &[("TAGS", "TagA"), ("KEYS", "k1 k2")]);
        let v = RecordView::parse(&rec).unwrap();
        assert_eq!(v.topic, "T1");
        assert_eq!(v.queue_id, 3);
        assert_eq!(v.body(), b"hello");
        assert!(v.body_crc_ok());
        assert_eq!(v.property("TAGS"), Some("TagA"));
        assert_eq!(v.property("KEYS"), Some("k1 k2"));
        assert_eq!(v.property("UNIQ_KEY"), None);
        assert!(v.is_dispatchable());
        assert_eq!(peek_head(&rec), Head::Record(rec.len()));
        assert_eq!(peek_head(&blank_marker(100)), Head::Blank);
        assert_eq!(peek_head(&[0u8; 8]), Head::Invalid);
        let mut torn = rec.clone();
        torn.truncate(rec.len() - 1);
        assert!(RecordView::parse(&torn).is_err());
    }

    #[test]
    fn hashes_match_java() {
        assert_eq!(tag_hash("TagA"), 2_598_919);
        assert_eq!(tag_hash("😀"), 1_772_899);
        assert_eq!(index_key_hash("", ""), 35); // "#"
    }
}
