//! Consumer groups: list with lag and clients, one group's per-queue lag,
//! clients and subscriptions, create/delete, and offset resets (by time,
//! or to the end: "skip accumulated").

use std::collections::BTreeMap;

use crate::gate::Console;
use axum::extract::Path;
use axum::Json;
use broker::metrics::is_system_group;
use client::{Admin, ClientError};
use protocol::body::consumer::{ConsumeStats, ConsumerConnection};
use protocol::body::group::SubscriptionGroupConfig;
use protocol::ResponseCode;
use serde::Deserialize;
use serde_json::{json, Value};

use super::required;
use crate::error::{ApiResult, HttpError};

/// Built-in groups every broker has (shown as system groups).
const BUILTIN_GROUPS: [&str; 8] = [
    "TOOLS_CONSUMER",
    "FILTERSRV_CONSUMER",
    "__MONITOR_CONSUMER",
    "CLIENT_INNER_PRODUCER",
    "SELF_TEST_C_GROUP",
    "CID_ONS-HTTP-PROXY",
    "CID_ONSAPI_PERMISSION",
    "CID_ONSAPI_OWNER",
];

fn is_system(group: &str) -> bool {
    // The console's own browsing consumer counts as a system group too.
    is_system_group(group)
        || BUILTIN_GROUPS.contains(&group)
        || group.starts_with("CID_ONSAPI")
        || group.starts_with("APOGEE_CONSOLE_")
}

fn lag_of(stats: &ConsumeStats) -> i64 {
    stats
        .offset_table
        .values()
        .map(|o| (o.broker_offset - o.consumer_offset.max(0)).max(0))
        .sum()
}

