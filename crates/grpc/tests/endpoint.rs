//! The gRPC endpoint over real HTTP/2 with tonic's client: a NameServer
//! and a broker in-process on port 0, the endpoint beside the broker.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use grpc::pb::messaging_service_client::MessagingServiceClient;
use grpc::pb::{
    self, receive_message_response::Content, settings::PubSub, telemetry_command::Command, Code,
};
use grpc::GrpcServer;
use protocol::header::admin::CreateTopicRequestHeader;
use protocol::header::namesrv::GetRouteInfoRequestHeader;
use protocol::{RemotingCommand, RequestCode};
use testkit::TestCluster;
use tonic::transport::Channel;
use tonic::Request;

struct Setup {
    cluster: TestCluster,
    server: GrpcServer,
    client: MessagingServiceClient<Channel>,
}

async fn setup() -> Setup {
    let cluster = TestCluster::start().await;
    let listener = GrpcServer::bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let server = GrpcServer::start(cluster.broker.state().clone(), listener)
        .await
        .unwrap();
    let client = MessagingServiceClient::connect(format!("http://{}", server.local_addr()))
        .await
        .unwrap();
    Setup {
        cluster,
        server,
        client,
    }
}

impl Setup {
    async fn shutdown(self) {
        drop(self.client);
        self.server.shutdown().await;
        self.cluster.shutdown().await;
    }

