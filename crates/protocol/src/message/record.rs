//! The stored message record: CommitLog entry, and the body format of pull,
//! query, view and check-transaction responses (records back to back).
//!
//! [`decode_record`] validates every length against the buffer once and
//! hands back a [`RecordView`] whose accessors then read fixed positions
//! without further checks or allocation. Encoding lives in
//! [`super::record_encode`].

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::hash::tag_hash;
use super::keys;
use super::msgid::encode_offset_msg_id;
use super::properties::{find_property, Properties, MAX_PROPERTIES_LEN};
use super::sysflag::{host_len, is_bornhost_v6, is_storehost_v6};
use crate::error::ProtocolError;

/// Magic of records with a one-byte topic length.
pub const MAGIC_V1: u32 = 0xDAA3_20A7;
/// Magic of records with a two-byte topic length (topics > 127 bytes).
pub const MAGIC_V2: u32 = 0xDAA3_20AB;
/// Magic of the end-of-file blank marker.
pub const BLANK_MAGIC: u32 = 0xCBD4_3194;
/// Bytes of the end-of-file blank marker (TOTALSIZE + magic).
pub const BLANK_LEN: usize = 8;

/// Position of TOTALSIZE.
pub const TOTAL_SIZE_POS: usize = 0;
/// Position of MAGICCODE.
pub const MAGIC_POS: usize = 4;
/// Position of BODYCRC.
pub const BODY_CRC_POS: usize = 8;
/// Position of QUEUEID.
pub const QUEUE_ID_POS: usize = 12;
/// Position of FLAG.
pub const FLAG_POS: usize = 16;
/// Position of QUEUEOFFSET (patched by the store at append time).
pub const QUEUE_OFFSET_POS: usize = 20;
/// Position of PHYSICALOFFSET (patched by the store at append time).
pub const PHYSICAL_OFFSET_POS: usize = 28;
/// Position of SYSFLAG.
pub const SYSFLAG_POS: usize = 36;
/// Position of BORNTIMESTAMP.
pub const BORN_TIMESTAMP_POS: usize = 40;
/// Position of BORNHOST.
pub const BORN_HOST_POS: usize = 48;
/// Bytes of a v1 record with two IPv4 hosts, empty body, topic and properties.
pub const FIXED_OVERHEAD_V4: usize = 91;
/// Smallest possible message record (v1, IPv4 hosts, everything empty).
pub const MIN_RECORD_LEN: usize = FIXED_OVERHEAD_V4;

/// Which magic (and so which topic-length width) a record uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MagicVersion {
    /// 0xDAA320A7: one-byte topic length.
    V1,
    /// 0xDAA320AB: two-byte topic length.
    V2,
}

impl MagicVersion {
    /// The magic code.
    pub fn magic(self) -> u32 {
        match self {
            Self::V1 => MAGIC_V1,
            Self::V2 => MAGIC_V2,
        }
    }

    /// Bytes of the topic length field.
    pub fn topic_len_width(self) -> usize {
        match self {
            Self::V1 => 1,
            Self::V2 => 2,
        }
    }
}

/// What [`decode_record`] found at the start of the buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodedRecord<'a> {
    /// A message record.
    Message(RecordView<'a>),
    /// The end-of-file marker: the rest of the file (`total_size` bytes from
    /// the marker's start) is unused and reading continues in the next file.
    Blank {
        /// TOTALSIZE of the marker: bytes left in the file.
        total_size: u32,
    },
}

/// A validated, zero-copy view of one message record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordView<'a> {
    buf: &'a [u8],
    version: MagicVersion,
    store_ts_pos: usize,
    store_host_pos: usize,
    reconsume_pos: usize,
    body_pos: usize,
    body_len: usize,
    topic: &'a str,
    properties: &'a str,
}

/// Reads a big-endian word at `pos`; positions are validated by
/// `decode_record`, so the fallback 0 is never observed.
fn word<const N: usize>(buf: &[u8], pos: usize) -> [u8; N] {
    buf.get(pos..pos + N)
        .and_then(|s| <[u8; N]>::try_from(s).ok())
        .unwrap_or([0; N])
}

