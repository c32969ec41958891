//! GET_ALL_TOPIC_CONFIG (21) and GET_ALL_SUBSCRIPTIONGROUP_CONFIG (201)
//! with 5.x paging: a request naming a start position and a page size gets
//! that slice of the table (in name order, stable between pages) and the
//! total in a response header; the data version lets the caller notice a
//! change between pages and start over. Without paging fields the whole
//! table is returned, as 4.x brokers do.

use std::collections::BTreeMap;
use std::sync::Arc;

use protocol::header::admin::GetAllTopicConfigRequestHeader;
use protocol::header::ops::{
    GetAllSubscriptionGroupRequestHeader, GetAllSubscriptionGroupResponseHeader,
    GetAllTopicConfigResponseHeader,
};
use protocol::RemotingCommand;

use crate::error::{BrokerError, BrokerResult};
use crate::state::BrokerState;

/// GET_ALL_TOPIC_CONFIG (21).
pub fn get_all_topic_config(
    state: &Arc<BrokerState>,
    req: &RemotingCommand,
) -> BrokerResult<RemotingCommand> {
    let h: GetAllTopicConfigRequestHeader = req.decode_header()?;
    let mut wrapper = state.topics.wrapper();
    let total = count(wrapper.topic_config_table.len());
    let range = page(h.topic_seq, h.max_topic_num, ("topicSeq", "maxTopicNum"))?;
    wrapper.topic_config_table = slice(wrapper.topic_config_table, range);
    Ok(RemotingCommand::success()
        .with_header(&GetAllTopicConfigResponseHeader {
            total_topic_num: total,
        })
        .with_body(wrapper.encode()))
}

/// GET_ALL_SUBSCRIPTIONGROUP_CONFIG (201).
pub fn get_all_group_config(
    state: &Arc<BrokerState>,
    req: &RemotingCommand,
) -> BrokerResult<RemotingCommand> {
    let h: GetAllSubscriptionGroupRequestHeader = req.decode_header()?;
    let mut wrapper = state.groups.wrapper();
    let total = count(wrapper.subscription_group_table.len());
    let range = page(h.group_seq, h.max_group_num, ("groupSeq", "maxGroupNum"))?;
    wrapper.subscription_group_table = slice(wrapper.subscription_group_table, range);
    Ok(RemotingCommand::success()
        .with_header(&GetAllSubscriptionGroupResponseHeader {
            total_group_num: total,
        })
        .with_body(wrapper.to_json_bytes()?))
}

fn count(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// `(skip, take)` from the paging fields; None: the whole table.
fn page(
    seq: Option<i32>,
    max: Option<i32>,
    names: (&str, &str),
) -> BrokerResult<Option<(usize, usize)>> {
    let Some(max) = max else {
        return Ok(None);
    };
    let seq = seq.unwrap_or(0);
    if seq < 0 {
        return Err(BrokerError::InvalidParameter(format!(
            "{} {seq} is negative",
            names.0
        )));
    }
    if max <= 0 {
        return Err(BrokerError::InvalidParameter(format!(
            "{} {max} must be positive",
            names.1
        )));
    }
    Ok(Some((seq as usize, max as usize)))
}

fn slice<V>(table: BTreeMap<String, V>, range: Option<(usize, usize)>) -> BTreeMap<String, V> {
    match range {
        None => table,
        Some((skip, take)) => table.into_iter().skip(skip).take(take).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_slice_in_name_order() {
        let table: BTreeMap<String, i32> = (0..5).map(|i| (format!("t{i}"), i)).collect();
        let names = ("seq", "max");
        assert_eq!(
            slice(table.clone(), page(None, None, names).unwrap()).len(),
            5
        );
        let p = slice(table.clone(), page(Some(3), Some(10), names).unwrap());
        assert_eq!(p.keys().collect::<Vec<_>>(), ["t3", "t4"]);
        assert!(slice(table, page(Some(9), Some(2), names).unwrap()).is_empty());
        let e = page(Some(-1), Some(2), names).unwrap_err().to_string();
        assert!(e.contains("seq"), "{e}");
        let e = page(Some(0), Some(0), names).unwrap_err().to_string();
        assert!(e.contains("max"), "{e}");
    }
}
