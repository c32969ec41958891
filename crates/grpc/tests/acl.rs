//! ACL on the gRPC endpoint over real HTTP/2: a broker with `aclEnable`,
//! clients signing the `authorization` metadata as the 5.x SDKs do.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use grpc::pb::messaging_service_client::MessagingServiceClient;
use grpc::pb::{self, receive_message_response::Content, Code};
use grpc::GrpcServer;
use protocol::header::admin::CreateTopicRequestHeader;
use protocol::{RemotingCommand, RequestCode};
use testkit::acl::PLAIN_ACL as ACL;
use testkit::TestCluster;
use tonic::transport::Channel;
use tonic::Request;

fn resource(name: &str) -> Option<pb::Resource> {
    Some(pb::Resource {
        resource_namespace: String::new(),
        name: name.into(),
    })
}

/// A request signed as the Java SDK signs it (upper-case hex).
fn signed<T>(msg: T, key: Option<(&str, &str)>) -> Request<T> {
    let mut req = Request::new(msg);
    let meta = req.metadata_mut();
    meta.insert("x-mq-client-id", "acl@1@0@abc".parse().unwrap());
    if let Some((ak, sk)) = key {
        let date = "20261207T101010Z";
        let sig = acl::grpc::sign(sk, date).to_uppercase();
        let auth = format!(
            "MQv2-HMAC-SHA1 Credential={ak}/20261207/rocketmq, SignedHeaders=x-mq-date-time, Signature={sig}"
        );
        meta.insert("x-mq-date-time", date.parse().unwrap());
        meta.insert("authorization", auth.parse().unwrap());
    }
    req
}

fn send_request(topic: &str) -> pb::SendMessageRequest {
    pb::SendMessageRequest {
        messages: vec![pb::Message {
            topic: resource(topic),
            user_properties: Default::default(),
            system_properties: Some(pb::SystemProperties {
                message_id: "01AABBCCDDEEFF00112233445566778899".into(),
                body_encoding: pb::Encoding::Identity as i32,
                message_type: pb::MessageType::Normal as i32,
                born_host: "10.0.0.1".into(),
                ..Default::default()
            }),
            body: b"hello".to_vec().into(),
        }],
    }
}

fn status(s: &Option<pb::Status>) -> (Code, String) {
    let s = s.as_ref().expect("status present");
    (Code::try_from(s.code).unwrap(), s.message.clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_are_checked_per_rpc() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("plain_acl.yml");
    std::fs::write(&file, ACL).unwrap();
    let path = file.display().to_string();
    let cluster = TestCluster::start_with(|b, _| {
        b.acl_enable = true;
        b.acl_file_path = path;
        b.access_key = "brokerAdmin".into();
        b.secret_key = "broker-admin-secret".into();
    })
    .await;
    let header = CreateTopicRequestHeader {
        topic: "AclGrpc".into(),
        default_topic: None,
        read_queue_nums: 2,
        write_queue_nums: 2,
        perm: 6,
        topic_filter_type: None,
        topic_sys_flag: None,
        order: None,
        attributes: None,
        force: None,
    };
    let mut create =
        RemotingCommand::request_with_header(RequestCode::UPDATE_AND_CREATE_TOPIC, &header);
    protocol::signature::sign_request(&mut create, "brokerAdmin", "broker-admin-secret");
    assert_eq!(cluster.call(create).await.code, 0);

    let listener = GrpcServer::bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let server = GrpcServer::start(cluster.broker.state().clone(), listener)
        .await
        .unwrap();
    let mut client: MessagingServiceClient<Channel> =
        MessagingServiceClient::connect(format!("http://{}", server.local_addr()))
            .await
            .unwrap();
    let route = |key| {
        signed(
            pb::QueryRouteRequest {
                topic: resource("AclGrpc"),
                endpoints: None,
            },
            key,
        )
    };

    let r = client.query_route(route(None)).await.unwrap().into_inner();
    assert_eq!(
        status(&r.status),
        (Code::Unauthorized, "No accessKey is configured".into())
    );
    let r = client
        .query_route(route(Some(("publisher", "wrong-secret"))))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        status(&r.status),
        (
            Code::Unauthorized,
            "Check signature failed for accessKey=publisher".into()
        )
    );
    let r = client
        .query_route(route(Some(("publisher", "pub-secret"))))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(status(&r.status).0, Code::Ok);

    // The publisher sends (through the broker, signed with its account).
    let r = client
        .send_message(signed(
            send_request("AclGrpc"),
            Some(("publisher", "pub-secret")),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(status(&r.status).0, Code::Ok, "{:?}", r.status);
    let r = client
        .send_message(signed(
            send_request("AclGrpc"),
            Some(("subscriber", "sub-secret")),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        status(&r.status),
        (
            Code::Unauthorized,
            "No PUB permission for topic:AclGrpc, accessKey=subscriber".into()
        )
    );

    // Receiving needs SUB on the group: the publisher has none.
    let receive = |key| {
        signed(
            pb::ReceiveMessageRequest {
                group: resource("AclGroup"),
                message_queue: Some(pb::MessageQueue {
                    topic: resource("AclGrpc"),
                    ..Default::default()
                }),
                filter_expression: Some(pb::FilterExpression {
                    r#type: pb::FilterType::Tag as i32,
                    expression: "*".into(),
                }),
                batch_size: 16,
                invisible_duration: Some(grpc::convert::duration(10_000)),
                auto_renew: false,
                long_polling_timeout: Some(grpc::convert::duration(1_000)),
                attempt_id: None,
            },
            key,
        )
    };
    let mut stream = client
        .receive_message(receive(Some(("publisher", "pub-secret"))))
        .await
        .unwrap()
        .into_inner();
    let mut frames = Vec::new();
    while let Some(f) = stream.message().await.unwrap() {
        frames.push(f.content.unwrap());
    }
    match frames.as_slice() {
        [Content::Status(s)] => assert_eq!(
            (Code::try_from(s.code).unwrap(), s.message.as_str()),
            (
                Code::Unauthorized,
                "No SUB permission for group:AclGroup, accessKey=publisher"
            )
        ),
        other => panic!("expected one status frame, got {other:?}"),
    }
    // The subscriber receives the message.
    let mut stream = client
        .receive_message(receive(Some(("subscriber", "sub-secret"))))
        .await
        .unwrap()
        .into_inner();
    let mut got = 0;
    while let Some(f) = stream.message().await.unwrap() {
        if let Some(Content::Message(m)) = f.content {
            assert_eq!(&m.body[..], b"hello");
            got += 1;
        }
    }
    assert_eq!(got, 1);

    drop(client);
    server.shutdown().await;
    cluster.shutdown().await;
}
