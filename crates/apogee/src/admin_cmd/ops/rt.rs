//! Round-trip checks: checkMsgSendRT, clusterRT and sendMsgStatus. Each
//! sends real messages and reports how long every send took.

use std::time::Instant;

use anyhow::{bail, Result};
use clap::Args;
use client::{Admin, Message, MessageQueue, Producer};
use serde_json::json;

use super::super::message::status_name;
use super::super::table::Table;
use super::super::{OrFail, Report};

/// Producer group of the round-trip checks.
const RT_PRODUCER_GROUP: &str = "apogee_admin_rt_producer";
/// The most messages one check sends.
const MAX_AMOUNT: u32 = 10_000;
/// The largest body one check sends (4 MiB, the default message limit).
const MAX_SIZE: usize = 4 << 20;

/// Flags of `checkMsgSendRT`.
#[derive(Args, Debug)]
pub struct CheckMsgSendRtArgs {
    /// Topic.
    #[arg(short = 't', long = "topic")]
    pub topic: String,
    /// Messages to send.
    #[arg(short = 'a', long = "amount", default_value_t = 100)]
    pub amount: u32,
    /// Body size in bytes.
    #[arg(short = 's', long = "size", default_value_t = 128)]
    pub size: usize,
}

/// Flags of `clusterRT`.
#[derive(Args, Debug)]
pub struct ClusterRtArgs {
    /// Messages to send to each broker.
    #[arg(short = 'a', long = "amount", default_value_t = 100)]
    pub amount: u32,
    /// Body size in bytes.
    #[arg(short = 's', long = "size", default_value_t = 128)]
    pub size: usize,
    /// Cluster (default: every cluster).
    #[arg(short = 'c', long = "cluster")]
    pub cluster: Option<String>,
}

/// Flags of `sendMsgStatus`.
#[derive(Args, Debug)]
pub struct SendMsgStatusArgs {
    /// Broker name (its own topic is used).
    #[arg(short = 'b', long = "brokerName")]
    pub broker_name: String,
    /// Body size in bytes.
    #[arg(short = 's', long = "messageSize", default_value_t = 128)]
    pub size: usize,
    /// Messages to send.
    #[arg(short = 'c', long = "count", default_value_t = 50)]
    pub count: u32,
}

fn check(amount: u32, size: usize) -> Result<()> {
    if !(1..=MAX_AMOUNT).contains(&amount) {
        bail!("invalid amount {amount}: must be 1..={MAX_AMOUNT}");
    }
    if !(1..=MAX_SIZE).contains(&size) {
        bail!("invalid size {size}: must be 1..={MAX_SIZE} bytes");
    }
    Ok(())
}

async fn producer(admin: &Admin) -> Result<Producer> {
    Producer::builder()
        .client(admin.client())
        .group(RT_PRODUCER_GROUP)
        .build()
        .await
        .or_fail(|| "cannot start a producer")
}

/// One send: where it went, its status and its time in ms.
struct Sent {
    broker: String,
    queue: i32,
    status: &'static str,
    ms: f64,
}

/// Sends `n` bodies of `size` bytes, to `queue` when given.
async fn send_n(
    p: &Producer,
    topic: &str,
    queue: Option<&MessageQueue>,
    n: u32,
    size: usize,
) -> Result<Vec<Sent>> {
    let body = vec![b'a'; size];
    let mut out = Vec::with_capacity(n as usize);
    for _ in 0..n {
        let msg = Message::new(topic.to_owned(), body.clone());
        let start = Instant::now();
        let sent = match queue {
            Some(q) => p.send_to_queue(msg, q).await,
            None => p.send(msg).await,
        }
        .or_fail(|| format!("cannot send to topic {topic}"))?;
        out.push(Sent {
            broker: sent.queue.broker_name.clone(),
            queue: sent.queue.queue_id,
            status: status_name(sent.status),
            ms: start.elapsed().as_secs_f64() * 1000.0,
        });
    }
    Ok(out)
}

fn average(sent: &[Sent]) -> f64 {
    if sent.is_empty() {
        return 0.0;
    }
    sent.iter().map(|s| s.ms).sum::<f64>() / sent.len() as f64
}

