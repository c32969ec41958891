//! The half-message rule: a prepared transactional message waits in
//! `RMQ_SYS_TRANS_HALF_TOPIC` queue 0, invisible to consumers, until its
//! producer commits or rolls it back (remoting-protocol §9.7).

use protocol::message::sysflag::message as msgflag;
use protocol::message::{keys, topics, MessageRecord};

use crate::error::{BrokerError, BrokerResult};
use crate::records::park;
use crate::state::BrokerState;

/// Send-path rule: TRAN_MSG=true with the PREPARED sysflag → half message.
/// Returns whether it was diverted.
///
/// # Errors
/// [`BrokerError::NoPermission`] when `rejectTransactionMessage` is set.
pub fn divert_half(state: &BrokerState, rec: &mut MessageRecord) -> BrokerResult<bool> {
    let tran = rec
        .properties
        .get(keys::TRAN_MSG)
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let prepared = rec.sysflag & msgflag::TRANSACTION_MASK == msgflag::TRANSACTION_PREPARED_TYPE;
    if !tran || !prepared {
        return Ok(false);
    }
    if state.live.broker().reject_transaction_message {
        return Err(BrokerError::NoPermission(format!(
            "the broker[{}] sending transaction message is forbidden",
            state.config.broker_name
        )));
    }
    if let Some(uniq) = rec.properties.uniq_key().map(str::to_owned) {
        rec.properties.insert(keys::TRANSACTION_ID, uniq);
    }
    rec.sysflag &= !msgflag::TRANSACTION_MASK;
    park(rec, topics::TRANS_HALF_TOPIC, 0);
    Ok(true)
}
