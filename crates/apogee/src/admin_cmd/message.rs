//! Message commands: queryMsgById, queryMsgByKey, sendMessage, consumeMessage.

use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use clap::Args;
use client::{
    Admin, ConsumeFrom, LitePullConsumer, Message, MessageExt, MessageQueue, Producer, SendStatus,
};
use serde_json::json;

use super::table::{key_values, Table};
use super::time::{format_ms, parse_timestamp};
use super::{OrFail, Report};

/// Producer group of `sendMessage`.
const ADMIN_PRODUCER_GROUP: &str = "apogee_admin_producer";
/// Group of `consumeMessage` without -g (offsets are never committed).
const ADMIN_CONSUMER_GROUP: &str = "apogee_admin_consumer";
/// How long `consumeMessage` waits for more once messages stop coming.
const CONSUME_IDLE: Duration = Duration::from_secs(2);

/// Flags of `queryMsgById`.
#[derive(Args, Debug)]
pub struct QueryByIdArgs {
    /// Message id: the offset id (broker address + commit-log offset), or
    /// the unique key (msgId) when -t is given.
    #[arg(short = 'i', long = "msgId")]
    pub msg_id: String,
    /// Topic, to look the id up as a unique key.
    #[arg(short = 't', long = "topic")]
    pub topic: Option<String>,
}

/// Flags of `queryMsgByKey`.
#[derive(Args, Debug)]
pub struct QueryByKeyArgs {
    /// Topic.
    #[arg(short = 't', long = "topic")]
    pub topic: String,
    /// Message key.
    #[arg(short = 'k', long = "msgKey")]
    pub key: String,
    /// Oldest store time to look at.
    #[arg(short = 'b', long = "beginTimestamp", value_parser = parse_timestamp, default_value = "0")]
    pub begin: i64,
    /// Newest store time to look at (default: now).
    #[arg(short = 'e', long = "endTimestamp", value_parser = parse_timestamp)]
    pub end: Option<i64>,
    /// Most messages to return.
    #[arg(short = 'c', long = "maxNum", default_value_t = 64)]
    pub max: i32,
}

/// Flags of `sendMessage`.
#[derive(Args, Debug)]
pub struct SendMessageArgs {
    /// Topic.
    #[arg(short = 't', long = "topic")]
    pub topic: String,
    /// Message body (UTF-8).
    #[arg(short = 'p', long = "body")]
    pub body: String,
    /// Keys, space-separated.
    #[arg(short = 'k', long = "keys")]
    pub keys: Option<String>,
    /// Tag.
    #[arg(short = 'c', long = "tags")]
    pub tags: Option<String>,
    /// Send to this broker name (with -i).
    #[arg(short = 'b', long = "broker", requires = "queue")]
    pub broker: Option<String>,
    /// Send to this queue id (with -b).
    #[arg(short = 'i', long = "qid", requires = "broker")]
    pub queue: Option<i32>,
}

/// Flags of `consumeMessage`.
#[derive(Args, Debug)]
pub struct ConsumeMessageArgs {
    /// Topic.
    #[arg(short = 't', long = "topic")]
    pub topic: String,
    /// Consumer group to read as (its offsets are not moved).
    #[arg(short = 'g', long = "consumerGroup")]
    pub group: Option<String>,
    /// Only queues of this broker name.
    #[arg(short = 'b', long = "brokerName")]
    pub broker: Option<String>,
    /// Only this queue id.
    #[arg(short = 'q', long = "queueId")]
    pub queue: Option<i32>,
    /// Start offset in each queue (default: the oldest stored message).
    #[arg(short = 'o', long = "offset")]
    pub offset: Option<i64>,
    /// Most messages to print.
    #[arg(short = 'c', long = "count", default_value_t = 128)]
    pub count: usize,
}

/// The facts of one message, as JSON.
pub fn message_json(m: &MessageExt) -> serde_json::Value {
    let props: serde_json::Map<String, serde_json::Value> = m
        .properties
        .iter()
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect();
    json!({
        "msgId": m.msg_id, "offsetMsgId": m.offset_msg_id, "topic": m.topic,
        "tags": m.tags(), "keys": m.keys(), "brokerName": m.broker_name,
        "queueId": m.queue_id, "queueOffset": m.queue_offset,
        "commitLogOffset": m.commit_log_offset, "reconsumeTimes": m.reconsume_times,
        "bornTimestamp": m.born_timestamp, "storeTimestamp": m.store_timestamp,
        "bornHost": m.born_host.to_string(), "storeHost": m.store_host.to_string(),
        "sysFlag": m.sys_flag, "storeSize": m.store_size, "properties": props,
        "body": String::from_utf8_lossy(&m.body),
    })
}

