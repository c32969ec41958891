//! Messages between the two wire forms: a gRPC `Message` checked and
//! turned into what a remoting send carries, and a stored record turned
//! into the `Message` a 5.x client receives (digest, encoding, type).

use std::io::Read;

use bytes::Bytes;
use client::MessageExt;
use md5::{Digest as _, Md5};
use protocol::message::sysflag::{message as msgflag, transaction_type, TransactionType};
use protocol::message::{keys, topics, Properties};
use sha1::Sha1;

use crate::error::{GrpcError, GrpcResult};
use crate::pb::{self, Code, DigestType, Encoding, MessageType};

/// A message checked and ready for SEND_MESSAGE_V2.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub topic: String,
    pub body: Bytes,
    pub properties: Properties,
    pub born_ms: i64,
    pub message_id: String,
    pub message_type: MessageType,
    pub message_group: Option<String>,
}

/// Property keys the broker or clients reserve; users may not set them.
const RESERVED: &[&str] = &[
    keys::KEYS,
    keys::TAGS,
    keys::WAIT,
    keys::DELAY,
    keys::RETRY_TOPIC,
    keys::REAL_TOPIC,
    keys::REAL_QID,
    keys::TRAN_MSG,
    keys::PGROUP,
    keys::MIN_OFFSET,
    keys::MAX_OFFSET,
    keys::UNIQ_KEY,
    keys::RECONSUME_TIME,
    keys::MAX_RECONSUME_TIMES,
    keys::TRANSACTION_ID,
    keys::TRAN_PREPARED_QUEUE_OFFSET,
    keys::TRANSACTION_CHECK_TIMES,
    keys::CHECK_IMMUNITY_TIME_IN_SECONDS,
    keys::POP_CK,
    keys::SHARDING_KEY,
    keys::TIMER_DELIVER_MS,
    keys::TIMER_DELAY_SEC,
    keys::TIMER_DELAY_MS,
    keys::BORN_HOST,
    keys::TRACE_CONTEXT,
    keys::DLQ_ORIGIN_TOPIC,
    keys::DLQ_ORIGIN_MESSAGE_ID,
];

/// How far ahead a delivery timestamp may lie (the proxy's default).
pub const MAX_DELIVERY_AHEAD_MS: i64 = 24 * 3600 * 1000;
/// Longest message group, as the proxy allows.
const MAX_GROUP_LEN: usize = 64;

fn has_control(s: &str) -> bool {
    s.chars().any(char::is_control)
}

/// Checks a topic name, answering ILLEGAL_TOPIC with the reason.
///
/// # Errors
/// ILLEGAL_TOPIC for an empty, too long, badly spelled or system topic.
pub fn check_topic(name: &str) -> GrpcResult<()> {
    let bad = |why: &str| {
        Err(GrpcError::invalid(
            Code::IllegalTopic,
            format!("topic `{name}` {why}"),
        ))
    };
    if name.is_empty() {
        return bad("is empty");
    }
    if name.len() > topics::MAX_TOPIC_LEN {
        return bad("is longer than 127 characters");
    }
    if !topics::is_valid_topic_chars(name) {
        return bad("may only hold [%|a-zA-Z0-9_-]");
    }
    if name == topics::AUTO_CREATE_TOPIC
        || name.starts_with("rmq_sys_")
        || name.starts_with("RMQ_SYS_")
    {
        return bad("is a system topic");
    }
    Ok(())
}

/// Checks a consumer group name, answering ILLEGAL_CONSUMER_GROUP.
///
/// # Errors
/// ILLEGAL_CONSUMER_GROUP for an empty, too long or badly spelled name.
pub fn check_group(name: &str) -> GrpcResult<()> {
    if name.is_empty() || name.len() > topics::MAX_GROUP_LEN || !topics::is_valid_topic_chars(name)
    {
        return Err(GrpcError::invalid(
            Code::IllegalConsumerGroup,
            format!("group `{name}` must be 1..=120 chars of [%|a-zA-Z0-9_-]"),
        ));
    }
    Ok(())
}

