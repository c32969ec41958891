//! The SEND_BATCH_MESSAGE body: items of total size, magic (0), body CRC
//! (0), flag, body and properties, back to back. Topic, queue and sysflag
//! come from the request header and are shared by all items.

use bytes::{BufMut, BytesMut};

use super::properties::MAX_PROPERTIES_LEN;
use crate::error::ProtocolError;

/// Bytes of an item with an empty body and no properties.
pub const BATCH_ITEM_OVERHEAD: usize = 4 + 4 + 4 + 4 + 4 + 2;

/// One message of a batch, borrowed from the request body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchItem<'a> {
    /// User flag.
    pub flag: i32,
    /// Body bytes.
    pub body: &'a [u8],
    /// Encoded properties string (not yet checked for UTF-8).
    pub properties: &'a [u8],
}

impl BatchItem<'_> {
    /// Bytes of this item once encoded.
    pub fn encoded_len(&self) -> usize {
        BATCH_ITEM_OVERHEAD + self.body.len() + self.properties.len()
    }

    /// Appends this item (magic and CRC written as 0, as clients do).
    ///
    /// # Errors
    /// [`ProtocolError::TooLong`] for properties over 32767 bytes or an
    /// item over `i32::MAX` bytes; nothing is written then.
    pub fn encode(&self, out: &mut BytesMut) -> Result<(), ProtocolError> {
        if self.properties.len() > MAX_PROPERTIES_LEN {
            return Err(ProtocolError::TooLong {
                field: "properties",
                len: self.properties.len(),
                max: MAX_PROPERTIES_LEN,
            });
        }
        let len = self.encoded_len();
        let total = i32::try_from(len).map_err(|_| ProtocolError::TooLong {
            field: "batch item",
            len,
            max: i32::MAX as usize,
        })?;
        out.reserve(len);
        out.put_i32(total);
        out.put_i32(0);
        out.put_i32(0);
        out.put_i32(self.flag);
        out.put_i32(self.body.len() as i32);
        out.put_slice(self.body);
        out.put_u16(self.properties.len() as u16);
        out.put_slice(self.properties);
        Ok(())
    }
}

/// Encodes a whole batch body.
///
/// # Errors
/// As [`BatchItem::encode`].
pub fn encode_batch(items: &[BatchItem<'_>], out: &mut BytesMut) -> Result<(), ProtocolError> {
    out.reserve(items.iter().map(BatchItem::encoded_len).sum());
    items.iter().try_for_each(|item| item.encode(out))
}

fn be_word<const N: usize>(buf: &[u8], pos: usize) -> Option<[u8; N]> {
    buf.get(pos..pos.checked_add(N)?)
        .and_then(|s| <[u8; N]>::try_from(s).ok())
}

/// Decodes one item at the start of `buf`, returning it and the bytes
/// consumed. The item's total size must equal the sum of its fields.
///
/// # Errors
/// [`ProtocolError::Truncated`] if `buf` ends inside the item;
/// [`ProtocolError::BadMessage`] for a negative or inconsistent length.
pub fn decode_batch_item(buf: &[u8]) -> Result<(BatchItem<'_>, usize), ProtocolError> {
    let truncated = |field, need| ProtocolError::Truncated {
        what: "batch item",
        field,
        need,
        have: buf.len(),
    };
    let total = be_word::<4>(buf, 0).ok_or_else(|| truncated("total size", 4))?;
    let total = i32::from_be_bytes(total);
    let total = usize::try_from(total)
        .ok()
        .filter(|&t| t >= BATCH_ITEM_OVERHEAD)
        .ok_or_else(|| {
            ProtocolError::BadMessage(format!(
                "batch item size {total} is below the minimum of {BATCH_ITEM_OVERHEAD}"
            ))
        })?;
    let item = buf
        .get(..total)
        .ok_or_else(|| truncated("total size", total))?;
    let flag = i32::from_be_bytes(be_word(item, 12).unwrap_or([0; 4]));
    let body_len = i32::from_be_bytes(be_word(item, 16).unwrap_or([0; 4]));
    let body_len = usize::try_from(body_len)
        .ok()
        .filter(|&n| n <= total - BATCH_ITEM_OVERHEAD)
        .ok_or_else(|| {
            ProtocolError::BadMessage(format!(
                "batch item body length {body_len} does not fit its size {total}"
            ))
        })?;
    let props_len_pos = 20 + body_len;
    let props_len = be_word::<2>(item, props_len_pos).map_or(0, u16::from_be_bytes);
    let props_len = usize::from(props_len);
    if props_len_pos + 2 + props_len != total || props_len > MAX_PROPERTIES_LEN {
        return Err(ProtocolError::BadMessage(format!(
            "batch item size {total} disagrees with body length {body_len} and properties length {props_len}"
        )));
    }
    let body = &item[20..props_len_pos];
    let properties = &item[props_len_pos + 2..];
    Ok((
        BatchItem {
            flag,
            body,
            properties,
        },
        total,
    ))
}

/// Iterates over the items of a batch body; yields the first error and then
/// stops.
#[derive(Debug, Clone)]
pub struct BatchIter<'a> {
    rest: &'a [u8],
    failed: bool,
}