pub(super) fn message_text(m: &MessageExt) -> String {
    let props: Vec<String> = m
        .properties
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    key_values([
        ("OffsetID", m.offset_msg_id.clone()),
        ("MsgId", m.msg_id.clone()),
        ("Topic", m.topic.clone()),
        ("Tags", m.tags().unwrap_or("").to_string()),
        ("Keys", m.keys().join(" ")),
        ("Broker Name", m.broker_name.clone()),
        ("Queue ID", m.queue_id.to_string()),
        ("Queue Offset", m.queue_offset.to_string()),
        ("CommitLog Offset", m.commit_log_offset.to_string()),
        ("Reconsume Times", m.reconsume_times.to_string()),
        ("Born Timestamp", format_ms(m.born_timestamp)),
        ("Store Timestamp", format_ms(m.store_timestamp)),
        ("Born Host", m.born_host.to_string()),
        ("Store Host", m.store_host.to_string()),
        ("System Flag", m.sys_flag.to_string()),
        ("Properties", props.join(", ")),
        (
            "Message Body",
            String::from_utf8_lossy(&m.body).into_owned(),
        ),
    ])
}

/// RocketMQ's names of send statuses.
pub(super) fn status_name(s: SendStatus) -> &'static str {
    match s {
        SendStatus::Ok => "SEND_OK",
        SendStatus::FlushDiskTimeout => "FLUSH_DISK_TIMEOUT",
        SendStatus::FlushSlaveTimeout => "FLUSH_SLAVE_TIMEOUT",
        SendStatus::SlaveNotAvailable => "SLAVE_NOT_AVAILABLE",
    }
}

/// A one-line body preview for tables.
fn preview(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body).replace(['\n', '\r', '\t'], " ");
    if text.chars().count() > 48 {
        format!("{}…", text.chars().take(47).collect::<String>())
    } else {
        text
    }
}

pub(super) fn message_table(msgs: &[MessageExt]) -> String {
    let mut t = Table::new([
        "#Message ID",
        "#Broker",
        "#QID",
        "#Offset",
        "#Store Time",
        "#Tags",
        "#Keys",
        "#Body",
    ]);
    for m in msgs {
        t.row([
            m.msg_id.clone(),
            m.broker_name.clone(),
            m.queue_id.to_string(),
            m.queue_offset.to_string(),
            format_ms(m.store_timestamp),
            m.tags().unwrap_or("").to_string(),
            m.keys().join(" "),
            preview(&m.body),
        ]);
    }
    t.render()
}

pub async fn query_by_id(admin: &Admin, a: &QueryByIdArgs) -> Result<Report> {
    let mut found = Vec::new();
    if let Some(topic) = &a.topic {
        found = admin
            .query_message_by_id(topic, &a.msg_id)
            .await
            .or_fail(|| format!("cannot look up message {} in topic {topic}", a.msg_id))?;
    }
    if found.is_empty() {
        match admin.view_message(&a.msg_id).await {
            Ok(m) => found.push(m),
            Err(e) => {
                let what = match &a.topic {
                    Some(t) => format!("message {} not found in topic {t}", a.msg_id),
                    None => format!(
                        "message {} not found (as an offset id; give -t TOPIC to look it up as a unique key)",
                        a.msg_id
                    ),
                };
                return Err(super::failed(e, what));
            }
        }
    }
    let text: Vec<String> = found.iter().map(message_text).collect();
    Ok(Report {
        text: text.join("\n"),
        json: json!({ "messages": found.iter().map(message_json).collect::<Vec<_>>() }),
    })
}

pub async fn query_by_key(admin: &Admin, a: &QueryByKeyArgs) -> Result<Report> {
    let end = a.end.unwrap_or_else(super::time::now_ms);
    if a.max < 1 {
        bail!("invalid maxNum {}: must be at least 1", a.max);
    }
    let msgs = admin
        .query_message_by_key(&a.topic, &a.key, a.max, a.begin, end)
        .await
        .or_fail(|| format!("cannot query topic {} by key {}", a.topic, a.key))?;
    let text = if msgs.is_empty() {
        format!("no message of topic {} has key {}\n", a.topic, a.key)
    } else {
        message_table(&msgs)
    };
    Ok(Report {
        text,
        json: json!({ "messages": msgs.iter().map(message_json).collect::<Vec<_>>() }),
    })
}

