//! Helpers shared by the broker's TCP integration tests: request builders,
//! polling for the consume queue to catch up, heartbeats, and a client-side
//! processor that records what the broker pushes to a client.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use protocol::body::heartbeat::{ConsumerData, HeartbeatData, SubscriptionData};
use protocol::header::offset::{GetMaxOffsetRequestHeader, OffsetResponseHeader};
use protocol::header::pull::PullMessageRequestHeader;
use protocol::header::send::SendMessageRequestHeader;
use protocol::message::{batch, decode_record, keys, DecodedRecord, Properties};
use protocol::{RemotingCommand, RequestCode, ResponseCode};
use remoting::{BoxFuture, ClientConfig, Connection, Processor, RemotingClient};
use testkit::TestCluster;
use tokio::sync::mpsc;

pub const GROUP: &str = "G_TEST";

/// Message properties with tags and keys (empty values left out).
pub fn props(tags: &str, keys_: &str) -> String {
    let mut p = Properties::new();
    if !tags.is_empty() {
        p.insert(keys::TAGS, tags);
    }
    if !keys_.is_empty() {
        p.insert(keys::KEYS, keys_);
    }
    p.encode()
}

/// A send header for one queue (queue -1: the broker picks).
pub fn send_header(topic: &str, queue_id: i32, properties: &str) -> SendMessageRequestHeader {
    SendMessageRequestHeader {
        producer_group: "PG_TEST".into(),
        topic: topic.into(),
        default_topic: "TBW102".into(),
        default_topic_queue_nums: 4,
        queue_id,
        sys_flag: 0,
        born_timestamp: testkit_now(),
        flag: 0,
        properties: Some(properties.to_owned()),
        ..SendMessageRequestHeader::default()
    }
}

pub fn testkit_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// SEND_MESSAGE (10) with long header names.
pub fn send_v1(topic: &str, queue_id: i32, body: &[u8], properties: &str) -> RemotingCommand {
    RemotingCommand::request_with_header(
        RequestCode::SEND_MESSAGE,
        &send_header(topic, queue_id, properties),
    )
    .with_body(body.to_vec())
}

/// SEND_MESSAGE_V2 (310) with one-letter names.
pub fn send_v2(topic: &str, queue_id: i32, body: &[u8], properties: &str) -> RemotingCommand {
    let mut cmd = RemotingCommand::request(RequestCode::SEND_MESSAGE_V2).with_body(body.to_vec());
    send_header(topic, queue_id, properties).write_v2(&mut cmd.ext_fields);
    cmd
}

/// A batch body of `bodies`, each with the given properties.
pub fn batch_body(bodies: &[&[u8]], properties: &str) -> Vec<u8> {
    let items: Vec<batch::BatchItem<'_>> = bodies
        .iter()
        .map(|b| batch::BatchItem {
            flag: 0,
            body: b,
            properties: properties.as_bytes(),
        })
        .collect();
    let mut out = BytesMut::new();
    batch::encode_batch(&items, &mut out).unwrap();
    out.to_vec()
}

/// A batch send with `code` (SEND_BATCH_MESSAGE or SEND_MESSAGE_V2), m=true.
pub fn send_batch(code: RequestCode, topic: &str, queue_id: i32, body: Vec<u8>) -> RemotingCommand {
    let mut header = send_header(topic, queue_id, "");
    header.batch = Some(true);
    let mut cmd = RemotingCommand::request(code).with_body(body);
    header.write_v2(&mut cmd.ext_fields);
    cmd
}

/// Sends and asserts SUCCESS.
pub async fn send_ok(c: &TestCluster, cmd: RemotingCommand) -> RemotingCommand {
    let r = c.call(cmd).await;
    assert_eq!(r.code, 0, "send failed: {:?}", r.remark);
    r
}

/// GET_MAX_OFFSET.
pub async fn max_offset(c: &TestCluster, topic: &str, queue_id: i32) -> RemotingCommand {
    c.call(RemotingCommand::request_with_header(
        RequestCode::GET_MAX_OFFSET,
        &GetMaxOffsetRequestHeader {
            topic: topic.into(),
            queue_id,
            ..GetMaxOffsetRequestHeader::default()
        },
    ))
    .await
}

