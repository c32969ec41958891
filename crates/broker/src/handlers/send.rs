//! SEND_MESSAGE (10), SEND_MESSAGE_V2 (310), SEND_BATCH_MESSAGE (320): a
//! batch is decided by the header's batch flag, not by the code.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::BytesMut;
use protocol::header::send::{SendMessageRequestHeader, SendMessageResponseHeader};
use protocol::message::msgid::{encode_offset_msg_id, push_offset_msg_id, OFFSET_MSG_ID_LEN_V6};
use protocol::message::record_encode::{encode_record, NewRecord};
use protocol::message::sysflag::{message as msgflag, perm};
use protocol::message::{batch, keys, topics, EncodedRecords, Properties};
use protocol::{RemotingCommand, ResponseCode};
use remoting::Connection;

use crate::error::{BrokerError, BrokerResult};
use crate::state::BrokerState;
use crate::tables::topics::{topic_config, validate_topic};

/// Handles one send request (single or batch).
pub async fn handle(
    state: &Arc<BrokerState>,
    conn: &Connection,
    req: &RemotingCommand,
) -> BrokerResult<RemotingCommand> {
    let header = SendMessageRequestHeader::from_command(req)?;
    store(state, conn.peer_addr(), &header, req).await
}

/// Stores what a send request carries, as [`handle`] does, for a producer
/// at `born_host`: the in-process entry for endpoints living beside the
/// broker (the gRPC endpoint), which skip the remoting hop. `req` gives the
/// body and the serialization version; its ext fields are not read.
///
/// # Errors
/// As [`handle`]: bad topic or queue, no permission, a slave, an illegal
/// message, store failures.
pub async fn store(
    state: &Arc<BrokerState>,
    born_host: SocketAddr,
    header: &SendMessageRequestHeader,
    req: &RemotingCommand,
) -> BrokerResult<RemotingCommand> {
    let queue_id = check_and_pick_queue(state, header)?;
    let header_props = Properties::decode(header.properties.as_deref().unwrap_or(""));
    let wait = header_props
        .get(keys::WAIT)
        .is_none_or(|v| !v.eq_ignore_ascii_case("false"));
    let multi_tags = state
        .topics
        .get(&header.topic)
        .is_some_and(|t| t.topic_filter_type == protocol::body::topic::TopicFilterType::MULTI_TAG);
    let sysflag = if multi_tags {
        header.sys_flag | msgflag::MULTI_TAGS
    } else {
        header.sys_flag
    };
    // What every record of this request shares; body, properties and flag
    // are each message's.
    let template = NewRecord {
        topic: &header.topic,
        queue_id,
        flag: header.flag,
        sysflag,
        born_timestamp: header.born_timestamp,
        born_host,
        store_host: state.store_host,
        reconsume_times: header.reconsume_times.unwrap_or(0),
        prepared_transaction_offset: 0,
        body: &[],
        properties: &[],
    };
    if header.is_batch() {
        return send_batch(state, req, header, wait, template).await;
    }
    check_body_size(state, req.body.len())?;
    // Add a UNIQ_KEY when the client sent none (only then re-encode).
    // Borrowed from the header: copied only when it has to change.
    let mut props_text = std::borrow::Cow::Borrowed(header.properties.as_deref().unwrap_or(""));
    let mut props = header_props;
    let uniq = match props.uniq_key() {
        Some(u) => u.to_owned(),
        None => {
            let u = state.next_uniq_id();
            props.insert(keys::UNIQ_KEY, &u);
            props_text = std::borrow::Cow::Owned(props.encode());
            u
        }
    };
    let mut buf = BytesMut::with_capacity(req.body.len() + props_text.len() + 256);
    // Half, delayed, timed and dead-lettered messages are stored elsewhere.
    let diverted = crate::rules::for_send(
        state,
        header,
        req.version,
        queue_id,
        sysflag,
        born_host,
        &req.body,
        &props,
    )?;
    let recall_handle = diverted
        .as_ref()
        .and_then(|rec| crate::rules::timer::recall_handle(state, &header.topic, rec));
    match diverted {
        Some(rec) => {
            rec.encode_for_append(&mut buf)
                .map_err(|e| BrokerError::MessageIllegal(e.to_string()))?;
        }
        None => {
            let record = NewRecord {
                body: &req.body,
                properties: props_text.as_bytes(),
                ..template
            };
            encode_record(&record, &mut buf)
                .map_err(|e| BrokerError::MessageIllegal(e.to_string()))?;
        }
    }
    let put = state
        .store
        .put(&buf, wait)
        .await
        .map_err(BrokerError::from)?;
    let kind = crate::metrics::MessageType::classify(sysflag, &props);
    state
        .metrics
        .record_in(&header.topic, kind, u64::from(put.size));
    let end = put.phys_offset + u64::from(put.size);
    let slave = crate::records::slave_ack::await_slaves(state, end, wait).await;
    let response = SendMessageResponseHeader {
        msg_id: encode_offset_msg_id(state.store_host, put.phys_offset as i64),
        queue_id,
        queue_offset: put.queue_offset as i64,
        transaction_id: Some(uniq),
        recall_handle,
        msg_region: Some(state.config.region_id.clone()),
        trace_on: Some(state.config.trace_on),
        ..SendMessageResponseHeader::default()
    };
    Ok(sent(put.flush_timed_out, slave).with_header(&response))
}

