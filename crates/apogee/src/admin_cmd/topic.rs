//! Topic commands: updateTopic, topicList, topicRoute, topicStatus, deleteTopic.

use anyhow::{bail, Result};
use clap::{ArgAction, Args};
use client::{Admin, TopicSpec};
use serde_json::json;

use super::table::Table;
use super::time::format_ms;
use super::{OrFail, Report};

/// Flags of `updateTopic`.
#[derive(Args, Debug)]
pub struct UpdateTopicArgs {
    /// Topic name.
    #[arg(short = 't', long = "topic")]
    pub topic: String,
    /// Create on every master of this cluster (all clusters when neither -c nor -b).
    #[arg(short = 'c', long = "clusterName", conflicts_with = "broker")]
    pub cluster: Option<String>,
    /// Create on this broker address only.
    #[arg(short = 'b', long = "brokerAddr")]
    pub broker: Option<String>,
    /// Read queues per broker.
    #[arg(short = 'r', long = "readQueueNums", default_value_t = 8)]
    pub read_queues: i32,
    /// Write queues per broker.
    #[arg(short = 'w', long = "writeQueueNums", default_value_t = 8)]
    pub write_queues: i32,
    /// Permission: 2 write only, 4 read only, 6 read and write.
    #[arg(short = 'p', long = "perm", default_value_t = 6)]
    pub perm: i32,
    /// Ordered topic.
    #[arg(short = 'o', long = "order", action = ArgAction::Set, default_value_t = false)]
    pub order: bool,
    /// 5.x attributes, `+key=value,-key` (e.g. `+message.type=FIFO`).
    #[arg(short = 'a', long = "attributes")]
    pub attributes: Option<String>,
}

/// The `-t` flag alone.
#[derive(Args, Debug)]
pub struct TopicArg {
    /// Topic name.
    #[arg(short = 't', long = "topic")]
    pub topic: String,
}

/// Flags of `deleteTopic`.
#[derive(Args, Debug)]
pub struct DeleteTopicArgs {
    /// Topic name.
    #[arg(short = 't', long = "topic")]
    pub topic: String,
    /// Delete from this cluster's masters only (default: every master).
    #[arg(short = 'c', long = "clusterName")]
    pub cluster: Option<String>,
}

pub async fn update_topic(admin: &Admin, a: &UpdateTopicArgs) -> Result<Report> {
    if !(1..=1024).contains(&a.read_queues) || !(1..=1024).contains(&a.write_queues) {
        bail!("invalid queue numbers: -r and -w must be 1..=1024");
    }
    if ![2, 4, 6].contains(&a.perm) {
        bail!(
            "invalid perm {}: use 2 (write), 4 (read) or 6 (read+write)",
            a.perm
        );
    }
    let spec = TopicSpec {
        name: a.topic.clone(),
        read_queues: a.read_queues,
        write_queues: a.write_queues,
        perm: a.perm,
        order: a.order,
        attributes: a.attributes.clone(),
    };
    let targets = match &a.broker {
        Some(addr) => {
            admin
                .create_topic_on_broker(addr, &spec)
                .await
                .or_fail(|| format!("cannot create topic {} on broker {addr}", a.topic))?;
            admin.client().forget_route(&a.topic);
            vec![addr.clone()]
        }
        None => {
            let done = admin
                .create_topic(a.cluster.as_deref(), &spec)
                .await
                .or_fail(|| {
                    format!(
                        "cannot create topic {} in {}",
                        a.topic,
                        a.cluster.as_deref().unwrap_or("any cluster")
                    )
                })?;
            if done.is_empty() {
                bail!(
                    "no master broker is registered with the NameServer: topic {} was not created",
                    a.topic
                );
            }
            done
        }
    };
    let visible = wait_for_route(admin, &a.topic).await;
    let mut text = String::new();
    for t in &targets {
        text.push_str(&format!("create topic to {t} success.\n"));
    }
    text.push_str(&format!(
        "TopicConfig [topicName={}, readQueueNums={}, writeQueueNums={}, perm={}, order={}]\n",
        a.topic,
        a.read_queues,
        a.write_queues,
        perm_text(a.perm),
        a.order
    ));
    if !visible {
        text.push_str("note: the NameServer does not show the route yet; it will after the broker's next registration\n");
    }
    Ok(Report {
        text,
        json: json!({
            "topic": a.topic, "brokers": targets, "readQueueNums": a.read_queues,
            "writeQueueNums": a.write_queues, "perm": a.perm, "order": a.order,
            "routeVisible": visible,
        }),
    })
}

