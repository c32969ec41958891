//! Turning a message into a SEND_MESSAGE_V2 / SEND_BATCH_MESSAGE request
//! and the response into a [`SendResult`].

use bytes::Bytes;
use protocol::body::MessageQueue;
use protocol::header::send::{SendMessageRequestHeader, SendMessageResponseHeader};
use protocol::message::sysflag::message as msgflag;
use protocol::message::{keys, topics, Properties};
use protocol::{RemotingCommand, RequestCode, ResponseCode};

use super::batch::EncodedBatch;
use crate::consumer::subscription::now_ms;
use crate::error::{ClientError, Result};
use crate::message::{deflate, Message};

/// How the broker stored a sent message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendStatus {
    /// Stored (and flushed/replicated as configured).
    Ok,
    /// Stored, but the synchronous flush timed out.
    FlushDiskTimeout,
    /// Stored, but replication to the slave timed out.
    FlushSlaveTimeout,
    /// Stored, but no slave was available for synchronous replication.
    SlaveNotAvailable,
}

/// The outcome of a successful send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendResult {
    /// How the broker stored it.
    pub status: SendStatus,
    /// The message id (UNIQ_KEY); for a batch, the ids comma-joined.
    pub msg_id: String,
    /// The broker's offset id(s) (store host + commit-log offset).
    pub offset_msg_id: String,
    /// The queue written.
    pub queue: MessageQueue,
    /// Consume-queue offset (of the first message of a batch).
    pub queue_offset: i64,
    /// Transaction id (the UNIQ_KEY) when the broker returns one.
    pub transaction_id: Option<String>,
    /// The broker's region.
    pub region_id: Option<String>,
}

/// A message in wire form: properties encoded, body maybe compressed.
#[derive(Debug, Clone)]
pub(crate) struct Prepared {
    pub topic: String,
    pub body: Bytes,
    pub flag: i32,
    pub sys_flag: i32,
    pub properties: String,
    pub msg_id: String,
    pub batch: bool,
    pub reconsume_times: i32,
    pub max_reconsume_times: Option<i32>,
}

impl Prepared {
    /// Prepares one message: a UNIQ_KEY from `next_id` unless set, a zlib
    /// body when it is over `compress_over` bytes and compression helps,
    /// and the transaction-prepared flag for half messages.
    pub(crate) fn single(
        msg: Message,
        compress_over: usize,
        next_id: impl FnOnce() -> String,
    ) -> Result<Self> {
        msg.validate()?;
        // Moved, not copied: the topic and properties become the request's.
        let (topic, mut body, flag, props) = msg.into_parts();
        let mut sys_flag = 0;
        if body.len() > compress_over {
            let z = deflate(&body)?;
            if z.len() < body.len() {
                body = Bytes::from(z);
                sys_flag |= msgflag::COMPRESSED | msgflag::COMPRESSION_ZLIB;
            }
        }
        if props.get(keys::TRAN_MSG) == Some("true") {
            sys_flag |= msgflag::TRANSACTION_PREPARED_TYPE;
        }
        let (reconsume_times, max_reconsume_times) = retry_counts(&topic, &props);
        let (properties, msg_id) = match props.uniq_key() {
            Some(id) => (props.encode(), id.to_string()),
            None => {
                let id = next_id();
                (encode_with_uniq_key(&props, &id), id)
            }
        };
        Ok(Prepared {
            topic,
            body,
            flag,
            sys_flag,
            properties,
            msg_id,
            batch: false,
            reconsume_times,
            max_reconsume_times,
        })
    }

    pub(crate) fn batch(b: EncodedBatch) -> Self {
        let mut props = Properties::new();
        if let Some(w) = b.wait {
            props.insert(keys::WAIT, w);
        }
        Prepared {
            topic: b.topic,
            body: b.body,
            flag: 0,
            sys_flag: 0,
            properties: props.encode(),
            msg_id: b.uniq_keys.join(","),
            batch: true,
            reconsume_times: 0,
            max_reconsume_times: None,
        }
    }

    /// The request for `mq` from `group`.
    pub(crate) fn request(
        &self,
        group: &str,
        mq: &MessageQueue,
        default_queue_nums: i32,
    ) -> RemotingCommand {
        self.request_at(group, mq, default_queue_nums, now_ms())
    }