async fn send_batch(
    state: &Arc<BrokerState>,
    req: &RemotingCommand,
    header: &SendMessageRequestHeader,
    wait: bool,
    template: NewRecord<'_>,
) -> BrokerResult<RemotingCommand> {
    let queue_id = template.queue_id;
    if topics::is_retry_topic(&header.topic) {
        return Err(BrokerError::MessageIllegal(
            "batch messages cannot be sent to a retry topic".into(),
        ));
    }
    let items = batch::decode_batch(&req.body)
        .map_err(|e| BrokerError::MessageIllegal(format!("malformed batch body: {e}")))?;
    let mut records =
        EncodedRecords::with_capacity(req.body.len() + items.len() * 160, items.len());
    let illegal = |e: protocol::ProtocolError| BrokerError::MessageIllegal(e.to_string());
    for item in &items {
        check_body_size(state, item.body.len())?;
        let props = std::str::from_utf8(item.properties).map_err(|_| {
            BrokerError::MessageIllegal("batch item properties are not UTF-8".into())
        })?;
        let record = NewRecord {
            body: item.body,
            properties: item.properties,
            flag: item.flag,
            ..template
        };
        if protocol::message::find_property(props, keys::UNIQ_KEY).is_some() {
            records.push(&record).map_err(illegal)?;
        } else {
            let mut p = Properties::decode(props);
            p.insert(keys::UNIQ_KEY, state.next_uniq_id());
            let text = p.encode();
            records
                .push(&NewRecord {
                    properties: text.as_bytes(),
                    ..record
                })
                .map_err(illegal)?;
        }
    }
    // Encoded just above: the store takes the body CRCs as computed.
    let put = state
        .store
        .put_encoded(&records, wait)
        .await
        .map_err(BrokerError::from)?;
    state.metrics.record_put(
        &header.topic,
        crate::metrics::MessageType::Normal,
        put.records.iter().map(|r| u64::from(r.size)),
    );
    let first = put
        .records
        .first()
        .ok_or_else(|| BrokerError::System("empty batch result".into()))?;
    let end = put
        .records
        .last()
        .map_or(0, |a| a.phys_offset + u64::from(a.size));
    let slave = crate::records::slave_ack::await_slaves(state, end, wait).await;
    // The ids, comma-separated, written into one string.
    let mut ids = String::with_capacity(put.records.len() * (OFFSET_MSG_ID_LEN_V6 + 1));
    for (i, a) in put.records.iter().enumerate() {
        if i > 0 {
            ids.push(',');
        }
        push_offset_msg_id(&mut ids, state.store_host, a.phys_offset as i64);
    }
    let response = SendMessageResponseHeader {
        msg_id: ids,
        queue_id,
        queue_offset: first.queue_offset as i64,
        msg_region: Some(state.config.region_id.clone()),
        trace_on: Some(state.config.trace_on),
        ..SendMessageResponseHeader::default()
    };
    Ok(sent(put.flush_timed_out, slave).with_header(&response))
}

