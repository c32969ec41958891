//! TLS end to end: a NameServer and a broker in `enforcing` mode with
//! certificates made by rcgen, the broker registering over TLS
//! (`tls.enable`), and clients sending and pulling over TLS; clients
//! without TLS or without the CA are refused clearly.

use client::admin::TopicSpec;
use client::{Admin, Client, ClientOptions, Message, Producer, SendStatus, TlsClientSettings};
use remoting::ClientConfig;
use testkit::certs::TestCerts;
use testkit::readback::{pull_queue, pull_queue_until};
use testkit::TestCluster;

fn client(ns: &str, tls: Option<TlsClientSettings>) -> Client {
    let mut options = ClientOptions {
        tls,
        ..ClientOptions::default()
    };
    options.add_namesrv(ns);
    Client::start(options).unwrap()
}

fn trusting(ca: String) -> TlsClientSettings {
    TlsClientSettings {
        trust_cert_path: ca,
        ..TlsClientSettings::default()
    }
}

async fn tls_cluster(c: &TestCerts) -> TestCluster {
    let cluster_client = ClientConfig {
        tls: Some(trusting(c.ca_str()).build().unwrap()),
        ..ClientConfig::default()
    };
    TestCluster::start_configured(
        |ns| {
            ns.server.tls_server_mode = "enforcing".into();
            ns.server.tls_server_cert_path = c.server_cert_str();
            ns.server.tls_server_key_path = c.server_key_str();
        },
        |b, _| {
            b.server.tls_server_mode = "enforcing".into();
            b.server.tls_server_cert_path = c.server_cert_str();
            b.server.tls_server_key_path = c.server_key_str();
            // Registration with the NameServer goes over TLS too.
            b.client_tls.enable = true;
            b.client_tls.trust_cert_path = c.ca_str();
        },
        cluster_client,
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_registers_and_clients_send_and_pull_over_tls() {
    let dir = tempfile::tempdir().unwrap();
    let c = TestCerts::write(dir.path());
    // start_configured waits until the broker shows up at the NameServer,
    // which only happens over TLS here.
    let cluster = tls_cluster(&c).await;
    let ns = cluster.namesrv_addr();
    let broker = cluster.broker_addr();

    let tls = client(&ns, Some(trusting(c.ca_str())));
    Admin::with_client(&tls)
        .create_topic(None, &TopicSpec::new("TlsTopic", 1))
        .await
        .unwrap();
    let producer = Producer::builder()
        .client(&tls)
        .group("TlsPG")
        .build()
        .await
        .unwrap();
    for i in 0..3 {
        let sent = producer
            .send(Message::new("TlsTopic", format!("secret-{i}")))
            .await
            .unwrap();
        assert_eq!(sent.status, SendStatus::Ok);
    }
    let got = pull_queue_until(tls.remoting(), &broker, "TlsTopic", 0, 3)
        .await
        .unwrap();
    let bodies: Vec<Vec<u8>> = got.into_iter().map(|(_, b)| b).collect();
    assert_eq!(
        bodies,
        vec![
            b"secret-0".to_vec(),
            b"secret-1".to_vec(),
            b"secret-2".to_vec()
        ]
    );

    // Plaintext is refused by both servers: the connection just closes.
    let plain = client(&ns, None);
    let err = Admin::with_client(&plain)
        .create_topic(None, &TopicSpec::new("PlainTopic", 1))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("closed"), "{err}");
    let err = pull_queue(plain.remoting(), &broker, "TlsTopic", 0)
        .await
        .unwrap_err();
    assert!(err.contains("closed"), "{err}");

    // A client that does not trust the servers' CA says why.
    let wrong = client(&ns, Some(trusting(c.other_ca_str())));
    let err = Admin::with_client(&wrong)
        .create_topic(None, &TopicSpec::new("WrongTopic", 1))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("TLS handshake") && err.contains("UnknownIssuer"),
        "{err}"
    );

    producer.shutdown().await;
    for c in [tls, plain, wrong] {
        c.shutdown().await;
    }
    cluster.shutdown().await;
}

#[test]
fn a_bad_tls_file_fails_client_start_naming_the_setting() {
    let mut options = ClientOptions {
        tls: Some(trusting("/nonexistent/ca.pem".into())),
        ..ClientOptions::default()
    };
    options.add_namesrv("127.0.0.1:1");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let err = rt
        .block_on(async { Client::start(options).map(|_| ()) })
        .unwrap_err()
        .to_string();
    assert!(err.contains("tls.client.trustCertPath"), "{err}");
}
