//! Process-level crash tests of the delivery features: a NameServer and a
//! broker run as real `apogee` processes (testkit's `ProcessCluster`), the
//! Rust client drives a feature, the broker is SIGKILLed at the
//! interesting moment and restarted on the same data, and the tests check
//! what the clients then receive: nothing acknowledged or committed is
//! lost, nothing uncommitted becomes visible, nothing is delivered before
//! its time. Duplicates are allowed where delivery is at-least-once.
//!
//! Skipped (with a note) when no `apogee` binary is built:
//! `cargo build -p apogee` (or set `APOGEE_BIN`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

mod delay;
mod ordered;
mod retry;
mod rewind;
mod timer;
mod transaction;
