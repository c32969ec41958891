//! The 5.x clients we know: their settings and their Telemetry stream
//! (the only way to reach a client), by client id.

use std::collections::HashMap;

use parking_lot::Mutex;
use tokio::sync::mpsc;

use crate::pb::{self, settings::PubSub, TelemetryCommand};

/// Where server-initiated commands for one client go.
pub type CommandSender = mpsc::Sender<Result<TelemetryCommand, tonic::Status>>;

struct Session {
    settings: pb::Settings,
    sender: CommandSender,
    /// Distinguishes a stream from its successor with the same client id.
    stream: u64,
    /// Whether settings were sent again after the first heartbeat.
    repushed: bool,
}

/// Every client with an open Telemetry stream.
#[derive(Default)]
pub struct Sessions {
    by_client: Mutex<HashMap<String, Session>>,
}

impl Sessions {
    /// Records (or replaces) `client`'s settings and stream.
    pub fn register(
        &self,
        client: &str,
        stream: u64,
        settings: pb::Settings,
        sender: CommandSender,
    ) {
        self.by_client.lock().insert(
            client.to_string(),
            Session {
                settings,
                sender,
                stream,
                repushed: false,
            },
        );
    }

    /// Forgets `client` if `stream` is still its current stream.
    pub fn remove(&self, client: &str, stream: u64) {
        let mut map = self.by_client.lock();
        if map.get(client).is_some_and(|s| s.stream == stream) {
            map.remove(client);
        }
    }

    /// Forgets `client` whatever its stream.
    pub fn terminate(&self, client: &str) {
        self.by_client.lock().remove(client);
    }

    /// Every topic a live producer publishes to.
    pub fn producer_topics(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for s in self.by_client.lock().values() {
            if let Some(PubSub::Publishing(p)) = &s.settings.pub_sub {
                for t in &p.topics {
                    if !out.contains(&t.name) {
                        out.push(t.name.clone());
                    }
                }
            }
        }
        out.sort();
        out
    }

    /// The streams of producers that publish to `topic`.
    pub fn producers_of(&self, topic: &str) -> Vec<CommandSender> {
        self.by_client
            .lock()
            .values()
            .filter(|s| match &s.settings.pub_sub {
                Some(PubSub::Publishing(p)) => p.topics.iter().any(|t| t.name == topic),
                _ => false,
            })
            .map(|s| s.sender.clone())
            .collect()
    }

    /// The settings and stream of `client` the first time this is asked
    /// for it (its first heartbeat): Node.js clients can miss the reply
    /// to their settings while still fetching routes, and wait for it.
    pub fn first_repush(&self, client: &str) -> Option<(pb::Settings, CommandSender)> {
        let mut map = self.by_client.lock();
        let s = map.get_mut(client).filter(|s| !s.repushed)?;
        s.repushed = true;
        Some((s.settings.clone(), s.sender.clone()))
    }

    /// The settings `client` sent.
    pub fn settings(&self, client: &str) -> Option<pb::Settings> {
        self.by_client
            .lock()
            .get(client)
            .map(|s| s.settings.clone())
    }

    /// How many clients are connected.
    pub fn len(&self) -> usize {
        self.by_client.lock().len()
    }

    /// Whether no client is connected.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn producer(topics: &[&str]) -> pb::Settings {
        pb::Settings {
            pub_sub: Some(PubSub::Publishing(pb::Publishing {
                topics: topics
                    .iter()
                    .map(|t| pb::Resource {
                        resource_namespace: String::new(),
                        name: t.to_string(),
                    })
                    .collect(),
                max_body_size: 0,
                validate_message_type: true,
            })),
            ..Default::default()
        }
    }

    #[test]
    fn producers_are_found_by_topic_and_replaced_streams_stay() {
        let s = Sessions::default();
        let (tx, _rx) = mpsc::channel(1);
        s.register("c1", 1, producer(&["A", "B"]), tx.clone());
        s.register("c2", 2, producer(&["B"]), tx.clone());
        assert_eq!(s.producers_of("B").len(), 2);
        assert_eq!(s.producers_of("A").len(), 1);
        assert_eq!(s.producer_topics(), vec!["A".to_string(), "B".to_string()]);
        s.register("c1", 3, producer(&["A"]), tx);
        s.remove("c1", 1);
        assert_eq!(s.len(), 2, "an old stream's end keeps the new one");
        s.remove("c1", 3);
        assert!(s.producers_of("A").is_empty());
        assert!(s.first_repush("c2").is_some());
        assert!(s.first_repush("c2").is_none(), "only once");
        assert!(s.first_repush("gone").is_none());
    }
}
