//! `apogee console -n` against a cluster whose servers are TLS `enforcing`
//! and whose broker has `aclEnable=true`: with `--tls --tls-ca` and an
//! account, the console's API reads the cluster (the broker's runtime
//! info over TLS, signed).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Stdio;
use std::time::Duration;

use remoting::ClientConfig;
use std::io::{BufRead, BufReader};
use testkit::certs::TestCerts;
use testkit::TestCluster;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Kills the console when the test ends, passed or not.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// GET `path` of `addr` with HTTP/1.1; the whole answer.
async fn http_get(addr: &str, path: &str) -> String {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_reads_a_tls_and_acl_cluster_with_its_flags() {
    let dir = tempfile::tempdir().unwrap();
    let c = TestCerts::write(dir.path());
    let acl = testkit::acl::write(dir.path()).display().to_string();
    let (admin_key, admin_secret) = testkit::acl::BROKER_ADMIN;
    let cluster_client = ClientConfig {
        tls: Some(
            client::TlsClientSettings {
                trust_cert_path: c.ca_str(),
                ..client::TlsClientSettings::default()
            }
            .build()
            .unwrap(),
        ),
        ..ClientConfig::default()
    };
    let cluster = TestCluster::start_configured(
        |ns| {
            ns.server.tls_server_mode = "enforcing".into();
            ns.server.tls_server_cert_path = c.server_cert_str();
            ns.server.tls_server_key_path = c.server_key_str();
        },
        |b, store| {
            store.disk_space_warning_level_ratio = 99;
            b.server.tls_server_mode = "enforcing".into();
            b.server.tls_server_cert_path = c.server_cert_str();
            b.server.tls_server_key_path = c.server_key_str();
            b.client_tls.enable = true;
            b.client_tls.trust_cert_path = c.ca_str();
            b.acl_enable = true;
            b.acl_file_path = acl;
            b.access_key = admin_key.into();
            b.secret_key = admin_secret.into();
        },
        cluster_client,
    )
    .await;

    let (key, secret) = testkit::acl::SUBSCRIBER;
    let mut console = KillOnDrop(
        std::process::Command::new(env!("CARGO_BIN_EXE_apogee"))
            .args([
                "console",
                "-n",
                &cluster.namesrv_addr(),
                "--listen",
                "127.0.0.1:0",
            ])
            .args(["--tls", "--tls-ca", &c.ca_str()])
            .args(["--access-key", key, "--secret-key", secret])
            .env_remove("APOGEE_ACCESS_KEY")
            .env_remove("APOGEE_SECRET_KEY")
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    // "Apogee console: http://ADDR/ (cluster ...)"
    let stdout = console.0.stdout.take().unwrap();
    let read = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).map(|_| line)
    });
    let first = tokio::time::timeout(Duration::from_secs(30), read)
        .await
        .expect("the console starts")
        .unwrap()
        .unwrap();
    let addr = first
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap_or_else(|| panic!("no address in {first:?}"))
        .to_string();

    let answer = http_get(&addr, "/api/cluster").await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains(&cluster.broker_addr()), "{answer}");
    // The broker answered its runtime info (over TLS, signed): a row with
    // an error instead would carry "error".
    assert!(answer.contains("\"role\""), "{answer}");
    assert!(!answer.contains("\"error\""), "{answer}");
}