/// Iterates over the items of a SEND_BATCH_MESSAGE body.
pub fn batch_items(body: &[u8]) -> BatchIter<'_> {
    BatchIter {
        rest: body,
        failed: false,
    }
}

impl<'a> Iterator for BatchIter<'a> {
    type Item = Result<BatchItem<'a>, ProtocolError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.rest.is_empty() {
            return None;
        }
        match decode_batch_item(self.rest) {
            Ok((item, used)) => {
                self.rest = &self.rest[used..];
                Some(Ok(item))
            }
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}

/// Decodes a whole batch body.
///
/// # Errors
/// The first item error, as [`decode_batch_item`], with the item's index;
/// [`ProtocolError::BadMessage`] for an empty batch.
pub fn decode_batch(body: &[u8]) -> Result<Vec<BatchItem<'_>>, ProtocolError> {
    let items = batch_items(body)
        .enumerate()
        .map(|(i, r)| r.map_err(|e| ProtocolError::BadMessage(format!("batch item {i}: {e}"))))
        .collect::<Result<Vec<_>, _>>()?;
    if items.is_empty() {
        return Err(ProtocolError::BadMessage("batch body is empty".to_string()));
    }
    Ok(items)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn golden_item() {
        let item = BatchItem {
            flag: 7,
            body: b"hi",
            properties: b"K\x01v\x02",
        };
        let mut out = BytesMut::new();
        item.encode(&mut out).unwrap();
        let expected: Vec<u8> = [
            &[0, 0, 0, 28][..],
            &[0; 8],
            &[0, 0, 0, 7],
            &[0, 0, 0, 2],
            b"hi",
            &[0, 4],
            b"K\x01v\x02",
        ]
        .concat();
        assert_eq!(&out[..], &expected[..]);
        assert_eq!(decode_batch(&out).unwrap(), vec![item]);
    }

    #[test]
    fn rejects_inconsistent_sizes() {
        let mut out = BytesMut::new();
        BatchItem {
            flag: 0,
            body: b"abc",
            properties: b"",
        }
        .encode(&mut out)
        .unwrap();
        let mut bad = out.to_vec();
        bad[3] += 1; // total size one too large
        bad.push(0);
        assert!(decode_batch(&bad).is_err());
        let mut bad = out.to_vec();
        bad[19] = 200; // body length past the item
        assert!(decode_batch(&bad).is_err());
        let mut bad = out.to_vec();
        bad[16] = 0xFF; // negative body length
        assert!(decode_batch(&bad).is_err());
        assert!(decode_batch(&[]).is_err());
    }

    #[test]
    fn truncation_never_panics() {
        let items = [
            BatchItem {
                flag: 1,
                body: b"abc",
                properties: b"A\x01b\x02",
            },
            BatchItem {
                flag: 2,
                body: b"",
                properties: b"",
            },
        ];
        let mut out = BytesMut::new();
        encode_batch(&items, &mut out).unwrap();
        let boundary = items[0].encoded_len();
        for cut in (0..out.len()).filter(|&c| c != boundary) {
            assert!(decode_batch(&out[..cut]).is_err(), "cut at {cut}");
        }
        assert_eq!(decode_batch(&out[..boundary]).unwrap(), items[..1].to_vec());
        assert_eq!(decode_batch(&out).unwrap(), items.to_vec());
    }

    proptest! {
        #[test]
        fn roundtrip(items in proptest::collection::vec(
            (any::<i32>(), proptest::collection::vec(any::<u8>(), 0..64),
             proptest::collection::vec(any::<u8>(), 0..64)), 1..6)) {
            let items: Vec<BatchItem<'_>> = items
                .iter()
                .map(|(flag, body, props)| BatchItem { flag: *flag, body, properties: props })
                .collect();
            let mut out = BytesMut::new();
            encode_batch(&items, &mut out)?;
            prop_assert_eq!(decode_batch(&out)?, items);
        }

        #[test]
        fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..128)) {
            let _ = decode_batch(&bytes);
        }
    }
}
