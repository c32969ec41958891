//! The timer rule: a message with a future delivery time (TIMER_DELIVER_MS,
//! TIMER_DELAY_SEC / TIMER_DELAY_MS, ali-ons' `__STARTDELIVERTIME`) waits
//! in `rmq_sys_wheel_timer` queue 0.

use bytes::Bytes;
use protocol::message::recall::{self, RecallHandle};
use protocol::message::{keys, topics, MessageRecord, Properties};

use crate::error::{BrokerError, BrokerResult};
use crate::records::park;
use crate::state::BrokerState;
use protocol::clock::now_ms;

/// The delivery time a message asks for, if any.
///
/// # Errors
/// [`BrokerError::MessageIllegal`] naming a property that is not a number.
fn deliver_ms(rec: &MessageRecord, now: i64) -> BrokerResult<Option<i64>> {
    let num = |key: &str| -> BrokerResult<Option<i64>> {
        match rec.properties.get(key) {
            None => Ok(None),
            Some(v) => v.trim().parse::<i64>().map(Some).map_err(|_| {
                BrokerError::MessageIllegal(format!("property {key} `{v}` is not a number"))
            }),
        }
    };
    if let Some(at) = num(keys::TIMER_DELIVER_MS)? {
        return Ok(Some(at));
    }
    if let Some(ms) = num(keys::TIMER_DELAY_MS)? {
        return Ok(Some(now.saturating_add(ms)));
    }
    if let Some(s) = num(keys::TIMER_DELAY_SEC)? {
        return Ok(Some(now.saturating_add(s.saturating_mul(1000))));
    }
    num(keys::START_DELIVER_TIME)
}

/// Send-path rule: a message with a future delivery time goes to the timer
/// topic (one already due is stored where it was sent). Relative delays
/// are turned into an absolute TIMER_DELIVER_MS so that a later copy (a
/// retry) is not delayed again.
///
/// # Errors
/// [`BrokerError::MessageIllegal`] for a bad number or a time beyond
/// `timerMaxDelaySec`.
pub fn divert(state: &BrokerState, rec: &mut MessageRecord) -> BrokerResult<bool> {
    let now = now_ms();
    let Some(at) = deliver_ms(rec, now)? else {
        return Ok(false);
    };
    let max_ms = (state.config.timer_max_delay_sec as i64).saturating_mul(1000);
    if at.saturating_sub(now) > max_ms {
        return Err(BrokerError::MessageIllegal(format!(
            "timer message delivery time {at} is more than timerMaxDelaySec ({}) from now",
            state.config.timer_max_delay_sec
        )));
    }
    if at <= now {
        return Ok(false);
    }
    rec.properties.remove(keys::TIMER_DELAY_MS);
    rec.properties.remove(keys::TIMER_DELAY_SEC);
    rec.properties
        .insert(keys::TIMER_DELIVER_MS, at.to_string());
    rec.properties.insert(keys::TIMER_OUT_MS, at.to_string());
    state
        .events
        .timer_enqueued(&rec.topic, rec.born_timestamp, at);
    park(rec, topics::TIMER_TOPIC, 0);
    Ok(true)
}

/// The recall handle a send answers for `rec` once [`divert`] parked it
/// in the timer topic (None for anything else): the original topic, this
/// broker, the delivery time and the message's UNIQ_KEY.
pub fn recall_handle(state: &BrokerState, topic: &str, rec: &MessageRecord) -> Option<String> {
    if rec.topic != topics::TIMER_TOPIC {
        return None;
    }
    let deliver_ms = rec
        .properties
        .get(keys::TIMER_OUT_MS)?
        .parse::<i64>()
        .ok()?;
    let message_id = rec.properties.uniq_key()?.to_owned();
    Some(
        RecallHandle {
            topic: topic.to_owned(),
            broker_name: state.config.broker_name.clone(),
            deliver_ms,
            message_id,
        }
        .encode(),
    )
}

/// The record that cancels the timed message `handle` names: a timer-topic
/// entry due at the same time carrying TIMER_DEL_UNIQKEY (Java's delete
/// marker). Stored in the commit log, it survives restarts and reaches
/// slaves like the message it cancels.
pub fn recall_marker(state: &BrokerState, handle: &RecallHandle) -> MessageRecord {
    let now = now_ms();
    let mut properties = Properties::new();
    properties.insert(
        keys::TIMER_DEL_UNIQKEY,
        recall::delete_key(&handle.topic, &handle.message_id),
    );
    properties.insert(keys::TIMER_OUT_MS, handle.deliver_ms.to_string());
    properties.insert(keys::UNIQ_KEY, state.next_uniq_id());
    properties.insert(keys::REAL_TOPIC, handle.topic.clone());
    properties.insert(keys::REAL_QID, "0");
    MessageRecord {
        topic: topics::TIMER_TOPIC.to_owned(),
        queue_id: 0,
        flag: 0,
        queue_offset: 0,
        physical_offset: 0,
        sysflag: 0,
        born_timestamp: now,
        born_host: state.store_host,
        store_timestamp: now,
        store_host: state.store_host,
        reconsume_times: 0,
        prepared_transaction_offset: 0,
        body_crc: 0,
        body: Bytes::from_static(b"0"),
        properties,
    }
}

/// The key a timer entry cancels when it is a recall marker.
pub fn cancels(rec: &MessageRecord) -> Option<&str> {
    rec.properties.get(keys::TIMER_DEL_UNIQKEY)
}

/// The key a recall marker for the timed message `rec` would carry.
pub fn delete_key_of(rec: &MessageRecord) -> Option<String> {
    let topic = rec.properties.get(keys::REAL_TOPIC)?;
    Some(recall::delete_key(topic, rec.properties.uniq_key()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(props: &[(&str, &str)]) -> MessageRecord {
        let mut properties = Properties::new();
        for (k, v) in props {
            properties.insert(*k, *v);
        }
        let host = "127.0.0.1:1".parse().unwrap();
        MessageRecord {
            topic: "T".into(),
            queue_id: 0,
            flag: 0,
            queue_offset: 0,
            physical_offset: 0,
            sysflag: 0,
            born_timestamp: 0,
            born_host: host,
            store_timestamp: 0,
            store_host: host,
            reconsume_times: 0,
            prepared_transaction_offset: 0,
            body_crc: 0,
            body: bytes::Bytes::new(),
            properties,
        }
    }

    #[test]
    fn delivery_time_precedence_and_units() {
        let now = 1_000_000;
        let at = |p: &[(&str, &str)]| deliver_ms(&record(p), now).unwrap();
        assert_eq!(at(&[]), None);
        assert_eq!(at(&[(keys::TIMER_DELAY_SEC, "2")]), Some(now + 2000));
        assert_eq!(at(&[(keys::TIMER_DELAY_MS, "250")]), Some(now + 250));
        assert_eq!(
            at(&[(keys::START_DELIVER_TIME, "1234567")]),
            Some(1_234_567)
        );
        assert_eq!(
            at(&[(keys::TIMER_DELIVER_MS, "5"), (keys::TIMER_DELAY_MS, "250")]),
            Some(5)
        );
        let err = deliver_ms(&record(&[(keys::TIMER_DELAY_SEC, "x")]), now).unwrap_err();
        assert!(err.to_string().contains("TIMER_DELAY_SEC"));
    }
}
