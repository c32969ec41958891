//! Consumer group commands: updateSubGroup, deleteSubGroup, consumerProgress.

use anyhow::{bail, Result};
use clap::{ArgAction, Args};
use client::Admin;
use protocol::body::group::SubscriptionGroupConfig;
use serde_json::json;

use super::table::Table;
use super::time::format_ms;
use super::{OrFail, Report};

/// Flags of `updateSubGroup`.
#[derive(Args, Debug)]
pub struct UpdateSubGroupArgs {
    /// Group name.
    #[arg(short = 'g', long = "groupName")]
    pub group: String,
    /// Create on every master of this cluster (default: every master).
    #[arg(short = 'c', long = "clusterName")]
    pub cluster: Option<String>,
    /// Whether the group may consume.
    #[arg(short = 's', long = "consumeEnable", action = ArgAction::Set, default_value_t = true)]
    pub consume_enable: bool,
    /// Whether a new group starts from the oldest message.
    #[arg(short = 'm', long = "consumeFromMinEnable", action = ArgAction::Set, default_value_t = true)]
    pub consume_from_min: bool,
    /// Whether broadcast consumption is allowed.
    #[arg(short = 'd', long = "consumeBroadcastEnable", action = ArgAction::Set, default_value_t = true)]
    pub broadcast: bool,
    /// Retry queues.
    #[arg(short = 'q', long = "retryQueueNums", default_value_t = 1)]
    pub retry_queues: i32,
    /// Deliveries before a message goes to the dead-letter queue.
    #[arg(short = 'r', long = "retryMaxTimes", default_value_t = 16)]
    pub retry_max_times: i32,
    /// Ordered consumption.
    #[arg(short = 'o', long = "consumeMessageOrderly", action = ArgAction::Set, default_value_t = false)]
    pub orderly: bool,
}

/// Flags of `deleteSubGroup`.
#[derive(Args, Debug)]
pub struct DeleteSubGroupArgs {
    /// Group name.
    #[arg(short = 'g', long = "groupName")]
    pub group: String,
    /// Delete on this cluster's masters only (default: every master).
    #[arg(short = 'c', long = "clusterName")]
    pub cluster: Option<String>,
    /// Also delete the group's stored offsets.
    #[arg(short = 'r', long = "removeOffset", action = ArgAction::Set, default_value_t = false)]
    pub remove_offset: bool,
}

/// Flags of `consumerProgress`.
#[derive(Args, Debug)]
pub struct ConsumerProgressArgs {
    /// Group name.
    #[arg(short = 'g', long = "groupName")]
    pub group: String,
    /// Only this topic.
    #[arg(short = 't', long = "topicName")]
    pub topic: Option<String>,
    /// Show the address of the client holding each queue.
    #[arg(short = 's', long = "showClientIP", action = ArgAction::Set, default_value_t = false,
          num_args = 0..=1, default_missing_value = "true")]
    pub show_ip: bool,
}

pub async fn update_sub_group(admin: &Admin, a: &UpdateSubGroupArgs) -> Result<Report> {
    if a.retry_queues < 0 || a.retry_max_times < 0 {
        bail!("invalid retry settings: -q and -r must not be negative");
    }
    let mut config = SubscriptionGroupConfig::new(a.group.clone());
    config.consume_enable = a.consume_enable;
    config.consume_from_min_enable = a.consume_from_min;
    config.consume_broadcast_enable = a.broadcast;
    config.retry_queue_nums = a.retry_queues;
    config.retry_max_times = a.retry_max_times;
    config.consume_message_orderly = a.orderly;
    admin
        .create_group(a.cluster.as_deref(), &config)
        .await
        .or_fail(|| format!("cannot create consumer group {}", a.group))?;
    Ok(Report {
        text: format!(
            "create subscription group [{}] success (retryQueueNums={}, retryMaxTimes={}, orderly={}).\n",
            a.group, a.retry_queues, a.retry_max_times, a.orderly
        ),
        json: serde_json::to_value(&config)?,
    })
}

pub async fn delete_sub_group(admin: &Admin, a: &DeleteSubGroupArgs) -> Result<Report> {
    admin
        .delete_group(a.cluster.as_deref(), &a.group, a.remove_offset)
        .await
        .or_fail(|| format!("cannot delete consumer group {}", a.group))?;
    Ok(Report {
        text: format!("delete subscription group [{}] success.\n", a.group),
        json: json!({ "group": a.group, "deleted": true, "removeOffset": a.remove_offset }),
    })
}

/// Messages a queue still holds for the group. A group that never
/// committed (-1) owes the whole queue.
pub fn queue_lag(broker_offset: i64, consumer_offset: i64) -> i64 {
    (broker_offset - consumer_offset.max(0)).max(0)
}

pub async fn consumer_progress(admin: &Admin, a: &ConsumerProgressArgs) -> Result<Report> {
    let stats = admin
        .consume_stats(&a.group, a.topic.as_deref())
        .await
        .or_fail(|| format!("cannot read the progress of consumer group {}", a.group))?;
    let owners = if a.show_ip {
        super::ops::clients::queue_owners(admin, &a.group).await?
    } else {
        Default::default()
    };
    let mut headers = vec![
        "#Topic",
        "#Broker Name",
        "#QID",
        "#Broker Offset",
        "#Consumer Offset",
    ];
    if a.show_ip {
        headers.push("#Client IP");
    }
    headers.extend(["#Diff", "#LastTime"]);
    let mut t = Table::new(headers);
    let mut rows = Vec::new();
    let mut total = 0i64;
    for (mq, o) in &stats.offset_table {
        let diff = queue_lag(o.broker_offset, o.consumer_offset);
        total += diff;
        let owner = owners.get(mq).cloned().unwrap_or_else(|| "N/A".into());
        let mut cells = vec![
            mq.topic.clone(),
            mq.broker_name.clone(),
            mq.queue_id.to_string(),
            o.broker_offset.to_string(),
            o.consumer_offset.to_string(),
        ];
        if a.show_ip {
            cells.push(owner.clone());
        }
        cells.extend([diff.to_string(), format_ms(o.last_timestamp)]);
        t.row(cells);
        let mut row = json!({
            "topic": mq.topic, "brokerName": mq.broker_name, "queueId": mq.queue_id,
            "brokerOffset": o.broker_offset, "consumerOffset": o.consumer_offset,
            "diff": diff, "lastTimestamp": o.last_timestamp,
        });
        if a.show_ip {
            row["clientIp"] = json!(owner);
        }
        rows.push(row);
    }
    let text = if t.is_empty() {
        format!(
            "consumer group {} has no progress to show (no offsets stored for it).\n",
            a.group
        )
    } else {
        format!(
            "{}\nConsume TPS: {:.2}\nDiff Total: {total}\n",
            t.render(),
            stats.consume_tps
        )
    };
    Ok(Report {
        text,
        json: json!({
            "group": a.group, "consumeTps": stats.consume_tps, "diffTotal": total, "queues": rows,
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::queue_lag;

    #[test]
    fn lag_of_a_queue() {
        assert_eq!(queue_lag(100, 40), 60);
        assert_eq!(queue_lag(100, -1), 100);
        assert_eq!(queue_lag(100, 120), 0);
    }
}
