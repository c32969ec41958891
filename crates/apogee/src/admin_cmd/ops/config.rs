//! Configuration commands: updateBrokerConfig, getBrokerConfig,
//! getNamesrvConfig, updateNamesrvConfig, updateKvConfig, deleteKvConfig,
//! wipeWritePerm and addWritePerm.

use std::collections::BTreeMap;

use anyhow::{bail, Result};
use clap::Args;
use client::Admin;
use serde_json::json;

use super::super::cluster::{selected, BrokerSelect};
use super::super::table::{key_values, Table};
use super::super::{OrFail, Report};

/// Flags of `updateBrokerConfig`.
#[derive(Args, Debug)]
pub struct UpdateBrokerConfigArgs {
    #[command(flatten)]
    pub select: BrokerSelect,
    /// Config key (a broker.conf key).
    #[arg(short = 'k', long = "key")]
    pub key: String,
    /// New value.
    #[arg(short = 'v', long = "value")]
    pub value: String,
}

/// `-k key -v value`.
#[derive(Args, Debug)]
pub struct KeyValueArgs {
    /// Config key.
    #[arg(short = 'k', long = "key")]
    pub key: String,
    /// New value.
    #[arg(short = 'v', long = "value")]
    pub value: String,
}

/// Flags of `updateKvConfig`.
#[derive(Args, Debug)]
pub struct KvArgs {
    /// Namespace.
    #[arg(short = 's', long = "namespace")]
    pub namespace: String,
    /// Key.
    #[arg(short = 'k', long = "key")]
    pub key: String,
    /// Value.
    #[arg(short = 'v', long = "value")]
    pub value: String,
}

/// Flags of `deleteKvConfig`.
#[derive(Args, Debug)]
pub struct KvKeyArgs {
    /// Namespace.
    #[arg(short = 's', long = "namespace")]
    pub namespace: String,
    /// Key.
    #[arg(short = 'k', long = "key")]
    pub key: String,
}

/// `-b brokerName` (wipeWritePerm, addWritePerm).
#[derive(Args, Debug)]
pub struct BrokerNameArg {
    /// Broker name.
    #[arg(short = 'b', long = "brokerName")]
    pub broker_name: String,
}

fn check_key(key: &str) -> Result<()> {
    if key.trim().is_empty() || key.contains(['=', '\n', '\r']) {
        bail!("invalid key `{key}`: it must be non-empty without `=` or line breaks");
    }
    Ok(())
}

fn one_pair(key: &str, value: &str) -> Result<BTreeMap<String, String>> {
    check_key(key)?;
    if value.contains(['\n', '\r']) {
        bail!("invalid value for {key}: line breaks are not allowed");
    }
    Ok(BTreeMap::from([(key.to_owned(), value.to_owned())]))
}

pub async fn update_broker_config(admin: &Admin, a: &UpdateBrokerConfigArgs) -> Result<Report> {
    let pairs = one_pair(&a.key, &a.value)?;
    let mut t = Table::new(["#Broker", "#Addr", "#Result"]);
    let mut rows = Vec::new();
    for (name, addr) in selected(admin, &a.select).await? {
        let remark = admin
            .update_broker_config(&addr, &pairs)
            .await
            .or_fail(|| format!("cannot update {} on broker {addr}", a.key))?;
        t.row([name.clone(), addr.clone(), remark.clone()]);
        rows.push(json!({ "brokerName": name, "addr": addr, "result": remark }));
    }
    Ok(Report {
        text: format!(
            "update broker config {}={} success.\n{}",
            a.key,
            a.value,
            t.render()
        ),
        json: json!({ "key": a.key, "value": a.value, "brokers": rows }),
    })
}

