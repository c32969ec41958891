//! The connections a producer sends on: the client instance's own
//! transport, plus `send_connections - 1` more transports (each with its
//! own connection to every broker), taken in turn.
//!
//! A broker reads each connection with one task, and a send's first poll
//! runs in that task, so one connection stores at most what one broker
//! core can: several connections spread a producer's sends over the
//! broker's cores (as a load generator with `--connections 4` does).
//! Heartbeats, transaction checks and every other request stay on the
//! instance's transport; the extra ones only carry sends.

use std::sync::atomic::{AtomicUsize, Ordering};

use remoting::RemotingClient;

use crate::error::Result;
use crate::instance::Client;

pub(crate) struct Lanes {
    extra: Vec<RemotingClient>,
    next: AtomicUsize,
}

impl Lanes {
    /// `connections` per broker in all (0 counts as 1: the instance's own).
    ///
    /// # Errors
    /// A TLS file of the client's options that cannot be read.
    pub(crate) fn new(client: &Client, connections: usize) -> Result<Lanes> {
        let extra = (1..connections)
            .map(|_| Ok(RemotingClient::new(client.transport_config()?, None)))
            .collect::<Result<Vec<_>>>()?;
        Ok(Lanes {
            extra,
            next: AtomicUsize::new(0),
        })
    }

    /// The transport of the next send: `main` (the instance's) and the
    /// extra ones in turn.
    pub(crate) fn pick<'a>(&'a self, main: &'a RemotingClient) -> &'a RemotingClient {
        if self.extra.is_empty() {
            return main;
        }
        let i = self.next.fetch_add(1, Ordering::Relaxed) % (self.extra.len() + 1);
        i.checked_sub(1)
            .and_then(|k| self.extra.get(k))
            .unwrap_or(main)
    }

    /// Closes the extra connections.
    pub(crate) async fn shutdown(&self) {
        for t in &self.extra {
            t.shutdown().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn sends_take_the_connections_in_turn() {
        let client = Client::connect("127.0.0.1:1").unwrap();
        let main = client.remoting();
        let lanes = Lanes::new(&client, 3).unwrap();
        let picked: Vec<*const RemotingClient> =
            (0..6).map(|_| lanes.pick(main) as *const _).collect();
        let main_ptr = main as *const RemotingClient;
        assert_eq!((picked[0], picked[3]), (main_ptr, main_ptr));
        assert!(picked[1] != main_ptr && picked[2] != main_ptr && picked[1] != picked[2]);
        assert_eq!((picked[1], picked[2]), (picked[4], picked[5]));
        // One connection (or zero, read as one): always the client's own.
        for n in [0, 1] {
            let lanes = Lanes::new(&client, n).unwrap();
            assert!((0..3).all(|_| std::ptr::eq(lanes.pick(main), main)));
        }
        lanes.shutdown().await;
        client.shutdown().await;
    }
}
