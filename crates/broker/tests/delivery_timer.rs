//! Timed messages over TCP: TIMER_* properties deliver at the asked time,
//! also across a broker restart; beyond the horizon they are refused.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "delivery_common/mod.rs"]
mod common;

use std::time::Duration;

use common::{now_ms, send, send_request, wait_messages};
use protocol::message::{keys, topics};
use protocol::ResponseCode;
use testkit::TestCluster;

/// Generous bound on lateness so that a loaded test machine does not fail
/// the test; the broker aims at 100 ms.
const LATE: i64 = 1000;

#[tokio::test]
async fn deliver_ms_is_honoured() {
    let c = TestCluster::start().await;
    let at = now_ms() + 1500;
    let at_text = at.to_string();
    send(
        &c,
        "TimerT",
        &[(keys::TIMER_DELIVER_MS, &at_text), (keys::TAGS, "t")],
        0,
        "tick",
    )
    .await;
    assert!(common::pull(&c, "X", "TimerT", 0, 0).await.is_empty());
    let got = wait_messages(&c, "TimerT", 0, 0, 1, Duration::from_secs(5)).await;
    assert_eq!(got.len(), 1, "the timed message never arrived");
    let msg = &got[0].0;
    assert!(
        msg.store_timestamp >= at,
        "delivered {} ms early",
        at - msg.store_timestamp
    );
    assert!(
        msg.store_timestamp <= at + LATE,
        "delivered {} ms late",
        msg.store_timestamp - at
    );
    assert_eq!(&msg.body[..], b"tick");
    assert_eq!(
        msg.properties.get(keys::TIMER_OUT_MS),
        Some(at_text.as_str())
    );
    // Waited in the timer topic.
    let staged = common::pull(&c, "X", topics::TIMER_TOPIC, 0, 0).await;
    assert_eq!(staged.len(), 1);
    assert_eq!(staged[0].properties.get(keys::REAL_TOPIC), Some("TimerT"));
    c.shutdown().await;
}

#[tokio::test]
async fn relative_delays_and_ons_start_time() {
    let c = TestCluster::start().await;
    let before = now_ms();
    send(&c, "TimerRel", &[(keys::TIMER_DELAY_MS, "700")], 0, "ms").await;
    send(&c, "TimerRel", &[(keys::TIMER_DELAY_SEC, "1")], 0, "sec").await;
    let ons = (now_ms() + 400).to_string();
    send(
        &c,
        "TimerRel",
        &[(keys::START_DELIVER_TIME, &ons)],
        0,
        "ons",
    )
    .await;
    let got = wait_messages(&c, "TimerRel", 0, 0, 3, Duration::from_secs(5)).await;
    let bodies: Vec<&[u8]> = got.iter().map(|(m, _)| &m.body[..]).collect();
    assert_eq!(bodies, [&b"ons"[..], b"ms", b"sec"]);
    assert!(got[1].0.store_timestamp >= before + 700);
    assert!(got[2].0.store_timestamp >= before + 1000);
    // Relative delays became absolute: a copy is never delayed again.
    assert!(got[1].0.properties.get(keys::TIMER_DELAY_MS).is_none());
    assert!(got[1].0.properties.get(keys::TIMER_DELIVER_MS).is_some());
    c.shutdown().await;
}

#[tokio::test]
async fn beyond_the_horizon_is_illegal() {
    let c = TestCluster::start_with(|b, _| b.timer_max_delay_sec = 60).await;
    let req = send_request("TimerFar", 0, &[(keys::TIMER_DELAY_SEC, "61")], 0, "x");
    let resp = c.call(req).await;
    assert_eq!(resp.code, ResponseCode::MESSAGE_ILLEGAL.code());
    assert!(resp.remark.unwrap_or_default().contains("timerMaxDelaySec"));
    let req = send_request("TimerFar", 0, &[(keys::TIMER_DELAY_SEC, "soon")], 0, "x");
    assert_eq!(c.call(req).await.code, ResponseCode::MESSAGE_ILLEGAL.code());
    c.shutdown().await;
}

#[tokio::test]
async fn survives_a_restart_without_duplicates() {
    let c = TestCluster::start().await;
    send(&c, "TimerR", &[(keys::TIMER_DELAY_MS, "300")], 0, "early").await;
    assert_eq!(
        wait_messages(&c, "TimerR", 0, 0, 1, Duration::from_secs(5))
            .await
            .len(),
        1
    );
    let at = now_ms() + 1500;
    send(
        &c,
        "TimerR",
        &[(keys::TIMER_DELIVER_MS, &at.to_string())],
        0,
        "late",
    )
    .await;
    // Make sure it is stored in the timer topic before stopping.
    assert_eq!(
        wait_messages(&c, topics::TIMER_TOPIC, 0, 1, 1, Duration::from_secs(2))
            .await
            .len(),
        1
    );
    let c = c.restart_broker().await;
    let got = wait_messages(&c, "TimerR", 0, 1, 1, Duration::from_secs(6)).await;
    assert_eq!(got.len(), 1, "the timed message was lost in the restart");
    assert_eq!(&got[0].0.body[..], b"late");
    assert!(got[0].0.store_timestamp >= at);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        common::pull(&c, "X", "TimerR", 0, 2).await.is_empty(),
        "delivered twice"
    );
    assert_eq!(c.broker.state().timer.checkpoint(), 2);
    c.shutdown().await;
}

/// The checkpoint is saved by the broker while it runs (every second, apart
/// from deliveries), not only at shutdown: a crash then redelivers at most
/// the last second's messages.
#[tokio::test]
async fn checkpoint_is_saved_while_running() {
    let c = TestCluster::start().await;
    for body in ["a", "b"] {
        send(&c, "TimerCp", &[(keys::TIMER_DELAY_MS, "200")], 0, body).await;
    }
    let got = wait_messages(&c, "TimerCp", 0, 0, 2, Duration::from_secs(5)).await;
    assert_eq!(got.len(), 2, "the timed messages never arrived");
    let file = c
        .broker
        .state()
        .store
        .metadata_file(broker::tables::timer::CHECKPOINT_FILE);
    let mut saved = None;
    for _ in 0..100 {
        saved = file.load().unwrap();
        if saved
            .as_deref()
            .is_some_and(|t| t.contains("\"checkpoint\":2"))
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let saved = saved.expect("no checkpoint saved while the broker runs");
    let cp: serde_json::Value = serde_json::from_str(&saved).unwrap();
    assert_eq!(cp["checkpoint"], 2, "{saved}");
    assert_eq!(cp["delivered"], serde_json::json!([]), "{saved}");
    c.shutdown().await;
}