/// Waits (up to 3 s) until the NameServer serves the topic's route: the
/// broker registers a new topic right after creating it, and a script's
/// next command should find it.
async fn wait_for_route(admin: &Admin, topic: &str) -> bool {
    for _ in 0..30 {
        if admin.topic_route(topic).await.is_ok() {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    false
}

pub async fn topic_list(admin: &Admin) -> Result<Report> {
    let mut topics = admin.topic_list().await.or_fail(|| "cannot list topics")?;
    topics.sort();
    let mut text = String::new();
    for t in &topics {
        text.push_str(t);
        text.push('\n');
    }
    Ok(Report {
        text,
        json: json!({ "topics": topics }),
    })
}

pub async fn topic_route(admin: &Admin, a: &TopicArg) -> Result<Report> {
    let route = admin
        .topic_route(&a.topic)
        .await
        .or_fail(|| format!("cannot get the route of topic {}", a.topic))?;
    let mut brokers = Table::new(["#Cluster", "#Broker Name", "#BID", "#Addr"]);
    for b in &route.broker_datas {
        for (id, addr) in &b.broker_addrs {
            brokers.row([
                b.cluster.clone(),
                b.broker_name.clone(),
                id.to_string(),
                addr.clone(),
            ]);
        }
    }
    let mut queues = Table::new(["#Broker Name", "#Read Queues", "#Write Queues", "#Perm"]);
    for q in &route.queue_datas {
        queues.row([
            q.broker_name.clone(),
            q.read_queue_nums.to_string(),
            q.write_queue_nums.to_string(),
            perm_text(q.perm),
        ]);
    }
    Ok(Report {
        text: format!("{}\n{}", brokers.render(), queues.render()),
        json: serde_json::to_value(&route)?,
    })
}

pub async fn topic_status(admin: &Admin, a: &TopicArg) -> Result<Report> {
    let stats = admin
        .topic_stats(&a.topic)
        .await
        .or_fail(|| format!("cannot get the status of topic {}", a.topic))?;
    let mut t = Table::new([
        "#Broker Name",
        "#QID",
        "#Min Offset",
        "#Max Offset",
        "#Last Updated",
    ]);
    let mut rows = Vec::new();
    for (mq, o) in &stats.offset_table {
        t.row([
            mq.broker_name.clone(),
            mq.queue_id.to_string(),
            o.min_offset.to_string(),
            o.max_offset.to_string(),
            format_ms(o.last_update_timestamp),
        ]);
        rows.push(json!({
            "brokerName": mq.broker_name, "queueId": mq.queue_id, "minOffset": o.min_offset,
            "maxOffset": o.max_offset, "lastUpdateTimestamp": o.last_update_timestamp,
        }));
    }
    Ok(Report {
        text: t.render(),
        json: json!({ "topic": a.topic, "topicPutTps": stats.topic_put_tps, "queues": rows }),
    })
}

pub async fn delete_topic(admin: &Admin, a: &DeleteTopicArgs) -> Result<Report> {
    // Deleting a name nobody knows is most likely a typo: say so instead of
    // reporting a successful no-op.
    admin
        .topic_route(&a.topic)
        .await
        .or_fail(|| format!("cannot delete topic {}", a.topic))?;
    admin
        .delete_topic(a.cluster.as_deref(), &a.topic)
        .await
        .or_fail(|| format!("cannot delete topic {}", a.topic))?;
    let scope = a.cluster.as_deref().unwrap_or("every cluster");
    Ok(Report {
        text: format!(
            "delete topic [{}] from cluster [{scope}] success.\n",
            a.topic
        ),
        json: json!({ "topic": a.topic, "deleted": true, "cluster": a.cluster }),
    })
}

/// mqadmin's perm words.
pub fn perm_text(perm: i32) -> String {
    let r = perm & 4 != 0;
    let w = perm & 2 != 0;
    let word = match (r, w) {
        (true, true) => "RW",
        (true, false) => "R",
        (false, true) => "W",
        (false, false) => "-",
    };
    format!("{perm} ({word})")
}

#[cfg(test)]
mod tests {
    use super::perm_text;

    #[test]
    fn perm_words() {
        assert_eq!(perm_text(6), "6 (RW)");
        assert_eq!(perm_text(4), "4 (R)");
        assert_eq!(perm_text(2), "2 (W)");
        assert_eq!(perm_text(0), "0 (-)");
    }
}
