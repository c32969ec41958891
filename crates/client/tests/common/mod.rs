//! A small in-memory NameServer + broker on one port, enough to drive the
//! client over real TCP: routes (with TBW102 auto-create), sends (single,
//! batch, half messages), pulls with a short hold, offsets, consumer
//! lists with NOTIFY_CONSUMER_IDS_CHANGED, send-back to %RETRY%, locks,
//! END_TRANSACTION and transaction check-backs. Not a broker: no disk, no
//! delays, no SQL.

#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use parking_lot::Mutex;
use protocol::body::cluster::ClusterInfo;
use protocol::body::consumer::ConsumerList;
use protocol::body::heartbeat::HeartbeatData;
use protocol::body::kv::KvTable;
use protocol::body::lock::{LockBatchRequestBody, LockBatchResponseBody};
use protocol::body::route::{BrokerData, QueueData, TopicRouteData};
use protocol::body::stats::{TopicOffset, TopicStatsTable};
use protocol::body::topic::TopicList;
use protocol::body::MessageQueue;
use protocol::header::admin::CreateTopicRequestHeader;
use protocol::header::consumer::{ConsumerSendMsgBackRequestHeader, UnregisterClientRequestHeader};
use protocol::header::namesrv::GetRouteInfoRequestHeader;
use protocol::header::offset::{
    GetMaxOffsetRequestHeader, OffsetResponseHeader, QueryConsumerOffsetRequestHeader,
    UpdateConsumerOffsetRequestHeader,
};
use protocol::header::pull::{PullMessageRequestHeader, PullMessageResponseHeader};
use protocol::header::query::{
    QueryMessageRequestHeader, QueryMessageResponseHeader, ViewMessageRequestHeader,
};
use protocol::header::send::{SendMessageRequestHeader, SendMessageResponseHeader};
use protocol::header::transaction::{
    CheckTransactionStateRequestHeader, EndTransactionRequestHeader,
};
use protocol::message::sysflag::{message as msgflag, pull as pullflag};
use protocol::message::{
    decode_batch, encode_offset_msg_id, keys, records, topics, MessageRecord, Properties,
};
use protocol::{RemotingCommand, RequestCode, ResponseCode};
use remoting::{BoxFuture, Connection, Processor, Server, ServerConfig};

pub const BROKER: &str = "fake-broker";

#[derive(Default)]
pub struct State {
    pub addr: String,
    pub topics: BTreeMap<String, i32>,
    /// (topic, queue) → stored records.
    pub queues: HashMap<(String, i32), Vec<Bytes>>,
    /// physical offset → (topic, queue, index).
    pub by_phys: HashMap<i64, (String, i32, usize)>,
    pub next_phys: i64,
    pub offsets: HashMap<(String, String, i32), i64>,
    /// group → connection id → client id.
    pub groups: BTreeMap<String, BTreeMap<u64, String>>,
    pub conns: HashMap<u64, Connection>,
    /// producer group → connection ids.
    pub producers: BTreeMap<String, Vec<u64>>,
    pub locks: HashMap<(String, MessageQueue), String>,
    pub ended: Vec<EndTransactionRequestHeader>,
    pub half: Vec<Bytes>,
}

#[derive(Clone)]
pub struct Fake {
    pub state: Arc<Mutex<State>>,
}

pub struct Running {
    pub fake: Fake,
    pub server: Server,
    pub addr: String,
}

pub async fn start() -> Running {
    let fake = Fake {
        state: Arc::new(Mutex::new(State::default())),
    };
    fake.state
        .lock()
        .topics
        .insert(topics::AUTO_CREATE_TOPIC.into(), 8);
    let server = Server::bind(
        "127.0.0.1:0".parse().unwrap(),
        ServerConfig::default(),
        Arc::new(fake.clone()),
    )
    .await
    .unwrap();
    let addr = server.local_addr().to_string();
    fake.state.lock().addr = addr.clone();
    Running { fake, server, addr }
}

fn ok_header<H: protocol::CommandHeader>(h: &H) -> RemotingCommand {
    RemotingCommand::success().with_header(h)
}

use protocol::clock::now_ms;

impl Processor for Fake {
    fn process(
        &self,
        conn: Connection,
        req: RemotingCommand,
    ) -> BoxFuture<Option<RemotingCommand>> {
        let me = self.clone();
        Box::pin(async move { Some(me.handle(conn, req).await) })
    }

