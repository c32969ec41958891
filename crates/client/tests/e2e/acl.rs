//! ACL 1.0 through TCP: a broker with `aclEnable` and a `plain_acl.yml`,
//! and clients signing with different accounts.

use client::admin::TopicSpec;
use client::{Admin, Client, ClientOptions, Message, Producer, SendStatus};
use testkit::acl::PLAIN_ACL as ACL;
use testkit::readback::{pull_queue, pull_queue_until};
use testkit::TestCluster;

fn client(ns: &str, key: &str, secret: &str) -> Client {
    let mut options = ClientOptions {
        access_key: Some(key.into()),
        secret_key: Some(secret.into()),
        ..ClientOptions::default()
    };
    options.add_namesrv(ns);
    Client::start(options).unwrap()
}

async fn producer(c: &Client) -> Producer {
    Producer::builder()
        .client(c)
        .group("AclPG")
        .retries(0)
        .build()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_get_what_their_permissions_grant() {
    let acl_dir = tempfile::tempdir().unwrap();
    let acl_file = acl_dir.path().join("plain_acl.yml");
    std::fs::write(&acl_file, ACL).unwrap();
    let cluster = TestCluster::start_with(|b, _| {
        b.acl_enable = true;
        b.acl_file_path = acl_file.display().to_string();
    })
    .await;
    let ns = cluster.namesrv_addr();
    let broker = cluster.broker_addr();

    let operator = client(&ns, "operator", "operator-secret");
    let publisher = client(&ns, "publisher", "pub-secret");
    let subscriber = client(&ns, "subscriber", "sub-secret");
    let intruder = client(&ns, "publisher", "not-the-secret");

    let err = Admin::with_client(&publisher)
        .create_topic(None, &TopicSpec::new("AclTopic", 1))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("Need admin permission") && err.contains("publisher"),
        "{err}"
    );
    Admin::with_client(&operator)
        .create_topic(None, &TopicSpec::new("AclTopic", 1))
        .await
        .unwrap();

    let sent = producer(&publisher)
        .await
        .send(Message::new("AclTopic", "hello"))
        .await
        .unwrap();
    assert_eq!(sent.status, SendStatus::Ok);
    let err = pull_queue(publisher.remoting(), &broker, "AclTopic", 0)
        .await
        .unwrap_err();
    assert!(
        err.contains("code 16") && err.contains("No SUB permission for topic:AclTopic"),
        "{err}"
    );

    let got = pull_queue_until(subscriber.remoting(), &broker, "AclTopic", 0, 1)
        .await
        .unwrap();
    assert_eq!(got, vec![(0, b"hello".to_vec())]);
    let err = producer(&subscriber)
        .await
        .send(Message::new("AclTopic", "x"))
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("No PUB permission for topic:AclTopic"),
        "{err}"
    );

    let err = producer(&intruder)
        .await
        .send(Message::new("AclTopic", "x"))
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("Check signature failed for accessKey=publisher"),
        "{err}"
    );
    let err = pull_queue(&cluster.client, &broker, "AclTopic", 0)
        .await
        .unwrap_err();
    assert!(err.contains("No accessKey"), "{err}");

    for c in [operator, publisher, subscriber, intruder] {
        c.shutdown().await;
    }
    cluster.shutdown().await;
}