fn per_send_report(sent: &[Sent], title: String) -> Report {
    let mut t = Table::new(["#Broker Name", "#QID", "#Send Result", "#RT(ms)"]);
    for s in sent {
        t.row([
            s.broker.clone(),
            s.queue.to_string(),
            s.status.to_owned(),
            format!("{:.3}", s.ms),
        ]);
    }
    let avg = average(sent);
    Report {
        text: format!("{title}\n{}Avg RT: {avg:.3} ms\n", t.render()),
        json: json!({
            "sends": sent.iter().map(|s| json!({
                "brokerName": s.broker, "queueId": s.queue, "status": s.status, "rtMs": s.ms,
            })).collect::<Vec<_>>(),
            "avgRtMs": avg,
        }),
    }
}

pub async fn check_msg_send_rt(admin: &Admin, a: &CheckMsgSendRtArgs) -> Result<Report> {
    check(a.amount, a.size)?;
    admin
        .topic_route(&a.topic)
        .await
        .or_fail(|| format!("cannot get the route of topic {}", a.topic))?;
    let p = producer(admin).await?;
    let sent = send_n(&p, &a.topic, None, a.amount, a.size).await;
    p.shutdown().await;
    Ok(per_send_report(&sent?, format!("topic {}", a.topic)))
}

pub async fn send_msg_status(admin: &Admin, a: &SendMsgStatusArgs) -> Result<Report> {
    check(a.count, a.size)?;
    let info = admin
        .cluster_info()
        .await
        .or_fail(|| "cannot read the cluster list from the NameServer")?;
    if !info.broker_addr_table.contains_key(&a.broker_name) {
        bail!(
            "broker {} is not registered with the NameServer",
            a.broker_name
        );
    }
    let p = producer(admin).await?;
    // Every broker serves a topic named after itself (brokerTopicEnable).
    let mq = MessageQueue::new(a.broker_name.clone(), a.broker_name.clone(), 0);
    let sent = send_n(&p, &a.broker_name, Some(&mq), a.count, a.size).await;
    p.shutdown().await;
    Ok(per_send_report(&sent?, format!("broker {}", a.broker_name)))
}

pub async fn cluster_rt(admin: &Admin, a: &ClusterRtArgs) -> Result<Report> {
    check(a.amount, a.size)?;
    let info = admin
        .cluster_info()
        .await
        .or_fail(|| "cannot read the cluster list from the NameServer")?;
    let clusters: Vec<(&String, &std::collections::BTreeSet<String>)> = info
        .cluster_addr_table
        .iter()
        .filter(|(c, _)| a.cluster.as_deref().is_none_or(|want| want == c.as_str()))
        .collect();
    if clusters.is_empty() {
        bail!(
            "cluster {} is unknown to the NameServer",
            a.cluster.as_deref().unwrap_or("(any)")
        );
    }
    let p = producer(admin).await?;
    let mut t = Table::new([
        "#Cluster Name",
        "#Broker Name",
        "#RT(ms)",
        "#Successful",
        "#Failed",
    ]);
    let mut rows = Vec::new();
    for (cluster, brokers) in clusters {
        for broker in brokers {
            let mq = MessageQueue::new(broker.clone(), broker.clone(), 0);
            let (ok, failed, avg) = match send_n(&p, broker, Some(&mq), a.amount, a.size).await {
                Ok(sent) => (sent.len(), 0, average(&sent)),
                Err(e) => {
                    tracing::debug!(%broker, error = %e, "clusterRT send failed");
                    (0, a.amount as usize, 0.0)
                }
            };
            t.row([
                cluster.clone(),
                broker.clone(),
                format!("{avg:.3}"),
                ok.to_string(),
                failed.to_string(),
            ]);
            rows.push(
                json!({ "cluster": cluster, "brokerName": broker, "avgRtMs": avg,
                "successful": ok, "failed": failed }),
            );
        }
    }
    p.shutdown().await;
    Ok(Report {
        text: t.render(),
        json: json!({ "brokers": rows }),
    })
}
