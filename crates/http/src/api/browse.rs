//! GET /api/messages/by-time: messages of a topic stored in a time range,
//! read by a lite-pull consumer that seeks every queue to the start time.
//! The scan is bounded (messages read and time spent) so a busy topic
//! answers with what it found so far and says so.

use std::time::{Duration, Instant};

use crate::gate::Console;
use axum::extract::Query;
use axum::Json;
use client::{ClientError, ConsumeFrom, LitePullConsumer, MessageExt};
use serde::Deserialize;
use serde_json::{json, Value};

use super::messages::message_json;
use super::required;
use crate::error::{ApiResult, HttpError};

/// The browsing consumer's group; it never commits offsets.
const BROWSE_GROUP: &str = "APOGEE_CONSOLE_BROWSE";
/// At most this many messages are read per search.
const SCAN_LIMIT: usize = 5000;
/// And for at most this long.
const SCAN_TIME: Duration = Duration::from_secs(3);
/// A poll that waits this long for nothing means every queue is read.
const POLL_WAIT: Duration = Duration::from_millis(300);

#[derive(Deserialize)]
pub struct ByTime {
    topic: Option<String>,
    begin: Option<i64>,
    end: Option<i64>,
    max: Option<usize>,
}

/// Matches sorted by store time, and whether the scan stopped early.
struct Found {
    messages: Vec<MessageExt>,
    scanned: usize,
    complete: bool,
}

pub async fn by_time(Console(s): Console, Query(q): Query<ByTime>) -> ApiResult<Json<Value>> {
    let topic = required("topic", q.topic.as_deref())?;
    let (Some(begin), Some(end)) = (q.begin, q.end) else {
        return Err(HttpError::BadRequest(
            "the fields 'begin' and 'end' (ms since the epoch) are required".into(),
        ));
    };
    if begin > end {
        return Err(HttpError::BadRequest(format!(
            "the field 'begin' ({begin}) is after 'end' ({end})"
        )));
    }
    let max = q.max.unwrap_or(100).clamp(1, 500);
    let namesrv = s.admin()?.client().options().namesrv.join(";");
    let consumer = LitePullConsumer::builder()
        .namesrv(&namesrv)
        .group(BROWSE_GROUP)
        .consume_from(ConsumeFrom::FirstOffset)
        .auto_commit(false)
        .build()
        .await?;
    let found = scan(&consumer, topic, begin, end).await;
    consumer.shutdown().await;
    let mut found = found?;
    found.messages.sort_by_key(|m| m.store_timestamp);
    let total = found.messages.len();
    found.messages.truncate(max);
    Ok(Json(json!({
        "messages": found.messages.iter().map(message_json).collect::<Vec<_>>(),
        "matched": total, "scanned": found.scanned, "complete": found.complete,
    })))
}

async fn scan(
    consumer: &LitePullConsumer,
    topic: &str,
    begin: i64,
    end: i64,
) -> Result<Found, ClientError> {
    let queues = consumer.fetch_queues(topic).await?;
    consumer.assign(queues.clone()).await?;
    for mq in &queues {
        consumer.seek_to_timestamp(mq, begin).await?;
    }
    let started = Instant::now();
    let mut found = Found {
        messages: Vec::new(),
        scanned: 0,
        complete: false,
    };
    while found.scanned < SCAN_LIMIT && started.elapsed() < SCAN_TIME {
        let got = consumer.poll(POLL_WAIT).await?;
        if got.is_empty() {
            found.complete = true;
            break;
        }
        found.scanned += got.len();
        found.messages.extend(
            got.into_iter()
                .filter(|m| (begin..=end).contains(&m.store_timestamp)),
        );
    }
    Ok(found)
}