/// The message type a message's fields imply.
fn implied_type(sp: &pb::SystemProperties) -> MessageType {
    if sp.message_group.is_some() {
        MessageType::Fifo
    } else if sp.delivery_timestamp.is_some() {
        MessageType::Delay
    } else if sp.message_type == MessageType::Transaction as i32 {
        MessageType::Transaction
    } else {
        MessageType::Normal
    }
}

/// Checks one message of a SendMessage request and prepares its
/// properties. `max_body` bounds the (decoded) body.
///
/// # Errors
/// The code the proxy answers for each kind of bad field.
pub fn prepare(msg: pb::Message, max_body: usize, now_ms: i64) -> GrpcResult<Outgoing> {
    let topic = msg.topic.map(|t| t.name).unwrap_or_default();
    check_topic(&topic)?;
    let sp = msg.system_properties.unwrap_or_default();
    let invalid = |code, text: String| Err(GrpcError::invalid(code, text));
    if sp.message_id.trim().is_empty() {
        return invalid(Code::IllegalMessageId, "message_id is blank".into());
    }
    let body = match Encoding::try_from(sp.body_encoding) {
        Ok(Encoding::Gzip) => gunzip(&msg.body, max_body)?,
        _ => msg.body,
    };
    if body.is_empty() {
        return invalid(
            Code::MessageBodyEmpty,
            format!("message {} has an empty body", sp.message_id),
        );
    }
    if body.len() > max_body {
        return invalid(
            Code::MessageBodyTooLarge,
            format!(
                "body of {} bytes is over the limit of {max_body}",
                body.len()
            ),
        );
    }
    let mut props = Properties::new();
    for (k, v) in &msg.user_properties {
        if k.is_empty() || RESERVED.contains(&k.as_str()) || has_control(k) || has_control(v) {
            return invalid(
                Code::IllegalMessagePropertyKey,
                format!("user property `{k}` is reserved or holds control characters"),
            );
        }
        props.insert(k.clone(), v.clone());
    }
    if let Some(tag) = &sp.tag {
        if tag.trim().is_empty() || tag.contains('|') || has_control(tag) {
            return invalid(
                Code::IllegalMessageTag,
                format!("tag `{tag}` is blank or holds `|` or control characters"),
            );
        }
        props.insert(keys::TAGS, tag.clone());
    }
    if !sp.keys.is_empty() {
        if let Some(k) = sp
            .keys
            .iter()
            .find(|k| k.trim().is_empty() || has_control(k))
        {
            return invalid(
                Code::IllegalMessageKey,
                format!("key `{k}` is blank or holds control characters"),
            );
        }
        props.insert(keys::KEYS, sp.keys.join(keys::KEY_SEPARATOR));
    }
    let declared = MessageType::try_from(sp.message_type).unwrap_or(MessageType::Unspecified);
    let implied = implied_type(&sp);
    if declared != MessageType::Unspecified && declared != implied {
        return invalid(
            Code::MessagePropertyConflictWithType,
            format!(
                "message_type {} does not match its fields (they make it {})",
                declared.as_str_name(),
                implied.as_str_name()
            ),
        );
    }
    if let Some(group) = &sp.message_group {
        if group.trim().is_empty() || group.len() > MAX_GROUP_LEN || has_control(group) {
            return invalid(
                Code::IllegalMessageGroup,
                format!(
                    "message_group `{group}` is blank, over 64 chars or holds control characters"
                ),
            );
        }
        props.insert(keys::SHARDING_KEY, group.clone());
    }
    if let Some(ts) = &sp.delivery_timestamp {
        let at = timestamp_ms(ts);
        if at > now_ms + MAX_DELIVERY_AHEAD_MS {
            return invalid(
                Code::IllegalDeliveryTime,
                format!("delivery_timestamp {at} ms is more than a day ahead"),
            );
        }
        if at > now_ms {
            props.insert(keys::TIMER_DELIVER_MS, at.to_string());
        }
    }
    if implied == MessageType::Transaction {
        props.insert(keys::TRAN_MSG, "true");
        props.insert(keys::PGROUP, topic.clone());
        if let Some(d) = &sp.orphaned_transaction_recovery_duration {
            props.insert(
                keys::CHECK_IMMUNITY_TIME_IN_SECONDS,
                d.seconds.max(0).to_string(),
            );
        }
    }
    if let Some(tc) = sp.trace_context.as_ref().filter(|t| !t.is_empty()) {
        props.insert(keys::TRACE_CONTEXT, tc.clone());
    }
    if !sp.born_host.is_empty() {
        props.insert(keys::BORN_HOST, sp.born_host.clone());
    }
    props.insert(keys::UNIQ_KEY, sp.message_id.clone());
    props.insert(keys::WAIT, "true");
    if props.encoded_len() > 32 * 1024 {
        return invalid(
            Code::MessagePropertiesTooLarge,
            format!("properties take {} bytes, over 32 KiB", props.encoded_len()),
        );
    }
    let born_ms = sp.born_timestamp.as_ref().map_or(now_ms, timestamp_ms);
    Ok(Outgoing {
        topic,
        body,
        properties: props,
        born_ms,
        message_id: sp.message_id,
        message_type: implied,
        message_group: sp.message_group,
    })
}

