//! Gauges computed from the broker's tables at scrape time: table sizes,
//! connections, consumer lag (Apache's definitions: lag = committed → max,
//! inflight = committed → pulled, ready = pulled → max), store and HA state.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use broker::metrics::{is_system_group, is_system_topic};
use broker::state::BrokerState;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::DescriptorEncoder;
use prometheus_client::registry::Unit;
use protocol::body::heartbeat::ConsumeType;
use protocol::clock::now_ms;
use protocol::message::{decode_record, topics, DecodedRecord};

use super::encode::{flag, gauges, unit, Labels};

/// Reads the broker's tables at scrape time.
pub struct Gauges(pub Arc<BrokerState>);

impl std::fmt::Debug for Gauges {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Gauges")
    }
}

impl Collector for Gauges {
    fn encode(&self, mut enc: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let s = &self.0;
        let one = |v: i64| vec![(Labels::new(), v)];
        gauges(
            &mut enc,
            "rocketmq_broker_permission",
            "Broker permission bits.",
            None,
            &one(i64::from(s.live.broker().broker_permission)),
        )?;
        gauges(
            &mut enc,
            "rocketmq_topic_number",
            "Topics in the topic table.",
            None,
            &one(s.topics.names().len() as i64),
        )?;
        gauges(
            &mut enc,
            "rocketmq_consumer_group_number",
            "Subscription groups.",
            None,
            &one(s.groups.names().len() as i64),
        )?;
        connections(s, &mut enc)?;
        lag(s, &mut enc)?;
        store(s, &mut enc)
    }
}

fn connections(s: &BrokerState, enc: &mut DescriptorEncoder) -> Result<(), std::fmt::Error> {
    let mut producers: BTreeMap<(String, i32), i64> = BTreeMap::new();
    for g in s.clients.producer_group_names() {
        for c in s.clients.producer_connections(&g) {
            *producers
                .entry((c.language.to_ascii_lowercase(), c.version))
                .or_default() += 1;
        }
    }
    let rows: Vec<(Labels, i64)> = producers
        .into_iter()
        .map(|((language, version), n)| {
            let l: Labels = vec![
                ("language", language),
                ("version", version.to_string()),
                ("protocol_type", "remoting".into()),
            ];
            (l, n)
        })
        .collect();
    gauges(
        enc,
        "rocketmq_producer_connections",
        "Producer connections.",
        None,
        &rows,
    )?;
    let mut consumers: BTreeMap<(String, String, i32, &str), i64> = BTreeMap::new();
    for g in s.groups.names() {
        let Some(group) = s.clients.consumer_group(&g) else {
            continue;
        };
        let mode = match group.data.consume_type {
            ConsumeType::Actively => "pull",
            ConsumeType::Pop => "pop",
            _ => "push",
        };
        for c in group.channels.values() {
            let key = (g.clone(), c.language.to_ascii_lowercase(), c.version, mode);
            *consumers.entry(key).or_default() += 1;
        }
    }
    let rows: Vec<(Labels, i64)> = consumers
        .into_iter()
        .map(|((group, language, version, mode), n)| {
            let system = flag(is_system_group(&group));
            let l: Labels = vec![
                ("consumer_group", group),
                ("language", language),
                ("version", version.to_string()),
                ("consume_mode", mode.into()),
                ("protocol_type", "remoting".into()),
                ("is_system", system),
            ];
            (l, n)
        })
        .collect();
    gauges(
        enc,
        "rocketmq_consumer_connections",
        "Consumer connections.",
        None,
        &rows,
    )
}

/// One group's progress on one topic, summed over queues.
#[derive(Default)]
struct Progress {
    lag: i64,
    inflight: i64,
    ready: i64,
    lag_ms: i64,
    queueing_ms: i64,
}

fn progress(s: &BrokerState, topic: &str, group: &str, committed: &BTreeMap<i32, i64>) -> Progress {
    let now = now_ms();
    let age = |q: i32, at: i64| {
        s.store
            .store_time_at(topic, q, at.max(0) as u64)
            .map_or(0, |t| (now - t).max(0))
    };
    let mut p = Progress::default();
    for (&q, &c) in committed {
        let max = s.store.max_offset(topic, q) as i64;
        let pulled = s
            .offsets
            .pulled(group, topic, q)
            .unwrap_or(c)
            .clamp(c, max.max(c));
        p.lag += (max - c).max(0);
        p.inflight += pulled - c;
        p.ready += (max - pulled).max(0);
        if c < max {
            p.lag_ms = p.lag_ms.max(age(q, c));
        }
        if pulled < max {
            p.queueing_ms = p.queueing_ms.max(age(q, pulled));
        }
    }
    p
}

