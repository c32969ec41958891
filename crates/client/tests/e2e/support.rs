//! Shared helpers: topic creation, producers, recording listeners and
//! polling waits.

use std::future::Ready;
use std::sync::Arc;

use client::{Admin, ConsumeResult, MessageExt, Producer, TopicSpec};
use parking_lot::Mutex;
pub use testkit::wait::{trace, wait_async, wait_for};

pub type Seen = Arc<Mutex<Vec<MessageExt>>>;

/// A listener that records every message and answers `result`.
pub fn recorder(
    seen: &Seen,
    result: ConsumeResult,
) -> impl Fn(Vec<MessageExt>) -> Ready<ConsumeResult> + Send + Sync + 'static {
    let seen = Arc::clone(seen);
    move |msgs| {
        seen.lock().extend(msgs);
        std::future::ready(result)
    }
}

/// Creates `topic` with `queues` queues on every master and waits until
/// the NameServer routes it with that many queues.
pub async fn create_topic(ns: &str, topic: &str, queues: i32) {
    let admin = Admin::connect(ns).unwrap();
    let brokers = admin
        .create_topic(None, &TopicSpec::new(topic, queues))
        .await
        .unwrap();
    assert_eq!(brokers.len(), 1, "one broker in the test cluster");
    let routed = wait_async(10, || async {
        match admin.topic_route(topic).await {
            Ok(r) => r.queue_datas.iter().any(|q| q.read_queue_nums == queues),
            Err(_) => false,
        }
    })
    .await;
    assert!(routed, "{topic} is not routed with {queues} queues");
    admin.shutdown().await;
}

/// A started producer of a group unique to the test.
pub async fn producer(ns: &str, group: &str) -> Producer {
    Producer::builder()
        .namesrv(ns)
        .group(group)
        .build()
        .await
        .unwrap()
}

/// Bodies of `seen`, as text, in arrival order.
pub fn bodies(seen: &Seen) -> Vec<String> {
    seen.lock()
        .iter()
        .map(|m| String::from_utf8_lossy(&m.body).into_owned())
        .collect()
}

/// Sorted copy.
pub fn sorted<T: Ord + Clone>(v: &[T]) -> Vec<T> {
    let mut v = v.to_vec();
    v.sort();
    v
}
