//! Helpers of the `apogee` process tests: run the built binary against an
//! in-process NameServer + broker and read its JSON or its error line.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Output;

use serde_json::Value;
use testkit::TestCluster;

/// Runs the built binary with `args` (blocking work off the runtime).
pub async fn apogee(args: Vec<String>) -> Output {
    tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_apogee"))
            .args(&args)
            .env_remove("NAMESRV_ADDR")
            .output()
            .expect("the apogee binary runs")
    })
    .await
    .unwrap()
}

/// Runs the built binary with `args`, which must succeed; its stdout as
/// JSON (`what` names the command in failure messages).
pub async fn apogee_json(args: Vec<String>, what: &str) -> Value {
    let out = apogee(args).await;
    assert!(
        out.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{what}: bad JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// `apogee admin` against one NameServer.
pub struct Cli {
    pub namesrv: String,
}

impl Cli {
    pub fn args(&self, cmd: &[&str], json: bool) -> Vec<String> {
        let mut v: Vec<String> = cmd.iter().map(|s| s.to_string()).collect();
        v.push("-n".into());
        v.push(self.namesrv.clone());
        if json {
            v.push("--json".into());
        }
        v
    }

    /// `apogee admin <cmd> --json`, which must succeed; its JSON.
    pub async fn admin(&self, cmd: &[&str]) -> Value {
        let mut full = vec!["admin"];
        full.extend_from_slice(cmd);
        apogee_json(self.args(&full, true), &format!("{cmd:?}")).await
    }

    /// `apogee admin <cmd>` in table form, which must fail; its stderr.
    pub async fn admin_fails(&self, cmd: &[&str]) -> String {
        let mut full = vec!["admin"];
        full.extend_from_slice(cmd);
        let out = apogee(self.args(&full, false)).await;
        assert_eq!(out.status.code(), Some(1), "{cmd:?} should fail");
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    /// `apogee admin <cmd>` in table form; its stdout.
    pub async fn admin_text(&self, cmd: &[&str]) -> String {
        let mut full = vec!["admin"];
        full.extend_from_slice(cmd);
        let out = apogee(self.args(&full, false)).await;
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

/// A cluster whose broker still accepts sends on a nearly full shared
/// disk (the default refuses at 90 % used).
pub async fn start_cluster() -> TestCluster {
    TestCluster::start_with(|_, store| store.disk_space_warning_level_ratio = 99).await
}

/// The first line of a failing command's stderr, which must name `needle`.
pub async fn fails_naming(cli: &Cli, cmd: &[&str], needle: &str) {
    let err = cli.admin_fails(cmd).await;
    assert!(err.contains(needle), "{cmd:?}: {err}");
}