    /// [`Prepared::request`] with a given born timestamp.
    pub(crate) fn request_at(
        &self,
        group: &str,
        mq: &MessageQueue,
        default_queue_nums: i32,
        born_ms: i64,
    ) -> RemotingCommand {
        let header = SendMessageRequestHeader {
            producer_group: group.to_string(),
            topic: self.topic.clone(),
            default_topic: topics::AUTO_CREATE_TOPIC.to_string(),
            default_topic_queue_nums: default_queue_nums,
            queue_id: mq.queue_id,
            sys_flag: self.sys_flag,
            born_timestamp: born_ms,
            flag: self.flag,
            properties: (!self.properties.is_empty()).then(|| self.properties.clone()),
            reconsume_times: Some(self.reconsume_times),
            unit_mode: Some(false),
            max_reconsume_times: self.max_reconsume_times,
            batch: Some(self.batch),
            broker_name: Some(mq.broker_name.clone()),
        };
        let mut cmd = RemotingCommand::request(self.code()).with_body(self.body.clone());
        header.write_v2(&mut cmd.ext_fields);
        cmd
    }

    /// The request code: batch or single send.
    pub(crate) fn code(&self) -> RequestCode {
        if self.batch {
            RequestCode::SEND_BATCH_MESSAGE
        } else {
            RequestCode::SEND_MESSAGE_V2
        }
    }

    /// Reads the broker's answer to [`Prepared::request`].
    ///
    /// # Errors
    /// [`ClientError::Response`] for a code that is not one of the four
    /// "stored" codes; a header error if the answer lacks its fields.
    pub(crate) fn result(
        &self,
        addr: &str,
        mq: &MessageQueue,
        resp: &RemotingCommand,
    ) -> Result<SendResult> {
        let status = match ResponseCode::from_code(resp.code) {
            ResponseCode::SUCCESS => SendStatus::Ok,
            ResponseCode::FLUSH_DISK_TIMEOUT => SendStatus::FlushDiskTimeout,
            ResponseCode::FLUSH_SLAVE_TIMEOUT => SendStatus::FlushSlaveTimeout,
            ResponseCode::SLAVE_NOT_AVAILABLE => SendStatus::SlaveNotAvailable,
            _ => {
                return Err(ClientError::response(
                    addr,
                    resp.code,
                    resp.remark.as_deref(),
                ))
            }
        };
        let h: SendMessageResponseHeader = resp.decode_header()?;
        Ok(SendResult {
            status,
            msg_id: self.msg_id.clone(),
            offset_msg_id: h.msg_id,
            queue: MessageQueue::new(self.topic.clone(), mq.broker_name.clone(), h.queue_id),
            queue_offset: h.queue_offset,
            transaction_id: h.transaction_id,
            region_id: h.msg_region,
        })
    }
}

/// `props` encoded with `UNIQ_KEY` = `id` added at the end (where inserting
/// it into the map would put it), in one allocation.
fn encode_with_uniq_key(props: &Properties, id: &str) -> String {
    use protocol::message::properties::{NAME_VALUE_SEPARATOR, PROPERTY_SEPARATOR};
    let mut out = String::with_capacity(props.encoded_len() + keys::UNIQ_KEY.len() + id.len() + 2);
    for (name, value) in props.iter().chain([(keys::UNIQ_KEY, id)]) {
        out.push_str(name);
        out.push(NAME_VALUE_SEPARATOR);
        out.push_str(value);
        out.push(PROPERTY_SEPARATOR);
    }
    out
}