    fn on_connection_closed(&self, conn: &Connection) {
        let mut s = self.state.lock();
        s.conns.remove(&conn.id());
        for members in s.groups.values_mut() {
            members.remove(&conn.id());
        }
    }
}

impl Fake {
    async fn handle(&self, conn: Connection, req: RemotingCommand) -> RemotingCommand {
        self.state.lock().conns.insert(conn.id(), conn.clone());
        match req.request_code_enum() {
            RequestCode::GET_ROUTEINFO_BY_TOPIC => self.route(&req),
            RequestCode::UPDATE_AND_CREATE_TOPIC => {
                let h: CreateTopicRequestHeader = req.decode_header().unwrap();
                self.state.lock().topics.insert(h.topic, h.write_queue_nums);
                RemotingCommand::success()
            }
            RequestCode::HEART_BEAT => self.heartbeat(&conn, &req),
            RequestCode::UNREGISTER_CLIENT => {
                let h: UnregisterClientRequestHeader = req.decode_header().unwrap();
                if let Some(g) = h.consumer_group {
                    self.state
                        .lock()
                        .groups
                        .entry(g.clone())
                        .or_default()
                        .remove(&conn.id());
                    self.notify_members(&g);
                }
                RemotingCommand::success()
            }
            RequestCode::SEND_MESSAGE_V2 | RequestCode::SEND_BATCH_MESSAGE => {
                self.send(&conn, &req)
            }
            RequestCode::PULL_MESSAGE => self.pull(&req).await,
            RequestCode::QUERY_CONSUMER_OFFSET => {
                let h: QueryConsumerOffsetRequestHeader = req.decode_header().unwrap();
                match self
                    .state
                    .lock()
                    .offsets
                    .get(&(h.consumer_group, h.topic, h.queue_id))
                {
                    Some(o) => ok_header(&OffsetResponseHeader { offset: *o }),
                    None => RemotingCommand::error(ResponseCode::QUERY_NOT_FOUND, "no offset"),
                }
            }
            RequestCode::UPDATE_CONSUMER_OFFSET => {
                let h: UpdateConsumerOffsetRequestHeader = req.decode_header().unwrap();
                self.state
                    .lock()
                    .offsets
                    .insert((h.consumer_group, h.topic, h.queue_id), h.commit_offset);
                RemotingCommand::success()
            }
            RequestCode::GET_MAX_OFFSET => {
                let h: GetMaxOffsetRequestHeader = req.decode_header().unwrap();
                let n = self
                    .state
                    .lock()
                    .queues
                    .get(&(h.topic, h.queue_id))
                    .map_or(0, Vec::len);
                ok_header(&OffsetResponseHeader { offset: n as i64 })
            }
            RequestCode::GET_MIN_OFFSET | RequestCode::SEARCH_OFFSET_BY_TIMESTAMP => {
                ok_header(&OffsetResponseHeader { offset: 0 })
            }
            RequestCode::GET_CONSUMER_LIST_BY_GROUP => {
                let g = req.field("consumerGroup").unwrap_or_default().to_string();
                let ids: Vec<String> = self
                    .state
                    .lock()
                    .groups
                    .get(&g)
                    .map(|m| m.values().cloned().collect())
                    .unwrap_or_default();
                let body = ConsumerList {
                    consumer_id_list: ids,
                };
                RemotingCommand::success().with_body(body.to_json_bytes().unwrap())
            }
            RequestCode::CONSUMER_SEND_MSG_BACK => self.send_back(&req),
            RequestCode::LOCK_BATCH_MQ => self.lock(&req),
            RequestCode::UNLOCK_BATCH_MQ => {
                let body = LockBatchRequestBody::from_json_bytes(&req.body).unwrap();
                let mut s = self.state.lock();
                for mq in body.mq_set {
                    let key = (body.consumer_group.clone(), mq);
                    if s.locks.get(&key) == Some(&body.client_id) {
                        s.locks.remove(&key);
                    }
                }
                RemotingCommand::success()
            }
            RequestCode::END_TRANSACTION => self.end_transaction(&req),
            RequestCode::CHECK_CLIENT_CONFIG => {
                let body = String::from_utf8_lossy(&req.body).to_string();
                if body.contains("SQL92") && !body.contains("bad") {
                    RemotingCommand::success()
                } else {
                    RemotingCommand::error(ResponseCode::SUBSCRIPTION_PARSE_FAILED, "cannot parse")
                }
            }
            _ => self.admin(&req),
        }
    }

