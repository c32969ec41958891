//! Recall handles (RocketMQ 5.3): what a send of a timed message answers
//! so that the producer can cancel the message before it is delivered.
//! Java's `HandleV1`: the text `v1 {topic} {brokerName} {deliverMs}
//! {uniqKey}` in URL-safe base64 (padded; either padding is read).

use base64::alphabet::URL_SAFE;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;

use crate::error::ProtocolError;

const VERSION_1: &str = "v1";

const ENGINE: GeneralPurpose = GeneralPurpose::new(
    &URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(true)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// A decoded recall handle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecallHandle {
    /// The topic the message was sent to (not the timer topic).
    pub topic: String,
    /// The broker holding the timed message.
    pub broker_name: String,
    /// When the message is due (ms since the epoch).
    pub deliver_ms: i64,
    /// The message's UNIQ_KEY (the client's message id).
    pub message_id: String,
}

impl RecallHandle {
    /// The handle text a send answers.
    pub fn encode(&self) -> String {
        let raw = format!(
            "{VERSION_1} {} {} {} {}",
            self.topic, self.broker_name, self.deliver_ms, self.message_id
        );
        ENGINE.encode(raw.as_bytes())
    }

    /// Reads a handle.
    ///
    /// # Errors
    /// [`ProtocolError::BadField`] naming `recallHandle` when the text is
    /// not base64, not UTF-8, of another version or lacks a field.
    pub fn decode(text: &str) -> Result<Self, ProtocolError> {
        let bad = |why: &'static str| ProtocolError::BadField {
            field: "recallHandle",
            value: text.chars().take(200).collect(),
            expected: why,
        };
        let bytes = ENGINE
            .decode(text.trim())
            .map_err(|_| bad("URL-safe base64"))?;
        let raw = String::from_utf8(bytes).map_err(|_| bad("UTF-8 text inside the base64"))?;
        let parts: Vec<&str> = raw.split(' ').collect();
        match parts.as_slice() {
            [VERSION_1, topic, broker, at, id]
                if !topic.is_empty() && !broker.is_empty() && !id.is_empty() =>
            {
                let deliver_ms = at
                    .parse::<i64>()
                    .map_err(|_| bad("a delivery time in milliseconds"))?;
                Ok(RecallHandle {
                    topic: (*topic).to_string(),
                    broker_name: (*broker).to_string(),
                    deliver_ms,
                    message_id: (*id).to_string(),
                })
            }
            [v, ..] if *v != VERSION_1 => Err(bad("a v1 handle")),
            _ => Err(bad("`v1 topic brokerName deliverMs messageId`")),
        }
    }
}

/// The TIMER_DEL_UNIQKEY value that cancels the timed message `uniq_key`
/// of `topic` (Java's `TimerMessageStore.buildDeleteKey`).
pub fn delete_key(topic: &str, uniq_key: &str) -> String {
    format!("{topic}+{uniq_key}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn handle() -> RecallHandle {
        RecallHandle {
            topic: "T".into(),
            broker_name: "broker-a".into(),
            deliver_ms: 1_700_000_000_123,
            message_id: "7F0000010001".into(),
        }
    }

    #[test]
    fn round_trips_in_javas_layout() {
        let h = handle();
        let text = h.encode();
        assert_eq!(
            ENGINE.decode(&text).unwrap(),
            b"v1 T broker-a 1700000000123 7F0000010001"
        );
        assert_eq!(RecallHandle::decode(&text).unwrap(), h);
        // Unpadded text (some clients strip the padding) reads the same.
        assert_eq!(RecallHandle::decode(text.trim_end_matches('=')).unwrap(), h);
    }

    #[test]
    fn bad_handles_name_the_field() {
        for text in [
            "not base64 !!",
            &ENGINE.encode("v2 T b 1 id"),
            &ENGINE.encode("v1 T b notanumber id"),
            &ENGINE.encode("v1 T b 1"),
            &ENGINE.encode([0xff, 0xfe]),
        ] {
            let e = RecallHandle::decode(text).unwrap_err();
            assert!(e.to_string().contains("recallHandle"), "{text}: {e}");
        }
    }

    #[test]
    fn delete_key_joins_topic_and_id() {
        assert_eq!(delete_key("T", "ID"), "T+ID");
    }
}
