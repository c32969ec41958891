//! Cluster and broker commands: clusterList, brokerStatus, haStatus.

use std::collections::BTreeMap;

use anyhow::{bail, Result};
use clap::Args;
use client::Admin;
use serde_json::json;

use super::table::{key_values, Table};
use super::{OrFail, Report};

/// Which brokers to ask: one address, or every master of a cluster (all
/// masters when neither is given).
#[derive(Args, Debug)]
pub struct BrokerSelect {
    /// Broker address.
    #[arg(short = 'b', long = "brokerAddr", conflicts_with = "cluster")]
    pub broker: Option<String>,
    /// Every master of this cluster.
    #[arg(short = 'c', long = "clusterName")]
    pub cluster: Option<String>,
}

/// Runtime keys that describe replication.
fn is_ha_key(key: &str) -> bool {
    ["ha", "slave", "master"].iter().any(|p| key.starts_with(p))
}

/// First figure of a broker's `"1.00 2.00 3.00"` rate triple.
fn first_rate(info: &BTreeMap<String, String>, key: &str) -> String {
    info.get(key)
        .and_then(|v| v.split_whitespace().next())
        .unwrap_or("-")
        .to_string()
}

pub async fn cluster_list(admin: &Admin) -> Result<Report> {
    let info = admin
        .cluster_info()
        .await
        .or_fail(|| "cannot read the cluster list from the NameServer")?;
    let mut t = Table::new([
        "#Cluster Name",
        "#Broker Name",
        "#BID",
        "#Addr",
        "#Version",
        "#InTPS",
        "#OutTPS",
    ]);
    let mut rows = Vec::new();
    for (cluster, names) in &info.cluster_addr_table {
        for name in names {
            let Some(bd) = info.broker_addr_table.get(name) else {
                continue;
            };
            for (id, addr) in &bd.broker_addrs {
                // An unreachable broker still gets its line, marked, so the
                // list shows what the NameServer believes.
                let rt = admin.broker_runtime_info(addr).await.ok();
                let (version, in_tps, out_tps) = match &rt {
                    Some(rt) => (
                        rt.get("brokerVersionDesc").cloned().unwrap_or_default(),
                        first_rate(rt, "putTps"),
                        first_rate(rt, "getTransferedTps"),
                    ),
                    None => ("unreachable".to_string(), "-".into(), "-".into()),
                };
                t.row([
                    cluster.clone(),
                    name.clone(),
                    id.to_string(),
                    addr.clone(),
                    version.clone(),
                    in_tps.clone(),
                    out_tps.clone(),
                ]);
                rows.push(json!({
                    "cluster": cluster, "brokerName": name, "brokerId": id, "addr": addr,
                    "reachable": rt.is_some(), "version": version, "inTps": in_tps, "outTps": out_tps,
                }));
            }
        }
    }
    Ok(Report {
        text: t.render(),
        json: json!({ "brokers": rows }),
    })
}

/// `(name, address)` of the selected brokers.
pub(super) async fn selected(admin: &Admin, sel: &BrokerSelect) -> Result<Vec<(String, String)>> {
    if let Some(addr) = &sel.broker {
        return Ok(vec![(addr.clone(), addr.clone())]);
    }
    let masters = admin.masters(sel.cluster.as_deref()).await.or_fail(|| {
        format!(
            "cannot list the brokers of {}",
            sel.cluster.as_deref().unwrap_or("the NameServer")
        )
    })?;
    if masters.is_empty() {
        bail!("no broker is registered with the NameServer");
    }
    Ok(masters)
}

async fn runtime_of(
    admin: &Admin,
    sel: &BrokerSelect,
) -> Result<Vec<(String, String, BTreeMap<String, String>)>> {
    let mut out = Vec::new();
    for (name, addr) in selected(admin, sel).await? {
        let info = admin
            .broker_runtime_info(&addr)
            .await
            .or_fail(|| format!("cannot read the runtime info of broker {addr}"))?;
        out.push((name, addr, info));
    }
    Ok(out)
}

pub async fn broker_status(admin: &Admin, sel: &BrokerSelect) -> Result<Report> {
    let mut text = String::new();
    let mut json = serde_json::Map::new();
    let all = runtime_of(admin, sel).await?;
    let several = all.len() > 1;
    for (name, addr, info) in all {
        if several {
            text.push_str(&format!("== {name} ({addr}) ==\n"));
        }
        text.push_str(&key_values(
            info.iter().map(|(k, v)| (k.as_str(), v.clone())),
        ));
        json.insert(addr, json!(info));
    }
    Ok(Report {
        text,
        json: serde_json::Value::Object(json),
    })
}

pub async fn ha_status(admin: &Admin, sel: &BrokerSelect) -> Result<Report> {
    let mut text = String::new();
    let mut json = serde_json::Map::new();
    for (name, addr, info) in runtime_of(admin, sel).await? {
        let ha: BTreeMap<&str, &str> = info
            .iter()
            .filter(|(k, _)| is_ha_key(k))
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let role = info.get("brokerRole").map(String::as_str).unwrap_or("?");
        text.push_str(&format!("== {name} ({addr}), brokerRole {role} ==\n"));
        if ha.is_empty() {
            text.push_str("the broker reports no replication figures\n");
        } else {
            text.push_str(&key_values(ha.iter().map(|(k, v)| (*k, v.to_string()))));
        }
        json.insert(
            addr,
            json!({ "brokerName": name, "brokerRole": role, "replication": ha }),
        );
    }
    Ok(Report {
        text,
        json: serde_json::Value::Object(json),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ha_keys_are_recognised() {
        for k in [
            "haRole",
            "masterOffset",
            "slaveAckOffset",
            "haLagBytes",
            "haLagSeconds",
        ] {
            assert!(is_ha_key(k), "{k}");
        }
        for k in ["brokerRole", "putTps", "commitLogMaxOffset"] {
            assert!(!is_ha_key(k), "{k}");
        }
    }

    #[test]
    fn first_rate_takes_the_first_figure() {
        let mut m = BTreeMap::new();
        m.insert("putTps".to_string(), "12.50 11.00 10.00".to_string());
        assert_eq!(first_rate(&m, "putTps"), "12.50");
        assert_eq!(first_rate(&m, "getTransferedTps"), "-");
    }
}
