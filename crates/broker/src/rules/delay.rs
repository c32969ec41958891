//! The delay-level rule: a message with DELAY = n > 0 waits in
//! `SCHEDULE_TOPIC_XXXX` queue n − 1 (remoting-protocol §9.8).

use protocol::message::{keys, topics, MessageRecord};

use crate::records::park;
use crate::state::BrokerState;

/// Send-path rule: a message with DELAY > 0 goes to the schedule topic
/// (level clamped to the highest). Returns whether it was diverted.
pub fn divert(state: &BrokerState, rec: &mut MessageRecord) -> bool {
    let level = rec
        .properties
        .get(keys::DELAY)
        .and_then(|l| l.trim().parse::<i32>().ok())
        .unwrap_or(0);
    if level <= 0 {
        return false;
    }
    let level = level.min(state.schedule.max_level());
    // The dispatcher reads DELAY to compute the delivery time: keep the
    // clamped value so that both sides agree.
    rec.properties.insert(keys::DELAY, level.to_string());
    park(rec, topics::SCHEDULE_TOPIC, level - 1);
    true
}
