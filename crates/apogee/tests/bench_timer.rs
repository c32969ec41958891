//! `apogee bench timer` run as a process against an in-process NameServer +
//! broker: every timed message arrives once and none before its time; the
//! delay-cost mode sends every kind. Correctness only: no timing figure is
//! asserted beyond "not early".

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::apogee_json;
use serde_json::Value;
use testkit::TestCluster;

/// Runs `apogee bench timer <args> -n <namesrv> --json`, which must succeed;
/// its JSON summary.
async fn bench_timer(namesrv: String, args: &[&str]) -> Value {
    let mut argv: Vec<String> = ["bench", "timer", "-n", &namesrv, "--json"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    argv.extend(args.iter().map(|s| s.to_string()));
    apogee_json(argv, "bench timer").await
}

/// A broker that still accepts sends on a nearly full shared disk.
async fn start_cluster() -> TestCluster {
    TestCluster::start_with(|_, store| store.disk_space_warning_level_ratio = 99).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timed_messages_all_arrive_and_none_early() {
    let cluster = start_cluster().await;
    let s = bench_timer(
        cluster.namesrv_addr(),
        &[
            "-t",
            "BenchTimerIt",
            "--count",
            "200",
            "--spread-secs",
            "2",
            "--lead-secs",
            "2",
            "--margin-secs",
            "20",
            "--concurrency",
            "8",
        ],
    )
    .await;
    assert_eq!(s["mode"], "timer", "{s}");
    assert_eq!(s["send_failed"], 0, "{s}");
    assert_eq!(s["sent"], 200, "{s}");
    assert_eq!(s["received"], 200, "{s}");
    assert_eq!(s["lost"], 0, "{s}");
    assert_eq!(s["foreign"], 0, "{s}");
    assert_eq!(s["early"], 0, "{s}");
    assert_eq!(s["broker_lateness"]["early"], 0, "{s}");
    // Messages sent before their time all have a lateness figure.
    let timed = 200 - s["sent_after_due"].as_u64().unwrap();
    assert_eq!(s["lateness"]["n"].as_u64().unwrap(), timed, "{s}");
    assert!(s["lateness"]["min_ms"].as_f64().unwrap() >= -1.0, "{s}");
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delay_cost_sends_every_kind() {
    let cluster = start_cluster().await;
    let s = bench_timer(
        cluster.namesrv_addr(),
        &[
            "--delay-cost",
            "-t",
            "BenchDelayCostIt",
            "--count",
            "30",
            "--rounds",
            "3",
            "--concurrency",
            "4",
            "--size",
            "64",
        ],
    )
    .await;
    assert_eq!(s["mode"], "delay_cost", "{s}");
    let kinds = s["kinds"].as_array().unwrap();
    let names: Vec<&str> = kinds.iter().map(|k| k["mode"].as_str().unwrap()).collect();
    assert_eq!(names, ["plain", "delay_level_3", "timer_60s"], "{s}");
    for k in kinds {
        assert_eq!(k["msgs"], 30, "{s}");
        assert_eq!(k["send_failed"], 0, "{s}");
        assert_eq!(k["response_failed"], 0, "{s}");
    }
    cluster.shutdown().await;
}
