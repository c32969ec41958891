//! Topic commands: topicClusterList, updateTopicPerm, updateOrderConf and
//! allocateMQ.

use std::collections::BTreeSet;

use anyhow::{bail, Result};
use clap::Args;
use client::{Admin, AllocateStrategy, MessageQueue, TopicSpec};
use serde_json::json;

use super::super::cluster::{selected, BrokerSelect};
use super::super::table::Table;
use super::super::topic::perm_text;
use super::super::{OrFail, Report};

/// The NameServer KV namespace of ordered topics' queue layouts.
const ORDER_TOPIC_CONFIG: &str = "ORDER_TOPIC_CONFIG";

/// `-t topic`.
#[derive(Args, Debug)]
pub struct TopicOnly {
    /// Topic name.
    #[arg(short = 't', long = "topic")]
    pub topic: String,
}

/// Flags of `updateTopicPerm`.
#[derive(Args, Debug)]
pub struct UpdateTopicPermArgs {
    #[command(flatten)]
    pub select: BrokerSelect,
    /// Topic name.
    #[arg(short = 't', long = "topic")]
    pub topic: String,
    /// New permission: 2 write only, 4 read only, 6 read and write.
    #[arg(short = 'p', long = "perm")]
    pub perm: i32,
}

/// Flags of `updateOrderConf`.
#[derive(Args, Debug)]
pub struct UpdateOrderConfArgs {
    /// Topic name.
    #[arg(short = 't', long = "topic")]
    pub topic: String,
    /// Order conf, `brokerName:queues;…` (for put).
    #[arg(short = 'v', long = "orderConf")]
    pub conf: Option<String>,
    /// get, put or delete.
    #[arg(short = 'm', long = "method", default_value = "get")]
    pub method: String,
}

/// Flags of `allocateMQ`.
#[derive(Args, Debug)]
pub struct AllocateMqArgs {
    /// Topic name.
    #[arg(short = 't', long = "topic")]
    pub topic: String,
    /// Client ips (client ids), comma-separated.
    #[arg(short = 'i', long = "ipList")]
    pub ips: String,
}

pub async fn topic_cluster_list(admin: &Admin, a: &TopicOnly) -> Result<Report> {
    let route = admin
        .topic_route(&a.topic)
        .await
        .or_fail(|| format!("cannot get the route of topic {}", a.topic))?;
    let clusters: BTreeSet<String> = route
        .broker_datas
        .iter()
        .map(|b| b.cluster.clone())
        .collect();
    let mut text = String::new();
    for c in &clusters {
        text.push_str(c);
        text.push('\n');
    }
    Ok(Report {
        text,
        json: json!({ "topic": a.topic, "clusters": clusters }),
    })
}

pub async fn update_topic_perm(admin: &Admin, a: &UpdateTopicPermArgs) -> Result<Report> {
    if ![2, 4, 6].contains(&a.perm) {
        bail!(
            "invalid perm {}: use 2 (write), 4 (read) or 6 (read and write)",
            a.perm
        );
    }
    let mut t = Table::new(["#Broker", "#Addr", "#Old Perm", "#New Perm"]);
    let mut rows = Vec::new();
    for (name, addr) in selected(admin, &a.select).await? {
        let old = admin
            .topic_config(&addr, &a.topic)
            .await
            .or_fail(|| format!("cannot read topic {} on broker {addr}", a.topic))?;
        if old.perm != a.perm {
            let spec = TopicSpec {
                name: a.topic.clone(),
                read_queues: old.read_queue_nums,
                write_queues: old.write_queue_nums,
                perm: a.perm,
                order: old.order,
                attributes: None,
            };
            admin
                .create_topic_on_broker(&addr, &spec)
                .await
                .or_fail(|| format!("cannot update topic {} on broker {addr}", a.topic))?;
        }
        t.row([
            name.clone(),
            addr.clone(),
            perm_text(old.perm),
            perm_text(a.perm),
        ]);
        rows.push(
            json!({ "brokerName": name, "addr": addr, "oldPerm": old.perm, "newPerm": a.perm }),
        );
    }
    Ok(Report {
        text: t.render(),
        json: json!({ "topic": a.topic, "brokers": rows }),
    })
}

