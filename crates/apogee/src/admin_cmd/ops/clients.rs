//! Client commands: consumerConnection, producerConnection and
//! consumerStatus (the broker relays the running-info request to each
//! consumer over the consumer's own connection).

use std::collections::BTreeMap;

use anyhow::{bail, Result};
use clap::Args;
use client::{Admin, MessageQueue};
use protocol::body::consumer::Connection;
use protocol::body::fastjson;
use serde_json::{json, Value};

use super::super::table::Table;
use super::super::{OrFail, Report};

/// Flags of `consumerConnection`.
#[derive(Args, Debug)]
pub struct GroupArgs {
    /// Consumer group.
    #[arg(short = 'g', long = "consumerGroup")]
    pub group: String,
}

/// Flags of `producerConnection`.
#[derive(Args, Debug)]
pub struct ProducerConnectionArgs {
    /// Producer group.
    #[arg(short = 'g', long = "producerGroup")]
    pub group: String,
    /// A topic the group sends to (its brokers are asked).
    #[arg(short = 't', long = "topic")]
    pub topic: String,
}

/// Flags of `consumerStatus`.
#[derive(Args, Debug)]
pub struct ConsumerStatusArgs {
    /// Consumer group.
    #[arg(short = 'g', long = "consumerGroup")]
    pub group: String,
    /// One client id: print its whole running info.
    #[arg(short = 'i', long = "clientId")]
    pub client_id: Option<String>,
    /// Ask through this broker (default: the first master that knows the client).
    #[arg(short = 'b', long = "brokerAddr")]
    pub broker: Option<String>,
}

fn connection_rows(conns: &[Connection]) -> (Table, Vec<Value>) {
    let mut t = Table::new(["#ClientId", "#ClientAddr", "#Language", "#Version"]);
    let mut rows = Vec::new();
    for c in conns {
        t.row([
            c.client_id.clone(),
            c.client_addr.clone(),
            c.language.clone(),
            c.version.to_string(),
        ]);
        rows.push(json!({
            "clientId": c.client_id, "clientAddr": c.client_addr,
            "language": c.language, "version": c.version,
        }));
    }
    (t, rows)
}

pub async fn consumer_connection(admin: &Admin, a: &GroupArgs) -> Result<Report> {
    let cc = admin
        .consumer_connections(&a.group)
        .await
        .or_fail(|| format!("cannot list the connections of consumer group {}", a.group))?;
    let (t, rows) = connection_rows(&cc.connection_set);
    let mut subs = Table::new(["#Topic", "#SubExpression"]);
    for (topic, s) in &cc.subscription_table {
        subs.row([topic.clone(), s.sub_string.clone()]);
    }
    let text = format!(
        "{}\nBelow is subscription:\n{}\nConsumeType: {:?}\nMessageModel: {:?}\nConsumeFromWhere: {:?}\n",
        t.render(),
        subs.render(),
        cc.consume_type,
        cc.message_model,
        cc.consume_from_where
    );
    Ok(Report {
        text,
        json: json!({
            "group": a.group, "connections": rows,
            "subscriptions": cc.subscription_table.iter()
                .map(|(t, s)| (t.clone(), json!(s.sub_string)))
                .collect::<serde_json::Map<_, _>>(),
        }),
    })
}

pub async fn producer_connection(admin: &Admin, a: &ProducerConnectionArgs) -> Result<Report> {
    let route = admin
        .topic_route(&a.topic)
        .await
        .or_fail(|| format!("cannot get the route of topic {}", a.topic))?;
    let mut by_id: BTreeMap<String, Connection> = BTreeMap::new();
    let mut last = None;
    for b in &route.broker_datas {
        let Some(addr) = b.master_addr() else {
            continue;
        };
        match admin.producer_connections(addr, &a.group).await {
            Ok(pc) => {
                for c in pc.connection_set {
                    by_id.insert(c.client_id.clone(), c);
                }
            }
            Err(e) => last = Some(e),
        }
    }
    if by_id.is_empty() {
        match last {
            Some(e) => {
                return Err(super::super::failed(
                    e,
                    format!("producer group {} has no live connection", a.group),
                ))
            }
            None => bail!("topic {} has no master broker in its route", a.topic),
        }
    }
    let conns: Vec<Connection> = by_id.into_values().collect();
    let (t, rows) = connection_rows(&conns);
    Ok(Report {
        text: t.render(),
        json: json!({ "group": a.group, "connections": rows }),
    })
}