fn gunzip(body: &[u8], max: usize) -> GrpcResult<Bytes> {
    let mut out = Vec::with_capacity(body.len() * 2);
    flate2::read::GzDecoder::new(body)
        .take(max as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| {
            GrpcError::invalid(
                Code::MessageCorrupted,
                format!("GZIP body does not inflate: {e}"),
            )
        })?;
    Ok(Bytes::from(out))
}

/// Milliseconds of a protobuf timestamp.
pub fn timestamp_ms(ts: &prost_types::Timestamp) -> i64 {
    ts.seconds
        .saturating_mul(1000)
        .saturating_add(i64::from(ts.nanos / 1_000_000))
}

/// A protobuf timestamp for `ms` since the epoch.
pub fn timestamp(ms: i64) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: ms.div_euclid(1000),
        nanos: (ms.rem_euclid(1000) * 1_000_000) as i32,
    }
}

/// A protobuf duration of `ms`.
pub fn duration(ms: i64) -> prost_types::Duration {
    prost_types::Duration {
        seconds: ms / 1000,
        nanos: ((ms % 1000) * 1_000_000) as i32,
    }
}

/// Milliseconds of a protobuf duration (negative stays negative).
pub fn duration_ms(d: &prost_types::Duration) -> i64 {
    d.seconds
        .saturating_mul(1000)
        .saturating_add(i64::from(d.nanos / 1_000_000))
}

/// The digest a client checks, as uppercase hex (what the clients compute).
pub fn digest(kind: DigestType, body: &[u8]) -> pb::Digest {
    let checksum = match kind {
        DigestType::Crc32 => format!("{:08X}", crc32fast::hash(body)),
        DigestType::Sha1 => hex_upper(&Sha1::digest(body)),
        DigestType::Md5 | DigestType::Unspecified => hex_upper(&Md5::digest(body)),
    };
    let kind = if kind == DigestType::Unspecified {
        DigestType::Md5
    } else {
        kind
    };
    pb::Digest {
        r#type: kind as i32,
        checksum,
    }
}

