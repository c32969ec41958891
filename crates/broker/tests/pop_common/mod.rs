//! Helpers for the POP tests: pop requests, and reading a pop answer the
//! way the Java client does (rebuilding each message's receipt handle from
//! startOffsetInfo / msgOffsetInfo).

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::time::Duration;

use protocol::header::pop::{
    AckMessageRequestHeader, ChangeInvisibleTimeRequestHeader, PopMessageRequestHeader,
    PopMessageResponseHeader,
};
use protocol::message::{decode_record, DecodedRecord};
use protocol::{RemotingCommand, RequestCode};
use remoting::RemotingClient;
use testkit::TestCluster;

pub const POP_GROUP: &str = "G_POP";

/// A delivered message as a Java client sees it.
#[derive(Debug, Clone)]
pub struct Popped {
    pub body: Vec<u8>,
    pub topic: String,
    pub queue_id: i32,
    pub queue_offset: i64,
    pub reconsume_times: i32,
    /// The receipt handle (`POP_CK`).
    pub extra_info: String,
}

pub fn pop_req(topic: &str, queue_id: i32, max: i32, invisible_ms: i64) -> PopMessageRequestHeader {
    PopMessageRequestHeader {
        consumer_group: POP_GROUP.into(),
        topic: topic.into(),
        queue_id,
        max_msg_nums: max,
        invisible_time: invisible_ms,
        poll_time: 0,
        born_time: 0,
        init_mode: 0,
        exp_type: Some("TAG".into()),
        exp: Some("*".into()),
        order: Some(false),
        ..Default::default()
    }
}

pub fn pop_cmd(h: &PopMessageRequestHeader) -> RemotingCommand {
    RemotingCommand::request_with_header(RequestCode::POP_MESSAGE, h)
}

/// Pops through `client` (long polls need more than the 5 s of `call`).
pub async fn pop_with(
    c: &TestCluster,
    client: &RemotingClient,
    h: &PopMessageRequestHeader,
) -> (RemotingCommand, Vec<Popped>) {
    let r = client
        .invoke(&c.broker_addr(), pop_cmd(h), Duration::from_secs(30))
        .await
        .unwrap();
    let popped = read_answer(&r, &c.broker_config.broker_name, h);
    (r, popped)
}

/// The messages of a pop answer (none unless it succeeded).
pub fn read_answer(r: &RemotingCommand, broker: &str, h: &PopMessageRequestHeader) -> Vec<Popped> {
    if r.code == 0 {
        read_pop(r, broker, h.order.unwrap_or(false))
    } else {
        Vec::new()
    }
}

pub async fn pop(c: &TestCluster, h: &PopMessageRequestHeader) -> (RemotingCommand, Vec<Popped>) {
    pop_with(c, &c.client, h).await
}

/// Splits `a b c;d e f` into `"a@b" -> c`.
fn info(text: &Option<String>) -> HashMap<String, String> {
    text.as_deref()
        .unwrap_or("")
        .split(';')
        .filter(|s| !s.is_empty())
        .map(|one| {
            let parts: Vec<&str> = one.split(' ').collect();
            assert_eq!(parts.len(), 3, "bad offset info {one:?}");
            (format!("{}@{}", parts[0], parts[1]), parts[2].to_owned())
        })
        .collect()
}

/// What the Java client does with a pop answer.
pub fn read_pop(r: &RemotingCommand, broker: &str, order: bool) -> Vec<Popped> {
    let h: PopMessageResponseHeader = r.decode_header().unwrap();
    let starts = info(&h.start_offset_info);
    let offsets = info(&h.msg_offset_info);
    let counts = info(&h.order_count_info);
    let mut body = &r.body[..];
    let mut out = Vec::new();
    while !body.is_empty() {
        let (rec, used) = decode_record(body).unwrap();
        let DecodedRecord::Message(m) = rec else {
            panic!("blank record in a pop body")
        };
        let retry = u8::from(m.topic().starts_with("%RETRY%"));
        let key = format!("{retry}@{}", m.queue_id());
        let listed: Vec<i64> = offsets[&key]
            .split(',')
            .map(|o| o.parse().unwrap())
            .collect();
        assert!(listed.contains(&m.queue_offset()), "offset not listed");
        let mut reconsume = m.reconsume_times();
        if order {
            let k = format!("{retry}@qo{}%{}", m.queue_id(), m.queue_offset());
            if let Some(n) = counts.get(&k) {
                reconsume = n.parse().unwrap();
            }
        }
        out.push(Popped {
            body: m.body().to_vec(),
            topic: m.topic().to_owned(),
            queue_id: m.queue_id(),
            queue_offset: m.queue_offset(),
            reconsume_times: reconsume,
            extra_info: format!(
                "{} {} {} {} {retry} {broker} {} {}",
                starts[&key],
                h.pop_time,
                h.invisible_time,
                h.revive_qid,
                m.queue_id(),
                m.queue_offset()
            ),
        });
        body = &body[used..];
    }
    out
}

/// ACK_MESSAGE as the Java client sends it (the retry topic for retries).
pub fn ack_cmd(m: &Popped) -> RemotingCommand {
    RemotingCommand::request_with_header(
        RequestCode::ACK_MESSAGE,
        &AckMessageRequestHeader {
            consumer_group: POP_GROUP.into(),
            topic: m.topic.clone(),
            queue_id: m.queue_id,
            extra_info: m.extra_info.clone(),
            offset: m.queue_offset,
            broker_name: None,
        },
    )
}

pub fn change_cmd(m: &Popped, invisible_ms: i64) -> RemotingCommand {
    RemotingCommand::request_with_header(
        RequestCode::CHANGE_MESSAGE_INVISIBLETIME,
        &ChangeInvisibleTimeRequestHeader {
            consumer_group: POP_GROUP.into(),
            topic: m.topic.clone(),
            queue_id: m.queue_id,
            extra_info: m.extra_info.clone(),
            offset: m.queue_offset,
            invisible_time: invisible_ms,
            broker_name: None,
        },
    )
}

pub fn bodies_of(popped: &[Popped]) -> Vec<String> {
    popped
        .iter()
        .map(|p| String::from_utf8_lossy(&p.body).into_owned())
        .collect()
}