    /// The admin and lookup requests the e2e suite uses.
    fn admin(&self, req: &RemotingCommand) -> RemotingCommand {
        let s = self.state.lock();
        match req.request_code_enum() {
            RequestCode::GET_BROKER_CLUSTER_INFO => {
                let mut bd = BrokerData::new("DefaultCluster", BROKER);
                bd.broker_addrs.insert(0, s.addr.clone());
                let mut info = ClusterInfo::default();
                info.broker_addr_table.insert(BROKER.into(), bd);
                info.cluster_addr_table.insert(
                    "DefaultCluster".into(),
                    [BROKER.to_string()].into_iter().collect(),
                );
                RemotingCommand::success().with_body(info.encode())
            }
            RequestCode::GET_ALL_TOPIC_LIST_FROM_NAMESERVER => {
                let list = TopicList {
                    broker_addr: None,
                    topic_list: s.topics.keys().cloned().collect(),
                };
                RemotingCommand::success().with_body(list.encode())
            }
            RequestCode::DELETE_TOPIC_IN_BROKER | RequestCode::DELETE_TOPIC_IN_NAMESRV => {
                drop(s);
                let topic = req.field("topic").unwrap_or_default().to_string();
                self.state.lock().topics.remove(&topic);
                RemotingCommand::success()
            }
            RequestCode::GET_BROKER_RUNTIME_INFO => {
                let mut kv = KvTable::default();
                kv.table.insert("brokerVersionDesc".into(), "fake".into());
                RemotingCommand::success().with_body(kv.encode())
            }
            RequestCode::VIEW_MESSAGE_BY_ID => {
                let h: ViewMessageRequestHeader = req.decode_header().unwrap();
                match s.by_phys.get(&h.offset) {
                    Some((t, q, i)) => {
                        RemotingCommand::success().with_body(s.queues[&(t.clone(), *q)][*i].clone())
                    }
                    None => RemotingCommand::error(ResponseCode::SYSTEM_ERROR, "no message"),
                }
            }
            RequestCode::QUERY_MESSAGE => {
                let h: QueryMessageRequestHeader = req.decode_header().unwrap();
                let mut found = Vec::new();
                for ((t, _), q) in &s.queues {
                    if *t != h.topic {
                        continue;
                    }
                    for rec in q {
                        let v = records(rec).next().unwrap().unwrap();
                        let hit = if h.unique_key_query == Some(true) {
                            v.property(keys::UNIQ_KEY) == Some(h.key.as_str())
                        } else {
                            v.properties().keys().any(|k| k == h.key)
                        };
                        if hit {
                            found.push(rec.clone());
                        }
                    }
                }
                if found.is_empty() {
                    return RemotingCommand::error(ResponseCode::QUERY_NOT_FOUND, "none");
                }
                ok_header(&QueryMessageResponseHeader {
                    index_last_update_timestamp: 0,
                    index_last_update_phyoffset: 0,
                })
                .with_body(found.concat())
            }
            RequestCode::GET_TOPIC_STATS_INFO => {
                let topic = req.field("topic").unwrap_or_default().to_string();
                let mut t = TopicStatsTable::default();
                for q in 0..s.topics.get(&topic).copied().unwrap_or(0) {
                    let n = s.queues.get(&(topic.clone(), q)).map_or(0, Vec::len) as i64;
                    t.offset_table.insert(
                        MessageQueue::new(topic.clone(), BROKER, q),
                        TopicOffset {
                            last_update_timestamp: 0,
                            max_offset: n,
                            min_offset: 0,
                        },
                    );
                }
                RemotingCommand::success().with_body(t.to_json_bytes().unwrap())
            }
            _ => remoting::not_supported(req),
        }
    }

    fn route(&self, req: &RemotingCommand) -> RemotingCommand {
        let h: GetRouteInfoRequestHeader = req.decode_header().unwrap();
        let s = self.state.lock();
        let Some(n) = s.topics.get(&h.topic) else {
            return RemotingCommand::error(ResponseCode::TOPIC_NOT_EXIST, "No topic route info");
        };
        let mut bd = BrokerData::new("DefaultCluster", BROKER);
        bd.broker_addrs.insert(0, s.addr.clone());
        let perm = if h.topic == topics::AUTO_CREATE_TOPIC {
            7
        } else {
            6
        };
        let data = TopicRouteData {
            broker_datas: vec![bd],
            queue_datas: vec![QueueData {
                broker_name: BROKER.into(),
                perm,
                read_queue_nums: *n,
                topic_sys_flag: 0,
                write_queue_nums: *n,
            }],
            ..TopicRouteData::default()
        };
        RemotingCommand::success().with_body(data.encode())
    }

