//! Topics: list with configs, create/update, delete, and one topic's queues
//! (min/max offsets), route and consuming groups.

use std::collections::{BTreeMap, BTreeSet};

use crate::gate::Console;
use axum::extract::{Path, Query};
use axum::Json;
use broker::metrics::is_system_topic;
use client::TopicSpec;
use protocol::body::topic::TopicConfig;
use protocol::message::topics;
use serde::Deserialize;
use serde_json::{json, Value};

use super::required;
use crate::error::{ApiResult, HttpError};

#[derive(Deserialize)]
pub struct ListQuery {
    q: Option<String>,
}

/// Cluster and broker names are topics too (brokers route by them), and
/// system ones.
fn kind(name: &str, infra: &BTreeSet<String>) -> &'static str {
    if topics::is_retry_topic(name) {
        "retry"
    } else if topics::is_dlq_topic(name) {
        "dlq"
    } else if is_system_topic(name) || infra.contains(name) {
        "system"
    } else {
        "normal"
    }
}

fn message_type(c: &TopicConfig) -> String {
    c.attributes
        .iter()
        .find(|(k, _)| k.trim_start_matches('+') == "message.type")
        .map_or_else(|| "NORMAL".to_owned(), |(_, v)| v.clone())
}

/// GET /api/topics?q=: every topic of every master, filtered by `q`.
pub async fn list(Console(s): Console, Query(q): Query<ListQuery>) -> ApiResult<Json<Value>> {
    let admin = s.admin()?;
    let needle = q.q.unwrap_or_default().to_ascii_lowercase();
    let info = admin.cluster_info().await?;
    let infra: BTreeSet<String> = info
        .cluster_addr_table
        .keys()
        .chain(info.broker_addr_table.keys())
        .cloned()
        .collect();
    let mut merged: BTreeMap<String, (TopicConfig, Vec<String>)> = BTreeMap::new();
    for (broker, addr) in admin.masters(None).await? {
        for (name, config) in admin.topic_configs(&addr).await?.topic_config_table {
            if !name.to_ascii_lowercase().contains(&needle) {
                continue;
            }
            merged
                .entry(name)
                .or_insert_with(|| (config, Vec::new()))
                .1
                .push(broker.clone());
        }
    }
    let rows: Vec<Value> = merged
        .into_iter()
        .map(|(name, (c, brokers))| {
            json!({
                "name": name, "kind": kind(&name, &infra), "brokers": brokers,
                "readQueues": c.read_queue_nums, "writeQueues": c.write_queue_nums,
                "perm": c.perm, "order": c.order, "messageType": message_type(&c),
            })
        })
        .collect();
    Ok(Json(Value::Array(rows)))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Upsert {
    name: Option<String>,
    queues: Option<i32>,
    perm: Option<i32>,
    message_type: Option<String>,
}

/// POST /api/topics: create or update on every master.
pub async fn upsert(Console(s): Console, Json(b): Json<Upsert>) -> ApiResult<Json<Value>> {
    let name = required("name", b.name.as_deref())?;
    let queues = b.queues.unwrap_or(8);
    if !(1..=1024).contains(&queues) {
        return Err(HttpError::BadRequest(format!(
            "the field 'queues' must be between 1 and 1024, not {queues}"
        )));
    }
    let perm = b.perm.unwrap_or(6);
    if ![2, 4, 6].contains(&perm) {
        return Err(HttpError::BadRequest(format!(
            "the field 'perm' must be 2 (write), 4 (read) or 6 (read+write), not {perm}"
        )));
    }
    let mut spec = TopicSpec::new(name, queues);
    spec.perm = perm;
    let kind = b.message_type.as_deref().unwrap_or("NORMAL");
    spec.order = kind.eq_ignore_ascii_case("FIFO");
    let brokers = s.admin()?.create_typed_topic(None, &spec, kind).await?;
    Ok(Json(json!({ "topic": name, "brokers": brokers })))
}

/// DELETE /api/topics/{name}: from every master and NameServer.
pub async fn delete(Console(s): Console, Path(name): Path<String>) -> ApiResult<Json<Value>> {
    s.admin()?.delete_topic(None, &name).await?;
    Ok(Json(json!({ "deleted": name })))
}

/// GET /api/topics/{name}: queues, route and consuming groups.
pub async fn detail(Console(s): Console, Path(name): Path<String>) -> ApiResult<Json<Value>> {
    let admin = s.admin()?;
    let route = admin.topic_route(&name).await.map_err(|e| match e {
        client::ClientError::Response { .. } => {
            HttpError::NotFound(format!("topic '{name}' does not exist ({e})"))
        }
        other => HttpError::Cluster(other),
    })?;
    let stats = admin.topic_stats(&name).await?;
    let queues: Vec<Value> = stats
        .offset_table
        .iter()
        .map(|(mq, o)| {
            json!({
                "broker": mq.broker_name, "queueId": mq.queue_id,
                "minOffset": o.min_offset, "maxOffset": o.max_offset,
                "lastUpdate": o.last_update_timestamp,
            })
        })
        .collect();
    let total: i64 = stats
        .offset_table
        .values()
        .map(|o| o.max_offset - o.min_offset)
        .sum();
    let routes: Vec<Value> = route
        .queue_datas
        .iter()
        .map(|q| {
            let addrs = route
                .broker_datas
                .iter()
                .find(|b| b.broker_name == q.broker_name)
                .map(|b| b.broker_addrs.clone())
                .unwrap_or_default();
            json!({
                "broker": q.broker_name, "readQueues": q.read_queue_nums,
                "writeQueues": q.write_queue_nums, "perm": q.perm, "addrs": addrs,
            })
        })
        .collect();
    let max_total: i64 = stats.offset_table.values().map(|o| o.max_offset).sum();
    Ok(Json(json!({
        "name": name, "queues": queues, "routes": routes,
        "messages": total, "maxOffsetTotal": max_total,
        "time": protocol::clock::now_ms(),
    })))
}
