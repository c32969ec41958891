//! Server-side rebalance for Java 5.x push consumers with
//! `clientRebalance=false`: QUERY_ASSIGNMENT (400) answers which queues a
//! client owns and whether it pulls or pops them; SET_MESSAGE_REQUEST_MODE
//! (401) switches a group to POP for a topic; GET_ALL_MESSAGE_REQUEST_MODE
//! (402) lists the switches. The topic's queues come from the NameServer
//! route (every broker of the topic), or this broker's own table when no
//! NameServer answers.

use std::collections::BTreeSet;
use std::time::Duration;

use protocol::body::assignment::{
    MessageQueueAssignment, MessageRequestMode, QueryAssignmentRequestBody,
    QueryAssignmentResponseBody, SetMessageRequestModeRequestBody,
};
use protocol::body::heartbeat::MessageModel;
use protocol::body::route::TopicRouteData;
use protocol::body::MessageQueue;
use protocol::header::namesrv::GetRouteInfoRequestHeader;
use protocol::message::sysflag::perm;
use protocol::message::topics;
use protocol::{RemotingCommand, RequestCode, ResponseCode};

use crate::error::BrokerResult;
use crate::state::BrokerState;

/// How long a route lookup may take.
const ROUTE_TIMEOUT: Duration = Duration::from_secs(3);

/// QUERY_ASSIGNMENT (400).
pub async fn query_assignment(
    state: &BrokerState,
    req: &RemotingCommand,
) -> BrokerResult<RemotingCommand> {
    let body = QueryAssignmentRequestBody::from_json_bytes(&req.body)?;
    if body.topic.is_empty() || body.consumer_group.is_empty() || body.client_id.is_empty() {
        return Ok(RemotingCommand::error(
            ResponseCode::INVALID_PARAMETER,
            "topic, consumerGroup and clientId must not be empty",
        ));
    }
    let mut mq_all = topic_queues(state, &body.topic).await;
    if mq_all.is_empty() {
        return Ok(RemotingCommand::error(
            ResponseCode::TOPIC_NOT_EXIST,
            format!("topic[{}] has no readable queue", body.topic),
        ));
    }
    mq_all.sort_by(|a, b| (&a.broker_name, a.queue_id).cmp(&(&b.broker_name, b.queue_id)));
    let mode = state.pop.modes.get(&body.topic, &body.consumer_group);
    let pop_share = match &mode {
        Some(m) if m.mode == MessageRequestMode::Pop && !is_retry(&body.topic) => {
            Some(m.pop_share_queue_num)
        }
        _ => None,
    };
    let queues = if body.message_model == MessageModel::Broadcasting {
        mq_all
    } else {
        let mut cids = state.clients.consumer_ids(&body.consumer_group);
        cids.sort();
        if !cids.contains(&body.client_id) {
            return Ok(RemotingCommand::error(
                ResponseCode::CONSUMER_NOT_ONLINE,
                format!(
                    "client[{}] is not a consumer of group[{}] here: send a heartbeat first",
                    body.client_id, body.consumer_group
                ),
            ));
        }
        let Some(strategy) = Strategy::from_name(&body.strategy_name) else {
            return Ok(RemotingCommand::error(
                ResponseCode::INVALID_PARAMETER,
                format!(
                    "strategyName `{}` is not AVG or AVG_BY_CIRCLE",
                    body.strategy_name
                ),
            ));
        };
        allocate_for(strategy, pop_share, &body.client_id, &mq_all, &cids)
    };
    let mode = if pop_share.is_some() {
        MessageRequestMode::Pop
    } else {
        MessageRequestMode::Pull
    };
    let assignments = QueryAssignmentResponseBody {
        message_queue_assignments: queues
            .into_iter()
            .map(|mq| MessageQueueAssignment {
                message_queue: mq,
                mode: mode.clone(),
                attachments: Default::default(),
            })
            .collect(),
    };
    Ok(RemotingCommand::success().with_body(assignments.to_json_bytes()?))
}

fn is_retry(topic: &str) -> bool {
    topic.starts_with(topics::RETRY_GROUP_TOPIC_PREFIX)
}