    fn heartbeat(&self, conn: &Connection, req: &RemotingCommand) -> RemotingCommand {
        let hb = HeartbeatData::from_json_bytes(&req.body).unwrap();
        let mut changed = Vec::new();
        {
            let mut s = self.state.lock();
            for p in &hb.producer_data_set {
                let ids = s.producers.entry(p.group_name.clone()).or_default();
                if !ids.contains(&conn.id()) {
                    ids.push(conn.id());
                }
            }
            for c in &hb.consumer_data_set {
                for sub in &c.subscription_data_set {
                    if topics::is_retry_topic(&sub.topic) {
                        s.topics.entry(sub.topic.clone()).or_insert(1);
                    }
                }
                let members = s.groups.entry(c.group_name.clone()).or_default();
                if members.insert(conn.id(), hb.client_id.clone()).is_none() {
                    changed.push(c.group_name.clone());
                }
            }
        }
        for g in changed {
            self.notify_members(&g);
        }
        RemotingCommand::success()
    }

    fn notify_members(&self, group: &str) {
        let conns: Vec<Connection> = {
            let s = self.state.lock();
            s.groups
                .get(group)
                .map(|m| m.keys().filter_map(|id| s.conns.get(id).cloned()).collect())
                .unwrap_or_default()
        };
        for c in conns {
            let mut req = RemotingCommand::request(RequestCode::NOTIFY_CONSUMER_IDS_CHANGED);
            req.ext_fields.insert("consumerGroup".into(), group.into());
            tokio::spawn(async move {
                let _ = c.invoke_oneway(req).await;
            });
        }
    }

    /// Appends one record; returns (queue offset, physical offset).
    fn store(&self, s: &mut State, mut rec: MessageRecord) -> (i64, i64) {
        let key = (rec.topic.clone(), rec.queue_id);
        let q = s.queues.entry(key.clone()).or_default();
        rec.queue_offset = q.len() as i64;
        rec.physical_offset = s.next_phys;
        let mut out = BytesMut::new();
        rec.encode(&mut out).unwrap();
        let bytes = out.freeze();
        s.next_phys += bytes.len() as i64;
        let idx = q.len();
        q.push(bytes);
        s.by_phys.insert(rec.physical_offset, (key.0, key.1, idx));
        (rec.queue_offset, rec.physical_offset)
    }

    fn send(&self, conn: &Connection, req: &RemotingCommand) -> RemotingCommand {
        let h = SendMessageRequestHeader::from_command(req).unwrap();
        let mut s = self.state.lock();
        let store_host: SocketAddr = s.addr.parse().unwrap();
        if !s.topics.contains_key(&h.topic) {
            s.topics.insert(h.topic.clone(), h.default_topic_queue_nums);
        }
        let items: Vec<(i32, Bytes, Properties)> = if h.is_batch() {
            decode_batch(&req.body)
                .unwrap()
                .iter()
                .map(|i| {
                    let p = Properties::decode(std::str::from_utf8(i.properties).unwrap());
                    (i.flag, Bytes::copy_from_slice(i.body), p)
                })
                .collect()
        } else {
            let p = Properties::decode(h.properties.as_deref().unwrap_or(""));
            vec![(h.flag, req.body.clone(), p)]
        };
        let prepared = h.sys_flag & msgflag::TRANSACTION_MASK == msgflag::TRANSACTION_PREPARED_TYPE;
        let mut ids = Vec::new();
        let mut first = None;
        let queue_id = h.queue_id.max(0);
        let mut uniq = None;
        for (flag, body, props) in items {
            uniq = props.uniq_key().map(str::to_string);
            let rec = MessageRecord {
                topic: if prepared {
                    topics::TRANS_HALF_TOPIC.into()
                } else {
                    h.topic.clone()
                },
                queue_id: if prepared { 0 } else { queue_id },
                flag,
                queue_offset: 0,
                physical_offset: 0,
                sysflag: h.sys_flag,
                born_timestamp: h.born_timestamp,
                born_host: conn.peer_addr(),
                store_timestamp: now_ms(),
                store_host,
                reconsume_times: h.reconsume_times.unwrap_or(0),
                prepared_transaction_offset: 0,
                body_crc: 0,
                body,
                properties: props,
            };
            let (qo, phys) = self.store(&mut s, rec);
            first.get_or_insert(qo);
            ids.push(encode_offset_msg_id(store_host, phys));
        }
        ok_header(&SendMessageResponseHeader {
            msg_id: ids.join(","),
            queue_id: if prepared { 0 } else { queue_id },
            queue_offset: first.unwrap_or(0),
            transaction_id: uniq,
            batch_uniq_id: None,
            recall_handle: None,
            msg_region: Some("DefaultRegion".into()),
            trace_on: Some(false),
        })
    }

