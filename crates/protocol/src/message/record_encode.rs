//! Writing message records: the broker's send path (offsets left as
//! placeholders for the store to patch), the owned full decode, and
//! re-encoding of an owned record (retry, delay, transactions).

use std::net::{IpAddr, SocketAddr};

use bytes::{BufMut, Bytes, BytesMut};

use super::msgid::normalize_addr;
use super::properties::{Properties, MAX_PROPERTIES_LEN};
use super::record::{
    body_crc, decode_record, DecodedRecord, MagicVersion, RecordView, BLANK_LEN, BLANK_MAGIC,
    BORN_HOST_POS, FIXED_OVERHEAD_V4, PHYSICAL_OFFSET_POS, QUEUE_OFFSET_POS,
};
use super::sysflag::{self, host_len};
use crate::error::ProtocolError;

/// Longest topic a record can carry (two-byte length, but Java limits
/// retry/DLQ names to 255).
pub const MAX_RECORD_TOPIC_LEN: usize = 255;
/// Longest topic written with v1 magic; longer ones switch to v2.
pub const MAX_V1_TOPIC_LEN: usize = 127;

/// The fields of a message to be appended, borrowed from the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewRecord<'a> {
    /// Destination topic (1..=255 bytes).
    pub topic: &'a str,
    /// Destination queue.
    pub queue_id: i32,
    /// User flag.
    pub flag: i32,
    /// Message sysflag; the two host bits are recomputed from the hosts.
    pub sysflag: i32,
    /// Producer's timestamp (ms).
    pub born_timestamp: i64,
    /// Producer's address (IPv4-mapped IPv6 is written as IPv4).
    pub born_host: SocketAddr,
    /// Broker's address (`brokerIP1:listenPort`).
    pub store_host: SocketAddr,
    /// Delivery attempts so far.
    pub reconsume_times: i32,
    /// Commit-log offset of the half message (committed transactions).
    pub prepared_transaction_offset: i64,
    /// Body as sent (compressed if the sysflag says so).
    pub body: &'a [u8],
    /// Encoded properties string.
    pub properties: &'a [u8],
}

impl NewRecord<'_> {
    /// TOTALSIZE of the record [`encode_record`] would write (lets the store
    /// check that a record fits in the current file before encoding).
    pub fn encoded_len(&self) -> usize {
        let v6 = |a: SocketAddr| normalize_addr(a).is_ipv6();
        let topic_len_width = if self.topic.len() > MAX_V1_TOPIC_LEN {
            2
        } else {
            1
        };
        FIXED_OVERHEAD_V4 - 16
            + host_len(v6(self.born_host))
            + host_len(v6(self.store_host))
            + (topic_len_width - 1)
            + self.body.len()
            + self.topic.len()
            + self.properties.len()
    }
}

/// Where the store-assigned fields of an encoded record are, relative to
/// the record's first byte, and how long the record is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordLayout {
    /// TOTALSIZE.
    pub total_size: usize,
    /// Position of QUEUEOFFSET (always [`QUEUE_OFFSET_POS`]).
    pub queue_offset_pos: usize,
    /// Position of PHYSICALOFFSET (always [`PHYSICAL_OFFSET_POS`]).
    pub physical_offset_pos: usize,
    /// Position of STORETIMESTAMP (56 with an IPv4 born host, 68 with IPv6).
    pub store_timestamp_pos: usize,
}

impl RecordLayout {
    /// Writes the store-assigned fields into an encoded record.
    ///
    /// # Errors
    /// [`ProtocolError::Truncated`] if `record` is shorter than
    /// [`RecordLayout::total_size`].
    pub fn patch(
        &self,
        record: &mut [u8],
        queue_offset: i64,
        physical_offset: i64,
        store_timestamp: i64,
    ) -> Result<(), ProtocolError> {
        let Some(rec) = record.get_mut(..self.total_size) else {
            return Err(ProtocolError::Truncated {
                what: "message record",
                field: "TOTALSIZE",
                need: self.total_size,
                have: record.len(),
            });
        };
        for (pos, value) in [
            (self.queue_offset_pos, queue_offset),
            (self.physical_offset_pos, physical_offset),
            (self.store_timestamp_pos, store_timestamp),
        ] {
            if let Some(slot) = rec.get_mut(pos..pos + 8) {
                slot.copy_from_slice(&value.to_be_bytes());
            }
        }
        Ok(())
    }
}

