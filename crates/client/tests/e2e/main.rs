//! End-to-end tests: every example scenario of `crates/client/examples/`
//! against a real NameServer and broker started in-process by `testkit`
//! (a fresh cluster per test), asserting what the consumers receive.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

mod acl;
mod admin;
mod create_send;
mod delivery;
mod ordered;
mod produce;
mod pull;
mod restart;
mod tls;
mod transaction;