/// Checks `brokerName:queues;…`.
fn check_order_conf(conf: &str) -> Result<()> {
    for part in conf.split(';').filter(|p| !p.is_empty()) {
        let ok = part
            .split_once(':')
            .is_some_and(|(b, n)| !b.is_empty() && n.parse::<u32>().is_ok_and(|n| n > 0));
        if !ok {
            bail!("invalid orderConf part `{part}`: expected brokerName:queueCount");
        }
    }
    Ok(())
}

pub async fn update_order_conf(admin: &Admin, a: &UpdateOrderConfArgs) -> Result<Report> {
    let (text, conf) = match a.method.as_str() {
        "get" => {
            let conf = admin
                .kv_config(ORDER_TOPIC_CONFIG, &a.topic)
                .await
                .or_fail(|| format!("cannot read the order conf of topic {}", a.topic))?;
            let text = match &conf {
                Some(c) => format!("get orderConf success. topic={}, orderConf={c}\n", a.topic),
                None => format!("topic {} has no orderConf\n", a.topic),
            };
            (text, conf)
        }
        "put" => {
            let Some(conf) = a.conf.as_deref().filter(|c| !c.is_empty()) else {
                bail!("put needs -v brokerName:queueCount;…");
            };
            check_order_conf(conf)?;
            admin
                .put_kv_config(ORDER_TOPIC_CONFIG, &a.topic, conf)
                .await
                .or_fail(|| format!("cannot set the order conf of topic {}", a.topic))?;
            let text = format!(
                "update orderConf success. topic={}, orderConf={conf}\n",
                a.topic
            );
            (text, Some(conf.to_owned()))
        }
        "delete" => {
            admin
                .delete_kv_config(ORDER_TOPIC_CONFIG, &a.topic)
                .await
                .or_fail(|| format!("cannot delete the order conf of topic {}", a.topic))?;
            (
                format!("delete orderConf success. topic={}\n", a.topic),
                None,
            )
        }
        other => bail!("invalid method `{other}`: use get, put or delete"),
    };
    Ok(Report {
        text,
        json: json!({ "topic": a.topic, "method": a.method, "orderConf": conf }),
    })
}

pub async fn allocate_mq(admin: &Admin, a: &AllocateMqArgs) -> Result<Report> {
    let mut ips: Vec<String> = a
        .ips
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    if ips.is_empty() {
        bail!(
            "invalid ipList `{}`: give comma-separated client ips",
            a.ips
        );
    }
    ips.sort();
    ips.dedup();
    let route = admin
        .topic_route(&a.topic)
        .await
        .or_fail(|| format!("cannot get the route of topic {}", a.topic))?;
    let mut mqs: Vec<MessageQueue> = route
        .queue_datas
        .iter()
        .flat_map(|q| {
            (0..q.read_queue_nums)
                .map(|id| MessageQueue::new(a.topic.clone(), q.broker_name.clone(), id))
        })
        .collect();
    mqs.sort();
    let mut t = Table::new(["#Client", "#Queues"]);
    let mut result = serde_json::Map::new();
    for ip in &ips {
        let mine = AllocateStrategy::Averagely.allocate(ip, &mqs, &ips);
        let names: Vec<String> = mine
            .iter()
            .map(|q| format!("{}:{}", q.broker_name, q.queue_id))
            .collect();
        t.row([ip.clone(), names.join(" ")]);
        result.insert(ip.clone(), json!(mine));
    }
    Ok(Report {
        text: t.render(),
        json: json!({ "topic": a.topic, "result": result }),
    })
}

#[cfg(test)]
mod tests {
    use super::check_order_conf;

    #[test]
    fn order_conf_is_checked() {
        assert!(check_order_conf("broker-a:4;broker-b:8").is_ok());
        for bad in ["broker-a", "a:x", ":4", "a:0"] {
            assert!(check_order_conf(bad).is_err(), "{bad}");
        }
    }
}