/// The store-assigned values written by an encoder.
#[derive(Debug, Clone, Copy, Default)]
struct Placement {
    queue_offset: i64,
    physical_offset: i64,
    store_timestamp: i64,
}

fn put_host(out: &mut BytesMut, addr: SocketAddr) {
    match addr.ip() {
        IpAddr::V4(ip) => out.put_slice(&ip.octets()),
        IpAddr::V6(ip) => out.put_slice(&ip.octets()),
    }
    out.put_i32(i32::from(addr.port()));
}

/// Encodes a record for appending: QUEUEOFFSET, PHYSICALOFFSET and
/// STORETIMESTAMP are written as 0 for the store to patch through the
/// returned layout. BODYCRC is computed here. The magic is v2 only when the
/// topic exceeds 127 bytes; true IPv6 hosts set the sysflag host bits.
///
/// # Errors
/// [`ProtocolError::TooLong`] for a topic over 255 bytes, properties over
/// 32767 bytes or a body over `i32::MAX`; [`ProtocolError::BadMessage`] for
/// an empty topic. Nothing is written on error.
pub fn encode_record(
    msg: &NewRecord<'_>,
    out: &mut BytesMut,
) -> Result<RecordLayout, ProtocolError> {
    write_record(msg, Placement::default(), out)
}

fn check_limits(msg: &NewRecord<'_>) -> Result<(), ProtocolError> {
    let too_long = |field, len, max| Err(ProtocolError::TooLong { field, len, max });
    if msg.topic.is_empty() {
        return Err(ProtocolError::BadMessage("topic is empty".to_string()));
    }
    if msg.topic.len() > MAX_RECORD_TOPIC_LEN {
        return too_long("topic", msg.topic.len(), MAX_RECORD_TOPIC_LEN);
    }
    if msg.properties.len() > MAX_PROPERTIES_LEN {
        return too_long("properties", msg.properties.len(), MAX_PROPERTIES_LEN);
    }
    // Leave room for the other fields inside an i32 TOTALSIZE.
    let max_body = i32::MAX as usize - FIXED_OVERHEAD_V4 - 1024 - MAX_PROPERTIES_LEN;
    if msg.body.len() > max_body {
        return too_long("body", msg.body.len(), max_body);
    }
    Ok(())
}

fn write_record(
    msg: &NewRecord<'_>,
    at: Placement,
    out: &mut BytesMut,
) -> Result<RecordLayout, ProtocolError> {
    check_limits(msg)?;
    let born_host = normalize_addr(msg.born_host);
    let store_host = normalize_addr(msg.store_host);
    let mut flags = msg.sysflag & !(sysflag::message::BORNHOST_V6 | sysflag::message::STOREHOST_V6);
    if born_host.is_ipv6() {
        flags |= sysflag::message::BORNHOST_V6;
    }
    if store_host.is_ipv6() {
        flags |= sysflag::message::STOREHOST_V6;
    }
    let version = if msg.topic.len() > MAX_V1_TOPIC_LEN {
        MagicVersion::V2
    } else {
        MagicVersion::V1
    };
    let born_len = host_len(born_host.is_ipv6());
    let total_size = msg.encoded_len();
    out.reserve(total_size);
    out.put_i32(total_size as i32);
    out.put_u32(version.magic());
    out.put_u32(body_crc(msg.body));
    out.put_i32(msg.queue_id);
    out.put_i32(msg.flag);
    out.put_i64(at.queue_offset);
    out.put_i64(at.physical_offset);
    out.put_i32(flags);
    out.put_i64(msg.born_timestamp);
    put_host(out, born_host);
    out.put_i64(at.store_timestamp);
    put_host(out, store_host);
    out.put_i32(msg.reconsume_times);
    out.put_i64(msg.prepared_transaction_offset);
    out.put_i32(msg.body.len() as i32);
    out.put_slice(msg.body);
    match version {
        MagicVersion::V1 => out.put_u8(msg.topic.len() as u8),
        MagicVersion::V2 => out.put_u16(msg.topic.len() as u16),
    }
    out.put_slice(msg.topic.as_bytes());
    out.put_u16(msg.properties.len() as u16);
    out.put_slice(msg.properties);
    Ok(RecordLayout {
        total_size,
        queue_offset_pos: QUEUE_OFFSET_POS,
        physical_offset_pos: PHYSICAL_OFFSET_POS,
        store_timestamp_pos: BORN_HOST_POS + born_len,
    })
}