fn be_u32(buf: &[u8], pos: usize) -> u32 {
    u32::from_be_bytes(word(buf, pos))
}

fn be_i32(buf: &[u8], pos: usize) -> i32 {
    i32::from_be_bytes(word(buf, pos))
}

fn be_i64(buf: &[u8], pos: usize) -> i64 {
    i64::from_be_bytes(word(buf, pos))
}

/// Decodes a host field (ip + int32 port) at `pos`.
fn host_at(buf: &[u8], pos: usize, v6: bool) -> SocketAddr {
    let (ip, port_pos) = if v6 {
        (IpAddr::V6(Ipv6Addr::from(word::<16>(buf, pos))), pos + 16)
    } else {
        (IpAddr::V4(Ipv4Addr::from(word::<4>(buf, pos))), pos + 4)
    };
    // Ports were range-checked by decode_record.
    let port = u16::try_from(be_i32(buf, port_pos)).unwrap_or(0);
    SocketAddr::new(ip, port)
}

/// Reads TOTALSIZE and MAGICCODE without decoding the rest, so a reader can
/// learn how many bytes the record needs.
///
/// # Errors
/// [`ProtocolError::Truncated`] if fewer than 8 bytes are given.
pub fn peek_record_header(buf: &[u8]) -> Result<(i32, u32), ProtocolError> {
    if buf.len() < BLANK_LEN {
        return Err(ProtocolError::Truncated {
            what: "message record",
            field: "header",
            need: BLANK_LEN,
            have: buf.len(),
        });
    }
    Ok((be_i32(buf, TOTAL_SIZE_POS), be_u32(buf, MAGIC_POS)))
}

/// A cursor over the record's own bytes; running past them means the
/// record's lengths contradict its TOTALSIZE.
struct Cursor<'a> {
    rec: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], ProtocolError> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.rec.len());
        let Some(end) = end else {
            return Err(ProtocolError::BadMessage(format!(
                "field `{field}` ({n} bytes at {}) overruns TOTALSIZE {}",
                self.pos,
                self.rec.len()
            )));
        };
        let s = &self.rec[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn skip(&mut self, n: usize, field: &'static str) -> Result<usize, ProtocolError> {
        let at = self.pos;
        self.take(n, field)?;
        Ok(at)
    }

    fn int(&mut self, width: usize, field: &'static str) -> Result<u32, ProtocolError> {
        let raw = self.take(width, field)?;
        Ok(raw.iter().fold(0u32, |acc, b| (acc << 8) | u32::from(*b)))
    }

    /// Skips a host field after checking its port is a valid u16.
    fn host(&mut self, v6: bool, field: &'static str) -> Result<usize, ProtocolError> {
        let at = self.skip(host_len(v6) - 4, field)?;
        let port = self.int(4, field)? as i32;
        if u16::try_from(port).is_err() {
            return Err(ProtocolError::BadMessage(format!(
                "{field} port {port} is out of range"
            )));
        }
        Ok(at)
    }
}

/// Decodes the record (or blank marker) at the start of `buf`, returning it
/// and the bytes consumed (TOTALSIZE for a message, [`BLANK_LEN`] for a
/// blank marker).
///
/// # Errors
/// - [`ProtocolError::Truncated`]: `buf` is shorter than the header or than
///   TOTALSIZE (an incomplete write, or a read that stopped early).
/// - [`ProtocolError::BadMagic`]: unknown magic (zeroed space included).
/// - [`ProtocolError::BadMessage`]: TOTALSIZE disagrees with the fields, a
///   length is negative, a port is out of range, or topic / properties are
///   not UTF-8.
pub fn decode_record(buf: &[u8]) -> Result<(DecodedRecord<'_>, usize), ProtocolError> {
    let (total, magic) = peek_record_header(buf)?;
    let version = match magic {
        MAGIC_V1 => MagicVersion::V1,
        MAGIC_V2 => MagicVersion::V2,
        BLANK_MAGIC => {
            let total_size = u32::try_from(total).map_err(|_| {
                ProtocolError::BadMessage(format!("blank marker TOTALSIZE {total} is negative"))
            })?;
            return Ok((DecodedRecord::Blank { total_size }, BLANK_LEN));
        }
        other => return Err(ProtocolError::BadMagic(other)),
    };
    let total = usize::try_from(total)
        .ok()
        .filter(|&t| t >= MIN_RECORD_LEN)
        .ok_or_else(|| {
            ProtocolError::BadMessage(format!(
                "TOTALSIZE {total} is below the minimum record of {MIN_RECORD_LEN} bytes"
            ))
        })?;
    let Some(rec) = buf.get(..total) else {
        return Err(ProtocolError::Truncated {
            what: "message record",
            field: "TOTALSIZE",
            need: total,
            have: buf.len(),
        });
    };
    let view = parse_fields(rec, version)?;
    Ok((DecodedRecord::Message(view), total))
}

