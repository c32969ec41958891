//! PUT_KV_CONFIG, GET_KV_CONFIG, DELETE_KV_CONFIG, GET_KVLIST_BY_NAMESPACE.

use protocol::body::kv::KvTable;
use protocol::header::namesrv::{
    DeleteKvConfigRequestHeader, GetKvConfigRequestHeader, GetKvConfigResponseHeader,
    GetKvListByNamespaceRequestHeader, PutKvConfigRequestHeader,
};
use protocol::RemotingCommand;

use super::NamesrvState;
use crate::error::NamesrvError;

pub(super) fn put(
    s: &NamesrvState,
    req: &RemotingCommand,
) -> Result<RemotingCommand, NamesrvError> {
    let h: PutKvConfigRequestHeader = req.decode_header()?;
    s.kv.put(&h.namespace, &h.key, &h.value)?;
    Ok(RemotingCommand::success())
}

pub(super) fn get(
    s: &NamesrvState,
    req: &RemotingCommand,
) -> Result<RemotingCommand, NamesrvError> {
    let h: GetKvConfigRequestHeader = req.decode_header()?;
    let value =
        s.kv.get(&h.namespace, &h.key)
            .ok_or(NamesrvError::KvNotFound {
                namespace: h.namespace,
                key: h.key,
            })?;
    Ok(RemotingCommand::success().with_header(&GetKvConfigResponseHeader { value: Some(value) }))
}

pub(super) fn delete(
    s: &NamesrvState,
    req: &RemotingCommand,
) -> Result<RemotingCommand, NamesrvError> {
    let h: DeleteKvConfigRequestHeader = req.decode_header()?;
    // Deleting a missing key succeeds, as in Java.
    s.kv.delete(&h.namespace, &h.key)?;
    Ok(RemotingCommand::success())
}

pub(super) fn list_namespace(
    s: &NamesrvState,
    req: &RemotingCommand,
) -> Result<RemotingCommand, NamesrvError> {
    let h: GetKvListByNamespaceRequestHeader = req.decode_header()?;
    let table =
        s.kv.namespace(&h.namespace)
            .ok_or(NamesrvError::KvNamespaceNotFound(h.namespace))?;
    Ok(RemotingCommand::success().with_body(KvTable { table }.encode()))
}
