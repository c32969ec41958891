//! Messages: [`Message`] is what a producer sends, [`MessageExt`] what a
//! consumer receives (a decoded stored record plus where it came from).

use std::io::{Read, Write};
use std::net::SocketAddr;

use bytes::Bytes;
use flate2::read::ZlibDecoder;
use flate2::write::ZlibEncoder;
use flate2::Compression;
use protocol::body::MessageQueue;
use protocol::message::sysflag::message as msgflag;
use protocol::message::{keys, topics, Properties, RecordView};

use crate::error::{ClientError, Result};

/// The largest body a producer accepts (the broker's default `maxMessageSize`).
pub const MAX_MESSAGE_SIZE: usize = 4 * 1024 * 1024;

/// A message to send: topic, body, user flag and properties.
///
/// ```
/// use client::Message;
/// let msg = Message::new("OrderTopic", "hello")
///     .with_tags("TagA")
///     .with_keys(["order-42"])
///     .with_property("region", "eu");
/// assert_eq!(msg.tags(), Some("TagA"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    topic: String,
    body: Bytes,
    flag: i32,
    properties: Properties,
}

impl Message {
    /// A message for `topic` with `body`.
    pub fn new(topic: impl Into<String>, body: impl Into<Bytes>) -> Self {
        Message {
            topic: topic.into(),
            body: body.into(),
            flag: 0,
            properties: Properties::new(),
        }
    }

    /// Sets the tag consumers filter on (`TAGS`).
    pub fn with_tags(mut self, tags: impl Into<String>) -> Self {
        self.properties.insert(keys::TAGS, tags.into());
        self
    }

    /// Sets the business keys (`KEYS`, space-separated, indexed by the broker).
    pub fn with_keys<I, S>(mut self, keys_iter: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let joined = keys_iter
            .into_iter()
            .map(|k| k.as_ref().trim().to_string())
            .filter(|k| !k.is_empty())
            .collect::<Vec<_>>()
            .join(keys::KEY_SEPARATOR);
        if joined.is_empty() {
            self.properties.remove(keys::KEYS);
        } else {
            self.properties.insert(keys::KEYS, joined);
        }
        self
    }

    /// Sets a user property. Names and values must not contain U+0001 or
    /// U+0002 (checked when sending).
    pub fn with_property(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.properties.insert(name, value);
        self
    }

    /// Delays delivery by a broker delay level (1 = 1 s … 18 = 2 h by default).
    pub fn with_delay_level(mut self, level: u8) -> Self {
        if level == 0 {
            self.properties.remove(keys::DELAY);
        } else {
            self.properties.insert(keys::DELAY, level.to_string());
        }
        self
    }

    /// Delivers at an absolute time (ms since the Unix epoch), with 5.x timer
    /// messages (`TIMER_DELIVER_MS`).
    pub fn with_deliver_time_ms(mut self, deliver_at_ms: i64) -> Self {
        self.properties
            .insert(keys::TIMER_DELIVER_MS, deliver_at_ms.to_string());
        self
    }

    /// Sets the user flag stored with the message.
    pub fn with_flag(mut self, flag: i32) -> Self {
        self.flag = flag;
        self
    }

    /// Whether the broker should answer only after flushing/replicating
    /// (`WAIT`, default true).
    pub fn with_wait_store(mut self, wait: bool) -> Self {
        self.properties.insert(keys::WAIT, wait.to_string());
        self
    }

    /// The destination topic.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// The body as given (uncompressed).
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// The user flag.
    pub fn flag(&self) -> i32 {
        self.flag
    }

    /// The tag, if set.
    pub fn tags(&self) -> Option<&str> {
        self.properties.tags()
    }

    /// The business keys.
    pub fn keys(&self) -> Vec<&str> {
        self.properties.keys().collect()
    }

    /// One property.
    pub fn property(&self, name: &str) -> Option<&str> {
        self.properties.get(name)
    }

    /// All properties.
    pub fn properties(&self) -> &Properties {
        &self.properties
    }