/// Reconsume counters carried in the header for sends to a retry topic.
fn retry_counts(topic: &str, props: &Properties) -> (i32, Option<i32>) {
    if !topics::is_retry_topic(topic) {
        return (0, None);
    }
    let parse = |k| props.get(k).and_then(|v| v.parse::<i32>().ok());
    (
        parse(keys::RECONSUME_TIME).unwrap_or(0),
        parse(keys::MAX_RECONSUME_TIMES),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::header::send::SendMessageRequestHeaderV2;
    use protocol::CommandHeader;

    #[test]
    fn small_bodies_stay_plain_and_get_an_id() {
        let p =
            Prepared::single(Message::new("T", "hi").with_tags("A"), 4096, || "ID".into()).unwrap();
        assert_eq!(p.sys_flag, 0);
        assert_eq!(p.body.as_ref(), b"hi");
        assert_eq!(p.msg_id, "ID");
        assert!(p.properties.contains("UNIQ_KEY\u{1}ID\u{2}"));
    }

    #[test]
    fn a_generated_id_is_encoded_where_inserting_it_would_put_it() {
        let msg = Message::new("T", "hi")
            .with_tags("A")
            .with_keys(["k1", "k2"]);
        let mut by_map = msg.clone();
        by_map.properties_mut().insert(keys::UNIQ_KEY, "ID");
        let p = Prepared::single(msg, 4096, || "ID".into()).unwrap();
        assert_eq!(p.properties, by_map.properties().encode());
        assert_eq!(p.msg_id, "ID");
        // A message that has its id keeps it.
        let p = Prepared::single(by_map, 4096, || "OTHER".into()).unwrap();
        assert_eq!(p.msg_id, "ID");
        assert!(!p.properties.contains("OTHER"));
    }

    #[test]
    fn large_bodies_are_compressed_with_the_flag() {
        let body = vec![b'a'; 10_000];
        let p = Prepared::single(Message::new("T", body.clone()), 4096, || "ID".into()).unwrap();
        assert_eq!(p.sys_flag & msgflag::COMPRESSED, msgflag::COMPRESSED);
        assert_eq!(
            p.sys_flag & msgflag::COMPRESSION_MASK,
            msgflag::COMPRESSION_ZLIB
        );
        assert!(p.body.len() < body.len());
        assert_eq!(crate::message::inflate(&p.body, p.sys_flag).unwrap(), body);
        // Exactly at the threshold: not compressed.
        let p =
            Prepared::single(Message::new("T", vec![b'a'; 4096]), 4096, || "ID".into()).unwrap();
        assert_eq!(p.sys_flag, 0);
    }

    #[test]
    fn request_uses_v2_names_and_batch_code() {
        let p = Prepared::single(Message::new("T", "hi"), 4096, || "ID".into()).unwrap();
        let mq = MessageQueue::new("T", "b1", 3);
        let cmd = p.request("PG", &mq, 4);
        assert_eq!(cmd.code, RequestCode::SEND_MESSAGE_V2.code());
        let h = SendMessageRequestHeaderV2::read_fields(&cmd.ext_fields).unwrap();
        assert_eq!(
            (h.a.as_str(), h.b.as_str(), h.c.as_str()),
            ("PG", "T", "TBW102")
        );
        assert_eq!((h.d, h.e, h.m), (4, 3, Some(false)));
        assert_eq!(h.n.as_deref(), Some("b1"));
        let b = Prepared::batch(EncodedBatch {
            topic: "T".into(),
            body: Bytes::from_static(b"x"),
            uniq_keys: vec!["A".into(), "B".into()],
            wait: None,
        });
        let cmd = b.request("PG", &mq, 4);
        assert_eq!(cmd.code, RequestCode::SEND_BATCH_MESSAGE.code());
        assert_eq!(cmd.field("m"), Some("true"));
        assert_eq!(b.msg_id, "A,B");
    }

    #[test]
    fn result_maps_codes() {
        let p = Prepared::single(Message::new("T", "hi"), 4096, || "ID".into()).unwrap();
        let mq = MessageQueue::new("T", "b1", 3);
        let ok = RemotingCommand::success().with_header(&SendMessageResponseHeader {
            msg_id: "OFF".into(),
            queue_id: 1,
            queue_offset: 9,
            transaction_id: None,
            batch_uniq_id: None,
            recall_handle: None,
            msg_region: Some("DefaultRegion".into()),
            trace_on: Some(true),
        });
        let r = p.result("a", &mq, &ok).unwrap();
        assert_eq!(r.status, SendStatus::Ok);
        assert_eq!((r.msg_id.as_str(), r.offset_msg_id.as_str()), ("ID", "OFF"));
        assert_eq!(r.queue, MessageQueue::new("T", "b1", 1));
        assert_eq!(r.queue_offset, 9);
        let busy = RemotingCommand::error(ResponseCode::SYSTEM_BUSY, "busy");
        let e = p.result("a", &mq, &busy).unwrap_err();
        assert!(e.is_retryable_send());
        let illegal = RemotingCommand::error(ResponseCode::MESSAGE_ILLEGAL, "bad");
        assert!(!p
            .result("a", &mq, &illegal)
            .unwrap_err()
            .is_retryable_send());
    }
}