/// The group's live members, or none when it is offline (a broker answers
/// CONSUMER_NOT_ONLINE then, which is not an error for the console).
async fn connections(admin: &Admin, group: &str) -> ApiResult<Option<ConsumerConnection>> {
    match admin.consumer_connections(group).await {
        Ok(c) => Ok(Some(c)),
        Err(ClientError::Response { code, .. })
            if code == ResponseCode::CONSUMER_NOT_ONLINE.code() =>
        {
            Ok(None)
        }
        Err(ClientError::InvalidArgument { .. }) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// GET /api/groups.
pub async fn list(Console(s): Console) -> ApiResult<Json<Value>> {
    let admin = s.admin()?;
    let mut names: BTreeMap<String, SubscriptionGroupConfig> = BTreeMap::new();
    for (_, addr) in admin.masters(None).await? {
        names.extend(admin.group_configs(&addr).await?.subscription_group_table);
    }
    let mut rows = Vec::with_capacity(names.len());
    for (name, config) in names {
        let (lag, stats_error) = match admin.consume_stats(&name, None).await {
            Ok(st) => (lag_of(&st), None),
            Err(e) => (0, Some(e.to_string())),
        };
        let clients = connections(admin, &name)
            .await
            .ok()
            .flatten()
            .map_or(0, |c| c.connection_set.len());
        rows.push(json!({
            "name": name, "system": is_system(&name), "lag": lag, "clients": clients,
            "consumeEnable": config.consume_enable, "broadcast": config.consume_broadcast_enable,
            "orderly": config.consume_message_orderly, "retryMaxTimes": config.retry_max_times,
            "statsError": stats_error,
        }));
    }
    Ok(Json(Value::Array(rows)))
}

/// GET /api/groups/{name}: per-queue lag, clients, subscriptions.
pub async fn detail(Console(s): Console, Path(name): Path<String>) -> ApiResult<Json<Value>> {
    let admin = s.admin()?;
    let stats = admin.consume_stats(&name, None).await?;
    let queues: Vec<Value> = stats
        .offset_table
        .iter()
        .map(|(mq, o)| {
            json!({
                "topic": mq.topic, "broker": mq.broker_name, "queueId": mq.queue_id,
                "brokerOffset": o.broker_offset, "consumerOffset": o.consumer_offset,
                "lag": (o.broker_offset - o.consumer_offset.max(0)).max(0),
                "lastTimestamp": o.last_timestamp,
            })
        })
        .collect();
    let conn = connections(admin, &name).await?;
    let (clients, subs, consume_type, model) = match &conn {
        Some(c) => (
            c.connection_set
                .iter()
                .map(|x| {
                    json!({ "clientId": x.client_id, "addr": x.client_addr,
                                 "language": x.language, "version": x.version })
                })
                .collect::<Vec<_>>(),
            c.subscription_table
                .iter()
                .map(|(t, d)| {
                    json!({ "topic": t, "expression": d.sub_string,
                                      "type": d.expression_type })
                })
                .collect::<Vec<_>>(),
            serde_json::to_value(&c.consume_type).unwrap_or(Value::Null),
            serde_json::to_value(&c.message_model).unwrap_or(Value::Null),
        ),
        None => (Vec::new(), Vec::new(), Value::Null, Value::Null),
    };
    Ok(Json(json!({
        "name": name, "lag": lag_of(&stats), "tps": stats.consume_tps, "queues": queues,
        "online": conn.is_some(), "clients": clients, "subscriptions": subs,
        "consumeType": consume_type, "messageModel": model,
    })))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Create {
    name: Option<String>,
    retry_max_times: Option<i32>,
    broadcast: Option<bool>,
    orderly: Option<bool>,
}

/// POST /api/groups: create or update on every master.
pub async fn create(Console(s): Console, Json(b): Json<Create>) -> ApiResult<Json<Value>> {
    let name = required("name", b.name.as_deref())?;
    if name.len() > protocol::message::topics::MAX_GROUP_LEN {
        return Err(HttpError::BadRequest(format!(
            "the field 'name' is longer than {} characters",
            protocol::message::topics::MAX_GROUP_LEN
        )));
    }
    let mut config = SubscriptionGroupConfig::new(name);
    if let Some(n) = b.retry_max_times {
        config.retry_max_times = n;
    }
    config.consume_broadcast_enable = b.broadcast.unwrap_or(false);
    config.consume_message_orderly = b.orderly.unwrap_or(false);
    s.admin()?.create_group(None, &config).await?;
    Ok(Json(json!({ "group": name })))
}

/// DELETE /api/groups/{name}: the group and its offsets.
pub async fn delete(Console(s): Console, Path(name): Path<String>) -> ApiResult<Json<Value>> {
    s.admin()?.delete_group(None, &name, true).await?;
    Ok(Json(json!({ "deleted": name })))
}

#[derive(Deserialize)]
pub struct Reset {
    topic: Option<String>,
    /// Milliseconds since the epoch; -1 moves to the end (skip accumulated).
    timestamp: Option<i64>,
}

/// POST /api/groups/{name}/reset.
pub async fn reset(
    Console(s): Console,
    Path(name): Path<String>,
    Json(b): Json<Reset>,
) -> ApiResult<Json<Value>> {
    let topic = required("topic", b.topic.as_deref())?;
    let ts = b
        .timestamp
        .ok_or_else(|| HttpError::BadRequest("the field 'timestamp' is required".into()))?;
    if ts < -1 {
        return Err(HttpError::BadRequest(format!(
            "the field 'timestamp' must be -1 (skip accumulated) or a time in ms, not {ts}"
        )));
    }
    let admin = s.admin()?;
    // A broker answers CONSUMER_NOT_ONLINE for a group with no live member
    // after storing the new offsets (they apply on its next pull): for the
    // console that is a completed reset, reported with a note.
    let (offsets, note) = match admin.reset_offset_by_time(&name, topic, ts, true).await {
        Ok(o) => (o, None),
        Err(ClientError::Response { code, .. })
            if code == ResponseCode::CONSUMER_NOT_ONLINE.code() =>
        {
            let note =
                "the group is offline: the new offsets are stored and apply when it next pulls";
            (BTreeMap::new(), Some(note))
        }
        Err(e) => return Err(e.into()),
    };
    let rows: Vec<Value> = offsets
        .iter()
        .map(|(mq, o)| json!({ "broker": mq.broker_name, "queueId": mq.queue_id, "offset": o }))
        .collect();
    Ok(Json(
        json!({ "group": name, "topic": topic, "offsets": rows, "note": note }),
    ))
}
