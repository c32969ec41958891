//! Just enough of the commit-log record layout (remoting-protocol §7.1) for
//! the store: locate the fields the store patches at append time, and read
//! the header fields and properties that dispatch and recovery need, all
//! without allocating.

/// Magic of a v1 record (1-byte topic length).
pub const MAGIC_V1: u32 = 0xDAA3_20A7;
/// Magic of a v2 record (2-byte topic length).
pub const MAGIC_V2: u32 = 0xDAA3_20AB;
/// Magic of the end-of-file blank marker.
pub const MAGIC_BLANK: u32 = 0xCBD4_3194;
/// Bytes reserved for the blank marker at the end of every segment.
pub const END_MARKER_LEN: usize = 8;

/// Offset of QUEUEOFFSET.
pub const POS_QUEUE_OFFSET: usize = 20;
/// Offset of PHYSICALOFFSET.
pub const POS_PHYS_OFFSET: usize = 28;
/// Offset of SYSFLAG.
pub const POS_SYSFLAG: usize = 36;
const POS_BORN_HOST: usize = 48;

const SYSFLAG_BORN_V6: i32 = 0x10;
const SYSFLAG_STORE_V6: i32 = 0x20;
const SYSFLAG_TX_MASK: i32 = 0xC;
const SYSFLAG_TX_PREPARED: i32 = 0x4;
const SYSFLAG_TX_ROLLBACK: i32 = 0xC;

/// Smallest possible record (IPv4 hosts, empty body/topic/properties).
pub const MIN_RECORD_LEN: usize = 91;

fn be_u32(b: &[u8], at: usize) -> Option<u32> {
    b.get(at..at + 4)?.try_into().ok().map(u32::from_be_bytes)
}

fn be_i32(b: &[u8], at: usize) -> Option<i32> {
    b.get(at..at + 4)?.try_into().ok().map(i32::from_be_bytes)
}

fn be_i64(b: &[u8], at: usize) -> Option<i64> {
    b.get(at..at + 8)?.try_into().ok().map(i64::from_be_bytes)
}

/// Offset of STORETIMESTAMP, which moves with an IPv6 born host.
pub fn store_timestamp_pos(sysflag: i32) -> usize {
    POS_BORN_HOST
        + if sysflag & SYSFLAG_BORN_V6 != 0 {
            20
        } else {
            8
        }
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
    /// BODYCRC as stored.
    pub body_crc: u32,
    body: (usize, usize),
    /// TOPIC.
    pub topic: &'a str,
    properties: &'a str,
}

impl<'a> RecordView<'a> {
    /// Parses the record at the start of `buf`; `buf` may be longer.
    ///
    /// # Errors
    /// A description of the first field that does not fit or is invalid.
    pub fn parse(buf: &'a [u8]) -> Result<Self, String> {
        let size = match peek_head(buf) {
            Head::Record(size) => size,
            Head::Blank => return Err("end-of-file marker, not a record".into()),
            Head::Invalid => return Err("bad total size or magic".into()),
        };
        let bytes = buf.get(..size).ok_or("record longer than the buffer")?;
        let magic = be_u32(bytes, 4).ok_or("short")?;
        let sysflag = be_i32(bytes, POS_SYSFLAG).ok_or("short")?;
        let ts_pos = store_timestamp_pos(sysflag);
        let store_host_len = if sysflag & SYSFLAG_STORE_V6 != 0 {
            20
        } else {
            8
        };
        let body_len_pos = ts_pos + 8 + store_host_len + 4 + 8;
        let body_len = be_i32(bytes, body_len_pos).ok_or("record truncated before BODY")?;
        let body_len = usize::try_from(body_len).map_err(|_| "negative body length")?;
        let body_start = body_len_pos + 4;
        let topic_len_pos = body_start
            .checked_add(body_len)
            .ok_or("body length overflow")?;
        let (topic_len, topic_start) = if magic == MAGIC_V2 {
            let b = bytes
                .get(topic_len_pos..topic_len_pos + 2)
                .ok_or("truncated topic length")?;
            (
                usize::from(u16::from_be_bytes([b[0], b[1]])),
                topic_len_pos + 2,
            )
        } else {
            let b = *bytes.get(topic_len_pos).ok_or("truncated topic length")?;
            (usize::from(b), topic_len_pos + 1)
        };
        let topic = bytes
            .get(topic_start..topic_start + topic_len)
            .ok_or("truncated topic")?;
        let topic = std::str::from_utf8(topic).map_err(|_| "topic is not UTF-8")?;
        let props_len_pos = topic_start + topic_len;
        let b = bytes
            .get(props_len_pos..props_len_pos + 2)
            .ok_or("truncated properties length")?;
        let props_len = usize::from(u16::from_be_bytes([b[0], b[1]]) & 0x7FFF);
        let props_start = props_len_pos + 2;
        if props_start + props_len != size {
            return Err(format!(
                "field lengths add up to {} but TOTALSIZE is {size}",
                props_start + props_len
            ));
        }
        let properties = std::str::from_utf8(&bytes[props_start..size])
            .map_err(|_| "properties are not UTF-8")?;
        Ok(Self {
            bytes,
            queue_id: be_i32(bytes, 12).ok_or("short")?,
            queue_offset: be_i64(bytes, POS_QUEUE_OFFSET).ok_or("short")?,
            phys_offset: be_i64(bytes, POS_PHYS_OFFSET).ok_or("short")?,
            sysflag,
            store_timestamp: be_i64(bytes, ts_pos).ok_or("short")?,
            body_crc: be_u32(bytes, 8).ok_or("short")?,
            body: (body_start, body_len),
            topic,
            properties,
        })
    }