    async fn pull(&self, req: &RemotingCommand) -> RemotingCommand {
        let h: PullMessageRequestHeader = req.decode_header().unwrap();
        if h.sys_flag & pullflag::COMMIT_OFFSET != 0 {
            self.state.lock().offsets.insert(
                (h.consumer_group.clone(), h.topic.clone(), h.queue_id),
                h.commit_offset,
            );
        }
        let tags: Vec<String> = match h.subscription.as_deref() {
            None | Some("*") | Some("") => Vec::new(),
            Some(e) => e.split("||").map(|t| t.trim().to_string()).collect(),
        };
        // A short hold instead of real long polling.
        for _ in 0..10 {
            let (found, max, next) = self.read(&h, &tags);
            if !found.is_empty() || next > h.queue_offset {
                let header = PullMessageResponseHeader {
                    suggest_which_broker_id: 0,
                    next_begin_offset: next,
                    min_offset: 0,
                    max_offset: max,
                    offset_delta: None,
                    topic_sys_flag: None,
                    group_sys_flag: None,
                    forbidden_type: None,
                };
                if found.is_empty() {
                    return RemotingCommand::response(ResponseCode::PULL_RETRY_IMMEDIATELY, None)
                        .with_header(&header);
                }
                return ok_header(&header).with_body(found.concat());
            }
            if h.sys_flag & pullflag::SUSPEND == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let max = self
            .state
            .lock()
            .queues
            .get(&(h.topic.clone(), h.queue_id))
            .map_or(0, Vec::len) as i64;
        RemotingCommand::response(ResponseCode::PULL_NOT_FOUND, None).with_header(
            &PullMessageResponseHeader {
                suggest_which_broker_id: 0,
                next_begin_offset: h.queue_offset,
                min_offset: 0,
                max_offset: max,
                offset_delta: None,
                topic_sys_flag: None,
                group_sys_flag: None,
                forbidden_type: None,
            },
        )
    }

    /// Matching records from the requested offset: (records, max, next offset).
    fn read(&self, h: &PullMessageRequestHeader, tags: &[String]) -> (Vec<Bytes>, i64, i64) {
        let s = self.state.lock();
        let Some(q) = s.queues.get(&(h.topic.clone(), h.queue_id)) else {
            return (Vec::new(), 0, h.queue_offset);
        };
        let start = h.queue_offset.max(0) as usize;
        let end = (start + h.max_msg_nums as usize).min(q.len());
        let mut found = Vec::new();
        for rec in q.iter().take(end).skip(start) {
            let view = records(rec).next().unwrap().unwrap();
            let tag = view.property(keys::TAGS).unwrap_or("");
            if tags.is_empty() || tags.iter().any(|t| t == tag) {
                found.push(rec.clone());
            }
        }
        (found, q.len() as i64, end.max(start) as i64)
    }

    fn send_back(&self, req: &RemotingCommand) -> RemotingCommand {
        let h: ConsumerSendMsgBackRequestHeader = req.decode_header().unwrap();
        let mut s = self.state.lock();
        let Some((topic, qid, idx)) = s.by_phys.get(&h.offset).cloned() else {
            return RemotingCommand::error(ResponseCode::SYSTEM_ERROR, "no such message");
        };
        let bytes = s.queues[&(topic.clone(), qid)][idx].clone();
        let view = records(&bytes).next().unwrap().unwrap();
        let mut rec = view.to_record();
        if !rec.properties.contains_key(keys::RETRY_TOPIC) {
            rec.properties.insert(keys::RETRY_TOPIC, topic.clone());
        }
        rec.topic = if h.delay_level < 0 {
            topics::dlq_topic(&h.group)
        } else {
            topics::retry_topic(&h.group)
        };
        s.topics.entry(rec.topic.clone()).or_insert(1);
        rec.queue_id = 0;
        rec.reconsume_times += 1;
        self.store(&mut s, rec);
        RemotingCommand::success()
    }

    fn lock(&self, req: &RemotingCommand) -> RemotingCommand {
        let body = LockBatchRequestBody::from_json_bytes(&req.body).unwrap();
        let mut s = self.state.lock();
        let mut ok = Vec::new();
        for mq in body.mq_set {
            let key = (body.consumer_group.clone(), mq.clone());
            let owner = s.locks.entry(key).or_insert_with(|| body.client_id.clone());
            if *owner == body.client_id {
                ok.push(mq);
            }
        }
        let resp = LockBatchResponseBody { lock_ok_mq_set: ok };
        RemotingCommand::success().with_body(resp.to_json_bytes().unwrap())
    }

    fn end_transaction(&self, req: &RemotingCommand) -> RemotingCommand {
        let h: EndTransactionRequestHeader = req.decode_header().unwrap();
        let mut s = self.state.lock();
        if h.commit_or_rollback == msgflag::TRANSACTION_COMMIT_TYPE {
            if let Some((topic, qid, idx)) = s.by_phys.get(&h.commit_log_offset).cloned() {
                let bytes = s.queues[&(topic, qid)][idx].clone();
                let mut rec = records(&bytes).next().unwrap().unwrap().to_record();
                rec.topic = h.topic.clone().unwrap_or_default();
                rec.sysflag =
                    (rec.sysflag & !msgflag::TRANSACTION_MASK) | msgflag::TRANSACTION_COMMIT_TYPE;
                self.store(&mut s, rec);
            }
        }
        s.ended.push(h);
        RemotingCommand::success()
    }

    /// Sends CHECK_TRANSACTION_STATE for the first half message to a
    /// connection of `group`.
    pub async fn check_back(&self, group: &str) {
        let (conn, bytes) = {
            let s = self.state.lock();
            let id = s.producers[group][0];
            let q = &s.queues[&(topics::TRANS_HALF_TOPIC.to_string(), 0)];
            (s.conns[&id].clone(), q[0].clone())
        };
        let view = records(&bytes).next().unwrap().unwrap();
        let header = CheckTransactionStateRequestHeader {
            topic: Some("TxTopic".into()),
            tran_state_table_offset: view.queue_offset(),
            commit_log_offset: view.physical_offset(),
            msg_id: view.property(keys::UNIQ_KEY).map(str::to_string),
            transaction_id: view.property(keys::UNIQ_KEY).map(str::to_string),
            offset_msg_id: Some(view.offset_msg_id()),
            broker_name: Some(BROKER.into()),
        };
        let req =
            RemotingCommand::request_with_header(RequestCode::CHECK_TRANSACTION_STATE, &header)
                .with_body(bytes.clone());
        conn.invoke_oneway(req).await.unwrap();
    }

    /// Asks a member of `group` for its running info (as the broker relays
    /// GET_CONSUMER_RUNNING_INFO), naming `ask_group` in the header.
    pub async fn running_info(&self, group: &str, ask_group: &str) -> RemotingCommand {
        let (conn, client_id) = {
            let s = self.state.lock();
            let (id, cid) = s.groups[group]
                .iter()
                .next()
                .map(|(i, c)| (*i, c.clone()))
                .unwrap();
            (s.conns[&id].clone(), cid)
        };
        let mut req = RemotingCommand::request(RequestCode::GET_CONSUMER_RUNNING_INFO);
        req.ext_fields
            .insert("consumerGroup".into(), ask_group.into());
        req.ext_fields.insert("clientId".into(), client_id);
        conn.invoke(req, Duration::from_secs(3)).await.unwrap()
    }

    pub fn queue_len(&self, topic: &str, queue: i32) -> usize {
        self.state
            .lock()
            .queues
            .get(&(topic.to_string(), queue))
            .map_or(0, Vec::len)
    }

    pub fn offset(&self, group: &str, topic: &str, queue: i32) -> Option<i64> {
        self.state
            .lock()
            .offsets
            .get(&(group.to_string(), topic.to_string(), queue))
            .copied()
    }
}

/// Polls `cond` every 50 ms for up to `secs` seconds.
pub async fn eventually(secs: u64, mut cond: impl FnMut() -> bool) -> bool {
    for _ in 0..secs * 20 {
        if cond() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    cond()
}