fn lag(s: &BrokerState, enc: &mut DescriptorEncoder) -> Result<(), std::fmt::Error> {
    let table = s.offsets.wrapper().offset_table;
    let mut rows: Vec<(Labels, Progress)> = Vec::with_capacity(table.len());
    for (key, committed) in &table {
        let Some((topic, group)) = key.rsplit_once('@') else {
            continue;
        };
        let labels: Labels = vec![
            ("topic", topic.to_owned()),
            ("consumer_group", group.to_owned()),
            ("is_retry", flag(topics::is_retry_topic(topic))),
            (
                "is_system",
                flag(is_system_topic(topic) || is_system_group(group)),
            ),
        ];
        rows.push((labels, progress(s, topic, group, committed)));
    }
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    let pick = |f: fn(&Progress) -> i64| -> Vec<(Labels, i64)> {
        rows.iter().map(|(l, p)| (l.clone(), f(p))).collect()
    };
    gauges(
        enc,
        "rocketmq_consumer_lag_messages",
        "Messages not yet committed by the group.",
        None,
        &pick(|p| p.lag),
    )?;
    gauges(
        enc,
        "rocketmq_consumer_lag_latency",
        "Age of the oldest uncommitted message.",
        unit("milliseconds"),
        &pick(|p| p.lag_ms),
    )?;
    gauges(
        enc,
        "rocketmq_consumer_inflight_messages",
        "Messages pulled but not committed.",
        None,
        &pick(|p| p.inflight),
    )?;
    gauges(
        enc,
        "rocketmq_consumer_queueing_latency",
        "Age of the oldest message not yet pulled.",
        unit("milliseconds"),
        &pick(|p| p.queueing_ms),
    )?;
    gauges(
        enc,
        "rocketmq_consumer_ready_messages",
        "Messages stored but not yet pulled.",
        None,
        &pick(|p| p.ready),
    )
}

fn store(s: &BrokerState, enc: &mut DescriptorEncoder) -> Result<(), std::fmt::Error> {
    let info = s.store.runtime_info();
    let labels = || -> Labels {
        vec![
            ("storage_type", "local".into()),
            ("storage_medium", "disk".into()),
        ]
    };
    let one = |v: u64| vec![(labels(), v as i64)];
    let root = &s.store.config().store_path_root_dir;
    gauges(
        enc,
        "rocketmq_storage_size",
        "Bytes the store occupies on disk.",
        Some(Unit::Bytes),
        &one(disk_usage(root)),
    )?;
    gauges(
        enc,
        "rocketmq_storage_flush_behind",
        "Commit-log bytes written but not flushed.",
        Some(Unit::Bytes),
        &one(info
            .commitlog_max_offset
            .saturating_sub(info.flushed_offset)),
    )?;
    gauges(
        enc,
        "rocketmq_storage_dispatch_behind",
        "Commit-log bytes not yet dispatched.",
        Some(Unit::Bytes),
        &one(info
            .commitlog_max_offset
            .saturating_sub(info.dispatched_offset)),
    )?;
    let earliest = s
        .store
        .read_message_at(info.commitlog_min_offset)
        .and_then(|r| match decode_record(&r) {
            Ok((DecodedRecord::Message(m), _)) => Some(m.store_timestamp()),
            _ => None,
        });
    let reserve: Vec<(Labels, i64)> = earliest
        .map(|t| vec![(labels(), (now_ms() - t).max(0))])
        .unwrap_or_default();
    gauges(
        enc,
        "rocketmq_storage_message_reserve_time",
        "Age of the oldest stored message.",
        unit("milliseconds"),
        &reserve,
    )?;
    // A master without slaves has nothing to be behind: no sample then
    // (rather than its whole commit log as "lag").
    let ha = broker::ha::status(s);
    let replicated = s.is_slave() || !ha.slaves.is_empty();
    let sample = |v: u64| -> Vec<(Labels, i64)> {
        if replicated {
            vec![(Labels::new(), v as i64)]
        } else {
            Vec::new()
        }
    };
    gauges(
        enc,
        "apogee_ha_lag",
        "Commit-log bytes the slowest slave is behind (slave: behind its master).",
        Some(Unit::Bytes),
        &sample(ha.lag_bytes),
    )?;
    gauges(
        enc,
        "apogee_ha_lag_time",
        "Seconds the replica is behind.",
        Some(Unit::Seconds),
        &sample(ha.lag_seconds),
    )
}

/// Bytes the files under `root` occupy (allocated blocks, so preallocated
/// but sparse commit-log files count what they really use).
fn disk_usage(root: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let mut total = 0;
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            match e.metadata() {
                Ok(m) if m.is_dir() => stack.push(e.path()),
                Ok(m) => total += m.blocks() * 512,
                Err(_) => {}
            }
        }
    }
    total
}