/// Writes the 8-byte end-of-file marker: TOTALSIZE = `remaining` (bytes
/// left in the file from the marker on) and the blank magic.
pub fn encode_blank(remaining: u32, out: &mut BytesMut) {
    out.reserve(BLANK_LEN);
    out.put_u32(remaining);
    out.put_u32(BLANK_MAGIC);
}

/// A fully decoded, owned message record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageRecord {
    /// TOPIC.
    pub topic: String,
    /// QUEUEID.
    pub queue_id: i32,
    /// FLAG.
    pub flag: i32,
    /// QUEUEOFFSET.
    pub queue_offset: i64,
    /// PHYSICALOFFSET.
    pub physical_offset: i64,
    /// SYSFLAG.
    pub sysflag: i32,
    /// BORNTIMESTAMP.
    pub born_timestamp: i64,
    /// BORNHOST.
    pub born_host: SocketAddr,
    /// STORETIMESTAMP.
    pub store_timestamp: i64,
    /// STOREHOST.
    pub store_host: SocketAddr,
    /// RECONSUMETIMES.
    pub reconsume_times: i32,
    /// PREPARED TRANSACTION OFFSET.
    pub prepared_transaction_offset: i64,
    /// BODYCRC as decoded (encoding always recomputes it from the body).
    pub body_crc: u32,
    /// BODY as stored.
    pub body: Bytes,
    /// PROPERTIES, decoded.
    pub properties: Properties,
}

impl RecordView<'_> {
    /// Copies every field into an owned record.
    pub fn to_record(&self) -> MessageRecord {
        MessageRecord {
            topic: self.topic().to_string(),
            queue_id: self.queue_id(),
            flag: self.flag(),
            queue_offset: self.queue_offset(),
            physical_offset: self.physical_offset(),
            sysflag: self.sysflag(),
            born_timestamp: self.born_timestamp(),
            born_host: self.born_host(),
            store_timestamp: self.store_timestamp(),
            store_host: self.store_host(),
            reconsume_times: self.reconsume_times(),
            prepared_transaction_offset: self.prepared_transaction_offset(),
            body_crc: self.body_crc(),
            body: Bytes::copy_from_slice(self.body()),
            properties: self.properties(),
        }
    }
}

impl MessageRecord {
    /// Decodes one message record fully.
    ///
    /// # Errors
    /// As [`decode_record`], plus [`ProtocolError::BadMessage`] if the
    /// buffer starts with an end-of-file blank marker.
    pub fn decode(buf: &[u8]) -> Result<(Self, usize), ProtocolError> {
        match decode_record(buf)? {
            (DecodedRecord::Message(view), used) => Ok((view.to_record(), used)),
            (DecodedRecord::Blank { .. }, _) => Err(ProtocolError::BadMessage(
                "expected a message record, found an end-of-file blank marker".to_string(),
            )),
        }
    }

    /// Encodes with every field as held, BODYCRC recomputed.
    ///
    /// # Errors
    /// As [`encode_record`].
    pub fn encode(&self, out: &mut BytesMut) -> Result<RecordLayout, ProtocolError> {
        let at = Placement {
            queue_offset: self.queue_offset,
            physical_offset: self.physical_offset,
            store_timestamp: self.store_timestamp,
        };
        self.write(at, out)
    }

    /// Encodes for appending as a new message (the retry, delay and
    /// transaction paths: decode, change topic / queue / properties, append):
    /// the store-assigned fields are written as 0 placeholders.
    ///
    /// # Errors
    /// As [`encode_record`].
    pub fn encode_for_append(&self, out: &mut BytesMut) -> Result<RecordLayout, ProtocolError> {
        self.write(Placement::default(), out)
    }

    fn write(&self, at: Placement, out: &mut BytesMut) -> Result<RecordLayout, ProtocolError> {
        let properties = self.properties.encode();
        let msg = NewRecord {
            topic: &self.topic,
            queue_id: self.queue_id,
            flag: self.flag,
            sysflag: self.sysflag,
            born_timestamp: self.born_timestamp,
            born_host: self.born_host,
            store_host: self.store_host,
            reconsume_times: self.reconsume_times,
            prepared_transaction_offset: self.prepared_transaction_offset,
            body: &self.body,
            properties: properties.as_bytes(),
        };
        write_record(&msg, at, out)
    }
}