    /// The delay level, if set.
    pub fn delay_level(&self) -> Option<i32> {
        self.properties
            .get(keys::DELAY)
            .and_then(|v| v.parse().ok())
            .filter(|l| *l > 0)
    }

    /// The UNIQ_KEY (client message id) once the producer assigned one.
    pub fn uniq_key(&self) -> Option<&str> {
        self.properties.uniq_key()
    }

    /// Topic, body, flag and properties, moved out.
    pub(crate) fn into_parts(self) -> (String, Bytes, i32, Properties) {
        (self.topic, self.body, self.flag, self.properties)
    }

    pub(crate) fn properties_mut(&mut self) -> &mut Properties {
        &mut self.properties
    }

    /// Checks the rules every broker enforces, before any network traffic.
    ///
    /// # Errors
    /// [`ClientError::InvalidMessage`] naming the broken rule.
    pub fn validate(&self) -> Result<()> {
        validate_topic(&self.topic)?;
        if topics::is_send_forbidden_topic(&self.topic) {
            return Err(ClientError::InvalidMessage(format!(
                "topic {} is a system topic that cannot be sent to",
                self.topic
            )));
        }
        if self.body.is_empty() {
            return Err(ClientError::InvalidMessage("body is empty".into()));
        }
        if self.body.len() > MAX_MESSAGE_SIZE {
            return Err(ClientError::InvalidMessage(format!(
                "body of {} bytes exceeds the {MAX_MESSAGE_SIZE}-byte limit",
                self.body.len()
            )));
        }
        self.properties.validate()?;
        Ok(())
    }
}

/// Checks a topic name: non-empty, at most 127 chars of `[%|a-zA-Z0-9_-]`
/// (retry/DLQ topics up to 255).
///
/// # Errors
/// [`ClientError::InvalidMessage`] naming the topic.
pub fn validate_topic(topic: &str) -> Result<()> {
    let max = if topics::is_retry_topic(topic) || topics::is_dlq_topic(topic) {
        topics::MAX_SYS_TOPIC_LEN
    } else {
        topics::MAX_TOPIC_LEN
    };
    if topic.is_empty() || topic.len() > max || !topics::is_valid_topic_chars(topic) {
        return Err(ClientError::InvalidMessage(format!(
            "topic {topic:?} must be 1..={max} chars of [%|a-zA-Z0-9_-]"
        )));
    }
    Ok(())
}

/// A received message: the stored record decoded, the body inflated, and
/// the queue it was read from.
#[derive(Debug, Clone, PartialEq)]
pub struct MessageExt {
    /// The topic (for retried messages: the original topic, see [`MessageExt::is_retry`]).
    pub topic: String,
    /// The body (inflated if the producer compressed it).
    pub body: Bytes,
    /// User flag.
    pub flag: i32,
    /// Properties.
    pub properties: Properties,
    /// Broker the message was read from.
    pub broker_name: String,
    /// Queue id within the topic on that broker.
    pub queue_id: i32,
    /// Consume-queue offset (message index in its queue).
    pub queue_offset: i64,
    /// Commit-log (byte) offset; what CONSUMER_SEND_MSG_BACK names.
    pub commit_log_offset: i64,
    /// Stored sysflag.
    pub sys_flag: i32,
    /// Producer's timestamp, ms.
    pub born_timestamp: i64,
    /// Producer address.
    pub born_host: SocketAddr,
    /// Broker's store timestamp, ms.
    pub store_timestamp: i64,
    /// Broker address the message is stored on.
    pub store_host: SocketAddr,
    /// How many times the message was redelivered after failed consumption.
    pub reconsume_times: i32,
    /// For committed transactional messages: the half message's offset.
    pub prepared_transaction_offset: i64,
    /// The message id users see: UNIQ_KEY, or the offset id if none.
    pub msg_id: String,
    /// The broker-made offset id (store host + commit-log offset).
    pub offset_msg_id: String,
    /// Size of the stored record in bytes.
    pub store_size: usize,
}

