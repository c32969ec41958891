//! POST /api/messages/resend: delivers a stored message (from its topic or
//! a dead-letter queue) again to one consumer group, through the group's
//! retry topic, the way a consumer's own retry does. Other groups of the
//! topic do not see it.

use crate::gate::Console;
use axum::Json;
use client::Message;
use protocol::message::{keys, topics};
use serde::Deserialize;
use serde_json::{json, Value};

use super::required;
use crate::error::{ApiResult, HttpError};

/// Properties that describe one stored copy or one delivery attempt; the
/// resent copy gets fresh ones.
const NOT_COPIED: [&str; 11] = [
    keys::UNIQ_KEY,
    keys::MIN_OFFSET,
    keys::MAX_OFFSET,
    keys::DELAY,
    keys::RECONSUME_TIME,
    keys::MAX_RECONSUME_TIMES,
    keys::CONSUME_START_TIME,
    keys::REAL_TOPIC,
    keys::REAL_QID,
    keys::TRAN_MSG,
    keys::PGROUP,
];

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Resend {
    offset_msg_id: Option<String>,
    group: Option<String>,
}

pub async fn resend(Console(s): Console, Json(b): Json<Resend>) -> ApiResult<Json<Value>> {
    let id = required("offsetMsgId", b.offset_msg_id.as_deref())?;
    let group = required("group", b.group.as_deref())?;
    let admin = s.admin()?;
    let m = admin
        .view_message(id)
        .await
        .map_err(|e| HttpError::NotFound(format!("no message with offset id '{id}' ({e})")))?;
    // A retried or dead-lettered message names its first topic.
    let origin = match m.property(keys::RETRY_TOPIC) {
        Some(t) => t.to_owned(),
        None => m.topic.clone(),
    };
    let mut copy = Message::new(topics::retry_topic(group), m.body.clone()).with_flag(m.flag);
    for (k, v) in m.properties.iter() {
        if !NOT_COPIED.contains(&k) {
            copy = copy.with_property(k, v);
        }
    }
    copy = copy.with_property(keys::RETRY_TOPIC, origin.clone());
    if m.property(keys::ORIGIN_MESSAGE_ID).is_none() {
        copy = copy.with_property(keys::ORIGIN_MESSAGE_ID, m.msg_id.clone());
    }
    let r = s.producer().await?.send(copy).await?;
    Ok(Json(json!({
        "group": group, "topic": origin, "msgId": r.msg_id, "offsetMsgId": r.offset_msg_id,
        "status": format!("{:?}", r.status),
    })))
}
