//! The broker's transaction, dead-letter, POP and timer series: counters
//! from `BrokerState::events`, gauges from the transaction, POP and timer
//! tables read at scrape time.

use std::sync::Arc;

use broker::event_metrics::Keyed;
use broker::metrics::{is_system_group, is_system_topic};
use broker::state::BrokerState;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::DescriptorEncoder;
use prometheus_client::registry::Unit;
use protocol::clock::now_ms;
use protocol::message::topics;

use super::encode::{counters, flag, gauges, histograms, unit, Labels};

/// `timer_bound_s` values of `rocketmq_timer_message_snapshot`.
const SNAPSHOT_BOUNDS_S: [i64; 8] = [5, 60, 300, 900, 3600, 14_400, 28_800, 86_400];

/// Reads `BrokerState::events` and the tables at scrape time.
pub struct Events(pub Arc<BrokerState>);

impl std::fmt::Debug for Events {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Events")
    }
}

/// Rows of a family keyed by topic alone.
fn by_topic(k: &Keyed) -> Vec<(Labels, u64)> {
    k.rows()
        .into_iter()
        .map(|(topic, _, n)| (vec![("topic", topic)], n))
        .collect()
}

/// Rows of a family keyed by topic and group.
fn by_topic_group(k: &Keyed, extra: &[(&'static str, &str)]) -> Vec<(Labels, u64)> {
    k.rows()
        .into_iter()
        .map(|(topic, group, n)| {
            let mut l: Labels = vec![("topic", topic), ("consumer_group", group)];
            l.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
            (l, n)
        })
        .collect()
}

impl Collector for Events {
    fn encode(&self, mut enc: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let s = &self.0;
        let e = &s.events;
        transactions(s, &mut enc)?;
        let rows: Vec<(Labels, u64)> = e
            .dlq
            .rows()
            .into_iter()
            .map(|(topic, group, n)| {
                let system = flag(is_system_topic(&topic) || is_system_group(&group));
                let l: Labels = vec![
                    ("topic", topic),
                    ("consumer_group", group),
                    ("is_system", system),
                ];
                (l, n)
            })
            .collect();
        counters(
            &mut enc,
            "rocketmq_send_to_dlq_messages",
            "Messages moved to a dead-letter queue.",
            &rows,
        )?;
        pop(s, &mut enc)?;
        timer(s, &mut enc)
    }
}

fn transactions(s: &BrokerState, enc: &mut DescriptorEncoder) -> Result<(), std::fmt::Error> {
    let e = &s.events;
    counters(
        enc,
        "rocketmq_commit_messages",
        "Half messages committed.",
        &by_topic(&e.tx_commits),
    )?;
    counters(
        enc,
        "rocketmq_rollback_messages",
        "Half messages rolled back.",
        &by_topic(&e.tx_rollbacks),
    )?;
    let finish = e.tx_finish_latency.rows();
    let rows: Vec<_> = finish
        .iter()
        .map(|(topic, h)| (vec![("topic", topic.clone())], h))
        .collect();
    // Apache declares milliseconds and records seconds; dashboards query
    // this name, so both quirks are kept (docs/observability.md).
    histograms(
        enc,
        "rocketmq_finish_message_latency",
        "Seconds from a half message's birth to its commit or rollback.",
        unit("milliseconds"),
        &rows,
    )?;
    let half_max = s.store.max_offset(topics::TRANS_HALF_TOPIC, 0);
    gauges(
        enc,
        "rocketmq_half_messages",
        "Half messages not yet committed or rolled back.",
        None,
        &[(Labels::new(), s.transactions.pending(half_max) as i64)],
    )
}

fn pop(s: &BrokerState, enc: &mut DescriptorEncoder) -> Result<(), std::fmt::Error> {
    let e = &s.events;
    counters(
        enc,
        "rocketmq_pop_revive_retry_messages",
        "POP messages whose invisible time passed, copied to the group's retry topic.",
        &by_topic_group(&e.pop_revived, &[("put_status", "PUT_OK")]),
    )?;
    counters(
        enc,
        "apogee_pop_acked_messages",
        "POP messages acknowledged.",
        &by_topic_group(&e.pop_acks, &[]),
    )?;
    let rows: Vec<(Labels, i64)> = s
        .pop
        .inflight_by_group()
        .into_iter()
        .map(|(group, topic, n)| {
            let l: Labels = vec![("topic", topic), ("consumer_group", group)];
            (l, n as i64)
        })
        .collect();
    gauges(
        enc,
        "apogee_pop_inflight_messages",
        "POP messages handed out and not yet acknowledged or revived.",
        None,
        &rows,
    )
}

fn timer(s: &BrokerState, enc: &mut DescriptorEncoder) -> Result<(), std::fmt::Error> {
    let e = &s.events;
    counters(
        enc,
        "rocketmq_timer_enqueue",
        "Messages parked on the timer.",
        &by_topic(&e.timer_enqueue),
    )?;
    counters(
        enc,
        "rocketmq_timer_dequeue",
        "Messages the timer delivered to their topic.",
        &by_topic(&e.timer_dequeue),
    )?;
    let delay = e.delay_latency.rows();
    let rows: Vec<_> = delay
        .iter()
        .map(|(topic, h)| (vec![("topic", topic.clone())], h))
        .collect();
    histograms(
        enc,
        "rocketmq_delay_message_latency",
        "Delay timer messages asked for (deliver time minus born time).",
        Some(Unit::Seconds),
        &rows,
    )?;
    let one = |v: i64| vec![(Labels::new(), v)];
    gauges(
        enc,
        "rocketmq_timing_messages",
        "Timer messages waiting for their delivery time.",
        None,
        &one(s.timer.waiting() as i64),
    )?;
    let stored = s.store.max_offset(topics::TIMER_TOPIC, 0);
    gauges(
        enc,
        "rocketmq_timer_enqueue_lag",
        "Timer-queue messages not yet loaded by the timer.",
        None,
        &one(stored.saturating_sub(s.timer.scanned()) as i64),
    )?;
    let now = now_ms();
    let behind = s.timer.next_due().map_or(0, |at| (now - at).max(0));
    gauges(
        enc,
        "rocketmq_timer_dequeue_latency",
        "How long the earliest due timer message has been waiting past its time.",
        unit("milliseconds"),
        &one(behind),
    )?;
    let bounds_ms: Vec<i64> = SNAPSHOT_BOUNDS_S.iter().map(|b| b * 1000).collect();
    let rows: Vec<(Labels, i64)> = SNAPSHOT_BOUNDS_S
        .iter()
        .zip(s.timer.due_within(now, &bounds_ms))
        .map(|(b, n)| (vec![("timer_bound_s", b.to_string())], n as i64))
        .collect();
    gauges(
        enc,
        "rocketmq_timer_message_snapshot",
        "Timer messages due within each bound from now.",
        None,
        &rows,
    )
}