    async fn create_topic(&self, topic: &str, attributes: Option<&str>) {
        let header = CreateTopicRequestHeader {
            topic: topic.into(),
            default_topic: None,
            read_queue_nums: 4,
            write_queue_nums: 4,
            perm: 6,
            topic_filter_type: None,
            topic_sys_flag: None,
            order: None,
            attributes: attributes.map(str::to_string),
            force: None,
        };
        let req =
            RemotingCommand::request_with_header(RequestCode::UPDATE_AND_CREATE_TOPIC, &header);
        assert_eq!(self.cluster.call(req).await.code, 0);
        // Until the NameServer has the route, a QueryRoute would see the
        // auto-create template's instead.
        for _ in 0..200 {
            let h = GetRouteInfoRequestHeader {
                topic: topic.into(),
                accept_standard_json_only: None,
            };
            let req = RemotingCommand::request_with_header(RequestCode::GET_ROUTEINFO_BY_TOPIC, &h);
            if self.cluster.call_namesrv(req).await.code == 0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("topic {topic} never reached the NameServer");
    }
}

fn resource(name: &str) -> Option<pb::Resource> {
    Some(pb::Resource {
        resource_namespace: String::new(),
        name: name.into(),
    })
}

fn with_client<T>(msg: T) -> Request<T> {
    let mut req = Request::new(msg);
    req.metadata_mut()
        .insert("x-mq-client-id", "test@1@0@abc".parse().unwrap());
    req
}

fn message(topic: &str, body: &[u8], kind: pb::MessageType) -> pb::Message {
    pb::Message {
        topic: resource(topic),
        user_properties: [("color".to_string(), "red".to_string())].into(),
        system_properties: Some(pb::SystemProperties {
            tag: Some("TagA".into()),
            keys: vec!["k1".into()],
            message_id: format!("01{:032X}", rand_id()),
            body_encoding: pb::Encoding::Identity as i32,
            message_type: kind as i32,
            born_host: "10.0.0.1".into(),
            ..Default::default()
        }),
        body: body.to_vec().into(),
    }
}

fn rand_id() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

async fn send(
    client: &mut MessagingServiceClient<Channel>,
    m: pb::Message,
) -> pb::SendMessageResponse {
    client
        .send_message(with_client(pb::SendMessageRequest { messages: vec![m] }))
        .await
        .unwrap()
        .into_inner()
}

async fn receive(
    client: &mut MessagingServiceClient<Channel>,
    group: &str,
    topic: &str,
    invisible_ms: i64,
) -> Vec<Content> {
    let req = pb::ReceiveMessageRequest {
        group: resource(group),
        message_queue: Some(pb::MessageQueue {
            topic: resource(topic),
            ..Default::default()
        }),
        filter_expression: Some(pb::FilterExpression {
            r#type: pb::FilterType::Tag as i32,
            expression: "*".into(),
        }),
        batch_size: 16,
        invisible_duration: Some(grpc::convert::duration(invisible_ms)),
        auto_renew: false,
        long_polling_timeout: Some(grpc::convert::duration(5_000)),
        attempt_id: None,
    };
    let mut stream = client
        .receive_message(with_client(req))
        .await
        .unwrap()
        .into_inner();
    let mut out = Vec::new();
    while let Some(frame) = stream.message().await.unwrap() {
        out.push(frame.content.expect("every frame has content"));
    }
    out
}

fn status_code(s: &Option<pb::Status>) -> Code {
    Code::try_from(s.as_ref().expect("status present").code).unwrap()
}

#[tokio::test]
async fn route_send_receive_ack_with_correct_fields() {
    let mut s = setup().await;
    s.create_topic("GT1", None).await;
    let route = s
        .client
        .query_route(with_client(pb::QueryRouteRequest {
            topic: resource("GT1"),
            endpoints: None,
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(status_code(&route.status), Code::Ok);
    let ids: Vec<i32> = route.message_queues.iter().map(|q| q.id).collect();
    assert_eq!(ids, vec![0, 1, 2, 3]);
    let q = &route.message_queues[0];
    assert_eq!(q.permission, pb::Permission::ReadWrite as i32);
    assert_eq!(
        q.accept_message_types.len(),
        4,
        "an untyped topic accepts every type"
    );
    let eps = q.broker.as_ref().unwrap().endpoints.as_ref().unwrap();
    assert_eq!(eps.scheme, pb::AddressScheme::IPv4 as i32);
    assert_eq!(
        eps.addresses[0].port,
        i32::from(s.server.local_addr().port())
    );

    let sent = send(
        &mut s.client,
        message("GT1", b"hello grpc", pb::MessageType::Normal),
    )
    .await;
    assert_eq!(status_code(&sent.status), Code::Ok);
    assert_eq!(sent.entries.len(), 1);
    let id = sent.entries[0].message_id.clone();

    let frames = receive(&mut s.client, "GG1", "GT1", 30_000).await;
    assert!(
        matches!(&frames[0], Content::Status(st) if st.code == Code::Ok as i32),
        "{frames:?}"
    );
    assert!(matches!(frames.last(), Some(Content::DeliveryTimestamp(_))));
    let Content::Message(m) = &frames[1] else {
        panic!("no message: {frames:?}")
    };
    let sp = m.system_properties.as_ref().unwrap();
    assert_eq!(sp.message_id, id);
    assert_eq!(&m.body[..], b"hello grpc");
    assert_eq!(sp.tag.as_deref(), Some("TagA"));
    assert_eq!(sp.keys, vec!["k1".to_string()]);
    assert_eq!(
        m.user_properties.get("color").map(String::as_str),
        Some("red")
    );
    assert_eq!(sp.body_encoding, pb::Encoding::Identity as i32);
    assert_eq!(
        sp.body_digest,
        Some(grpc::convert::digest(pb::DigestType::Md5, b"hello grpc"))
    );
    assert_eq!(sp.delivery_attempt, Some(1));
    assert_eq!(sp.born_host, "10.0.0.1");
    assert_eq!(sp.message_type, pb::MessageType::Normal as i32);
    assert!(sp.store_timestamp.is_some() && !sp.store_host.is_empty());
    let handle = sp.receipt_handle.clone().unwrap();

    // A new handle from ChangeInvisibleDuration acks the message.
    let changed = s
        .client
        .change_invisible_duration(with_client(pb::ChangeInvisibleDurationRequest {
            group: resource("GG1"),
            topic: resource("GT1"),
            receipt_handle: handle.clone(),
            invisible_duration: Some(grpc::convert::duration(20_000)),
            message_id: id.clone(),
            lite_topic: None,
            suspend: None,
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(status_code(&changed.status), Code::Ok);
    assert_ne!(changed.receipt_handle, handle);
    let ack = |h: String| pb::AckMessageRequest {
        group: resource("GG1"),
        topic: resource("GT1"),
        entries: vec![pb::AckMessageEntry {
            message_id: id.clone(),
            receipt_handle: h,
            lite_topic: None,
        }],
    };
    let acked = s
        .client
        .ack_message(with_client(ack(changed.receipt_handle.clone())))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(status_code(&acked.status), Code::Ok);
    assert_eq!(acked.entries.len(), 1);
    let again = s
        .client
        .ack_message(with_client(ack(changed.receipt_handle)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(status_code(&again.status), Code::InvalidReceiptHandle);
    s.shutdown().await;
}

#[tokio::test]
async fn telemetry_answers_with_complete_settings() {
    let mut s = setup().await;
    let settings = pb::Settings {
        client_type: Some(pb::ClientType::Producer as i32),
        pub_sub: Some(PubSub::Publishing(pb::Publishing {
            topics: vec![pb::Resource {
                resource_namespace: String::new(),
                name: "GT2".into(),
            }],
            max_body_size: 0,
            validate_message_type: false,
        })),
        ..Default::default()
    };
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    tx.send(pb::TelemetryCommand {
        status: None,
        command: Some(Command::Settings(settings)),
    })
    .await
    .unwrap();
    let outbound = tokio_stream::wrappers::ReceiverStream::new(rx);
    let mut inbound = s
        .client
        .telemetry(with_client(outbound))
        .await
        .unwrap()
        .into_inner();
    let reply = tokio::time::timeout(Duration::from_secs(10), inbound.message())
        .await
        .expect("a settings reply")
        .unwrap()
        .expect("stream open");
    assert_eq!(status_code(&reply.status), Code::Ok);
    let Some(Command::Settings(back)) = reply.command else {
        panic!("no settings: {reply:?}")
    };
    let Some(PubSub::Publishing(p)) = back.pub_sub else {
        panic!("no publishing")
    };
    assert_eq!(p.max_body_size, 4 * 1024 * 1024);
    assert!(p.validate_message_type);
    let policy = back.backoff_policy.unwrap();
    assert!(matches!(
        policy.strategy,
        Some(pb::retry_policy::Strategy::ExponentialBackoff(_))
    ));
    drop(tx);
    s.shutdown().await;
}

#[tokio::test]
async fn bad_input_gets_the_clients_codes_and_changes_nothing() {
    let mut s = setup().await;
    s.create_topic("GFifo", Some("+message.type=FIFO")).await;

    let route = s
        .client
        .query_route(with_client(pb::QueryRouteRequest {
            topic: resource("bad topic"),
            endpoints: None,
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(status_code(&route.status), Code::IllegalTopic);

    let route = s
        .client
        .query_route(with_client(pb::QueryRouteRequest {
            topic: resource("GFifo"),
            endpoints: None,
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        route.message_queues[0].accept_message_types,
        vec![pb::MessageType::Fifo as i32]
    );

    let wrong = send(
        &mut s.client,
        message("GFifo", b"x", pb::MessageType::Normal),
    )
    .await;
    assert_eq!(
        status_code(&wrong.status),
        Code::MessagePropertyConflictWithType
    );
    assert_eq!(
        wrong.entries.len(),
        1,
        "one entry per message even on failure"
    );

    let empty = send(
        &mut s.client,
        message("GFifo", b"", pb::MessageType::Normal),
    )
    .await;
    assert_eq!(status_code(&empty.status), Code::MessageBodyEmpty);

    let mut no_group = message("GFifo", b"x", pb::MessageType::Fifo);
    no_group.system_properties.as_mut().unwrap().message_group = None;
    let r = send(&mut s.client, no_group).await;
    assert_eq!(
        status_code(&r.status),
        Code::MessagePropertyConflictWithType
    );

    let frames = receive(&mut s.client, "GG3", "GFifo", 1_000).await;
    assert!(
        matches!(&frames[0], Content::Status(st) if st.code == Code::IllegalInvisibleTime as i32),
        "{frames:?}"
    );

    // Nothing was stored by the refused sends.
    let frames = receive(&mut s.client, "GG3", "GFifo", 30_000).await;
    assert!(
        matches!(&frames[0], Content::Status(st) if st.code == Code::MessageNotFound as i32),
        "{frames:?}"
    );

    let forged = s
        .client
        .ack_message(with_client(pb::AckMessageRequest {
            group: resource("GG3"),
            topic: resource("GFifo"),
            entries: vec![pb::AckMessageEntry {
                message_id: "x".into(),
                receipt_handle: "forged".into(),
                lite_topic: None,
            }],
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(status_code(&forged.status), Code::InvalidReceiptHandle);

    let end = s
        .client
        .end_transaction(with_client(pb::EndTransactionRequest {
            topic: resource("GFifo"),
            message_id: "x".into(),
            transaction_id: "not-ours".into(),
            resolution: pb::TransactionResolution::Commit as i32,
            source: pb::TransactionSource::SourceClient as i32,
            trace_context: String::new(),
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(status_code(&end.status), Code::InvalidTransactionId);

    // Settings without publishing or subscription end the stream.
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    tx.send(pb::TelemetryCommand {
        status: None,
        command: Some(Command::Settings(pb::Settings::default())),
    })
    .await
    .unwrap();
    let mut inbound = s
        .client
        .telemetry(with_client(tokio_stream::wrappers::ReceiverStream::new(rx)))
        .await
        .unwrap()
        .into_inner();
    let err = inbound.message().await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    s.shutdown().await;
}

fn timed(topic: &str, body: &[u8], at_ms: i64) -> pb::Message {
    let mut m = message(topic, body, pb::MessageType::Delay);
    let sp = m.system_properties.as_mut().unwrap();
    sp.delivery_timestamp = Some(grpc::convert::timestamp(at_ms));
    m
}

async fn recall(
    client: &mut MessagingServiceClient<Channel>,
    topic: &str,
    handle: &str,
) -> pb::RecallMessageResponse {
    client
        .recall_message(with_client(pb::RecallMessageRequest {
            topic: resource(topic),
            recall_handle: handle.into(),
        }))
        .await
        .unwrap()
        .into_inner()
}

#[tokio::test]
async fn a_recalled_timed_message_is_never_delivered() {
    let mut s = setup().await;
    s.create_topic("GRecall", None).await;
    // Both due at the same moment; the timer delivers in send order, so
    // once the second arrives the first would have arrived too.
    let at = protocol::clock::now_ms() + 3_000;
    let first = send(&mut s.client, timed("GRecall", b"recalled", at)).await;
    let second = send(&mut s.client, timed("GRecall", b"kept", at)).await;
    assert_eq!(status_code(&first.status), Code::Ok);
    assert_eq!(status_code(&second.status), Code::Ok);
    let (first_id, first_handle) = (
        first.entries[0].message_id.clone(),
        first.entries[0].recall_handle.clone(),
    );
    let (second_id, second_handle) = (
        second.entries[0].message_id.clone(),
        second.entries[0].recall_handle.clone(),
    );
    assert!(!first_handle.is_empty() && !second_handle.is_empty());
    let normal = send(
        &mut s.client,
        message("GRecall", b"now", pb::MessageType::Normal),
    )
    .await;
    assert!(
        normal.entries[0].recall_handle.is_empty(),
        "only timed messages are recallable"
    );

    // Bad handles: blank, garbage, another topic's.
    for (topic, handle, code) in [
        ("GRecall", "", Code::InvalidReceiptHandle),
        ("GRecall", "%%%not-base64", Code::InvalidReceiptHandle),
        (
            "OtherTopic",
            first_handle.as_str(),
            Code::InvalidReceiptHandle,
        ),
        ("bad topic!", first_handle.as_str(), Code::IllegalTopic),
    ] {
        let r = recall(&mut s.client, topic, handle).await;
        assert_eq!(status_code(&r.status), code, "{topic} {handle}: {r:?}");
    }

    let recalled = recall(&mut s.client, "GRecall", &first_handle).await;
    assert_eq!(status_code(&recalled.status), Code::Ok, "{recalled:?}");
    assert_eq!(recalled.message_id, first_id);

    // Receive until the second timed message shows up (it proves the due
    // time passed), then once more: the recalled one never comes.
    let mut seen = Vec::new();
    let mut rounds = 0;
    let mut after = 0;
    while after < 2 {
        assert!(
            rounds < 20,
            "the kept timed message never arrived: {seen:?}"
        );
        rounds += 1;
        for f in receive(&mut s.client, "GRecallG", "GRecall", 30_000).await {
            if let Content::Message(m) = f {
                seen.push(m.system_properties.unwrap().message_id);
            }
        }
        if seen.contains(&second_id) {
            after += 1;
        }
    }
    assert!(
        !seen.contains(&first_id),
        "a recalled message was delivered"
    );

    // The delivered one's handle has expired.
    let late = recall(&mut s.client, "GRecall", &second_handle).await;
    assert_eq!(status_code(&late.status), Code::InvalidReceiptHandle);
    assert!(
        late.status.unwrap().message.contains("expired"),
        "the message says why"
    );

    // Remoting RECALL_MESSAGE refuses a bad handle with a remark naming it.
    let header = protocol::header::send::RecallMessageRequestHeader {
        producer_group: None,
        topic: "GRecall".into(),
        recall_handle: "bm90IGEgaGFuZGxl".into(),
        broker_name: None,
    };
    let req = RemotingCommand::request_with_header(RequestCode::RECALL_MESSAGE, &header);
    let resp = s.cluster.call(req).await;
    assert_eq!(resp.code, protocol::ResponseCode::INVALID_PARAMETER.code());
    assert!(
        resp.remark.unwrap_or_default().contains("recallHandle"),
        "the remark names the field"
    );
    s.shutdown().await;
}
