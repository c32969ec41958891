//! Queue allocation strategies of clustering consumers (remoting-protocol
//! §9.4). Each member of a group runs the same pure function over the same
//! sorted inputs, so the members agree without talking to each other; the
//! arithmetic matches the Java strategies so mixed-language groups agree too.

use protocol::body::MessageQueue;

/// How a group shares the queues of a topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AllocateStrategy {
    /// Contiguous ranges, the first `n mod k` members taking one more
    /// (Java `AllocateMessageQueueAveragely`, the default).
    #[default]
    Averagely,
    /// Member `i` takes queues `i, i+k, i+2k, …` (Java `…AveragelyByCircle`).
    Circle,
    /// A consistent-hash ring with `virtual_nodes` points per member and
    /// MD5 hashes, as Java `AllocateMessageQueueConsistentHash` (default 10).
    ConsistentHash {
        /// Ring points per member.
        virtual_nodes: usize,
    },
}

impl AllocateStrategy {
    /// Java's name of the strategy (shown in running-info answers).
    pub fn name(&self) -> &'static str {
        match self {
            AllocateStrategy::Averagely => "AVG",
            AllocateStrategy::Circle => "AVG_BY_CIRCLE",
            AllocateStrategy::ConsistentHash { .. } => "CONSISTENT_HASH",
        }
    }

    /// The queues of `mq_all` that member `current` owns. Both lists must be
    /// sorted the same way on every member (queues by topic, broker, id;
    /// client ids as strings). A member missing from `cid_all` owns nothing.
    pub fn allocate(
        &self,
        current: &str,
        mq_all: &[MessageQueue],
        cid_all: &[String],
    ) -> Vec<MessageQueue> {
        let Some(index) = cid_all.iter().position(|c| c == current) else {
            return Vec::new();
        };
        if mq_all.is_empty() {
            return Vec::new();
        }
        match self {
            AllocateStrategy::Averagely => averagely(index, mq_all, cid_all.len()),
            AllocateStrategy::Circle => mq_all
                .iter()
                .skip(index)
                .step_by(cid_all.len())
                .cloned()
                .collect(),
            AllocateStrategy::ConsistentHash { virtual_nodes } => {
                consistent_hash(current, mq_all, cid_all, (*virtual_nodes).max(1))
            }
        }
    }
}

fn averagely(index: usize, mq_all: &[MessageQueue], k: usize) -> Vec<MessageQueue> {
    let n = mq_all.len();
    let rem = n % k;
    let size = if n <= k {
        1
    } else if rem > 0 && index < rem {
        n / k + 1
    } else {
        n / k
    };
    let start = if rem > 0 && index < rem {
        index * size
    } else {
        index * size + rem
    };
    let range = size.min(n.saturating_sub(start));
    mq_all.iter().skip(start).take(range).cloned().collect()
}

/// Java `MessageQueue.toString()`, the key hashed onto the ring.
fn mq_key(mq: &MessageQueue) -> String {
    format!(
        "MessageQueue [topic={}, brokerName={}, queueId={}]",
        mq.topic, mq.broker_name, mq.queue_id
    )
}

/// Java `MD5Hash.hash`: the first four digest bytes, big-endian.
fn ring_hash(key: &str) -> u32 {
    let d = md5(key.as_bytes());
    u32::from_be_bytes([d[0], d[1], d[2], d[3]])
}

fn consistent_hash(
    current: &str,
    mq_all: &[MessageQueue],
    cid_all: &[String],
    virtual_nodes: usize,
) -> Vec<MessageQueue> {
    let mut ring = std::collections::BTreeMap::new();
    for cid in cid_all {
        for i in 0..virtual_nodes {
            ring.insert(ring_hash(&format!("{cid}-{i}")), cid.as_str());
        }
    }
    let owner = |mq: &MessageQueue| {
        let h = ring_hash(&mq_key(mq));
        ring.range(h..)
            .next()
            .or_else(|| ring.iter().next())
            .map(|(_, cid)| *cid)
    };
    mq_all
        .iter()
        .filter(|mq| owner(mq) == Some(current))
        .cloned()
        .collect()
}

