//! Messages: send a test message, find by key, by id (unique id or offset
//! id), and show body (text and hex; the page pretty-prints JSON) with
//! properties.

use std::collections::BTreeMap;

use crate::gate::Console;
use axum::extract::Query;
use axum::Json;
use client::{Message, MessageExt};
use serde::Deserialize;
use serde_json::{json, Value};

use super::required;
use crate::error::{ApiResult, HttpError};

/// Bodies beyond this are cut in the page (the hex view especially).
const BODY_SHOWN: usize = 64 * 1024;

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// One message as the page shows it.
pub fn message_json(m: &MessageExt) -> Value {
    let body = &m.body[..m.body.len().min(BODY_SHOWN)];
    let props: BTreeMap<&str, &str> = m.properties.iter().collect();
    json!({
        "msgId": m.msg_id, "offsetMsgId": m.offset_msg_id, "topic": m.topic,
        "tags": m.tags(), "keys": m.keys(), "broker": m.broker_name,
        "queueId": m.queue_id, "queueOffset": m.queue_offset,
        "bornTimestamp": m.born_timestamp, "storeTimestamp": m.store_timestamp,
        "bornHost": m.born_host.to_string(), "storeHost": m.store_host.to_string(),
        "reconsumeTimes": m.reconsume_times, "storeSize": m.store_size,
        "bodySize": m.body.len(), "truncated": m.body.len() > BODY_SHOWN,
        "bodyText": String::from_utf8_lossy(body), "bodyHex": hex(body),
        "properties": props,
    })
}

#[derive(Deserialize)]
pub struct Send {
    topic: Option<String>,
    tags: Option<String>,
    keys: Option<String>,
    body: Option<String>,
    properties: Option<BTreeMap<String, String>>,
}

/// POST /api/messages: sends one message.
pub async fn send(Console(s): Console, Json(b): Json<Send>) -> ApiResult<Json<Value>> {
    let topic = required("topic", b.topic.as_deref())?;
    let body = b.body.unwrap_or_default();
    if body.is_empty() {
        return Err(HttpError::BadRequest("the field 'body' is required".into()));
    }
    let mut msg = Message::new(topic, body.into_bytes());
    if let Some(t) = b.tags.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        msg = msg.with_tags(t);
    }
    let keys: Vec<&str> = b
        .keys
        .as_deref()
        .unwrap_or("")
        .split([' ', ','])
        .filter(|k| !k.is_empty())
        .collect();
    if !keys.is_empty() {
        msg = msg.with_keys(keys);
    }
    for (k, v) in b.properties.unwrap_or_default() {
        msg = msg.with_property(k, v);
    }
    let r = s.producer().await?.send(msg).await?;
    Ok(Json(json!({
        "status": format!("{:?}", r.status), "msgId": r.msg_id, "offsetMsgId": r.offset_msg_id,
        "broker": r.queue.broker_name, "queueId": r.queue.queue_id, "queueOffset": r.queue_offset,
    })))
}

#[derive(Deserialize)]
pub struct ByKey {
    topic: Option<String>,
    key: Option<String>,
}

/// GET /api/messages/by-key?topic=&key=: up to 64 matches from the index.
pub async fn by_key(Console(s): Console, Query(q): Query<ByKey>) -> ApiResult<Json<Value>> {
    let topic = required("topic", q.topic.as_deref())?;
    let key = required("key", q.key.as_deref())?;
    let found = s
        .admin()?
        .query_message_by_key(topic, key, 64, 0, i64::MAX)
        .await?;
    Ok(Json(Value::Array(found.iter().map(message_json).collect())))
}

#[derive(Deserialize)]
pub struct ById {
    topic: Option<String>,
    id: Option<String>,
}

/// GET /api/messages/by-id?topic=&id=: a unique id (looked up in the topic's
/// index) or an offset id (read straight from the broker it names).
pub async fn by_id(Console(s): Console, Query(q): Query<ById>) -> ApiResult<Json<Value>> {
    let id = required("id", q.id.as_deref())?;
    let admin = s.admin()?;
    if let Some(topic) = q.topic.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        let found = admin.query_message_by_id(topic, id).await?;
        if !found.is_empty() {
            return Ok(Json(Value::Array(found.iter().map(message_json).collect())));
        }
    }
    match admin.view_message(id).await {
        Ok(m) => Ok(Json(Value::Array(vec![message_json(&m)]))),
        Err(e) => Err(HttpError::NotFound(format!(
            "no message with id '{id}' ({e})"
        ))),
    }
}
