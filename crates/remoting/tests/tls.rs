//! TLS on the remoting transport, with certificates made by rcgen at test
//! time: the three server modes, a client that does not trust the server,
//! client-certificate verification, and garbage in place of a handshake.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../../testkit/src/certs.rs"]
mod certs;
mod common;

use certs::TestCerts;
use common::*;
use remoting::{
    ClientAuth, ClientConfig, RemotingClient, RemotingError, Server, ServerConfig,
    TlsClientSettings, TlsMode, TlsServerSettings,
};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

fn certs() -> (tempfile::TempDir, TestCerts) {
    let dir = tempfile::tempdir().unwrap();
    let certs = TestCerts::write(dir.path());
    (dir, certs)
}

fn server_settings(c: &TestCerts, mode: TlsMode, auth: ClientAuth) -> TlsServerSettings {
    TlsServerSettings {
        mode,
        cert_path: c.server_cert_str(),
        key_path: c.server_key_str(),
        trust_cert_path: c.ca_str(),
        client_auth: auth,
        ..TlsServerSettings::default()
    }
}

async fn tls_server(c: &TestCerts, mode: TlsMode, auth: ClientAuth) -> Server {
    let config = ServerConfig {
        tls: server_settings(c, mode, auth).build().unwrap(),
        ..ServerConfig::default()
    };
    server_with(config).await.0
}

fn client(tls: Option<TlsClientSettings>) -> RemotingClient {
    let config = ClientConfig {
        tls: tls.map(|t| t.build().unwrap()),
        ..ClientConfig::default()
    };
    RemotingClient::new(config, None)
}

fn trusting(c: &TestCerts) -> TlsClientSettings {
    TlsClientSettings {
        trust_cert_path: c.ca_str(),
        ..TlsClientSettings::default()
    }
}

async fn echo_over(client: &RemotingClient, addr: &str) -> Result<i32, RemotingError> {
    let mut req = request(ECHO);
    req.ext_fields.insert("k".into(), "v".into());
    let resp = client.invoke(addr, req, WAIT).await?;
    assert_eq!(resp.ext_fields.get("k").map(String::as_str), Some("v"));
    Ok(resp.code)
}

#[tokio::test]
async fn enforcing_serves_tls_and_closes_plaintext_with_a_log_line() {
    let (_dir, c) = certs();
    let (server, processor) = server_with(ServerConfig {
        tls: server_settings(&c, TlsMode::Enforcing, ClientAuth::None)
            .build()
            .unwrap(),
        ..ServerConfig::default()
    })
    .await;
    let addr = server.local_addr().to_string();
    assert_eq!(
        echo_over(&client(Some(trusting(&c))), &addr).await.unwrap(),
        0
    );

    // A plaintext request is never processed: the connection just closes.
    let mut s = TcpStream::connect(server.local_addr()).await.unwrap();
    write_cmd(&mut s, &request(ECHO)).await;
    expect_closed(&mut s).await;
    let err = echo_over(&client(None), &addr).await.unwrap_err();
    assert!(
        matches!(err, RemotingError::ConnectionClosed { .. }),
        "{err}"
    );
    assert_eq!(
        processor.requests.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "only the TLS request was processed"
    );
    server.shutdown().await;
}

/// Sends a plaintext request to an enforcing server and waits until it
/// closes the connection.
async fn refused_plaintext(c: &TestCerts) {
    let server = tls_server(c, TlsMode::Enforcing, ClientAuth::None).await;
    let mut s = TcpStream::connect(server.local_addr()).await.unwrap();
    write_cmd(&mut s, &request(ECHO)).await;
    expect_closed(&mut s).await;
    server.shutdown().await;
}

#[tokio::test(flavor = "current_thread")]
async fn enforcing_logs_why_it_closed_a_plaintext_connection() {
    let (_dir, c) = certs();
    let logs = Logs::default();
    let _guard = logs.capture();
    // The same refusal first logged on a thread that captures nothing (as
    // a test running beside this one does) must not hide the line here.
    let other = c.clone();
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(refused_plaintext(&other));
    })
    .join()
    .unwrap();
    assert!(logs.text().is_empty(), "{}", logs.text());

    refused_plaintext(&c).await;
    let text = logs.text();
    assert!(
        text.contains("plaintext connection refused: tls.server.mode is enforcing"),
        "{text}"
    );
}

#[tokio::test]
async fn permissive_serves_tls_and_plaintext_on_one_port() {
    let (_dir, c) = certs();
    let server = tls_server(&c, TlsMode::Permissive, ClientAuth::None).await;
    let addr = server.local_addr().to_string();
    let tls = client(Some(trusting(&c)));
    let plain = client(None);
    for _ in 0..3 {
        assert_eq!(echo_over(&tls, &addr).await.unwrap(), 0);
        assert_eq!(echo_over(&plain, &addr).await.unwrap(), 0);
    }
    // Big answers cross TLS records intact (the body spans many records).
    let mut req = request(BIG);
    req.ext_fields.insert("size".into(), (3 << 20).to_string());
    let resp = tls.invoke(&addr, req, WAIT).await.unwrap();
    assert_eq!(resp.body.len(), 3 << 20);
    server.shutdown().await;
}