impl MessageExt {
    /// Decodes a stored record read from `broker_name`, inflating a
    /// compressed body.
    ///
    /// # Errors
    /// [`ClientError::Decompress`] if a zlib body does not inflate.
    pub fn from_record(view: &RecordView<'_>, broker_name: &str) -> Result<Self> {
        let properties = view.properties();
        let offset_msg_id = view.offset_msg_id();
        let msg_id = properties
            .uniq_key()
            .map_or_else(|| offset_msg_id.clone(), str::to_string);
        let sys_flag = view.sysflag();
        let body = if sys_flag & msgflag::COMPRESSED != 0 {
            Bytes::from(inflate(view.body(), sys_flag)?)
        } else {
            Bytes::copy_from_slice(view.body())
        };
        Ok(MessageExt {
            topic: view.topic().to_string(),
            body,
            flag: view.flag(),
            properties,
            broker_name: broker_name.to_string(),
            queue_id: view.queue_id(),
            queue_offset: view.queue_offset(),
            commit_log_offset: view.physical_offset(),
            sys_flag,
            born_timestamp: view.born_timestamp(),
            born_host: view.born_host(),
            store_timestamp: view.store_timestamp(),
            store_host: view.store_host(),
            reconsume_times: view.reconsume_times(),
            prepared_transaction_offset: view.prepared_transaction_offset(),
            msg_id,
            offset_msg_id,
            store_size: view.total_size(),
        })
    }

    /// Decodes every record of a pull / query / view body.
    ///
    /// # Errors
    /// The first record that does not decode or inflate.
    pub fn decode_all(body: &[u8], broker_name: &str) -> Result<Vec<MessageExt>> {
        protocol::message::records(body)
            .map(|r| MessageExt::from_record(&r?, broker_name))
            .collect()
    }

    /// The tag, if any.
    pub fn tags(&self) -> Option<&str> {
        self.properties.tags()
    }

    /// The business keys.
    pub fn keys(&self) -> Vec<&str> {
        self.properties.keys().collect()
    }

    /// One property.
    pub fn property(&self, name: &str) -> Option<&str> {
        self.properties.get(name)
    }

    /// The queue the message was read from.
    pub fn queue(&self) -> MessageQueue {
        MessageQueue::new(self.topic.clone(), self.broker_name.clone(), self.queue_id)
    }

    /// Whether this is a redelivery read from the group's retry topic (the
    /// original topic has been restored into [`MessageExt::topic`]).
    pub fn is_retry(&self) -> bool {
        self.properties.contains_key(keys::RETRY_TOPIC)
    }

    /// The transaction id (UNIQ_KEY) of a transactional message.
    pub fn transaction_id(&self) -> Option<&str> {
        self.properties.uniq_key()
    }
}

/// The body compression threshold Java producers use.
pub const COMPRESS_OVER: usize = 4 * 1024;

/// zlib level Java producers use by default.
const ZLIB_LEVEL: u32 = 5;

/// Deflates `body` with zlib.
///
/// # Errors
/// Only if the in-memory encoder fails.
pub fn deflate(body: &[u8]) -> Result<Vec<u8>> {
    let mut enc = ZlibEncoder::new(
        Vec::with_capacity(body.len() / 2),
        Compression::new(ZLIB_LEVEL),
    );
    enc.write_all(body)
        .and_then(|()| enc.finish())
        .map_err(|e| ClientError::Decompress(format!("deflate: {e}")))
}

