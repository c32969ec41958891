//! Records encoded for one append, back to back in one buffer, whose
//! BODYCRCs a store may take as they are: each was computed by
//! [`encode_record`] from the body it was written next to, and the bytes
//! cannot be changed afterwards (nothing hands out mutable access).

use bytes::BytesMut;

use super::record_encode::{encode_record, NewRecord, RecordLayout};
use crate::error::ProtocolError;

/// Records encoded by [`encode_record`], in order, with what a store needs
/// to know about each without decoding it again.
#[derive(Debug, Default)]
pub struct EncodedRecords {
    buf: BytesMut,
    placed: Vec<Placed>,
}

/// Where one record ends in the buffer and the fields a store reads.
#[derive(Debug, Clone, Copy)]
struct Placed {
    end: usize,
    queue_id: i32,
    sysflag: i32,
    store_timestamp_pos: usize,
    topic_len: usize,
    properties_len: usize,
}

/// One record of [`EncodedRecords`] and the fields it was encoded from.
#[derive(Debug, Clone, Copy)]
pub struct EncodedRecord<'a> {
    /// The whole record (TOTALSIZE bytes).
    pub bytes: &'a [u8],
    /// QUEUEID.
    pub queue_id: i32,
    /// SYSFLAG as given (the host bits aside, as written).
    pub sysflag: i32,
    /// Position of STORETIMESTAMP in the record.
    pub store_timestamp_pos: usize,
    /// The TOPIC bytes (UTF-8: they came from a `&str`).
    pub topic: &'a [u8],
    /// The PROPERTIES bytes (checked to be UTF-8 when encoded).
    pub properties: &'a [u8],
}

impl EncodedRecords {
    /// Room for about `bytes` bytes of `records` records.
    pub fn with_capacity(bytes: usize, records: usize) -> Self {
        Self {
            buf: BytesMut::with_capacity(bytes),
            placed: Vec::with_capacity(records),
        }
    }

    /// Encodes one more record (see [`encode_record`]).
    ///
    /// # Errors
    /// As [`encode_record`], and [`ProtocolError::BadMessage`] when the
    /// properties are not UTF-8 (a reader could not decode the record);
    /// nothing is added on error.
    pub fn push(&mut self, msg: &NewRecord<'_>) -> Result<RecordLayout, ProtocolError> {
        std::str::from_utf8(msg.properties)
            .map_err(|e| ProtocolError::BadMessage(format!("PROPERTIES are not UTF-8: {e}")))?;
        let layout = encode_record(msg, &mut self.buf)?;
        self.placed.push(Placed {
            end: self.buf.len(),
            queue_id: msg.queue_id,
            sysflag: msg.sysflag,
            store_timestamp_pos: layout.store_timestamp_pos,
            topic_len: msg.topic.len(),
            properties_len: msg.properties.len(),
        });
        Ok(layout)
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.placed.len()
    }

    /// No record yet.
    pub fn is_empty(&self) -> bool {
        self.placed.is_empty()
    }

    /// Bytes of all records.
    pub fn total_bytes(&self) -> usize {
        self.buf.len()
    }

    /// Each record's bytes, in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &[u8]> + '_ {
        self.records().map(|r| r.bytes)
    }

    /// Each record with its fields, in order.
    pub fn records(&self) -> impl ExactSizeIterator<Item = EncodedRecord<'_>> + '_ {
        self.placed.iter().enumerate().map(|(i, p)| {
            let start = i
                .checked_sub(1)
                .and_then(|j| self.placed.get(j))
                .map_or(0, |q| q.end);
            let bytes = self.buf.get(start..p.end).unwrap_or_default();
            // The record ends with TOPIC, the two-byte PROPERTIES length and
            // PROPERTIES.
            let props_at = bytes.len().saturating_sub(p.properties_len);
            let topic_end = props_at.saturating_sub(2);
            EncodedRecord {
                bytes,
                queue_id: p.queue_id,
                sysflag: p.sysflag,
                store_timestamp_pos: p.store_timestamp_pos,
                topic: bytes
                    .get(topic_end.saturating_sub(p.topic_len)..topic_end)
                    .unwrap_or_default(),
                properties: bytes.get(props_at..).unwrap_or_default(),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::record::{decode_record, DecodedRecord};

    fn msg<'a>(body: &'a [u8], props: &'a [u8]) -> NewRecord<'a> {
        NewRecord {
            topic: "T",
            queue_id: 1,
            flag: 0,
            sysflag: 0,
            born_timestamp: 1,
            born_host: "127.0.0.1:1".parse().unwrap(),
            store_host: "127.0.0.1:2".parse().unwrap(),
            reconsume_times: 0,
            prepared_transaction_offset: 0,
            body,
            properties: props,
        }
    }

    #[test]
    fn records_are_what_encode_record_writes() {
        let mut recs = EncodedRecords::with_capacity(0, 0);
        assert!(recs.is_empty());
        let inputs: [(&[u8], &[u8]); 3] = [(b"a", b"K\x01V\x02"), (b"", b""), (&[7; 300], b"")];
        for (body, props) in inputs {
            recs.push(&msg(body, props)).unwrap();
        }
        assert_eq!(recs.len(), 3);
        let mut total = 0;
        for (rec, (body, props)) in recs.iter().zip(inputs) {
            let mut alone = BytesMut::new();
            encode_record(&msg(body, props), &mut alone).unwrap();
            assert_eq!(rec, &alone[..]);
            let Ok((DecodedRecord::Message(v), used)) = decode_record(rec) else {
                panic!("not a record");
            };
            assert_eq!(used, rec.len());
            assert!(v.verify_crc().is_ok());
            total += rec.len();
        }
        assert_eq!(recs.total_bytes(), total);
        for (r, (_, props)) in recs.records().zip(inputs) {
            let Ok((DecodedRecord::Message(v), _)) = decode_record(r.bytes) else {
                panic!("not a record");
            };
            assert_eq!(r.topic, v.topic().as_bytes());
            assert_eq!(r.properties, props);
            assert_eq!(r.properties, v.properties_str().as_bytes());
            assert_eq!(r.queue_id, v.queue_id());
            assert_eq!(r.sysflag, v.sysflag());
            assert_eq!(r.store_timestamp_pos, v.store_timestamp_pos());
        }
        // A v2 record (long topic) with IPv6 hosts: the fields move.
        let topic = "L".repeat(200);
        recs.push(&NewRecord {
            topic: &topic,
            born_host: "[2001:db8::1]:7".parse().unwrap(),
            store_host: "[2001:db8::2]:8".parse().unwrap(),
            queue_id: 9,
            sysflag: 8,
            ..msg(b"body", b"A\x01B\x02")
        })
        .unwrap();
        let last = recs.records().last().unwrap();
        let Ok((DecodedRecord::Message(v), _)) = decode_record(last.bytes) else {
            panic!("not a record");
        };
        assert_eq!(last.topic, topic.as_bytes());
        assert_eq!(last.properties, b"A\x01B\x02");
        assert_eq!((last.queue_id, last.sysflag & 8), (9, v.sysflag() & 8));
        assert_eq!(last.store_timestamp_pos, v.store_timestamp_pos());
        let total = recs.total_bytes();
        // Properties a reader could not decode are refused, and so is an
        // empty topic; a rejected record adds nothing.
        assert!(recs.push(&msg(b"x", b"K\x01\xff\x02")).is_err());
        assert!(recs
            .push(&NewRecord {
                topic: "",
                ..msg(b"x", b"")
            })
            .is_err());
        assert_eq!(recs.len(), 4);
        assert_eq!(recs.total_bytes(), total);
    }
}