pub async fn get_broker_config(admin: &Admin, sel: &BrokerSelect) -> Result<Report> {
    let mut text = String::new();
    let mut json = serde_json::Map::new();
    let all = selected(admin, sel).await?;
    for (name, addr) in all {
        let config = admin
            .broker_config(&addr)
            .await
            .or_fail(|| format!("cannot read the config of broker {addr}"))?;
        text.push_str(&format!("============{name} ({addr})============\n"));
        text.push_str(&key_values(
            config.iter().map(|(k, v)| (k.as_str(), v.clone())),
        ));
        json.insert(addr, json!(config));
    }
    Ok(Report {
        text,
        json: serde_json::Value::Object(json),
    })
}

pub async fn get_namesrv_config(admin: &Admin) -> Result<Report> {
    let mut text = String::new();
    let mut json = serde_json::Map::new();
    for addr in admin.namesrv_addrs() {
        let config = admin
            .namesrv_config(&addr)
            .await
            .or_fail(|| format!("cannot read the config of NameServer {addr}"))?;
        text.push_str(&format!("============{addr}============\n"));
        text.push_str(&key_values(
            config.iter().map(|(k, v)| (k.as_str(), v.clone())),
        ));
        json.insert(addr, json!(config));
    }
    Ok(Report {
        text,
        json: serde_json::Value::Object(json),
    })
}

pub async fn update_namesrv_config(admin: &Admin, a: &KeyValueArgs) -> Result<Report> {
    let pairs = one_pair(&a.key, &a.value)?;
    let addrs = admin.namesrv_addrs();
    for addr in &addrs {
        admin
            .update_namesrv_config(addr, &pairs)
            .await
            .or_fail(|| format!("cannot update {} on NameServer {addr}", a.key))?;
    }
    Ok(Report {
        text: format!(
            "update name server config success! [{}] {}={}\n",
            addrs.join(";"),
            a.key,
            a.value
        ),
        json: json!({ "key": a.key, "value": a.value, "namesrvs": addrs }),
    })
}

pub async fn update_kv_config(admin: &Admin, a: &KvArgs) -> Result<Report> {
    check_key(&a.namespace)?;
    check_key(&a.key)?;
    admin
        .put_kv_config(&a.namespace, &a.key, &a.value)
        .await
        .or_fail(|| format!("cannot set {}/{}", a.namespace, a.key))?;
    Ok(Report {
        text: format!("update kv config in namespace {} success.\n", a.namespace),
        json: json!({ "namespace": a.namespace, "key": a.key, "value": a.value }),
    })
}

pub async fn delete_kv_config(admin: &Admin, a: &KvKeyArgs) -> Result<Report> {
    check_key(&a.namespace)?;
    check_key(&a.key)?;
    admin
        .delete_kv_config(&a.namespace, &a.key)
        .await
        .or_fail(|| format!("cannot delete {}/{}", a.namespace, a.key))?;
    Ok(Report {
        text: format!("delete kv config from namespace {} success.\n", a.namespace),
        json: json!({ "namespace": a.namespace, "key": a.key, "deleted": true }),
    })
}

pub async fn write_perm(admin: &Admin, a: &BrokerNameArg, add: bool) -> Result<Report> {
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
    let verb = if add { "add" } else { "wipe" };
    let mut text = String::new();
    let mut rows = Vec::new();
    for addr in admin.namesrv_addrs() {
        let count = admin
            .set_write_perm(&addr, &a.broker_name, add)
            .await
            .or_fail(|| format!("cannot {verb} the write permission of {}", a.broker_name))?;
        text.push_str(&format!(
            "{verb} write perm of broker[{}] in name server[{addr}] OK, {count}\n",
            a.broker_name
        ));
        rows.push(json!({ "namesrv": addr, "topicCount": count }));
    }
    Ok(Report {
        text,
        json: json!({ "brokerName": a.broker_name, "writable": add, "namesrvs": rows }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_values_are_checked() {
        assert!(one_pair("a", "1").is_ok());
        for (k, v) in [("", "1"), ("a=b", "1"), ("a", "x\ny")] {
            assert!(one_pair(k, v).is_err(), "{k:?} {v:?}");
        }
    }
}