/// SUCCESS, or FLUSH_DISK_TIMEOUT / FLUSH_SLAVE_TIMEOUT /
/// SLAVE_NOT_AVAILABLE (the message is stored; clients report the status).
fn sent(
    flush_timed_out: bool,
    slave: Option<crate::records::slave_ack::SlaveShortfall>,
) -> RemotingCommand {
    if flush_timed_out {
        RemotingCommand::error(
            ResponseCode::FLUSH_DISK_TIMEOUT,
            "the message is stored but the disk flush did not finish in time",
        )
    } else if let Some(shortfall) = slave {
        let (code, remark) = shortfall.response();
        RemotingCommand::error(code, remark)
    } else {
        RemotingCommand::success()
    }
}

fn check_body_size(state: &BrokerState, len: usize) -> BrokerResult<()> {
    let max = state.store.config().max_message_size as usize;
    if len > max {
        return Err(BrokerError::MessageIllegal(format!(
            "the message body size {len} exceeds the maximum {max}"
        )));
    }
    Ok(())
}

/// Validates the target, auto-creates the topic when allowed, checks
/// permissions, and returns the queue to write (a random writable one when
/// the client left it to the broker).
fn check_and_pick_queue(
    state: &BrokerState,
    header: &SendMessageRequestHeader,
) -> BrokerResult<i32> {
    if state.is_slave() {
        return Err(BrokerError::ServiceNotAvailable(format!(
            "the broker[{}] is a slave and does not accept sends",
            state.config.broker_name
        )));
    }
    crate::records::slave_ack::check_in_sync_replicas(state).map_err(BrokerError::System)?;
    if state.live.broker().broker_permission & perm::WRITE == 0 {
        return Err(BrokerError::NoPermission(format!(
            "the broker[{}] sending message is forbidden",
            state.config.broker_name
        )));
    }
    validate_topic(&header.topic)?;
    if topics::is_send_forbidden_topic(&header.topic) {
        return Err(BrokerError::NoPermission(format!(
            "sending message to topic[{}] is forbidden",
            header.topic
        )));
    }
    let config = match state.topics.get(&header.topic) {
        Some(c) => c,
        None => create_topic_for_send(state, header)?,
    };
    if config.perm & perm::WRITE == 0 {
        return Err(BrokerError::NoPermission(format!(
            "the topic[{}] sending message is forbidden",
            header.topic
        )));
    }
    let queues = config.write_queue_nums.max(config.read_queue_nums);
    if header.queue_id >= queues {
        return Err(BrokerError::InvalidParameter(format!(
            "request queueId[{}] is illegal, topic[{}] has {} queues (writeQueueNums {}, readQueueNums {})",
            header.queue_id, header.topic, queues, config.write_queue_nums, config.read_queue_nums
        )));
    }
    if header.queue_id >= 0 {
        return Ok(header.queue_id);
    }
    let writable = config.write_queue_nums.max(1);
    Ok((state.next_random() % writable as u64) as i32)
}

fn create_topic_for_send(
    state: &BrokerState,
    header: &SendMessageRequestHeader,
) -> BrokerResult<protocol::body::topic::TopicConfig> {
    if let Some(group) = header.topic.strip_prefix(topics::RETRY_GROUP_TOPIC_PREFIX) {
        let queues = state
            .groups
            .get_or_create(group, state.config.auto_create_subscription_group)?
            .map_or(1, |g| g.retry_queue_nums.max(1));
        let config = topic_config(&header.topic, queues, queues, perm::READ_WRITE);
        return Ok(state
            .topics
            .ensure(&config.topic_name, queues, perm::READ_WRITE));
    }
    if state.live.broker().auto_create_topic_enable {
        if let Some(c) = state.topics.create_on_send(
            &header.topic,
            &header.default_topic,
            header.default_topic_queue_nums,
            0,
        ) {
            tracing::info!(topic = %header.topic, queues = c.write_queue_nums, "topic created on send");
            return Ok(c);
        }
    }
    Err(BrokerError::TopicNotExist(header.topic.clone()))
}
