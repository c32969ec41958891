//! `getBrokerEpoch` (controller mode): each broker's epoch list,
//! GET_BROKER_EPOCH_CACHE (1007) sent to the brokers themselves — one
//! address (`-b`) or every broker of a cluster the NameServer lists (`-c`).

use std::time::Duration;

use anyhow::{bail, Result};
use clap::Args;
use client::Admin;
use protocol::body::controller::EpochEntryCache;
use protocol::{RemotingCommand, RequestCode};
use serde_json::json;

use super::table::Table;
use super::{OrFail, Report};

const TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Args, Debug)]
pub struct BrokerEpochArgs {
    /// Broker address.
    #[arg(short = 'b', long = "brokerAddr", conflicts_with = "cluster")]
    pub broker: Option<String>,
    /// Every broker (masters and slaves) of this cluster.
    #[arg(short = 'c', long = "clusterName")]
    pub cluster: Option<String>,
}

/// The brokers to ask: `-b`, or every address of the cluster's broker sets.
async fn addresses(admin: &Admin, a: &BrokerEpochArgs) -> Result<Vec<String>> {
    if let Some(b) = &a.broker {
        return Ok(vec![b.clone()]);
    }
    let Some(cluster) = &a.cluster else {
        bail!("getBrokerEpoch needs -b brokerAddr or -c clusterName");
    };
    let info = admin
        .cluster_info()
        .await
        .or_fail(|| "cannot read the cluster list from the NameServer")?;
    let names = info
        .cluster_addr_table
        .get(cluster)
        .cloned()
        .unwrap_or_default();
    let addrs: Vec<String> = names
        .iter()
        .filter_map(|n| info.broker_addr_table.get(n))
        .flat_map(|bd| bd.broker_addrs.values().cloned())
        .collect();
    if addrs.is_empty() {
        bail!("cluster `{cluster}` has no broker registered with the NameServer");
    }
    Ok(addrs)
}

pub async fn get_broker_epoch(admin: &Admin, a: &BrokerEpochArgs) -> Result<Report> {
    let mut text = String::new();
    let mut json = serde_json::Map::new();
    for addr in addresses(admin, a).await? {
        let r = admin
            .client()
            .invoke_ok(
                &addr,
                RemotingCommand::request(RequestCode::GET_BROKER_EPOCH_CACHE),
                TIMEOUT,
            )
            .await
            .or_fail(|| format!("getBrokerEpoch from broker {addr}"))?;
        let cache = EpochEntryCache::decode(&r.body)?;
        text.push_str(&format!(
            "#clusterName\t{}\n#brokerName\t{}\n#brokerAddr\t{addr}\n#brokerId\t{}\n",
            cache.cluster_name, cache.broker_name, cache.broker_id
        ));
        let mut t = Table::new(["#Epoch", "#StartOffset", "#EndOffset"]);
        for e in &cache.epoch_list {
            let end = if e.end_offset == i64::MAX {
                format!("{} (max offset)", cache.max_offset)
            } else {
                e.end_offset.to_string()
            };
            t.row([e.epoch.to_string(), e.start_offset.to_string(), end]);
        }
        text.push_str(&t.render());
        text.push('\n');
        json.insert(addr, json!(cache));
    }
    Ok(Report {
        text,
        json: serde_json::Value::Object(json),
    })
}
