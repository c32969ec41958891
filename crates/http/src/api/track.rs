//! GET /api/messages/track?offsetMsgId=: which groups consumed a message,
//! judged from consumer offsets (a group whose committed offset on the
//! message's queue is past the message has consumed it).

use crate::gate::Console;
use axum::extract::Query;
use axum::Json;
use protocol::message::keys;
use serde::Deserialize;
use serde_json::{json, Value};

use super::required;
use crate::error::{ApiResult, HttpError};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Track {
    offset_msg_id: Option<String>,
}

pub async fn track(Console(s): Console, Query(q): Query<Track>) -> ApiResult<Json<Value>> {
    let id = required("offsetMsgId", q.offset_msg_id.as_deref())?;
    let admin = s.admin()?;
    let m = admin
        .view_message(id)
        .await
        .map_err(|e| HttpError::NotFound(format!("no message with offset id '{id}' ({e})")))?;
    let mut rows = Vec::new();
    for group in admin.groups_consuming(&m.topic).await? {
        let state = match admin.consume_stats(&group, Some(&m.topic)).await {
            Ok(stats) => {
                let committed = stats
                    .offset_table
                    .iter()
                    .find(|(mq, _)| mq.broker_name == m.broker_name && mq.queue_id == m.queue_id)
                    .map(|(_, o)| o.consumer_offset);
                match committed {
                    Some(c) if c > m.queue_offset => "CONSUMED",
                    Some(_) => "NOT_CONSUMED_YET",
                    None => "NO_OFFSET",
                }
                .to_owned()
            }
            Err(e) => format!("UNKNOWN ({e})"),
        };
        rows.push(json!({ "group": group, "state": state }));
    }
    Ok(Json(json!({
        "msgId": m.msg_id, "topic": m.topic, "queueId": m.queue_id,
        "queueOffset": m.queue_offset, "tags": m.property(keys::TAGS), "groups": rows,
    })))
}
