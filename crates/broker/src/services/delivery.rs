//! What the delay-level and timer services share: the task loop that wakes
//! on an arrival, a due time or shutdown; the delivery of one parked
//! message to its real topic; and the periodic save of their progress.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::records;
use crate::state::BrokerState;
use crate::tables::metadata::SavedProgress;

/// Longest sleep when nothing is due (bounds the effect of clock jumps).
pub const MAX_SLEEP: Duration = Duration::from_secs(30);
/// Pause after a put the store refused (disk full, shutting down).
pub const RETRY_PAUSE: Duration = Duration::from_secs(1);
/// How often changed progress is saved.
const PERSIST_INTERVAL: Duration = Duration::from_secs(1);

/// The put failed for a reason that may pass: try again later.
pub struct Retry;

/// Runs `round` until `cancel`: after each round, sleeps for as long as it
/// says, or until a message arrives on `topic`/`queue_id`.
pub async fn wake_loop<F, Fut>(
    state: &BrokerState,
    topic: &str,
    queue_id: i32,
    cancel: CancellationToken,
    mut round: F,
) where
    F: FnMut() -> Fut,
    Fut: Future<Output = Duration>,
{
    let arrivals = state.arrivals.signal(topic, queue_id);
    while !cancel.is_cancelled() {
        let notified = arrivals.notified();
        tokio::pin!(notified);
        // Armed before looking, so an arrival in between is not missed.
        notified.as_mut().enable();
        let sleep = round().await;
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = &mut notified => {}
            _ = tokio::time::sleep(sleep) => {}
        }
    }
}

/// Puts the parked message at commit-log offset `phys` on its real topic
/// and queue, without the properties named in `strip`. A record that is
/// gone or unusable is skipped with a log line (`Ok(None)`), so one bad
/// record never blocks the others; `kind` names the service in the logs.
/// A delivered message answers its real topic.
pub async fn deliver(
    state: &Arc<BrokerState>,
    phys: i64,
    kind: &'static str,
    strip: &[&str],
) -> Result<Option<String>, Retry> {
    let mut rec = match records::load(state, phys) {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(offset = phys, kind, error = %e, "parked message skipped");
            return Ok(None);
        }
    };
    if let Err(e) = records::restore_real(&mut rec) {
        tracing::warn!(offset = phys, kind, error = %e, "parked message skipped");
        return Ok(None);
    }
    for key in strip {
        rec.properties.remove(key);
    }
    rec.properties
        .insert(protocol::message::keys::WAIT, "false");
    match records::put(state, &rec, false).await {
        Ok(_) => Ok(Some(rec.topic)),
        Err(e) if e.is_transient() => {
            tracing::warn!(offset = phys, kind, error = %e, "delivery will be retried");
            Err(Retry)
        }
        Err(e) => {
            tracing::error!(offset = phys, kind, error = %e, "parked message dropped");
            Ok(None)
        }
    }
}

/// Saves `progress` every [`PERSIST_INTERVAL`] when it changed. Saving is
/// apart from delivering because a save (three fsyncs, and for the timer
/// up to 100 000 offsets of JSON) takes milliseconds to hundreds of
/// milliseconds on a busy disk: done after each round of deliveries, it
/// held back every message falling due meanwhile. The final save is the
/// broker's, at shutdown, once this task has stopped.
pub async fn persist_loop(
    state: Arc<BrokerState>,
    cancel: CancellationToken,
    progress: fn(&BrokerState) -> &dyn SavedProgress,
) {
    loop {
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = tokio::time::sleep(PERSIST_INTERVAL) => {}
        }
        if progress(&state).changed() {
            let s = state.clone();
            // Not cancelled midway: a save in flight finishes before the
            // broker's own final save can start.
            let _ = tokio::task::spawn_blocking(move || progress(&s).save(&s.store)).await;
        }
    }
}