/// Waits until the queue's max offset reaches `n` (consume queues are built
/// just after the append).
pub async fn wait_queue(c: &TestCluster, topic: &str, queue_id: i32, n: i64) {
    let mut last = -1;
    for _ in 0..300 {
        let r = max_offset(c, topic, queue_id).await;
        if r.code == 0 {
            last = r.decode_header::<OffsetResponseHeader>().unwrap().offset;
            if last >= n {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("queue {topic}:{queue_id} stayed at {last}, expected {n}");
}

/// A pull request with an explicit subscription (sysFlag SUBSCRIPTION set).
pub fn pull_req(
    topic: &str,
    queue_id: i32,
    offset: i64,
    sys_flag: i32,
) -> PullMessageRequestHeader {
    PullMessageRequestHeader {
        consumer_group: GROUP.into(),
        topic: topic.into(),
        queue_id,
        queue_offset: offset,
        max_msg_nums: 32,
        sys_flag: sys_flag | protocol::message::sysflag::pull::SUBSCRIPTION,
        commit_offset: 0,
        suspend_timeout_millis: 0,
        subscription: Some("*".into()),
        sub_version: 0,
        expression_type: Some("TAG".into()),
        ..PullMessageRequestHeader::default()
    }
}

pub fn pull_cmd(h: &PullMessageRequestHeader) -> RemotingCommand {
    RemotingCommand::request_with_header(RequestCode::PULL_MESSAGE, h)
}

/// Bodies of the records in a pull/query body.
pub fn bodies(body: &[u8]) -> Vec<Vec<u8>> {
    records(body).into_iter().map(|(b, _)| b).collect()
}

/// (body, properties) of each record in a pull/query/view body.
pub fn records(mut body: &[u8]) -> Vec<(Vec<u8>, String)> {
    let mut out = Vec::new();
    while !body.is_empty() {
        let (rec, used) = decode_record(body).unwrap();
        match rec {
            DecodedRecord::Message(m) => {
                out.push((m.body().to_vec(), m.properties_str().to_owned()))
            }
            DecodedRecord::Blank { .. } => panic!("blank record in a response body"),
        }
        body = &body[used..];
    }
    out
}

/// A heartbeat body for one consumer of `group` subscribed to `topic` (`*`).
pub fn heartbeat_body(client_id: &str, group: &str, topic: &str) -> Vec<u8> {
    let data = HeartbeatData {
        client_id: client_id.into(),
        consumer_data_set: vec![ConsumerData {
            group_name: group.into(),
            subscription_data_set: vec![SubscriptionData {
                topic: topic.into(),
                sub_string: "*".into(),
                sub_version: 1,
                ..SubscriptionData::default()
            }],
            ..ConsumerData::default()
        }],
        ..HeartbeatData::default()
    };
    data.to_json_bytes().unwrap()
}

/// Sends a heartbeat on `client`'s connection to the broker.
pub async fn heartbeat(c: &TestCluster, client: &RemotingClient, client_id: &str, topic: &str) {
    let cmd = RemotingCommand::request(RequestCode::HEART_BEAT)
        .with_body(heartbeat_body(client_id, GROUP, topic));
    let r = client
        .invoke(&c.broker_addr(), cmd, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(r.code, 0, "heartbeat: {:?}", r.remark);
}

/// Records requests the broker pushes to a client.
pub struct Recorder {
    tx: mpsc::UnboundedSender<RemotingCommand>,
}

impl Processor for Recorder {
    fn process(
        &self,
        _conn: Connection,
        request: RemotingCommand,
    ) -> BoxFuture<Option<RemotingCommand>> {
        let _ = self.tx.send(request);
        Box::pin(async { None })
    }
}

/// A client whose server-initiated requests arrive on the receiver.
pub fn recording_client() -> (RemotingClient, mpsc::UnboundedReceiver<RemotingCommand>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let client = RemotingClient::new(ClientConfig::default(), Some(Arc::new(Recorder { tx })));
    (client, rx)
}

/// The next pushed request with `code`, within 5 s.
pub async fn next_push(
    rx: &mut mpsc::UnboundedReceiver<RemotingCommand>,
    code: RequestCode,
) -> RemotingCommand {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let got = tokio::time::timeout_at(deadline, rx.recv())
            .await
            .unwrap_or_else(|_| panic!("no {} pushed within 5 s", code.name()))
            .expect("recorder open");
        if got.code == code.code() {
            return got;
        }
    }
}

/// Asserts an error code and that the remark mentions `needle`.
pub fn assert_error(r: &RemotingCommand, code: ResponseCode, needle: &str) {
    assert_eq!(
        r.code,
        code.code(),
        "expected {} but got {} ({:?})",
        code.name(),
        r.code,
        r.remark
    );
    let remark = r.remark.as_deref().unwrap_or("");
    assert!(
        remark.contains(needle),
        "remark {remark:?} does not mention {needle:?}"
    );
}
