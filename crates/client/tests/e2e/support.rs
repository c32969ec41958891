//! Shared helpers: topic creation, producers, recording listeners and
//! polling waits.

use std::future::Ready;
use std::sync::Arc;
use std::time::Duration;

use client::{Admin, ConsumeResult, MessageExt, Producer, TopicSpec};
use parking_lot::Mutex;

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

/// Polls `cond` every 50 ms for up to `secs` seconds.
pub async fn wait_for(secs: u64, mut cond: impl FnMut() -> bool) -> bool {
    for _ in 0..secs * 20 {
        if cond() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    cond()
}

/// [`wait_for`] with an asynchronous condition.
pub async fn wait_async<F, Fut>(secs: u64, mut cond: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..secs * 20 {
        if cond().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    cond().await
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

/// Logs to the test output when `RUST_LOG` is set (e.g. `client=debug`).
pub fn trace() {
    if let Ok(filter) = std::env::var("RUST_LOG") {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_test_writer()
            .try_init();
    }
}
