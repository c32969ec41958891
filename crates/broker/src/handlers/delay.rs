//! GET_ALL_DELAY_OFFSET: the delay-level progress, as delayOffset.json.

use protocol::RemotingCommand;

use crate::error::BrokerResult;
use crate::state::BrokerState;

/// GET_ALL_DELAY_OFFSET (45).
///
/// # Errors
/// Serialization failure.
pub fn get_all_delay_offset(state: &BrokerState) -> BrokerResult<RemotingCommand> {
    Ok(RemotingCommand::success().with_body(state.schedule.to_json()?))
}