/// SET_MESSAGE_REQUEST_MODE (401).
pub fn set_message_request_mode(
    state: &BrokerState,
    req: &RemotingCommand,
) -> BrokerResult<RemotingCommand> {
    let body = SetMessageRequestModeRequestBody::from_json_bytes(&req.body)?;
    if body.topic.is_empty() || body.consumer_group.is_empty() {
        return Ok(RemotingCommand::error(
            ResponseCode::INVALID_PARAMETER,
            "topic and consumerGroup must not be empty",
        ));
    }
    if is_retry(&body.topic) {
        return Ok(RemotingCommand::error(
            ResponseCode::NO_PERMISSION,
            "retry topic is not allowed to set mode",
        ));
    }
    if let MessageRequestMode::Other(m) = &body.mode {
        return Ok(RemotingCommand::error(
            ResponseCode::INVALID_PARAMETER,
            format!("mode `{m}` is not PULL or POP"),
        ));
    }
    if let Err(e) = state.pop.modes.set(&state.store, body) {
        return Ok(e.to_response());
    }
    Ok(RemotingCommand::success())
}

/// GET_ALL_MESSAGE_REQUEST_MODE (402).
pub fn get_all_message_request_mode(state: &BrokerState) -> BrokerResult<RemotingCommand> {
    Ok(RemotingCommand::success().with_body(state.pop.modes.all().to_json_bytes()?))
}

/// Every readable queue of `topic` in the cluster.
async fn topic_queues(state: &BrokerState, topic: &str) -> Vec<MessageQueue> {
    for addr in state
        .config
        .namesrv_addr
        .split(';')
        .map(str::trim)
        .filter(|a| !a.is_empty())
    {
        let cmd = RemotingCommand::request_with_header(
            RequestCode::GET_ROUTEINFO_BY_TOPIC,
            &GetRouteInfoRequestHeader {
                topic: topic.to_owned(),
                accept_standard_json_only: Some(true),
            },
        );
        let Ok(r) = state.client.invoke(addr, cmd, ROUTE_TIMEOUT).await else {
            continue;
        };
        if r.code != 0 {
            continue;
        }
        if let Ok(route) = TopicRouteData::decode(&r.body) {
            return route
                .queue_datas
                .iter()
                .filter(|q| q.perm & perm::READ != 0)
                .flat_map(|q| {
                    (0..q.read_queue_nums).map(|i| MessageQueue::new(topic, &q.broker_name, i))
                })
                .collect();
        }
    }
    state
        .topics
        .get(topic)
        .filter(|c| c.perm & perm::READ != 0)
        .map(|c| {
            (0..c.read_queue_nums)
                .map(|i| MessageQueue::new(topic, &state.config.broker_name, i))
                .collect()
        })
        .unwrap_or_default()
}

/// The client-side allocation strategies Java brokers run for clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Strategy {
    Averagely,
    Circle,
}

impl Strategy {
    fn from_name(name: &str) -> Option<Strategy> {
        match name {
            "AVG" | "" => Some(Strategy::Averagely),
            "AVG_BY_CIRCLE" => Some(Strategy::Circle),
            _ => None,
        }
    }

    /// The queues of `cid` (sorted inputs; `cid` is among `cids`).
    fn allocate(self, cid: &str, mq_all: &[MessageQueue], cids: &[String]) -> Vec<MessageQueue> {
        let Some(index) = cids.iter().position(|c| c == cid) else {
            return Vec::new();
        };
        let (n, m) = (mq_all.len(), cids.len());
        match self {
            Strategy::Circle => mq_all
                .iter()
                .enumerate()
                .filter(|(i, _)| i % m == index)
                .map(|(_, q)| q.clone())
                .collect(),
            Strategy::Averagely => {
                let rem = n % m;
                let size = if n <= m {
                    1
                } else if rem > 0 && index < rem {
                    n / m + 1
                } else {
                    n / m
                };
                let start = if rem > 0 && index < rem {
                    index * size
                } else {
                    index * size + rem
                };
                let range = size.min(n.saturating_sub(start));
                (0..range)
                    .map(|i| mq_all[(start + i) % n].clone())
                    .collect()
            }
        }
    }
}

