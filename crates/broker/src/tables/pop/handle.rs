//! Receipt handles: the `extraInfo` text Java clients carry in the `POP_CK`
//! property and send back with acks and invisible-time changes, and that
//! gRPC clients receive as `receipt_handle`. Eight space-separated fields:
//! `ckQueueOffset popTime invisibleTime reviveQid retryFlag brokerName
//! queueId queueOffset` (remoting-protocol §4, POP).

use std::fmt;

use super::error::PopError;

/// The revive queue id Java marks orderly deliveries with.
pub const ORDER_REVIVE_QID: i32 = 999;
/// The revive queue id of ordinary deliveries (we keep one revive queue).
pub const NORMAL_REVIVE_QID: i32 = 0;

/// A parsed receipt handle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiptHandle {
    /// First queue offset of the pop batch this message came in.
    pub ck_offset: u64,
    /// When this delivery (or its latest invisible-time change) started, ms.
    pub pop_time: i64,
    /// Invisible time of that delivery, ms.
    pub invisible_ms: i64,
    /// [`ORDER_REVIVE_QID`] for orderly deliveries.
    pub revive_qid: i32,
    /// The message was read from the group's retry topic.
    pub retry: bool,
    /// The broker that issued the handle.
    pub broker_name: String,
    /// Queue of the topic the message was read from.
    pub queue_id: i32,
    /// Offset of the message in that queue.
    pub queue_offset: u64,
}

impl ReceiptHandle {
    /// Parses a handle.
    ///
    /// # Errors
    /// [`PopError::MalformedHandle`] naming the first bad field.
    pub fn parse(text: &str) -> Result<Self, PopError> {
        let bad = |why: &str| PopError::MalformedHandle(text.to_owned(), why.to_owned());
        let parts: Vec<&str> = text.split(' ').collect();
        if parts.len() < 8 {
            return Err(bad("expected 8 space-separated fields"));
        }
        let num = |i: usize, name: &str| -> Result<i64, PopError> {
            parts[i]
                .parse::<i64>()
                .map_err(|_| bad(&format!("field {name} is not a number")))
        };
        let unsigned = |i: usize, name: &str| -> Result<u64, PopError> {
            u64::try_from(num(i, name)?).map_err(|_| bad(&format!("field {name} is negative")))
        };
        let retry = match parts[4] {
            "0" => false,
            "1" => true,
            _ => return Err(bad("field retryFlag is not 0 or 1")),
        };
        let queue_id = i32::try_from(num(6, "queueId")?)
            .ok()
            .filter(|q| *q >= 0)
            .ok_or_else(|| bad("field queueId is out of range"))?;
        let revive_qid = i32::try_from(num(3, "reviveQid")?)
            .map_err(|_| bad("field reviveQid is out of range"))?;
        if parts[5].is_empty() {
            return Err(bad("field brokerName is empty"));
        }
        Ok(ReceiptHandle {
            ck_offset: unsigned(0, "ckQueueOffset")?,
            pop_time: num(1, "popTime")?,
            invisible_ms: num(2, "invisibleTime")?,
            revive_qid,
            retry,
            broker_name: parts[5].to_owned(),
            queue_id,
            queue_offset: unsigned(7, "queueOffset")?,
        })
    }

    /// Whether the handle marks an orderly delivery.
    pub fn is_order(&self) -> bool {
        self.revive_qid == ORDER_REVIVE_QID
    }
}

impl fmt::Display for ReceiptHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {} {} {} {} {} {}",
            self.ck_offset,
            self.pop_time,
            self.invisible_ms,
            self.revive_qid,
            u8::from(self.retry),
            self.broker_name,
            self.queue_id,
            self.queue_offset
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> ReceiptHandle {
        ReceiptHandle {
            ck_offset: 10,
            pop_time: 1_700_000_000_000,
            invisible_ms: 60_000,
            revive_qid: 0,
            retry: true,
            broker_name: "broker-a".into(),
            queue_id: 3,
            queue_offset: 12,
        }
    }

    #[test]
    fn round_trips_in_java_layout() {
        let h = sample();
        let text = h.to_string();
        assert_eq!(text, "10 1700000000000 60000 0 1 broker-a 3 12");
        assert_eq!(ReceiptHandle::parse(&text).unwrap(), h);
    }

    #[test]
    fn bad_handles_name_the_field() {
        for (text, field) in [
            ("", "8 space-separated"),
            ("1 2 3 4 0 b 5", "8 space-separated"),
            ("x 2 3 4 0 b 5 6", "ckQueueOffset"),
            ("1 2 3 4 7 b 5 6", "retryFlag"),
            ("1 2 3 4 0 b -5 6", "queueId"),
            ("1 2 3 4 0 b 5 -6", "queueOffset"),
            ("1 2 3 4 0  5 6", "brokerName"),
        ] {
            let err = ReceiptHandle::parse(text).unwrap_err().to_string();
            assert!(err.contains(field), "{text:?}: {err}");
        }
    }

    #[test]
    fn order_flag_follows_the_revive_queue() {
        let mut h = sample();
        assert!(!h.is_order());
        h.revive_qid = ORDER_REVIVE_QID;
        assert!(h.is_order());
    }
}
