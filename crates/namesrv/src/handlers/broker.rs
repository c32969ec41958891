//! Broker-facing requests: REGISTER_BROKER, UNREGISTER_BROKER,
//! BROKER_HEARTBEAT, QUERY_DATA_VERSION, GET_BROKER_MEMBER_GROUP and the
//! write-permission switches of WIPE/ADD_WRITE_PERM_OF_BROKER.

use std::time::{Duration, Instant};

use protocol::body::cluster::GetBrokerMemberGroupResponseBody;
use protocol::body::kv::KvTable;
use protocol::body::register::RegisterBrokerBody;
use protocol::body::topic::DataVersion;
use protocol::header::namesrv::{
    AddWritePermOfBrokerRequestHeader, AddWritePermOfBrokerResponseHeader,
    BrokerHeartbeatRequestHeader, GetBrokerMemberGroupRequestHeader, QueryDataVersionRequestHeader,
    QueryDataVersionResponseHeader, RegisterBrokerRequestHeader, RegisterBrokerResponseHeader,
    UnregisterBrokerRequestHeader, WipeWritePermOfBrokerRequestHeader,
    WipeWritePermOfBrokerResponseHeader,
};
use protocol::RemotingCommand;

use super::NamesrvState;
use crate::error::NamesrvError;
use crate::kv::NAMESPACE_ORDER_TOPIC_CONFIG;
use crate::routes::{BrokerRegistration, RegisterOptions};

/// The extField in which a broker names its zone.
const ZONE_NAME_FIELD: &str = "__ZONE_NAME";

/// CRC32 of a body as Java's `UtilAll.crc32` reports it: the message
/// BODYCRC (sign bit cleared), as the signed header field carries it.
pub fn body_crc32(body: &[u8]) -> i32 {
    protocol::message::body_crc(body) as i32
}

pub(super) fn register(
    s: &NamesrvState,
    conn_id: u64,
    req: &RemotingCommand,
) -> Result<RemotingCommand, NamesrvError> {
    let h: RegisterBrokerRequestHeader = req.decode_header()?;
    if let Some(crc) = h.body_crc32.filter(|c| *c != 0) {
        if body_crc32(&req.body) != crc {
            return Err(NamesrvError::CrcMismatch);
        }
    }
    let body = if req.body.is_empty() {
        RegisterBrokerBody::default()
    } else {
        RegisterBrokerBody::decode(&req.body, h.compressed.unwrap_or(false), req.version)?
    };
    let (opts, return_order_conf) = {
        let c = s.config.read();
        let opts = RegisterOptions {
            default_timeout: c.broker_channel_expired_time,
            delete_topics_not_registered: c.delete_topic_with_broker_registration,
        };
        (opts, c.return_order_topic_config_to_broker)
    };
    let reg = BrokerRegistration {
        cluster: h.cluster_name,
        broker_name: h.broker_name,
        broker_addr: h.broker_addr,
        broker_id: h.broker_id,
        ha_server_addr: h.ha_server_addr,
        zone_name: req
            .field(ZONE_NAME_FIELD)
            .filter(|z| !z.is_empty())
            .map(str::to_owned),
        timeout: h
            .heartbeat_timeout_millis
            .and_then(|ms| u64::try_from(ms).ok())
            .filter(|ms| *ms > 0)
            .map(Duration::from_millis),
        enable_acting_master: h.enable_acting_master,
        topics: body.topic_config_serialize_wrapper,
        filter_servers: body.filter_server_list,
        conn_id: Some(conn_id),
    };
    let outcome = s.routes.register(reg, opts, Instant::now())?;
    let mut response = RemotingCommand::success().with_header(&RegisterBrokerResponseHeader {
        ha_server_addr: outcome.ha_server_addr,
        master_addr: outcome.master_addr,
    });
    if return_order_conf {
        if let Some(table) = s.kv.namespace(NAMESPACE_ORDER_TOPIC_CONFIG) {
            response = response.with_body(KvTable { table }.encode());
        }
    }
    Ok(response)
}

pub(super) fn unregister(
    s: &NamesrvState,
    req: &RemotingCommand,
) -> Result<RemotingCommand, NamesrvError> {
    let h: UnregisterBrokerRequestHeader = req.decode_header()?;
    // An unknown address is already gone: success, as in Java.
    if s.routes
        .unregister(&h.cluster_name, &h.broker_name, &h.broker_addr)
    {
        tracing::info!(cluster = %h.cluster_name, broker = %h.broker_name, addr = %h.broker_addr, "broker unregistered");
    }
    Ok(RemotingCommand::success())
}

pub(super) fn heartbeat(
    s: &NamesrvState,
    req: &RemotingCommand,
) -> Result<RemotingCommand, NamesrvError> {
    let h: BrokerHeartbeatRequestHeader = req.decode_header()?;
    if !s
        .routes
        .touch(&h.cluster_name, &h.broker_addr, Instant::now())
    {
        // Java answers success too; the broker's next registration adds it.
        tracing::debug!(addr = %h.broker_addr, "heartbeat from an unregistered broker");
    }
    Ok(RemotingCommand::success())
}

pub(super) fn query_data_version(
    s: &NamesrvState,
    req: &RemotingCommand,
) -> Result<RemotingCommand, NamesrvError> {
    let h: QueryDataVersionRequestHeader = req.decode_header()?;
    let version = DataVersion::decode(&req.body)?;
    let changed = s
        .routes
        .is_data_version_changed(&h.cluster_name, &h.broker_addr, &version);
    s.routes
        .touch(&h.cluster_name, &h.broker_addr, Instant::now());
    let mut response = RemotingCommand::success().with_header(&QueryDataVersionResponseHeader {
        changed: Some(changed),
    });
    if let Some(ours) = s.routes.data_version(&h.cluster_name, &h.broker_addr) {
        response = response.with_body(ours.encode());
    }
    Ok(response)
}

pub(super) fn member_group(
    s: &NamesrvState,
    req: &RemotingCommand,
) -> Result<RemotingCommand, NamesrvError> {
    let h: GetBrokerMemberGroupRequestHeader = req.decode_header()?;
    let body = GetBrokerMemberGroupResponseBody {
        broker_member_group: s
            .routes
            .broker_member_group(&h.cluster_name, &h.broker_name),
    };
    Ok(RemotingCommand::success().with_body(body.encode()))
}

pub(super) fn wipe_write_perm(
    s: &NamesrvState,
    req: &RemotingCommand,
) -> Result<RemotingCommand, NamesrvError> {
    let h: WipeWritePermOfBrokerRequestHeader = req.decode_header()?;
    let count = s.routes.set_write_perm(&h.broker_name, true);
    tracing::info!(broker = %h.broker_name, topics = count, "write permission wiped");
    Ok(
        RemotingCommand::success().with_header(&WipeWritePermOfBrokerResponseHeader {
            wipe_topic_count: count,
        }),
    )
}

pub(super) fn add_write_perm(
    s: &NamesrvState,
    req: &RemotingCommand,
) -> Result<RemotingCommand, NamesrvError> {
    let h: AddWritePermOfBrokerRequestHeader = req.decode_header()?;
    let count = s.routes.set_write_perm(&h.broker_name, false);
    tracing::info!(broker = %h.broker_name, topics = count, "write permission restored");
    Ok(
        RemotingCommand::success().with_header(&AddWritePermOfBrokerResponseHeader {
            add_topic_count: count,
        }),
    )
}
