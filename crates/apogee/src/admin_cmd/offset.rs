//! Offset commands: resetOffsetByTime and skipAccumulatedMessage.
//!
//! The broker calls are made here per broker (not through
//! `Admin::reset_offset_by_time`) because an Apogee broker answers
//! CONSUMER_NOT_ONLINE *after* storing the new offsets when the group has
//! no live member: that answer must not stop the other brokers' resets.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{bail, Result};
use clap::{ArgAction, Args};
use client::{Admin, MessageQueue};
use protocol::body::reset_offset::ResetOffsetBody;
use protocol::header::offset::ResetOffsetRequestHeader;
use protocol::{RemotingCommand, RequestCode, ResponseCode};
use serde_json::json;

use super::table::Table;
use super::time::{format_ms, parse_timestamp};
use super::{failed, OrFail, Report};

const RESET_TIMEOUT: Duration = Duration::from_secs(5);

/// Flags of `resetOffsetByTime`.
#[derive(Args, Debug)]
pub struct ResetOffsetArgs {
    /// Consumer group.
    #[arg(short = 'g', long = "group")]
    pub group: String,
    /// Topic.
    #[arg(short = 't', long = "topic")]
    pub topic: String,
    /// Time: milliseconds, `now`, or yyyy-MM-dd#HH:mm:ss:SSS (UTC).
    #[arg(short = 's', long = "timestamp", value_parser = parse_timestamp,
          allow_negative_numbers = true, required_unless_present = "offset")]
    pub timestamp: Option<i64>,
    /// Also move offsets forward (false: only back).
    #[arg(short = 'f', long = "force", action = ArgAction::Set, default_value_t = true,
          num_args = 0..=1, default_missing_value = "true")]
    pub force: bool,
    /// Only this broker address (with -q).
    #[arg(short = 'b', long = "broker", requires = "queue")]
    pub broker: Option<String>,
    /// Only this queue id.
    #[arg(short = 'q', long = "queue")]
    pub queue: Option<i32>,
    /// An explicit offset for the queue given with -q (instead of -s).
    #[arg(short = 'o', long = "offset", requires = "queue")]
    pub offset: Option<i64>,
}

/// Flags of `skipAccumulatedMessage`.
#[derive(Args, Debug)]
pub struct SkipArgs {
    /// Consumer group.
    #[arg(short = 'g', long = "group")]
    pub group: String,
    /// Topic.
    #[arg(short = 't', long = "topic")]
    pub topic: String,
}

pub async fn reset_offset_by_time(admin: &Admin, a: &ResetOffsetArgs) -> Result<Report> {
    if a.queue.is_some_and(|q| q < 0) || a.offset.is_some_and(|o| o < 0) {
        bail!("invalid -q/-o: queue ids and offsets are not negative");
    }
    let target = Target {
        broker: a.broker.as_deref(),
        queue: a.queue,
        offset: a.offset,
    };
    // With an explicit offset the broker ignores the time.
    let ts = a.timestamp.unwrap_or(-1);
    reset(admin, &a.group, &a.topic, ts, a.force, target).await
}

/// Which queues a reset moves: every queue, or one (on one broker), to a
/// time or to an explicit offset.
#[derive(Default, Clone, Copy)]
struct Target<'a> {
    broker: Option<&'a str>,
    queue: Option<i32>,
    offset: Option<i64>,
}

pub async fn skip_accumulated(admin: &Admin, a: &SkipArgs) -> Result<Report> {
    // Timestamp -1 asks the broker for the max offset of every queue.
    reset(admin, &a.group, &a.topic, -1, true, Target::default()).await
}

async fn reset(
    admin: &Admin,
    group: &str,
    topic: &str,
    ts: i64,
    force: bool,
    target: Target<'_>,
) -> Result<Report> {
    let route = admin
        .topic_route(topic)
        .await
        .or_fail(|| format!("cannot reset the offsets of group {group} on topic {topic}"))?;
    let masters: Vec<String> = route
        .broker_datas
        .iter()
        .filter_map(|b| b.master_addr().map(str::to_string))
        .filter(|a| target.broker.is_none_or(|b| b == a))
        .collect();
    if masters.is_empty() {
        match target.broker {
            Some(b) => bail!("broker {b} is not a master of topic {topic}"),
            None => bail!("topic {topic} has no master broker in its route"),
        }
    }
    let header = ResetOffsetRequestHeader {
        topic: topic.to_string(),
        group: group.to_string(),
        queue_id: Some(target.queue.unwrap_or(-1)),
        offset: target.offset,
        timestamp: ts,
        is_force: force,
    };
    let mut offsets: BTreeMap<MessageQueue, i64> = BTreeMap::new();
    let mut offline = Vec::new();
    for addr in &masters {
        let req = RemotingCommand::request_with_header(
            RequestCode::INVOKE_BROKER_TO_RESET_OFFSET,
            &header,
        );
        let what = || format!("cannot reset the offsets of group {group} on broker {addr}");
        let resp = admin
            .client()
            .remoting()
            .invoke(addr, req, RESET_TIMEOUT)
            .await
            .map_err(|e| failed(e.into(), what()))?;
        if resp.code == ResponseCode::SUCCESS.code() {
            if !resp.body.is_empty() {
                let body = ResetOffsetBody::from_json_bytes(&resp.body)?;
                offsets.extend(body.offset_table);
            }
        } else if resp.code == ResponseCode::CONSUMER_NOT_ONLINE.code() {
            offline.push(addr.clone());
        } else {
            bail!(
                "{}: {addr} answered {} ({}): {}",
                what(),
                ResponseCode::from_code(resp.code).name(),
                resp.code,
                resp.remark.unwrap_or_default()
            );
        }
    }
    if !offline.is_empty() {
        // Those brokers stored the offsets without reporting them: read
        // them back from the group's progress.
        let stats = admin
            .consume_stats(group, Some(topic))
            .await
            .or_fail(|| format!("cannot read back the offsets of group {group}"))?;
        for (mq, o) in stats.offset_table {
            if mq.topic == topic {
                offsets.entry(mq).or_insert(o.consumer_offset);
            }
        }
    }
    let when = match (target.offset, ts) {
        (Some(o), _) => format!("offset {o}"),
        (None, -1) => "the newest message".to_string(),
        (None, ts) => format_ms(ts),
    };
    Ok(render(group, topic, ts, &when, &offsets, &offline))
}

fn render(
    group: &str,
    topic: &str,
    ts: i64,
    when: &str,
    offsets: &BTreeMap<MessageQueue, i64>,
    offline: &[String],
) -> Report {
    let mut t = Table::new(["#Broker Name", "#QID", "#New Offset"]);
    let mut rows = Vec::new();
    for (mq, o) in offsets {
        t.row([
            mq.broker_name.clone(),
            mq.queue_id.to_string(),
            o.to_string(),
        ]);
        rows.push(json!({ "brokerName": mq.broker_name, "queueId": mq.queue_id, "offset": o }));
    }
    let mut text = format!("reset offsets of group {group} on topic {topic} to {when}\n");
    text.push_str(&t.render());
    if !offline.is_empty() {
        text.push_str(&format!(
            "note: group {group} has no live consumer on {}: the offsets are stored and apply \
             when it next pulls\n",
            offline.join(", ")
        ));
    }
    Report {
        text,
        json: json!({
            "group": group, "topic": topic, "timestamp": ts, "offsets": rows,
            "consumerOffline": offline,
        }),
    }
}