/// Where to relay through: the given broker, else every master.
async fn relay_brokers(admin: &Admin, broker: Option<&str>) -> Result<Vec<String>> {
    if let Some(b) = broker {
        return Ok(vec![b.to_owned()]);
    }
    let masters = admin
        .masters(None)
        .await
        .or_fail(|| "cannot list the brokers")?;
    Ok(masters.into_iter().map(|(_, a)| a).collect())
}

/// The running info of one client, through the first broker that reaches it.
async fn running_info(
    admin: &Admin,
    brokers: &[String],
    group: &str,
    client_id: &str,
) -> Result<Value> {
    let mut last = None;
    for addr in brokers {
        match admin.consumer_running_info(addr, group, client_id).await {
            Ok(body) => {
                return fastjson::parse(&body).map_err(|e| {
                    anyhow::anyhow!(
                        "client {client_id} answered running info that does not parse: {e}"
                    )
                })
            }
            Err(e) => last = Some(e),
        }
    }
    match last {
        Some(e) => Err(super::super::failed(
            e,
            format!("cannot get the running info of client {client_id}"),
        )),
        None => bail!("no broker is registered with the NameServer"),
    }
}

pub async fn consumer_status(admin: &Admin, a: &ConsumerStatusArgs) -> Result<Report> {
    let brokers = relay_brokers(admin, a.broker.as_deref()).await?;
    if let Some(id) = &a.client_id {
        let info = running_info(admin, &brokers, &a.group, id).await?;
        let mut text = serde_json::to_string_pretty(&info)?;
        text.push('\n');
        return Ok(Report { text, json: info });
    }
    let cc = admin
        .consumer_connections(&a.group)
        .await
        .or_fail(|| format!("consumer group {} is not online", a.group))?;
    let mut t = Table::new([
        "#Index",
        "#ClientId",
        "#Version",
        "#Queues",
        "#Subscriptions",
    ]);
    let mut rows = Vec::new();
    let mut subscriptions = Vec::new();
    for (i, c) in cc.connection_set.iter().enumerate() {
        let info = running_info(admin, &brokers, &a.group, &c.client_id).await?;
        let queues = info["mqTable"].as_object().map_or(0, |m| m.len());
        let subs: Vec<String> = info["subscriptionSet"]
            .as_array()
            .map(|list| {
                list.iter()
                    .map(|s| {
                        format!(
                            "{}:{}",
                            s["topic"].as_str().unwrap_or("?"),
                            s["subString"].as_str().unwrap_or("?")
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        t.row([
            (i + 1).to_string(),
            c.client_id.clone(),
            c.version.to_string(),
            queues.to_string(),
            subs.join(" "),
        ]);
        subscriptions.push(subs.clone());
        rows.push(
            json!({ "clientId": c.client_id, "version": c.version, "queues": queues,
            "subscriptions": subs, "runningInfo": info }),
        );
    }
    let same = subscriptions.windows(2).all(|w| w[0] == w[1]);
    let verdict = if same {
        "Same subscription in the same group of consumer"
    } else {
        "WARN: Different subscription in the same group of consumer!!!"
    };
    Ok(Report {
        text: format!("{}\n{verdict}\n", t.render()),
        json: json!({ "group": a.group, "clients": rows, "subscriptionConsistent": same }),
    })
}

/// Which client holds each queue of `group` now (consumerProgress -s),
/// from every live client's running info; clients that do not answer are
/// left out.
///
/// # Errors
/// The group's connection list cannot be read.
pub async fn queue_owners(admin: &Admin, group: &str) -> Result<BTreeMap<MessageQueue, String>> {
    let brokers = relay_brokers(admin, None).await?;
    let cc = admin
        .consumer_connections(group)
        .await
        .or_fail(|| format!("consumer group {group} is not online"))?;
    let mut owners = BTreeMap::new();
    for c in &cc.connection_set {
        let Ok(info) = running_info(admin, &brokers, group, &c.client_id).await else {
            continue;
        };
        let Some(table) = info["mqTable"].as_object() else {
            continue;
        };
        for key in table.keys() {
            if let Ok(mq) = serde_json::from_str::<MessageQueue>(key) {
                owners.insert(mq, c.client_addr.clone());
            }
        }
    }
    Ok(owners)
}
