//! Message and consume-queue views: queryMsgByUniqueKey, queryMsgByOffset,
//! printMsg, printMsgByQueue and queryCq.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Result};
use clap::{ArgAction, Args};
use client::{Admin, ConsumeFrom, LitePullConsumer, MessageExt, MessageQueue};
use protocol::body::fastjson;
use protocol::header::ops::QueryConsumeQueueRequestHeader;
use protocol::message::encode_offset_msg_id;
use serde_json::json;

use super::super::message::{message_json, message_table, message_text};
use super::super::table::Table;
use super::super::time::{now_ms, parse_timestamp};
use super::super::{OrFail, Report};

/// The group the printing consumers use (they commit nothing).
const PRINT_GROUP: &str = "TOOLS_CONSUMER";
/// How long printing waits for more once messages stop coming.
const IDLE: Duration = Duration::from_secs(2);
/// The most messages one print shows.
const PRINT_CAP: usize = 10_000;

/// Flags of `queryMsgByUniqueKey`.
#[derive(Args, Debug)]
pub struct UniqueKeyArgs {
    /// The unique key (the msgId producers print).
    #[arg(short = 'i', long = "msgId")]
    pub msg_id: String,
    /// Topic.
    #[arg(short = 't', long = "topic")]
    pub topic: String,
    /// With -d: the consumer group of the client to consume it directly.
    #[arg(short = 'g', long = "consumerGroup", requires = "client_id")]
    pub group: Option<String>,
    /// With -g: the client id that should consume it.
    #[arg(short = 'd', long = "clientId", requires = "group")]
    pub client_id: Option<String>,
}

/// Flags of `queryMsgByOffset`.
#[derive(Args, Debug)]
pub struct ByOffsetArgs {
    /// Topic.
    #[arg(short = 't', long = "topic")]
    pub topic: String,
    /// Broker name.
    #[arg(short = 'b', long = "brokerName")]
    pub broker_name: String,
    /// Queue id.
    #[arg(short = 'i', long = "queueId")]
    pub queue_id: i32,
    /// Queue offset.
    #[arg(short = 'o', long = "offset")]
    pub offset: i64,
}

/// Flags of `printMsg`.
#[derive(Args, Debug)]
pub struct PrintMsgArgs {
    /// Topic.
    #[arg(short = 't', long = "topic")]
    pub topic: String,
    /// Tags to print, `A || B` (default all).
    #[arg(short = 's', long = "subExpression", default_value = "*")]
    pub sub: String,
    /// Oldest store time (default: the beginning).
    #[arg(short = 'b', long = "beginTimestamp", value_parser = parse_timestamp)]
    pub begin: Option<i64>,
    /// Newest store time (default: now).
    #[arg(short = 'e', long = "endTimestamp", value_parser = parse_timestamp)]
    pub end: Option<i64>,
    /// Body charset (bodies are shown as UTF-8; kept for mqadmin scripts).
    #[arg(short = 'c', long = "charsetName", default_value = "UTF-8")]
    pub charset: String,
    /// Print message bodies.
    #[arg(short = 'd', long = "printBody", action = ArgAction::Set, default_value_t = true)]
    pub print_body: bool,
}

/// Flags of `printMsgByQueue`.
#[derive(Args, Debug)]
pub struct PrintMsgByQueueArgs {
    #[command(flatten)]
    pub range: PrintMsgArgs,
    /// Broker name.
    #[arg(short = 'a', long = "brokerName")]
    pub broker_name: String,
    /// Queue id.
    #[arg(short = 'i', long = "queueId")]
    pub queue_id: i32,
    /// Count messages per tag instead of printing them.
    #[arg(short = 'f', long = "calculate", action = ArgAction::Set, default_value_t = false)]
    pub calculate: bool,
}

/// Flags of `queryCq`.
#[derive(Args, Debug)]
pub struct QueryCqArgs {
    /// Topic.
    #[arg(short = 't', long = "topic")]
    pub topic: String,
    /// Queue id.
    #[arg(short = 'q', long = "queue")]
    pub queue_id: i32,
    /// First queue offset.
    #[arg(short = 'i', long = "index")]
    pub index: i64,
    /// Entries to show (1..=1000).
    #[arg(short = 'c', long = "count", default_value_t = 10)]
    pub count: i32,
    /// Broker address (default: the first master of the topic).
    #[arg(short = 'b', long = "broker")]
    pub broker: Option<String>,
    /// Show whether this group's subscription matches each entry.
    #[arg(short = 'g', long = "consumer")]
    pub group: Option<String>,
}

fn report_messages(msgs: &[MessageExt], print_body: bool, empty: String) -> Report {
    let text = if msgs.is_empty() {
        empty
    } else if print_body {
        msgs.iter().map(message_text).collect::<Vec<_>>().join("\n")
    } else {
        message_table(msgs)
    };
    Report {
        text,
        json: json!({ "messages": msgs.iter().map(message_json).collect::<Vec<_>>() }),
    }
}

