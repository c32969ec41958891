//! TLS on the gRPC port with the broker's `tls.server.*` keys and
//! certificates made by rcgen: HTTP/2 over TLS (ALPN h2) is served; in
//! permissive mode plaintext HTTP/2 is too, in enforcing mode it is closed.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use grpc::GrpcServer;
use remoting::ClientConfig;
use testkit::certs::TestCerts;
use testkit::TestCluster;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};

/// The client preface and an empty SETTINGS frame.
const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00";

/// Sends the HTTP/2 preface and reads the server's first frame header:
/// a SETTINGS frame (type 4) when HTTP/2 is served, None when closed.
async fn h2_settings(mut s: impl AsyncRead + AsyncWrite + Unpin) -> Option<u8> {
    s.write_all(PREFACE).await.ok()?;
    let mut head = [0u8; 9];
    let read = tokio::time::timeout(Duration::from_secs(5), s.read_exact(&mut head))
        .await
        .expect("the server neither answered nor closed");
    read.ok().map(|_| head[3])
}

#[allow(deprecated)]
fn tls_client(ca: &std::path::Path) -> tokio_rustls::TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec()];
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

async fn start(c: &TestCerts, mode: &str) -> (TestCluster, GrpcServer) {
    let cluster_client = ClientConfig {
        tls: Some(
            remoting::TlsClientSettings {
                trust_cert_path: c.ca_str(),
                ..Default::default()
            }
            .build()
            .unwrap(),
        ),
        ..ClientConfig::default()
    };
    let cluster = TestCluster::start_configured(
        |ns| {
            ns.server.tls_server_cert_path = c.server_cert_str();
            ns.server.tls_server_key_path = c.server_key_str();
        },
        |b, _| {
            b.server.tls_server_mode = mode.into();
            b.server.tls_server_cert_path = c.server_cert_str();
            b.server.tls_server_key_path = c.server_key_str();
            b.client_tls.enable = true;
            b.client_tls.trust_cert_path = c.ca_str();
        },
        cluster_client,
    )
    .await;
    let listener = GrpcServer::bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let server = GrpcServer::start(cluster.broker.state().clone(), listener)
        .await
        .unwrap();
    (cluster, server)
}

async fn over_tls(c: &TestCerts, server: &GrpcServer) -> Option<u8> {
    let tcp = TcpStream::connect(server.local_addr()).await.unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    let tls = tls_client(&c.ca).connect(name, tcp).await.unwrap();
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    h2_settings(tls).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permissive_serves_http2_over_tls_and_plaintext() {
    let dir = tempfile::tempdir().unwrap();
    let c = TestCerts::write(dir.path());
    let (cluster, server) = start(&c, "permissive").await;
    assert_eq!(over_tls(&c, &server).await, Some(4));
    let plain = TcpStream::connect(server.local_addr()).await.unwrap();
    assert_eq!(h2_settings(plain).await, Some(4));
    server.shutdown().await;
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enforcing_closes_plaintext_http2() {
    let dir = tempfile::tempdir().unwrap();
    let c = TestCerts::write(dir.path());
    let (cluster, server) = start(&c, "enforcing").await;
    assert_eq!(over_tls(&c, &server).await, Some(4));
    let plain = TcpStream::connect(server.local_addr()).await.unwrap();
    assert_eq!(h2_settings(plain).await, None);
    server.shutdown().await;
    cluster.shutdown().await;
}