/// Inflates a body stored with `sys_flag`'s compression type (zlib; LZ4 and
/// ZSTD are not supported).
///
/// # Errors
/// [`ClientError::Decompress`] for other types or corrupt input.
pub fn inflate(body: &[u8], sys_flag: i32) -> Result<Vec<u8>> {
    let kind = sys_flag & msgflag::COMPRESSION_MASK;
    if kind != 0 && kind != msgflag::COMPRESSION_ZLIB {
        return Err(ClientError::Decompress(format!(
            "unsupported compression type 0x{kind:x} (only zlib)"
        )));
    }
    let mut out = Vec::with_capacity(body.len() * 2);
    ZlibDecoder::new(body)
        .read_to_end(&mut out)
        .map_err(|e| ClientError::Decompress(e.to_string()))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::message::MessageRecord;

    #[test]
    fn builder_sets_properties() {
        let m = Message::new("T", "b")
            .with_tags("A")
            .with_keys(["k1", " k2 ", ""])
            .with_delay_level(3)
            .with_deliver_time_ms(99)
            .with_property("x", "y");
        assert_eq!(m.tags(), Some("A"));
        assert_eq!(m.keys(), vec!["k1", "k2"]);
        assert_eq!(m.property(keys::KEYS), Some("k1 k2"));
        assert_eq!(m.delay_level(), Some(3));
        assert_eq!(m.property(keys::TIMER_DELIVER_MS), Some("99"));
        assert_eq!(m.property("x"), Some("y"));
        assert_eq!(m.with_delay_level(0).delay_level(), None);
    }

    #[test]
    fn validation_names_the_rule() {
        assert!(Message::new("T", "b").validate().is_ok());
        let err = Message::new("bad topic", "b").validate().unwrap_err();
        assert!(err.to_string().contains("bad topic"), "{err}");
        assert!(Message::new("T", "").validate().is_err());
        assert!(Message::new("SCHEDULE_TOPIC_XXXX", "b").validate().is_err());
        let big = vec![0u8; MAX_MESSAGE_SIZE + 1];
        assert!(Message::new("T", big).validate().is_err());
        assert!(Message::new("T", "b")
            .with_property("a\u{1}", "v")
            .validate()
            .is_err());
    }

    #[test]
    fn deflate_inflate_round_trip() {
        let body: Vec<u8> = (0..10_000u32).map(|i| (i % 7) as u8).collect();
        let z = deflate(&body).unwrap();
        assert!(z.len() < body.len());
        assert_eq!(inflate(&z, msgflag::COMPRESSED).unwrap(), body);
        assert_eq!(
            inflate(&z, msgflag::COMPRESSED | msgflag::COMPRESSION_ZLIB).unwrap(),
            body
        );
        assert!(inflate(&z, msgflag::COMPRESSED | msgflag::COMPRESSION_LZ4).is_err());
        assert!(inflate(b"not zlib", msgflag::COMPRESSED).is_err());
    }

    fn record(body: &[u8], sysflag: i32, props: &str) -> Vec<u8> {
        let rec = MessageRecord {
            topic: "T".into(),
            queue_id: 2,
            flag: 7,
            queue_offset: 5,
            physical_offset: 1234,
            sysflag,
            born_timestamp: 1,
            born_host: "10.0.0.9:5000".parse().unwrap(),
            store_timestamp: 2,
            store_host: "10.0.0.1:10911".parse().unwrap(),
            reconsume_times: 1,
            prepared_transaction_offset: 0,
            body_crc: 0,
            body: Bytes::copy_from_slice(body),
            properties: Properties::decode(props),
        };
        let mut out = bytes::BytesMut::new();
        rec.encode(&mut out).unwrap();
        out.to_vec()
    }

    #[test]
    fn decodes_records_and_inflates() {
        let plain: Vec<u8> = vec![b'x'; 5000];
        let z = deflate(&plain).unwrap();
        let mut body = record(
            &z,
            msgflag::COMPRESSED,
            "UNIQ_KEY\u{1}ABC\u{2}TAGS\u{1}A\u{2}",
        );
        body.extend(record(b"hi", 0, "KEYS\u{1}a b\u{2}"));
        let msgs = MessageExt::decode_all(&body, "b1").unwrap();
        assert_eq!(msgs.len(), 2);
        assert_eq!(msgs[0].body.as_ref(), plain.as_slice());
        assert_eq!(msgs[0].msg_id, "ABC");
        assert_eq!(msgs[0].tags(), Some("A"));
        assert_eq!(msgs[0].queue(), MessageQueue::new("T", "b1", 2));
        assert_eq!(msgs[0].queue_offset, 5);
        assert_eq!(msgs[0].commit_log_offset, 1234);
        assert_eq!(msgs[1].body.as_ref(), b"hi");
        // Without UNIQ_KEY the offset id is the message id.
        assert_eq!(msgs[1].msg_id, msgs[1].offset_msg_id);
        assert_eq!(msgs[1].keys(), vec!["a", "b"]);
    }
}
