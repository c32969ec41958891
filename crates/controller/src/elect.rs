//! Who becomes master (Java's DefaultElectPolicy): first among the alive
//! members of the SyncStateSet, then, only with `enableElectUncleanMaster`,
//! among every alive registered broker. The old master keeps the role when
//! it is alive and no one else is preferred; a preferred broker wins only if
//! it is a candidate; otherwise the highest (epoch, maxOffset) wins, then the
//! lowest priority number, then the lowest id (a total order, so every
//! controller would pick the same broker).

use crate::liveness::BrokerLive;
use crate::replicas::BrokerSet;

/// The winner, or None when no broker can be elected.
pub fn choose(
    set: &BrokerSet,
    alive: impl Fn(i64) -> Option<BrokerLive>,
    preferred: Option<i64>,
    unclean: bool,
) -> Option<i64> {
    let pick = |ids: Vec<i64>| -> Option<i64> {
        let candidates: Vec<(i64, BrokerLive)> = ids
            .into_iter()
            .filter_map(|id| alive(id).map(|b| (id, b)))
            .collect();
        if candidates.is_empty() {
            return None;
        }
        if let Some(old) = set.master {
            let old_alive = candidates.iter().any(|(id, _)| *id == old);
            if old_alive && preferred.is_none_or(|p| p == old) {
                return Some(old);
            }
        }
        if let Some(p) = preferred {
            return candidates.iter().any(|(id, _)| *id == p).then_some(p);
        }
        candidates
            .into_iter()
            .min_by(|(ia, a), (ib, b)| {
                (b.epoch, b.max_offset)
                    .cmp(&(a.epoch, a.max_offset))
                    .then(a.priority.cmp(&b.priority))
                    .then(ia.cmp(ib))
            })
            .map(|(id, _)| id)
    };
    pick(set.sync_state_set.iter().copied().collect()).or_else(|| {
        unclean
            .then(|| pick(set.brokers.keys().copied().collect()))
            .flatten()
    })
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use super::*;

    fn live(epoch: i32, max: i64, priority: i32) -> BrokerLive {
        BrokerLive {
            cluster: "c".into(),
            addr: "h".into(),
            last_ms: 0,
            timeout_ms: 1,
            epoch,
            max_offset: max,
            confirm_offset: 0,
            priority,
            conn_id: 0,
        }
    }

    fn set(master: Option<i64>, in_sync: &[i64]) -> BrokerSet {
        BrokerSet {
            brokers: (1..=4)
                .map(|i| (i, (format!("h:{i}"), String::new())))
                .collect::<BTreeMap<_, _>>(),
            master,
            sync_state_set: in_sync.iter().copied().collect::<BTreeSet<_>>(),
            ..BrokerSet::default()
        }
    }

    #[test]
    fn policy() {
        let table = |id: i64| match id {
            1 => None,
            2 => Some(live(3, 100, 5)),
            3 => Some(live(3, 200, 5)),
            4 => Some(live(4, 0, 0)),
            _ => None,
        };
        // Dead master 1: the in-sync replica with the most data wins.
        assert_eq!(
            choose(&set(Some(1), &[1, 2, 3]), table, None, false),
            Some(3)
        );
        // Ties on (epoch, offset) fall to priority, then id.
        let tie = |id: i64| (id != 1).then(|| live(1, 1, if id == 3 { 0 } else { 1 }));
        assert_eq!(choose(&set(Some(1), &[1, 2, 3]), tie, None, false), Some(3));
        // An alive old master stays.
        assert_eq!(choose(&set(Some(2), &[2, 3]), table, None, false), Some(2));
        // A preferred broker wins only as a candidate.
        assert_eq!(
            choose(&set(Some(2), &[2, 3]), table, Some(3), false),
            Some(3)
        );
        assert_eq!(choose(&set(Some(2), &[2, 3]), table, Some(4), false), None);
        // Nobody in sync is alive: none, unless unclean elections are on.
        assert_eq!(choose(&set(Some(1), &[1]), table, None, false), None);
        assert_eq!(choose(&set(Some(1), &[1]), table, None, true), Some(4));
    }
}