pub async fn query_by_unique_key(admin: &Admin, a: &UniqueKeyArgs) -> Result<Report> {
    let found = admin
        .query_message_by_id(&a.topic, &a.msg_id)
        .await
        .or_fail(|| format!("cannot look up message {} in topic {}", a.msg_id, a.topic))?;
    let Some(first) = found.first() else {
        bail!("message {} not found in topic {}", a.msg_id, a.topic);
    };
    let (Some(group), Some(client_id)) = (&a.group, &a.client_id) else {
        return Ok(report_messages(&found, true, String::new()));
    };
    // The stored copy lives on the broker that wrote it.
    let addr = first.store_host.to_string();
    let body = admin
        .consume_message_directly(&addr, group, client_id, &first.offset_msg_id)
        .await
        .or_fail(|| format!("client {client_id} of group {group} could not consume it"))?;
    let result =
        fastjson::parse(&body).map_err(|e| anyhow!("the client's answer does not parse: {e}"))?;
    let mut text = serde_json::to_string_pretty(&result)?;
    text.push('\n');
    Ok(Report {
        text,
        json: json!({ "msgId": a.msg_id, "consumeResult": result }),
    })
}

/// The master address of `broker_name` in the route of `topic`.
async fn master_of(admin: &Admin, topic: &str, broker_name: &str) -> Result<String> {
    let route = admin
        .topic_route(topic)
        .await
        .or_fail(|| format!("cannot get the route of topic {topic}"))?;
    route
        .broker_datas
        .iter()
        .find(|b| b.broker_name == broker_name)
        .and_then(|b| b.master_addr().map(str::to_owned))
        .ok_or_else(|| anyhow!("broker {broker_name} does not serve topic {topic}"))
}

pub async fn query_by_offset(admin: &Admin, a: &ByOffsetArgs) -> Result<Report> {
    if a.offset < 0 || a.queue_id < 0 {
        bail!("invalid position: -i and -o must not be negative");
    }
    let addr = master_of(admin, &a.topic, &a.broker_name).await?;
    let header = QueryConsumeQueueRequestHeader {
        topic: a.topic.clone(),
        queue_id: a.queue_id,
        index: a.offset,
        count: 1,
        consumer_group: None,
    };
    let cq = admin
        .query_consume_queue(&addr, &header)
        .await
        .or_fail(|| format!("cannot read queue {} of topic {}", a.queue_id, a.topic))?;
    let Some(entry) = cq.queue_data.first() else {
        bail!(
            "queue {} of {} on {} has no message at offset {} (it holds {}..{})",
            a.queue_id,
            a.topic,
            a.broker_name,
            a.offset,
            cq.min_queue_index,
            cq.max_queue_index
        );
    };
    let host: SocketAddr = addr
        .parse()
        .map_err(|_| anyhow!("broker address {addr} is not ip:port"))?;
    let id = encode_offset_msg_id(host, entry.physic_offset);
    let msg = admin
        .view_message(&id)
        .await
        .or_fail(|| format!("cannot read the message at offset {}", a.offset))?;
    Ok(report_messages(&[msg], true, String::new()))
}

/// Whether a message's tag is among `sub` (`*` or `A || B`).
fn tag_matches(sub: &str, tag: Option<&str>) -> bool {
    let sub = sub.trim();
    if sub.is_empty() || sub == "*" {
        return true;
    }
    let tag = tag.unwrap_or("");
    sub.split("||").any(|t| t.trim() == tag)
}

/// Reads the messages of `queues` stored in `[begin, end]` with a
/// throwaway consumer that commits nothing.
async fn read_range(
    namesrv: &str,
    topic: &str,
    only: Option<(&str, i32)>,
    r: &PrintMsgArgs,
) -> Result<Vec<MessageExt>> {
    let (begin, end) = (r.begin.unwrap_or(0), r.end.unwrap_or_else(now_ms));
    if begin > end {
        bail!("invalid time range: -b {begin} is after -e {end}");
    }
    let consumer = LitePullConsumer::builder()
        .namesrv(namesrv)
        .group(PRINT_GROUP)
        .consume_from(ConsumeFrom::FirstOffset)
        .auto_commit(false)
        .build()
        .await
        .or_fail(|| "cannot start a consumer")?;
    let result = poll_range(&consumer, topic, only, begin, end, &r.sub).await;
    consumer.shutdown().await;
    result
}

