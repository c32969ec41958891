//! Producer connections for admin tools: GET_PRODUCER_CONNECTION_LIST
//! (204) for one group and GET_ALL_PRODUCER_INFO (328) for every group,
//! from the producers heartbeats registered.

use std::sync::Arc;

use protocol::body::consumer::Connection as ConnectionBody;
use protocol::body::ops::{ProducerConnection, ProducerInfo, ProducerTableInfo};
use protocol::header::ops::GetProducerConnectionListRequestHeader;
use protocol::{RemotingCommand, ResponseCode};

use crate::error::BrokerResult;
use crate::state::BrokerState;
use crate::tables::clients::ClientChannel;
use protocol::clock::now_ms;

/// GET_PRODUCER_CONNECTION_LIST (204); a group with no live producer is
/// an error, as in Java.
pub fn get_producer_connection_list(
    state: &Arc<BrokerState>,
    req: &RemotingCommand,
) -> BrokerResult<RemotingCommand> {
    let h: GetProducerConnectionListRequestHeader = req.decode_header()?;
    let channels = state.clients.producer_connections(&h.producer_group);
    if channels.is_empty() {
        return Ok(RemotingCommand::error(
            ResponseCode::SYSTEM_ERROR,
            format!("the producer group[{}] not exist", h.producer_group),
        ));
    }
    let mut connection_set: Vec<ConnectionBody> = channels
        .iter()
        .map(|c| ConnectionBody {
            client_addr: c.conn.peer_addr().to_string(),
            client_id: c.client_id.clone(),
            language: c.language.clone(),
            version: c.version,
        })
        .collect();
    connection_set.sort_by(|a, b| a.client_id.cmp(&b.client_id));
    let body = ProducerConnection { connection_set }.to_json_bytes()?;
    Ok(RemotingCommand::success().with_body(body))
}

/// GET_ALL_PRODUCER_INFO (328): every group's producers.
pub fn get_all_producer_info(
    state: &Arc<BrokerState>,
    _req: &RemotingCommand,
) -> BrokerResult<RemotingCommand> {
    let now = now_ms();
    let info = |c: &ClientChannel| ProducerInfo {
        client_id: c.client_id.clone(),
        remote_ip: c.conn.peer_addr().to_string(),
        language: c.language.clone(),
        version: c.version,
        last_update_timestamp: now - c.last_update.elapsed().as_millis() as i64,
    };
    let table = ProducerTableInfo {
        data: state
            .clients
            .producer_groups()
            .into_iter()
            .map(|(group, channels)| (group, channels.iter().map(info).collect()))
            .collect(),
    };
    Ok(RemotingCommand::success().with_body(table.to_json_bytes()?))
}