/// Walks the variable part of a record whose TOTALSIZE bytes are `rec`.
fn parse_fields(rec: &[u8], version: MagicVersion) -> Result<RecordView<'_>, ProtocolError> {
    let sysflag = be_i32(rec, SYSFLAG_POS);
    let mut c = Cursor {
        rec,
        pos: BORN_HOST_POS,
    };
    c.host(is_bornhost_v6(sysflag), "BORNHOST")?;
    let store_ts_pos = c.skip(8, "STORETIMESTAMP")?;
    let store_host_pos = c.host(is_storehost_v6(sysflag), "STOREHOST")?;
    let reconsume_pos = c.skip(4, "RECONSUMETIMES")?;
    c.skip(8, "PREPAREDTRANSACTIONOFFSET")?;
    let body_len = c.int(4, "BODY length")? as i32;
    let body_len = usize::try_from(body_len)
        .map_err(|_| ProtocolError::BadMessage(format!("BODY length {body_len} is negative")))?;
    let body_pos = c.skip(body_len, "BODY")?;
    let topic_len = c.int(version.topic_len_width(), "TOPIC length")? as usize;
    let topic = std::str::from_utf8(c.take(topic_len, "TOPIC")?)
        .map_err(|e| ProtocolError::BadMessage(format!("TOPIC is not UTF-8: {e}")))?;
    let props_len = c.int(2, "PROPERTIES length")? as usize;
    if props_len > MAX_PROPERTIES_LEN {
        return Err(ProtocolError::BadMessage(format!(
            "PROPERTIES length {props_len} exceeds {MAX_PROPERTIES_LEN}"
        )));
    }
    let properties = std::str::from_utf8(c.take(props_len, "PROPERTIES")?)
        .map_err(|e| ProtocolError::BadMessage(format!("PROPERTIES are not UTF-8: {e}")))?;
    if c.pos != rec.len() {
        return Err(ProtocolError::BadMessage(format!(
            "TOTALSIZE {} but the fields end at {}",
            rec.len(),
            c.pos
        )));
    }
    Ok(RecordView {
        buf: rec,
        version,
        store_ts_pos,
        store_host_pos,
        reconsume_pos,
        body_pos,
        body_len,
        topic,
        properties,
    })
}