pub async fn send_message(admin: &Admin, a: &SendMessageArgs) -> Result<Report> {
    let producer = Producer::builder()
        .client(admin.client())
        .group(ADMIN_PRODUCER_GROUP)
        .build()
        .await
        .or_fail(|| "cannot start a producer")?;
    let mut msg = Message::new(a.topic.clone(), a.body.clone().into_bytes());
    if let Some(tags) = &a.tags {
        msg = msg.with_tags(tags.clone());
    }
    if let Some(keys) = &a.keys {
        msg = msg.with_keys(keys.split_whitespace());
    }
    let sent = match (&a.broker, a.queue) {
        (Some(b), Some(q)) => {
            let mq = MessageQueue::new(a.topic.clone(), b.clone(), q);
            producer.send_to_queue(msg, &mq).await
        }
        _ => producer.send(msg).await,
    };
    producer.shutdown().await;
    let sent = sent.or_fail(|| format!("cannot send to topic {}", a.topic))?;
    let mut t = Table::new([
        "#Broker Name",
        "#QID",
        "#Queue Offset",
        "#Send Result",
        "#MsgId",
    ]);
    let status = status_name(sent.status).to_string();
    t.row([
        sent.queue.broker_name.clone(),
        sent.queue.queue_id.to_string(),
        sent.queue_offset.to_string(),
        status.clone(),
        sent.msg_id.clone(),
    ]);
    Ok(Report {
        text: t.render(),
        json: json!({
            "status": status, "msgId": sent.msg_id, "offsetMsgId": sent.offset_msg_id,
            "brokerName": sent.queue.broker_name, "queueId": sent.queue.queue_id,
            "queueOffset": sent.queue_offset,
        }),
    })
}

/// Reads through the admin's client, so its credentials sign the pulls and
/// its TLS settings apply, as for every other admin command.
pub async fn consume_message(admin: &Admin, a: &ConsumeMessageArgs) -> Result<Report> {
    let consumer = LitePullConsumer::builder()
        .client(admin.client())
        .group(a.group.as_deref().unwrap_or(ADMIN_CONSUMER_GROUP))
        .consume_from(ConsumeFrom::FirstOffset)
        .auto_commit(false)
        .build()
        .await
        .or_fail(|| "cannot start a consumer")?;
    let result = read_messages(&consumer, a).await;
    consumer.shutdown().await;
    let msgs = result?;
    let text = if msgs.is_empty() {
        format!("no message to read in topic {}\n", a.topic)
    } else {
        message_table(&msgs)
    };
    Ok(Report {
        text,
        json: json!({ "messages": msgs.iter().map(message_json).collect::<Vec<_>>() }),
    })
}

async fn read_messages(
    consumer: &LitePullConsumer,
    a: &ConsumeMessageArgs,
) -> Result<Vec<MessageExt>> {
    let queues: Vec<MessageQueue> = consumer
        .fetch_queues(&a.topic)
        .await
        .or_fail(|| format!("cannot read the queues of topic {}", a.topic))?
        .into_iter()
        .filter(|q| a.broker.as_deref().is_none_or(|b| q.broker_name == b))
        .filter(|q| a.queue.is_none_or(|id| q.queue_id == id))
        .collect();
    if queues.is_empty() {
        bail!(
            "topic {} has no readable queue matching the -b/-q given",
            a.topic
        );
    }
    consumer
        .assign(queues.clone())
        .await
        .or_fail(|| format!("cannot assign the queues of topic {}", a.topic))?;
    for mq in &queues {
        let moved = match a.offset {
            Some(o) => consumer.seek(mq, o).await,
            None => consumer.seek_to_begin(mq).await,
        };
        moved.or_fail(|| {
            format!(
                "cannot position queue {} of {}",
                mq.queue_id, mq.broker_name
            )
        })?;
    }
    let mut out = Vec::new();
    let mut last = Instant::now();
    while out.len() < a.count && last.elapsed() < CONSUME_IDLE {
        let got = consumer
            .poll(Duration::from_millis(500))
            .await
            .or_fail(|| format!("cannot read topic {}", a.topic))?;
        if !got.is_empty() {
            last = Instant::now();
            out.extend(got);
        }
    }
    out.truncate(a.count);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::preview;

    #[test]
    fn previews_are_one_short_line() {
        assert_eq!(preview(b"a\nb"), "a b");
        let long = "x".repeat(100);
        let p = preview(long.as_bytes());
        assert_eq!(p.chars().count(), 48);
        assert!(p.ends_with('…'));
    }
}
