//! The timer rule: a message with a future delivery time (TIMER_DELIVER_MS,
//! TIMER_DELAY_SEC / TIMER_DELAY_MS, ali-ons' `__STARTDELIVERTIME`) waits
//! in `rmq_sys_wheel_timer` queue 0.

use protocol::message::{keys, topics, MessageRecord};

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

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::message::Properties;

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
