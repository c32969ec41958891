//! Who may open a connection: a limit on all of them, a limit per remote
//! address, and a reserve of slots that an address already holding several
//! connections cannot take, so a flood from one address leaves room for the
//! others. Refusals are counted, and logged at most once per interval.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use tracing::warn;

/// An address holding this many connections cannot take reserved slots.
pub(crate) const RESERVE_SHARE: usize = 4;

/// How often refusals are logged at most.
const LOG_INTERVAL: Duration = Duration::from_secs(10);

/// Connection limits of one server.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AdmissionLimits {
    pub max_total: usize,
    pub max_per_ip: usize,
    pub reserved: usize,
}

/// Why a connection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    Full,
    PerIp,
    ReservedForOthers,
}

impl Refusal {
    fn describe(self) -> &'static str {
        match self {
            Refusal::Full => "the server's connection limit is reached",
            Refusal::PerIp => "the address has reached its connection limit",
            Refusal::ReservedForOthers => {
                "only reserved slots are left, kept for addresses with few connections"
            }
        }
    }
}

pub(crate) struct Admission {
    limits: AdmissionLimits,
    open: Mutex<Open>,
    refused: AtomicU64,
    log: Mutex<RefusalLog>,
}

#[derive(Default)]
struct Open {
    total: usize,
    per_ip: HashMap<IpAddr, usize>,
}

struct RefusalLog {
    last: Option<Instant>,
    since_last: u64,
}

/// A connection's slot; given back when dropped.
pub(crate) struct Ticket {
    admission: Arc<Admission>,
    ip: IpAddr,
}

impl Admission {
    pub(crate) fn new(limits: AdmissionLimits) -> Arc<Self> {
        Arc::new(Admission {
            limits,
            open: Mutex::new(Open::default()),
            refused: AtomicU64::new(0),
            log: Mutex::new(RefusalLog {
                last: None,
                since_last: 0,
            }),
        })
    }

    /// Takes a slot for a connection from `ip`, or counts (and now and then
    /// logs) the refusal.
    pub(crate) fn admit(self: &Arc<Self>, peer: SocketAddr) -> Result<Ticket, Refusal> {
        let ip = peer.ip();
        let decision = self.decide(ip);
        if let Err(why) = decision {
            self.refused.fetch_add(1, Ordering::Relaxed);
            self.note_refusal(peer, why);
        }
        decision.map(|()| Ticket {
            admission: Arc::clone(self),
            ip,
        })
    }

    fn decide(&self, ip: IpAddr) -> Result<(), Refusal> {
        let l = self.limits;
        let mut open = self.open.lock();
        let mine = open.per_ip.get(&ip).copied().unwrap_or(0);
        if open.total >= l.max_total {
            return Err(Refusal::Full);
        }
        if mine >= l.max_per_ip {
            return Err(Refusal::PerIp);
        }
        if open.total >= l.max_total.saturating_sub(l.reserved) && mine >= RESERVE_SHARE {
            return Err(Refusal::ReservedForOthers);
        }
        open.total += 1;
        *open.per_ip.entry(ip).or_insert(0) += 1;
        Ok(())
    }

    fn note_refusal(&self, peer: SocketAddr, why: Refusal) {
        let mut log = self.log.lock();
        log.since_last += 1;
        let due = log.last.is_none_or(|at| at.elapsed() >= LOG_INTERVAL);
        if due {
            warn!(
                refused = log.since_last,
                total_refused = self.refused.load(Ordering::Relaxed),
                "connection limit reached: refused {} new connection(s) since the last report, \
                 the last from {peer} because {}",
                log.since_last,
                why.describe()
            );
            log.last = Some(Instant::now());
            log.since_last = 0;
        }
    }

    /// Connections refused since the server started.
    pub(crate) fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    fn release(&self, ip: IpAddr) {
        let mut open = self.open.lock();
        open.total = open.total.saturating_sub(1);
        if let Some(n) = open.per_ip.get_mut(&ip) {
            *n -= 1;
            if *n == 0 {
                open.per_ip.remove(&ip);
            }
        }
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.admission.release(self.ip);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_address_cannot_take_the_reserve() {
        let a = Admission::new(AdmissionLimits {
            max_total: 10,
            max_per_ip: 8,
            reserved: 3,
        });
        let flood: SocketAddr = "10.0.0.1:1000".parse().unwrap();
        let other: SocketAddr = "10.0.0.2:1000".parse().unwrap();
        let mut held: Vec<Ticket> = (0..7).map(|_| a.admit(flood).unwrap()).collect();
        assert_eq!(a.admit(flood).err(), Some(Refusal::ReservedForOthers));
        held.extend((0..3).map(|_| a.admit(other).unwrap()));
        assert_eq!(a.admit(other).err(), Some(Refusal::Full));
        assert_eq!(a.refused(), 2);
        // Slots come back when connections close.
        held.truncate(6);
        assert!(a.admit(other).is_ok());
    }

    #[test]
    fn per_address_limit() {
        let a = Admission::new(AdmissionLimits {
            max_total: 100,
            max_per_ip: 2,
            reserved: 0,
        });
        let ip: SocketAddr = "10.0.0.1:1000".parse().unwrap();
        let _one = a.admit(ip).unwrap();
        let _two = a.admit(ip).unwrap();
        assert_eq!(a.admit(ip).err(), Some(Refusal::PerIp));
        assert!(a.admit("10.0.0.9:1".parse().unwrap()).is_ok());
    }
}