/// MD5 (RFC 1321). Only used to place ring points exactly where Java
/// clients put them; not for anything security-related.
fn md5(input: &[u8]) -> [u8; 16] {
    const S: [u32; 64] = [
        7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 5, 9, 14, 20, 5, 9, 14, 20, 5,
        9, 14, 20, 5, 9, 14, 20, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 6, 10,
        15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21,
    ];
    // K[i] = floor(|sin(i + 1)| * 2^32).
    let k: Vec<u32> = (0..64)
        .map(|i| ((f64::from(i + 1)).sin().abs() * 4_294_967_296.0) as u32)
        .collect();
    let mut state: [u32; 4] = [0x6745_2301, 0xefcd_ab89, 0x98ba_dcfe, 0x1032_5476];
    let mut msg = input.to_vec();
    let bit_len = (input.len() as u64).wrapping_mul(8);
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&bit_len.to_le_bytes());
    for chunk in msg.chunks_exact(64) {
        let m: Vec<u32> = chunk
            .chunks_exact(4)
            .map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]))
            .collect();
        let [mut a, mut b, mut c, mut d] = state;
        for i in 0..64 {
            let (f, g) = match i / 16 {
                0 => ((b & c) | (!b & d), i),
                1 => ((d & b) | (!d & c), (5 * i + 1) % 16),
                2 => (b ^ c ^ d, (3 * i + 5) % 16),
                _ => (c ^ (b | !d), (7 * i) % 16),
            };
            let f = f.wrapping_add(a).wrapping_add(k[i]).wrapping_add(m[g]);
            a = d;
            d = c;
            c = b;
            b = b.wrapping_add(f.rotate_left(S[i]));
        }
        state[0] = state[0].wrapping_add(a);
        state[1] = state[1].wrapping_add(b);
        state[2] = state[2].wrapping_add(c);
        state[3] = state[3].wrapping_add(d);
    }
    let mut out = [0u8; 16];
    for (i, word) in state.iter().enumerate() {
        out[i * 4..i * 4 + 4].copy_from_slice(&word.to_le_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queues(n: i32) -> Vec<MessageQueue> {
        (0..n).map(|i| MessageQueue::new("T", "b", i)).collect()
    }

    fn cids(k: usize) -> Vec<String> {
        (0..k).map(|i| format!("c{i}")).collect()
    }

    fn ids(v: &[MessageQueue]) -> Vec<i32> {
        v.iter().map(|q| q.queue_id).collect()
    }

    #[test]
    fn averagely_pins_java_arithmetic() {
        let s = AllocateStrategy::Averagely;
        // 8 queues, 3 consumers: 8 mod 3 = 2 → sizes 3, 3, 2.
        let (q, c) = (queues(8), cids(3));
        assert_eq!(ids(&s.allocate("c0", &q, &c)), vec![0, 1, 2]);
        assert_eq!(ids(&s.allocate("c1", &q, &c)), vec![3, 4, 5]);
        assert_eq!(ids(&s.allocate("c2", &q, &c)), vec![6, 7]);
        // 4 queues, 4 consumers: one each.
        let (q, c) = (queues(4), cids(4));
        for i in 0..4 {
            assert_eq!(ids(&s.allocate(&format!("c{i}"), &q, &c)), vec![i]);
        }
        // 2 queues, 5 consumers: the last three idle.
        let (q, c) = (queues(2), cids(5));
        assert_eq!(ids(&s.allocate("c1", &q, &c)), vec![1]);
        assert!(s.allocate("c2", &q, &c).is_empty());
        assert!(s.allocate("c4", &q, &c).is_empty());
        // 10 queues, 4 consumers: 3, 3, 2, 2.
        let (q, c) = (queues(10), cids(4));
        assert_eq!(ids(&s.allocate("c2", &q, &c)), vec![6, 7]);
        assert_eq!(ids(&s.allocate("c3", &q, &c)), vec![8, 9]);
        // Unknown member owns nothing.
        assert!(s.allocate("zz", &q, &c).is_empty());
    }

    #[test]
    fn every_queue_has_exactly_one_owner() {
        for strategy in [
            AllocateStrategy::Averagely,
            AllocateStrategy::Circle,
            AllocateStrategy::ConsistentHash { virtual_nodes: 10 },
        ] {
            for n in 0..12 {
                for k in 1..6 {
                    let (q, c) = (queues(n), cids(k));
                    let mut all: Vec<i32> = c
                        .iter()
                        .flat_map(|cid| ids(&strategy.allocate(cid, &q, &c)))
                        .collect();
                    all.sort_unstable();
                    assert_eq!(all, (0..n).collect::<Vec<_>>(), "{strategy:?} n={n} k={k}");
                }
            }
        }
    }

    #[test]
    fn circle_takes_every_kth() {
        let (q, c) = (queues(7), cids(3));
        let s = AllocateStrategy::Circle;
        assert_eq!(ids(&s.allocate("c0", &q, &c)), vec![0, 3, 6]);
        assert_eq!(ids(&s.allocate("c1", &q, &c)), vec![1, 4]);
        assert_eq!(ids(&s.allocate("c2", &q, &c)), vec![2, 5]);
    }

    #[test]
    fn md5_known_vectors() {
        let hex = |d: [u8; 16]| d.iter().map(|b| format!("{b:02x}")).collect::<String>();
        assert_eq!(hex(md5(b"")), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(hex(md5(b"abc")), "900150983cd24fb0d6963f7d28e17f72");
        assert_eq!(
            hex(md5(b"The quick brown fox jumps over the lazy dog")),
            "9e107d9d372bb6826bd81d3542a419d6"
        );
        assert_eq!(ring_hash("abc"), 0x9001_5098);
    }

    #[test]
    fn consistent_hash_is_stable_when_a_member_leaves() {
        let s = AllocateStrategy::ConsistentHash { virtual_nodes: 10 };
        let q = queues(32);
        let three = cids(3);
        let two: Vec<String> = vec!["c0".into(), "c1".into()];
        // Queues c0 owned with three members stay with c0 when c2 leaves.
        let before = s.allocate("c0", &q, &three);
        let after = s.allocate("c0", &q, &two);
        assert!(before.iter().all(|mq| after.contains(mq)));
    }
}