async fn poll_range(
    consumer: &LitePullConsumer,
    topic: &str,
    only: Option<(&str, i32)>,
    begin: i64,
    end: i64,
    sub: &str,
) -> Result<Vec<MessageExt>> {
    let queues: Vec<MessageQueue> = consumer
        .fetch_queues(topic)
        .await
        .or_fail(|| format!("cannot read the queues of topic {topic}"))?
        .into_iter()
        .filter(|q| only.is_none_or(|(b, id)| q.broker_name == b && q.queue_id == id))
        .collect();
    if queues.is_empty() {
        bail!("topic {topic} has no readable queue matching the broker and queue given");
    }
    consumer
        .assign(queues.clone())
        .await
        .or_fail(|| format!("cannot assign the queues of topic {topic}"))?;
    for mq in &queues {
        consumer.seek_to_timestamp(mq, begin).await.or_fail(|| {
            format!(
                "cannot position queue {} of {}",
                mq.queue_id, mq.broker_name
            )
        })?;
    }
    let mut out = Vec::new();
    let mut past_end: BTreeMap<(String, i32), ()> = BTreeMap::new();
    let mut last = Instant::now();
    while out.len() < PRINT_CAP && last.elapsed() < IDLE && past_end.len() < queues.len() {
        let got = consumer
            .poll(Duration::from_millis(500))
            .await
            .or_fail(|| format!("cannot read topic {topic}"))?;
        if !got.is_empty() {
            last = Instant::now();
        }
        for m in got {
            if m.store_timestamp > end {
                past_end.insert((m.broker_name.clone(), m.queue_id), ());
            } else if m.store_timestamp >= begin && tag_matches(sub, m.tags()) {
                out.push(m);
            }
        }
    }
    out.truncate(PRINT_CAP);
    Ok(out)
}

pub async fn print_msg(namesrv: &str, a: &PrintMsgArgs) -> Result<Report> {
    let msgs = read_range(namesrv, &a.topic, None, a).await?;
    let empty = format!("no message of topic {} in the time range\n", a.topic);
    Ok(report_messages(&msgs, a.print_body, empty))
}

pub async fn print_msg_by_queue(namesrv: &str, a: &PrintMsgByQueueArgs) -> Result<Report> {
    let only = Some((a.broker_name.as_str(), a.queue_id));
    let msgs = read_range(namesrv, &a.range.topic, only, &a.range).await?;
    if !a.calculate {
        let empty = format!(
            "no message in queue {} of {} on {} in the time range\n",
            a.queue_id, a.range.topic, a.broker_name
        );
        return Ok(report_messages(&msgs, a.range.print_body, empty));
    }
    let mut by_tag: BTreeMap<String, u64> = BTreeMap::new();
    for m in &msgs {
        *by_tag.entry(m.tags().unwrap_or("").to_owned()).or_default() += 1;
    }
    let mut t = Table::new(["#Tag", "#Count"]);
    for (tag, n) in &by_tag {
        t.row([tag.clone(), n.to_string()]);
    }
    Ok(Report {
        text: t.render(),
        json: json!({ "tags": by_tag }),
    })
}

pub async fn query_cq(admin: &Admin, a: &QueryCqArgs) -> Result<Report> {
    let addr = match &a.broker {
        Some(b) => b.clone(),
        None => {
            let route = admin
                .topic_route(&a.topic)
                .await
                .or_fail(|| format!("cannot get the route of topic {}", a.topic))?;
            route
                .broker_datas
                .iter()
                .find_map(|b| b.master_addr().map(str::to_owned))
                .ok_or_else(|| anyhow!("topic {} has no master broker", a.topic))?
        }
    };
    let header = QueryConsumeQueueRequestHeader {
        topic: a.topic.clone(),
        queue_id: a.queue_id,
        index: a.index,
        count: a.count,
        consumer_group: a.group.clone(),
    };
    let cq = admin
        .query_consume_queue(&addr, &header)
        .await
        .or_fail(|| format!("cannot read queue {} of topic {}", a.queue_id, a.topic))?;
    let mut t = Table::new([
        "#Index",
        "#PhysicOffset",
        "#PhysicSize",
        "#TagsCode",
        "#Match",
    ]);
    for (i, e) in cq.queue_data.iter().enumerate() {
        t.row([
            (a.index + i as i64).to_string(),
            e.physic_offset.to_string(),
            e.physic_size.to_string(),
            e.tags_code.to_string(),
            e.eval.to_string(),
        ]);
    }
    Ok(Report {
        text: format!(
            "queue {} of {} holds offsets {}..{}\n{}",
            a.queue_id,
            a.topic,
            cq.min_queue_index,
            cq.max_queue_index,
            t.render()
        ),
        json: json!({
            "minQueueIndex": cq.min_queue_index, "maxQueueIndex": cq.max_queue_index,
            "queueData": cq.queue_data, "subscriptionData": cq.subscription_data,
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::tag_matches;

    #[test]
    fn tags_match_like_mqadmin() {
        assert!(tag_matches("*", None));
        assert!(tag_matches("A || B", Some("B")));
        assert!(!tag_matches("A || B", Some("C")));
        assert!(!tag_matches("A", None));
    }
}
