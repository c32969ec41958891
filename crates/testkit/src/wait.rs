//! Polling waits for conditions that other tasks or processes make true.
//! Tests assert on the outcome, never on how long it took: the limit only
//! keeps a broken test from hanging.

use std::future::Future;
use std::time::Duration;

/// How often a condition is looked at.
const POLL: Duration = Duration::from_millis(50);

/// Polls `cond` every 50 ms for up to `secs` seconds; whether it held.
pub async fn wait_for(secs: u64, mut cond: impl FnMut() -> bool) -> bool {
    for _ in 0..secs * 20 {
        if cond() {
            return true;
        }
        tokio::time::sleep(POLL).await;
    }
    cond()
}

/// [`wait_for`] with an asynchronous condition.
pub async fn wait_async<F, Fut>(secs: u64, mut cond: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    for _ in 0..secs * 20 {
        if cond().await {
            return true;
        }
        tokio::time::sleep(POLL).await;
    }
    cond().await
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
