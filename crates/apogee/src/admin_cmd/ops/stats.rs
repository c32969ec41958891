//! Broker-wide figures: brokerConsumeStats and statsAll.

use anyhow::Result;
use clap::{ArgAction, Args};
use client::Admin;
use protocol::body::ops::BrokerStatsData;
use protocol::message::topics;
use serde_json::json;

use super::super::group::queue_lag;
use super::super::table::Table;
use super::super::time::format_ms;
use super::super::{OrFail, Report};

/// Flags of `brokerConsumeStats`.
#[derive(Args, Debug)]
pub struct BrokerConsumeStatsArgs {
    /// Broker address.
    #[arg(short = 'b', long = "brokerAddr")]
    pub broker: String,
    /// Only queues lagging by more than this many messages.
    #[arg(short = 'l', long = "level", default_value_t = 0)]
    pub level: i64,
    /// Only orderly groups.
    #[arg(short = 'o', long = "order", action = ArgAction::Set, default_value_t = false)]
    pub order: bool,
}

/// Flags of `statsAll`.
#[derive(Args, Debug)]
pub struct StatsAllArgs {
    /// Only topics with traffic in the last day.
    #[arg(short = 'a', long = "activeTopic", action = ArgAction::SetTrue)]
    pub active: bool,
    /// Only this topic.
    #[arg(short = 't', long = "topic")]
    pub topic: Option<String>,
}

pub async fn broker_consume_stats(admin: &Admin, a: &BrokerConsumeStatsArgs) -> Result<Report> {
    let list = admin
        .broker_consume_stats(&a.broker, a.order)
        .await
        .or_fail(|| format!("cannot read the consume stats of broker {}", a.broker))?;
    let mut t = Table::new([
        "#Topic",
        "#Group",
        "#Broker Name",
        "#QID",
        "#Broker Offset",
        "#Consumer Offset",
        "#Diff",
        "#LastTime",
    ]);
    let mut rows = Vec::new();
    for (group, per_topic) in &list.groups {
        for stats in per_topic {
            for (mq, o) in &stats.offset_table {
                let diff = queue_lag(o.broker_offset, o.consumer_offset);
                if diff < a.level {
                    continue;
                }
                t.row([
                    mq.topic.clone(),
                    group.clone(),
                    mq.broker_name.clone(),
                    mq.queue_id.to_string(),
                    o.broker_offset.to_string(),
                    o.consumer_offset.to_string(),
                    diff.to_string(),
                    format_ms(o.last_timestamp),
                ]);
                rows.push(json!({
                    "topic": mq.topic, "group": group, "brokerName": mq.broker_name,
                    "queueId": mq.queue_id, "brokerOffset": o.broker_offset,
                    "consumerOffset": o.consumer_offset, "diff": diff,
                    "lastTimestamp": o.last_timestamp,
                }));
            }
        }
    }
    Ok(Report {
        text: format!("{}\nDiff Total: {}\n", t.render(), list.total_diff),
        json: json!({ "brokerAddr": list.broker_addr, "diffTotal": list.total_diff, "queues": rows }),
    })
}

/// Java's `compute24HourSum`: the longest window that counted anything.
fn day_sum(d: &BrokerStatsData) -> i64 {
    [d.stats_day.sum, d.stats_hour.sum, d.stats_minute.sum]
        .into_iter()
        .find(|s| *s != 0)
        .unwrap_or(0)
}

/// Per-second rate and day count of one counter summed over brokers.
async fn sum_stats(admin: &Admin, masters: &[String], name: &str, key: &str) -> Result<(f64, i64)> {
    let (mut tps, mut day) = (0.0, 0);
    for addr in masters {
        let stats = admin
            .broker_stats(addr, name, key)
            .await
            .or_fail(|| format!("cannot read {name} of {key} on broker {addr}"))?;
        if let Some(d) = stats {
            tps += d.stats_minute.tps;
            day += day_sum(&d);
        }
    }
    Ok((tps, day))
}

pub async fn stats_all(admin: &Admin, a: &StatsAllArgs) -> Result<Report> {
    let names = match &a.topic {
        Some(t) => vec![t.clone()],
        None => admin.topic_list().await.or_fail(|| "cannot list topics")?,
    };
    let mut t = Table::new([
        "#Topic",
        "#Consumer Group",
        "#Accumulation",
        "#InTPS",
        "#OutTPS",
        "#InMsg24Hour",
        "#OutMsg24Hour",
    ]);
    let mut rows = Vec::new();
    for topic in names.iter().filter(|n| !is_internal(n)) {
        let route = admin
            .topic_route(topic)
            .await
            .or_fail(|| format!("cannot get the route of topic {topic}"))?;
        let masters: Vec<String> = route
            .broker_datas
            .iter()
            .filter_map(|b| b.master_addr().map(str::to_owned))
            .collect();
        let (in_tps, in_day) = sum_stats(admin, &masters, "TOPIC_PUT_NUMS", topic).await?;
        if a.active && in_day == 0 {
            continue;
        }
        let mut groups = Vec::new();
        for addr in &masters {
            let found = admin
                .topic_consumed_by(addr, topic)
                .await
                .or_fail(|| format!("cannot list the groups of topic {topic}"))?;
            groups.extend(found);
        }
        groups.sort();
        groups.dedup();
        if groups.is_empty() {
            groups.push(String::new());
        }
        for group in groups {
            let (out_tps, out_day, lag) = if group.is_empty() {
                (0.0, 0, 0)
            } else {
                let key = format!("{topic}@{group}");
                let (tps, day) = sum_stats(admin, &masters, "GROUP_GET_NUMS", &key).await?;
                let stats = admin
                    .consume_stats(&group, Some(topic))
                    .await
                    .or_fail(|| format!("cannot read the progress of group {group}"))?;
                let lag: i64 = stats
                    .offset_table
                    .values()
                    .map(|o| queue_lag(o.broker_offset, o.consumer_offset))
                    .sum();
                (tps, day, lag)
            };
            t.row([
                topic.clone(),
                group.clone(),
                lag.to_string(),
                format!("{in_tps:.2}"),
                format!("{out_tps:.2}"),
                in_day.to_string(),
                out_day.to_string(),
            ]);
            rows.push(json!({
                "topic": topic, "group": group, "accumulation": lag, "inTps": in_tps,
                "outTps": out_tps, "inMsg24Hour": in_day, "outMsg24Hour": out_day,
            }));
        }
    }
    Ok(Report {
        text: t.render(),
        json: json!({ "stats": rows }),
    })
}

/// Retry, dead-letter and system topics are not listed (as in mqadmin).
fn is_internal(topic: &str) -> bool {
    topic.starts_with(topics::RETRY_GROUP_TOPIC_PREFIX)
        || topic.starts_with(topics::DLQ_GROUP_TOPIC_PREFIX)
        || topic.starts_with("rmq_sys_")
        || topic.starts_with("RMQ_SYS_")
        || topic == topics::AUTO_CREATE_TOPIC
        || topic == topics::SCHEDULE_TOPIC
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::body::ops::BrokerStatsItem;

    #[test]
    fn day_sum_takes_the_longest_window_that_counted() {
        let item = |sum| BrokerStatsItem {
            sum,
            ..BrokerStatsItem::default()
        };
        let d = BrokerStatsData {
            stats_minute: item(5),
            stats_hour: item(0),
            stats_day: item(0),
        };
        assert_eq!(day_sum(&d), 5);
        let d = BrokerStatsData {
            stats_day: item(9),
            ..d
        };
        assert_eq!(day_sum(&d), 9);
        assert!(is_internal("%RETRY%G") && !is_internal("T"));
    }
}
