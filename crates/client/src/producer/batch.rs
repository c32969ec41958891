//! Batch sends (remoting-protocol §7.4): checking the batch rules and
//! encoding the SEND_BATCH_MESSAGE body; splitting a long list into batches
//! that fit the size limit.

use bytes::{Bytes, BytesMut};
use protocol::message::batch::{BatchItem, BATCH_ITEM_OVERHEAD};
use protocol::message::{encode_batch, keys, topics};

use crate::error::{ClientError, Result};
use crate::message::{Message, MAX_MESSAGE_SIZE};

/// A batch ready to send: one body, the ids of its messages in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EncodedBatch {
    pub topic: String,
    pub body: Bytes,
    pub uniq_keys: Vec<String>,
    /// `WAIT` of the batch (from its first message), when not default.
    pub wait: Option<String>,
}

/// The encoded size of `msg` as a batch item.
pub fn batch_item_size(msg: &Message) -> usize {
    BATCH_ITEM_OVERHEAD + msg.body().len() + msg.properties().encoded_len()
}

/// Checks the batch rules and encodes the body; `next_id` gives each
/// message its UNIQ_KEY (kept if already set).
///
/// # Errors
/// [`ClientError::InvalidMessage`]: empty batch, mixed topics or WAIT
/// flags, delay levels, retry topics, or a body over 4 MiB.
pub(crate) fn encode(
    mut msgs: Vec<Message>,
    mut next_id: impl FnMut() -> String,
) -> Result<EncodedBatch> {
    let first = msgs
        .first()
        .ok_or_else(|| ClientError::InvalidMessage("batch is empty".into()))?;
    let topic = first.topic().to_string();
    let wait = first.property(keys::WAIT).map(str::to_string);
    if topics::is_retry_topic(&topic) {
        return Err(ClientError::InvalidMessage(format!(
            "batch to retry topic {topic} is not allowed"
        )));
    }
    for m in &mut msgs {
        m.validate()?;
        if m.topic() != topic {
            return Err(ClientError::InvalidMessage(format!(
                "batch mixes topics {topic} and {}",
                m.topic()
            )));
        }
        if m.property(keys::WAIT) != wait.as_deref() {
            return Err(ClientError::InvalidMessage("batch mixes WAIT flags".into()));
        }
        if m.delay_level().is_some() {
            return Err(ClientError::InvalidMessage(
                "delayed messages cannot be batched".into(),
            ));
        }
        if m.uniq_key().is_none() {
            m.properties_mut().insert(keys::UNIQ_KEY, next_id());
        }
    }
    let props: Vec<String> = msgs.iter().map(|m| m.properties().encode()).collect();
    let items: Vec<BatchItem<'_>> = msgs
        .iter()
        .zip(&props)
        .map(|(m, p)| BatchItem {
            flag: m.flag(),
            body: m.body(),
            properties: p.as_bytes(),
        })
        .collect();
    let size: usize = items.iter().map(BatchItem::encoded_len).sum();
    if size > MAX_MESSAGE_SIZE {
        return Err(ClientError::InvalidMessage(format!(
            "batch of {size} bytes exceeds the {MAX_MESSAGE_SIZE}-byte limit; split it with split_batches"
        )));
    }
    let mut body = BytesMut::with_capacity(size);
    encode_batch(&items, &mut body)?;
    let uniq_keys = msgs
        .iter()
        .map(|m| m.uniq_key().unwrap_or_default().to_string())
        .collect();
    Ok(EncodedBatch {
        topic,
        body: body.freeze(),
        uniq_keys,
        wait,
    })
}

/// Splits `msgs` into consecutive batches of at most `max_bytes` encoded
/// bytes each (a single larger message gets a batch of its own, which the
/// send then rejects).
pub fn split_batches(msgs: Vec<Message>, max_bytes: usize) -> Vec<Vec<Message>> {
    let mut out: Vec<Vec<Message>> = Vec::new();
    let mut current: Vec<Message> = Vec::new();
    let mut size = 0;
    for m in msgs {
        // Leave room for the UNIQ_KEY the send adds (name, value, separators).
        let item = batch_item_size(&m) + keys::UNIQ_KEY.len() + 34;
        if !current.is_empty() && size + item > max_bytes {
            out.push(std::mem::take(&mut current));
            size = 0;
        }
        size += item;
        current.push(m);
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::message::decode_batch;

    fn ids() -> impl FnMut() -> String {
        let mut n = 0;
        move || {
            n += 1;
            format!("ID{n}")
        }
    }

    #[test]
    fn encodes_items_with_their_own_properties() {
        let msgs = vec![
            Message::new("T", "one").with_tags("A"),
            Message::new("T", "two").with_keys(["k"]).with_flag(3),
        ];
        let b = encode(msgs, ids()).unwrap();
        assert_eq!(b.topic, "T");
        assert_eq!(b.uniq_keys, vec!["ID1", "ID2"]);
        let items = decode_batch(&b.body).unwrap();
        assert_eq!(items.len(), 2);
        assert_eq!(items[0].body, b"one");
        assert_eq!(items[1].flag, 3);
        let p0 = std::str::from_utf8(items[0].properties).unwrap();
        assert!(
            p0.contains("TAGS\u{1}A\u{2}") && p0.contains("UNIQ_KEY\u{1}ID1\u{2}"),
            "{p0}"
        );
        let p1 = std::str::from_utf8(items[1].properties).unwrap();
        assert!(
            p1.contains("KEYS\u{1}k\u{2}") && p1.contains("UNIQ_KEY\u{1}ID2"),
            "{p1}"
        );
    }

    #[test]
    fn enforces_batch_rules() {
        let err = |msgs: Vec<Message>| encode(msgs, ids()).unwrap_err().to_string();
        assert!(err(vec![]).contains("empty"));
        assert!(err(vec![Message::new("A", "x"), Message::new("B", "x")]).contains("mixes topics"));
        assert!(err(vec![Message::new("A", "x").with_delay_level(2)]).contains("delayed"));
        assert!(err(vec![Message::new("%RETRY%g", "x")]).contains("retry"));
        assert!(err(vec![
            Message::new("A", "x").with_wait_store(false),
            Message::new("A", "x")
        ])
        .contains("WAIT"));
        let big = vec![0u8; MAX_MESSAGE_SIZE / 2];
        assert!(
            err(vec![Message::new("A", big.clone()), Message::new("A", big)]).contains("limit")
        );
    }

    #[test]
    fn splits_by_size() {
        let msgs: Vec<Message> = (0..10)
            .map(|_| Message::new("T", vec![1u8; 1000]))
            .collect();
        let one = batch_item_size(&msgs[0]) + keys::UNIQ_KEY.len() + 34;
        let parts = split_batches(msgs, one * 3);
        assert_eq!(
            parts.iter().map(Vec::len).collect::<Vec<_>>(),
            vec![3, 3, 3, 1]
        );
        for part in parts {
            let b = encode(part, ids()).unwrap();
            assert!(b.body.len() <= one * 3);
        }
        assert!(split_batches(vec![], 10).is_empty());
    }
}