fn hex_upper(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

/// The type a stored message was sent as.
pub fn stored_type(m: &MessageExt) -> MessageType {
    if m.properties.contains_key(keys::SHARDING_KEY) {
        MessageType::Fifo
    } else if m.properties.contains_key(keys::TIMER_DELIVER_MS)
        || m.properties.contains_key(keys::DELAY)
    {
        MessageType::Delay
    } else if transaction_type(m.sys_flag) != TransactionType::NotType
        || m.properties.get(keys::TRAN_MSG) == Some("true")
    {
        MessageType::Transaction
    } else {
        MessageType::Normal
    }
}

/// Extra facts a delivery adds to a stored message.
#[derive(Debug, Clone, Default)]
pub struct Delivery {
    /// The topic the client knows (not a retry topic).
    pub topic: String,
    pub receipt_handle: Option<String>,
    pub delivery_attempt: Option<i32>,
    pub invisible_ms: Option<i64>,
}

/// The message a client receives for a stored one.
pub fn to_grpc(m: &MessageExt, d: Delivery) -> pb::Message {
    let p = &m.properties;
    let user_properties = p
        .iter()
        .filter(|(k, _)| !RESERVED.contains(k) && !is_system_key(k))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let born_host = p
        .get(keys::BORN_HOST)
        .map_or_else(|| m.born_host.ip().to_string(), str::to_string);
    let delivery_timestamp = p
        .get(keys::TIMER_DELIVER_MS)
        .and_then(|v| v.parse::<i64>().ok())
        .map(timestamp);
    let sp = pb::SystemProperties {
        tag: m.tags().map(str::to_string),
        keys: m.keys().into_iter().map(str::to_string).collect(),
        message_id: m.msg_id.clone(),
        body_digest: Some(digest(DigestType::Md5, &m.body)),
        body_encoding: Encoding::Identity as i32,
        message_type: stored_type(m) as i32,
        born_timestamp: Some(timestamp(m.born_timestamp)),
        born_host,
        store_timestamp: Some(timestamp(m.store_timestamp)),
        store_host: m.store_host.to_string(),
        delivery_timestamp,
        receipt_handle: d.receipt_handle,
        queue_id: m.queue_id,
        queue_offset: Some(m.queue_offset),
        invisible_duration: d.invisible_ms.map(duration),
        delivery_attempt: d.delivery_attempt,
        message_group: p.get(keys::SHARDING_KEY).map(str::to_string),
        trace_context: p.get(keys::TRACE_CONTEXT).map(str::to_string),
        orphaned_transaction_recovery_duration: None,
        dead_letter_queue: None,
        lite_topic: None,
        priority: None,
    };
    pb::Message {
        topic: Some(pb::Resource {
            resource_namespace: String::new(),
            name: d.topic,
        }),
        user_properties,
        system_properties: Some(sp),
        body: m.body.clone(),
    }
}

/// Keys the broker adds on its own (never user properties).
fn is_system_key(k: &str) -> bool {
    matches!(
        k,
        "CONSUME_START_TIME"
            | "1ST_POP_TIME"
            | "POP_CK_OFFSET"
            | "MSG_REGION"
            | "TRACE_ON"
            | "CLUSTER"
            | "INNER_NUM"
            | "INNER_BASE"
            | "ORIGIN_MESSAGE_ID"
            | "REAL_TOPIC"
            | "REAL_QID"
    ) || k.starts_with("__RMQ.TRANSIENT.")
        || k.starts_with("TIMER_")
}

/// The sysflag a message is sent with.
pub fn send_sys_flag(o: &Outgoing) -> i32 {
    if o.message_type == MessageType::Transaction {
        msgflag::TRANSACTION_PREPARED_TYPE
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(topic: &str, body: &[u8]) -> pb::Message {
        pb::Message {
            topic: Some(pb::Resource {
                resource_namespace: String::new(),
                name: topic.into(),
            }),
            user_properties: Default::default(),
            system_properties: Some(pb::SystemProperties {
                message_id: "01ABC".into(),
                message_type: MessageType::Normal as i32,
                body_encoding: Encoding::Identity as i32,
                ..Default::default()
            }),
            body: Bytes::copy_from_slice(body),
        }
    }

    fn code_of(r: GrpcResult<Outgoing>) -> Code {
        r.map(|_| Code::Ok).unwrap_or_else(|e| e.code())
    }

    #[test]
    fn digests_are_uppercase_hex_as_clients_compute() {
        assert_eq!(
            digest(DigestType::Md5, b"abc").checksum,
            "900150983CD24FB0D6963F7D28E17F72"
        );
        assert_eq!(digest(DigestType::Crc32, b"abc").checksum, "352441C2");
        assert_eq!(
            digest(DigestType::Sha1, b"abc").checksum,
            "A9993E364706816ABA3E25717850C26C9CD0D89D"
        );
    }

    #[test]
    fn a_good_message_gets_its_properties() {
        let mut m = msg("T", b"hello");
        let sp = m.system_properties.as_mut().unwrap();
        sp.tag = Some("TagA".into());
        sp.keys = vec!["k1".into(), "k2".into()];
        m.user_properties.insert("color".into(), "red".into());
        let o = prepare(m, 1024, 1_000).unwrap();
        assert_eq!(o.properties.get(keys::TAGS), Some("TagA"));
        assert_eq!(o.properties.get(keys::KEYS), Some("k1 k2"));
        assert_eq!(o.properties.get(keys::UNIQ_KEY), Some("01ABC"));
        assert_eq!(o.properties.get("color"), Some("red"));
        assert_eq!(o.message_type, MessageType::Normal);
    }

    #[test]
    fn bad_fields_get_the_proxy_codes() {
        assert_eq!(
            code_of(prepare(msg("bad topic", b"x"), 10, 0)),
            Code::IllegalTopic
        );
        assert_eq!(
            code_of(prepare(msg("T", b""), 10, 0)),
            Code::MessageBodyEmpty
        );
        assert_eq!(
            code_of(prepare(msg("T", b"0123456789x"), 10, 0)),
            Code::MessageBodyTooLarge
        );
        let mut m = msg("T", b"x");
        m.system_properties.as_mut().unwrap().tag = Some("a|b".into());
        assert_eq!(code_of(prepare(m, 10, 0)), Code::IllegalMessageTag);
        let mut m = msg("T", b"x");
        m.user_properties.insert(keys::UNIQ_KEY.into(), "x".into());
        assert_eq!(code_of(prepare(m, 10, 0)), Code::IllegalMessagePropertyKey);
        let mut m = msg("T", b"x");
        m.system_properties.as_mut().unwrap().message_type = MessageType::Fifo as i32;
        assert_eq!(
            code_of(prepare(m, 10, 0)),
            Code::MessagePropertyConflictWithType
        );
        let mut m = msg("T", b"x");
        m.system_properties.as_mut().unwrap().message_id = " ".into();
        assert_eq!(code_of(prepare(m, 10, 0)), Code::IllegalMessageId);
        let mut m = msg("T", b"x");
        let sp = m.system_properties.as_mut().unwrap();
        sp.message_type = MessageType::Delay as i32;
        sp.delivery_timestamp = Some(timestamp(MAX_DELIVERY_AHEAD_MS + 10));
        assert_eq!(code_of(prepare(m, 10, 0)), Code::IllegalDeliveryTime);
    }

    #[test]
    fn fifo_delay_and_transaction_set_their_properties() {
        let mut m = msg("T", b"x");
        let sp = m.system_properties.as_mut().unwrap();
        sp.message_type = MessageType::Fifo as i32;
        sp.message_group = Some("g1".into());
        let o = prepare(m, 10, 0).unwrap();
        assert_eq!(o.properties.get(keys::SHARDING_KEY), Some("g1"));
        let mut m = msg("T", b"x");
        let sp = m.system_properties.as_mut().unwrap();
        sp.message_type = MessageType::Delay as i32;
        sp.delivery_timestamp = Some(timestamp(5_000));
        let o = prepare(m, 10, 1_000).unwrap();
        assert_eq!(o.properties.get(keys::TIMER_DELIVER_MS), Some("5000"));
        let mut m = msg("T", b"x");
        m.system_properties.as_mut().unwrap().message_type = MessageType::Transaction as i32;
        let o = prepare(m, 10, 0).unwrap();
        assert_eq!(o.properties.get(keys::TRAN_MSG), Some("true"));
        assert_eq!(o.properties.get(keys::PGROUP), Some("T"));
        assert_eq!(send_sys_flag(&o), msgflag::TRANSACTION_PREPARED_TYPE);
    }

    #[test]
    fn gzip_bodies_are_inflated() {
        use std::io::Write;
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(b"hello hello").unwrap();
        let mut m = msg("T", &enc.finish().unwrap());
        m.system_properties.as_mut().unwrap().body_encoding = Encoding::Gzip as i32;
        assert_eq!(&prepare(m, 100, 0).unwrap().body[..], b"hello hello");
        let mut m = msg("T", b"not gzip");
        m.system_properties.as_mut().unwrap().body_encoding = Encoding::Gzip as i32;
        assert_eq!(code_of(prepare(m, 100, 0)), Code::MessageCorrupted);
    }

    #[test]
    fn timestamps_round_trip() {
        assert_eq!(timestamp_ms(&timestamp(1_234_567)), 1_234_567);
        assert_eq!(duration_ms(&duration(15_500)), 15_500);
    }
}
