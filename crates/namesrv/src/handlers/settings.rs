//! GET_NAMESRV_CONFIG and UPDATE_NAMESRV_CONFIG (properties text bodies).

use protocol::RemotingCommand;

use super::NamesrvState;
use crate::config::parse_properties;
use crate::error::NamesrvError;
use crate::kv::write_atomically;

pub(super) fn get(s: &NamesrvState) -> RemotingCommand {
    RemotingCommand::success().with_body(s.config.read().to_properties().into_bytes())
}

/// Applies the properties in the body. The new config is validated and
/// persisted (when `configStorePath` is set) before it takes effect; interval
/// and listing switches apply at once, listen settings at the next start.
pub(super) fn update(
    s: &NamesrvState,
    req: &RemotingCommand,
) -> Result<RemotingCommand, NamesrvError> {
    if req.body.is_empty() {
        return Ok(RemotingCommand::success());
    }
    let text = std::str::from_utf8(&req.body)
        .map_err(|_| NamesrvError::Config("the properties body is not UTF-8".into()))?;
    let pairs = parse_properties(text)?;
    let current = s.config();
    let black = current.black_listed_keys();
    if pairs.iter().any(|(k, _)| black.contains(&k.as_str())) {
        return Err(NamesrvError::ConfigBlackListed);
    }
    let updated = current.with_pairs(&pairs)?;
    if !updated.config_store_path.as_os_str().is_empty() {
        write_atomically(
            &updated.config_store_path,
            updated.to_properties().as_bytes(),
        )?;
    }
    *s.config.write() = updated;
    tracing::info!(keys = ?pairs.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(), "name server config updated");
    Ok(RemotingCommand::success())
}