    /// Total record size.
    pub fn size(&self) -> usize {
        self.bytes.len()
    }

    /// The body as stored.
    pub fn body(&self) -> &'a [u8] {
        &self.bytes[self.body.0..self.body.0 + self.body.1]
    }

    /// True when BODYCRC matches the body (CRC32 & 0x7FFFFFFF).
    pub fn body_crc_ok(&self) -> bool {
        crc32fast::hash(self.body()) & 0x7FFF_FFFF == self.body_crc
    }

    /// A property value; last occurrence wins, empty values count as absent.
    pub fn property(&self, name: &str) -> Option<&'a str> {
        self.properties
            .rsplit('\u{2}')
            .filter_map(|pair| pair.split_once('\u{1}'))
            .find(|(k, v)| *k == name && !v.is_empty())
            .map(|(_, v)| v)
    }

    /// A torn write leaves zeros where the tail of the record should be;
    /// the body is covered by its CRC, topic and properties are text that
    /// never contains NUL. Puts are held to the same rule so that recovery
    /// never rejects a record that was accepted.
    pub fn text_is_intact(&self) -> bool {
        !self.topic.is_empty() && !self.topic.contains('\0') && !self.properties.contains('\0')
    }

    /// Half (PREPARED) and ROLLBACK records are neither queued nor indexed.
    pub fn is_dispatchable(&self) -> bool {
        !matches!(
            self.sysflag & SYSFLAG_TX_MASK,
            SYSFLAG_TX_PREPARED | SYSFLAG_TX_ROLLBACK
        )
    }

    /// ROLLBACK records are not indexed.
    pub fn is_rollback(&self) -> bool {
        self.sysflag & SYSFLAG_TX_MASK == SYSFLAG_TX_ROLLBACK
    }
}

/// Writes a blank end-of-file marker of `remaining` bytes into `buf[..8]`.
pub fn blank_marker(remaining: u32) -> [u8; END_MARKER_LEN] {
    let mut b = [0u8; END_MARKER_LEN];
    b[..4].copy_from_slice(&remaining.to_be_bytes());
    b[4..].copy_from_slice(&MAGIC_BLANK.to_be_bytes());
    b
}

/// Java `String.hashCode()` of `parts` concatenated.
fn java_hash(parts: &[&str]) -> i32 {
    parts.iter().fold(0i32, |h, part| {
        part.encode_utf16()
            .fold(h, |h, u| h.wrapping_mul(31).wrapping_add(i32::from(u)))
    })
}

/// Consume-queue tag code: `hashCode(TAGS)` sign-extended; 0 without tags.
pub fn tag_hash(tags: &str) -> i64 {
    i64::from(java_hash(&[tags]))
}

/// Index key hash of `topic#key`: `|hashCode|`, 0 for `i32::MIN`.
pub fn index_key_hash(topic: &str, key: &str) -> u32 {
    java_hash(&[topic, "#", key])
        .checked_abs()
        .map_or(0, i32::unsigned_abs)
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
    b.extend_from_slice(&(crc32fast::hash(body) & 0x7FFF_FFFF).to_be_bytes());
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