impl<'a> RecordView<'a> {
    /// The record's bytes (TOTALSIZE of them).
    pub fn as_bytes(&self) -> &'a [u8] {
        self.buf
    }
    /// TOTALSIZE.
    pub fn total_size(&self) -> usize {
        self.buf.len()
    }
    /// Which magic the record carries.
    pub fn version(&self) -> MagicVersion {
        self.version
    }
    /// MAGICCODE.
    pub fn magic(&self) -> u32 {
        self.version.magic()
    }
    /// BODYCRC as stored.
    pub fn body_crc(&self) -> u32 {
        be_u32(self.buf, BODY_CRC_POS)
    }
    /// QUEUEID.
    pub fn queue_id(&self) -> i32 {
        be_i32(self.buf, QUEUE_ID_POS)
    }
    /// FLAG (user flag).
    pub fn flag(&self) -> i32 {
        be_i32(self.buf, FLAG_POS)
    }
    /// QUEUEOFFSET.
    pub fn queue_offset(&self) -> i64 {
        be_i64(self.buf, QUEUE_OFFSET_POS)
    }
    /// PHYSICALOFFSET.
    pub fn physical_offset(&self) -> i64 {
        be_i64(self.buf, PHYSICAL_OFFSET_POS)
    }
    /// SYSFLAG.
    pub fn sysflag(&self) -> i32 {
        be_i32(self.buf, SYSFLAG_POS)
    }
    /// BORNTIMESTAMP (ms).
    pub fn born_timestamp(&self) -> i64 {
        be_i64(self.buf, BORN_TIMESTAMP_POS)
    }
    /// BORNHOST.
    pub fn born_host(&self) -> SocketAddr {
        host_at(self.buf, BORN_HOST_POS, is_bornhost_v6(self.sysflag()))
    }
    /// STORETIMESTAMP (ms).
    pub fn store_timestamp(&self) -> i64 {
        be_i64(self.buf, self.store_ts_pos)
    }
    /// Position of STORETIMESTAMP inside the record (56 or 68).
    pub fn store_timestamp_pos(&self) -> usize {
        self.store_ts_pos
    }
    /// STOREHOST.
    pub fn store_host(&self) -> SocketAddr {
        host_at(
            self.buf,
            self.store_host_pos,
            is_storehost_v6(self.sysflag()),
        )
    }
    /// RECONSUMETIMES.
    pub fn reconsume_times(&self) -> i32 {
        be_i32(self.buf, self.reconsume_pos)
    }
    /// PREPARED TRANSACTION OFFSET.
    pub fn prepared_transaction_offset(&self) -> i64 {
        be_i64(self.buf, self.reconsume_pos + 4)
    }
    /// The body as stored (compressed if the sysflag says so).
    pub fn body(&self) -> &'a [u8] {
        &self.buf[self.body_pos..self.body_pos + self.body_len]
    }
    /// TOPIC.
    pub fn topic(&self) -> &'a str {
        self.topic
    }
    /// The encoded properties string.
    pub fn properties_str(&self) -> &'a str {
        self.properties
    }
    /// The properties, decoded.
    pub fn properties(&self) -> Properties {
        Properties::decode(self.properties)
    }
    /// One property, without decoding the others.
    pub fn property(&self, name: &str) -> Option<&'a str> {
        find_property(self.properties, name)
    }
    /// The consume-queue tag code: hash of TAGS, 0 without tags.
    pub fn tags_code(&self) -> i64 {
        self.property(keys::TAGS).map_or(0, tag_hash)
    }
    /// The broker-side offset message id (STOREHOST + PHYSICALOFFSET).
    pub fn offset_msg_id(&self) -> String {
        encode_offset_msg_id(self.store_host(), self.physical_offset())
    }

    /// Checks BODYCRC against the body.
    ///
    /// # Errors
    /// [`ProtocolError::BodyCrcMismatch`].
    pub fn verify_crc(&self) -> Result<(), ProtocolError> {
        let computed = body_crc(self.body());
        let stored = self.body_crc();
        if computed == stored {
            Ok(())
        } else {
            Err(ProtocolError::BodyCrcMismatch { stored, computed })
        }
    }
}

/// BODYCRC of a body: CRC32 with the sign bit cleared, as Java stores it.
pub fn body_crc(body: &[u8]) -> u32 {
    crc32fast::hash(body) & 0x7FFF_FFFF
}

/// Iterates over records laid back to back (a pull, query or view body).
/// Yields each record or the first error, after which it stops; a blank
/// marker is reported as an error since these bodies never contain one.
#[derive(Debug, Clone)]
pub struct RecordIter<'a> {
    rest: &'a [u8],
    failed: bool,
}

/// Iterates over the records of a pull / query / view body.
pub fn records(body: &[u8]) -> RecordIter<'_> {
    RecordIter {
        rest: body,
        failed: false,
    }
}

impl<'a> Iterator for RecordIter<'a> {
    type Item = Result<RecordView<'a>, ProtocolError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.rest.is_empty() {
            return None;
        }
        match decode_record(self.rest) {
            Ok((DecodedRecord::Message(view), used)) => {
                self.rest = &self.rest[used..];
                Some(Ok(view))
            }
            Ok((DecodedRecord::Blank { .. }, _)) => {
                self.failed = true;
                Some(Err(ProtocolError::BadMessage(
                    "unexpected end-of-file blank marker in a message body".to_string(),
                )))
            }
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}
