//! Reads a queue back over the wire (PULL_MESSAGE from offset 0 until the
//! broker has no more), for process tests that check what a broker kept.

use std::time::Duration;

use protocol::header::pull::{PullMessageRequestHeader, PullMessageResponseHeader};
use protocol::message::{decode_record, DecodedRecord};
use protocol::{RemotingCommand, RequestCode, ResponseCode};
use remoting::RemotingClient;

/// Every message of `topic`/`queue` on `addr` as (queue offset, body).
///
/// # Errors
/// The broker refused a pull (code and remark), or the transport failed.
pub async fn pull_queue(
    c: &RemotingClient,
    addr: &str,
    topic: &str,
    queue: i32,
) -> Result<Vec<(i64, Vec<u8>)>, String> {
    let mut out = Vec::new();
    let mut offset = 0i64;
    loop {
        let header = PullMessageRequestHeader {
            consumer_group: "ReadbackCG".into(),
            topic: topic.into(),
            queue_id: queue,
            queue_offset: offset,
            max_msg_nums: 32,
            sys_flag: 1 << 2,
            suspend_timeout_millis: 0,
            subscription: Some("*".into()),
            ..PullMessageRequestHeader::default()
        };
        let req = RemotingCommand::request_with_header(RequestCode::PULL_MESSAGE, &header);
        let r = c
            .invoke(addr, req, Duration::from_secs(5))
            .await
            .map_err(|e| e.to_string())?;
        let no_more = [
            ResponseCode::PULL_NOT_FOUND,
            ResponseCode::PULL_RETRY_IMMEDIATELY,
            ResponseCode::PULL_OFFSET_MOVED,
        ];
        if no_more.iter().any(|c| c.code() == r.code) {
            return Ok(out);
        }
        if r.code != 0 {
            return Err(format!("code {}: {:?}", r.code, r.remark));
        }
        let h: PullMessageResponseHeader = r.decode_header().map_err(|e| e.to_string())?;
        let mut body = &r.body[..];
        while !body.is_empty() {
            let (record, used) = decode_record(body).map_err(|e| e.to_string())?;
            if let DecodedRecord::Message(m) = record {
                out.push((m.queue_offset(), m.body().to_vec()));
            }
            body = &body[used..];
        }
        offset = h.next_begin_offset;
    }
}

/// [`pull_queue`] again until it returns at least `count` messages or ten
/// seconds pass (a send is answered once stored; the consume queue a pull
/// reads is written just after): what the last pull returned.
///
/// # Errors
/// As [`pull_queue`].
pub async fn pull_queue_until(
    c: &RemotingClient,
    addr: &str,
    topic: &str,
    queue: i32,
    count: usize,
) -> Result<Vec<(i64, Vec<u8>)>, String> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let got = pull_queue(c, addr, topic, queue).await?;
        if got.len() >= count || tokio::time::Instant::now() >= deadline {
            return Ok(got);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