#[tokio::test]
async fn disabled_refuses_a_tls_client() {
    let (_dir, c) = certs();
    let server = tls_server(&c, TlsMode::Disabled, ClientAuth::None).await;
    let addr = server.local_addr().to_string();
    assert_eq!(echo_over(&client(None), &addr).await.unwrap(), 0);
    let err = echo_over(&client(Some(trusting(&c))), &addr)
        .await
        .unwrap_err();
    assert!(matches!(err, RemotingError::TlsHandshake { .. }), "{err}");
    server.shutdown().await;
}

#[tokio::test]
async fn a_client_that_does_not_trust_the_ca_fails_clearly() {
    let (_dir, c) = certs();
    let server = tls_server(&c, TlsMode::Enforcing, ClientAuth::None).await;
    let addr = server.local_addr().to_string();
    let wrong = TlsClientSettings {
        trust_cert_path: c.other_ca_str(),
        ..TlsClientSettings::default()
    };
    let err = echo_over(&client(Some(wrong)), &addr).await.unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, RemotingError::TlsHandshake { .. }), "{text}");
    assert!(text.contains("UnknownIssuer"), "{text}");
    // authServer=false takes any certificate.
    let lax = TlsClientSettings {
        verify_server: false,
        ..TlsClientSettings::default()
    };
    assert_eq!(echo_over(&client(Some(lax)), &addr).await.unwrap(), 0);
    server.shutdown().await;
}

#[tokio::test]
async fn client_auth_require_rejects_a_client_without_a_certificate() {
    let (_dir, c) = certs();
    let server = tls_server(&c, TlsMode::Enforcing, ClientAuth::Require).await;
    let addr = server.local_addr().to_string();
    // TLS 1.3: the client learns of the refusal on its first read, so the
    // request fails (closed or a handshake error), never answered.
    let anonymous = client(Some(trusting(&c)));
    assert!(echo_over(&anonymous, &addr).await.is_err());
    let with_cert = TlsClientSettings {
        cert_path: c.client_cert_str(),
        key_path: c.client_key_str(),
        ..trusting(&c)
    };
    assert_eq!(echo_over(&client(Some(with_cert)), &addr).await.unwrap(), 0);
    server.shutdown().await;
}

#[tokio::test]
async fn client_auth_optional_takes_clients_with_and_without_certificates() {
    let (_dir, c) = certs();
    let server = tls_server(&c, TlsMode::Enforcing, ClientAuth::Optional).await;
    let addr = server.local_addr().to_string();
    assert_eq!(
        echo_over(&client(Some(trusting(&c))), &addr).await.unwrap(),
        0
    );
    let with_cert = TlsClientSettings {
        cert_path: c.client_cert_str(),
        key_path: c.client_key_str(),
        ..trusting(&c)
    };
    assert_eq!(echo_over(&client(Some(with_cert)), &addr).await.unwrap(), 0);
    server.shutdown().await;
}

#[tokio::test]
async fn garbage_after_the_handshake_byte_is_closed_and_the_server_goes_on() {
    let (_dir, c) = certs();
    let server = tls_server(&c, TlsMode::Permissive, ClientAuth::None).await;
    let mut s = TcpStream::connect(server.local_addr()).await.unwrap();
    s.write_all(&[0x16, 0xff, 0xee, 0, 5, 1, 2, 3, 4, 5, 6, 7, 8])
        .await
        .unwrap();
    expect_closed(&mut s).await;
    let addr = server.local_addr().to_string();
    assert_eq!(
        echo_over(&client(Some(trusting(&c))), &addr).await.unwrap(),
        0
    );
    server.shutdown().await;
}

#[test]
fn bad_settings_name_their_key() {
    let (_dir, c) = certs();
    let cases = [
        (
            TlsServerSettings {
                mode: TlsMode::Enforcing,
                ..TlsServerSettings::default()
            },
            "tls.server.certPath",
        ),
        (
            TlsServerSettings {
                key_path: "/nonexistent/key.pem".into(),
                ..server_settings(&c, TlsMode::Permissive, ClientAuth::None)
            },
            "tls.server.keyPath",
        ),
        (
            TlsServerSettings {
                key_password: "secret".into(),
                ..server_settings(&c, TlsMode::Permissive, ClientAuth::None)
            },
            "tls.server.keyPassword",
        ),
        (
            TlsServerSettings {
                trust_cert_path: String::new(),
                ..server_settings(&c, TlsMode::Permissive, ClientAuth::Require)
            },
            "tls.server.trustCertPath",
        ),
        (
            TlsServerSettings {
                // A key file given as the certificate: no CERTIFICATE in it.
                cert_path: c.server_key_str(),
                ..server_settings(&c, TlsMode::Permissive, ClientAuth::None)
            },
            "tls.server.certPath",
        ),
    ];
    for (settings, key) in cases {
        let err = settings.build().unwrap_err().to_string();
        assert!(err.starts_with(key), "{key}: {err}");
    }
    let err = "strict".parse::<TlsMode>().unwrap_err().to_string();
    assert!(err.contains("tls.server.mode"), "{err}");
    let err = "always".parse::<ClientAuth>().unwrap_err().to_string();
    assert!(err.contains("tls.server.need.client.auth"), "{err}");
    // Permissive without a certificate serves plaintext only.
    let plain = TlsServerSettings::default().build().unwrap();
    assert_eq!(plain.effective_mode(), TlsMode::Disabled);
}