/// Pull: the strategy's share. Pop with no sharing (0 or less): every
/// broker's queues as "-1" (pop any queue). Pop sharing N: the client's
/// share plus those of the N clients after it.
fn allocate_for(
    strategy: Strategy,
    pop_share: Option<i32>,
    cid: &str,
    mq_all: &[MessageQueue],
    cids: &[String],
) -> Vec<MessageQueue> {
    let Some(share) = pop_share else {
        return strategy.allocate(cid, mq_all, cids);
    };
    if share <= 0 {
        let brokers: BTreeSet<(&str, &str)> = mq_all
            .iter()
            .map(|q| (q.topic.as_str(), q.broker_name.as_str()))
            .collect();
        return brokers
            .into_iter()
            .map(|(t, b)| MessageQueue::new(t, b, -1))
            .collect();
    }
    if cids.len() > mq_all.len() {
        // More clients than queues: each gets one, round the list.
        let index = cids.iter().position(|c| c == cid).unwrap_or(0);
        return vec![mq_all[index % mq_all.len()].clone()];
    }
    let index = cids.iter().position(|c| c == cid).unwrap_or(0);
    let mut out: BTreeSet<(String, i32)> = BTreeSet::new();
    for k in 0..=share as usize {
        let other = &cids[(index + k) % cids.len()];
        for q in strategy.allocate(other, mq_all, cids) {
            out.insert((q.broker_name, q.queue_id));
        }
    }
    let topic = mq_all.first().map_or("", |q| q.topic.as_str());
    out.into_iter()
        .map(|(b, q)| MessageQueue::new(topic, b, q))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queues(n: i32) -> Vec<MessageQueue> {
        (0..n).map(|i| MessageQueue::new("T", "b", i)).collect()
    }

    fn cids(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("c{i}")).collect()
    }

    fn ids(v: &[MessageQueue]) -> Vec<i32> {
        v.iter().map(|q| q.queue_id).collect()
    }

    #[test]
    fn averagely_splits_in_contiguous_runs_as_java() {
        let (mq, c) = (queues(8), cids(3));
        let parts: Vec<Vec<i32>> = c
            .iter()
            .map(|cid| ids(&Strategy::Averagely.allocate(cid, &mq, &c)))
            .collect();
        assert_eq!(parts, vec![vec![0, 1, 2], vec![3, 4, 5], vec![6, 7]]);
        // More clients than queues: one queue each, the last clients none.
        let c = cids(5);
        let got: Vec<Vec<i32>> = c
            .iter()
            .map(|cid| ids(&Strategy::Averagely.allocate(cid, &queues(3), &c)))
            .collect();
        assert_eq!(got, vec![vec![0], vec![1], vec![2], vec![], vec![]]);
    }

    #[test]
    fn circle_deals_queues_round_the_clients() {
        let (mq, c) = (queues(5), cids(2));
        assert_eq!(
            ids(&Strategy::Circle.allocate("c0", &mq, &c)),
            vec![0, 2, 4]
        );
        assert_eq!(ids(&Strategy::Circle.allocate("c1", &mq, &c)), vec![1, 3]);
    }

    #[test]
    fn pop_without_sharing_pops_every_broker_as_minus_one() {
        let mut mq = queues(4);
        mq.push(MessageQueue::new("T", "b2", 0));
        let got = allocate_for(Strategy::Averagely, Some(0), "c0", &mq, &cids(2));
        assert_eq!(
            got,
            vec![
                MessageQueue::new("T", "b", -1),
                MessageQueue::new("T", "b2", -1)
            ]
        );
    }

    #[test]
    fn pop_sharing_adds_the_next_clients_queues() {
        let got = allocate_for(Strategy::Averagely, Some(1), "c0", &queues(4), &cids(4));
        assert_eq!(ids(&got), vec![0, 1]);
        let got = allocate_for(Strategy::Averagely, Some(1), "c3", &queues(4), &cids(4));
        assert_eq!(ids(&got), vec![0, 3]);
    }
}
