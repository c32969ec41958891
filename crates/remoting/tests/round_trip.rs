//! Requests and responses over real TCP: echo, concurrency, oneway, unknown
//! codes, serialization, large bodies, reconnecting.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use common::*;
use protocol::{ResponseCode, SerializeType};
use remoting::{ClientConfig, RemotingClient, RemotingError};
use tokio::net::TcpStream;

#[tokio::test]
async fn echo_round_trip() {
    let (server, processor) = server().await;
    let addr = server.local_addr().to_string();
    let client = RemotingClient::new(ClientConfig::default(), None);

    let mut req = request(ECHO).with_body(Bytes::from_static(b"hello"));
    req.ext_fields.insert("topic".into(), "T1".into());
    let resp = client.invoke(&addr, req, WAIT).await.unwrap();

    assert_eq!(resp.code, ResponseCode::SUCCESS.code());
    assert!(resp.is_response());
    assert_eq!(&resp.body[..], b"hello");
    assert_eq!(resp.field("topic"), Some("T1"));
    assert_eq!(processor.requests.load(Ordering::SeqCst), 1);
    client.shutdown().await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_invokes_share_one_connection_and_match_by_opaque() {
    let (server, processor) = server().await;
    let addr = server.local_addr().to_string();
    let client = RemotingClient::new(ClientConfig::default(), None);

    let mut calls = Vec::new();
    for i in 0..200u32 {
        let client = client.clone();
        let addr = addr.clone();
        calls.push(tokio::spawn(async move {
            // Later requests finish first, so responses come back out of order.
            let mut req = request(SLEEP).with_body(Bytes::from(format!("body-{i}")));
            req.ext_fields
                .insert("ms".into(), ((200 - i) % 20).to_string());
            let resp = client.invoke(&addr, req, WAIT).await.unwrap();
            assert_eq!(resp.body, Bytes::from(format!("body-{i}")));
        }));
    }
    for call in calls {
        call.await.unwrap();
    }
    assert_eq!(processor.requests.load(Ordering::SeqCst), 200);
    assert_eq!(
        processor.connections.lock().unwrap().len(),
        1,
        "one pooled connection"
    );
    let conn = client.connection(&addr).await.unwrap();
    assert_eq!(conn.pending_requests(), 0);
    client.shutdown().await;
    server.shutdown().await;
}

#[tokio::test]
async fn oneway_gets_no_answer() {
    let (server, processor) = server().await;
    let mut raw = TcpStream::connect(server.local_addr()).await.unwrap();

    let mut oneway = request(ECHO);
    oneway.set_oneway();
    oneway.opaque = 1;
    write_cmd(&mut raw, &oneway).await;
    let mut follow = request(ECHO);
    follow.opaque = 2;
    write_cmd(&mut raw, &follow).await;

    // The first (and only) frame back answers the second request.
    let resp = read_cmd(&mut raw).await;
    assert_eq!(resp.opaque, 2);
    assert_eq!(processor.requests.load(Ordering::SeqCst), 2);
    let nothing_more =
        tokio::time::timeout(Duration::from_millis(200), read_frame_bytes(&mut raw)).await;
    assert!(nothing_more.is_err(), "a oneway request was answered");

    // Through the client API too.
    let client = RemotingClient::new(ClientConfig::default(), None);
    let addr = server.local_addr().to_string();
    client.invoke_oneway(&addr, request(ECHO)).await.unwrap();
    let resp = client.invoke(&addr, request(ECHO), WAIT).await.unwrap();
    assert_eq!(resp.code, 0);
    assert_eq!(processor.requests.load(Ordering::SeqCst), 4);
    client.shutdown().await;
    server.shutdown().await;
}

#[tokio::test]
async fn processor_returning_none_sends_nothing() {
    let (server, _processor) = server().await;
    let mut raw = TcpStream::connect(server.local_addr()).await.unwrap();
    let mut silent = request(SILENT);
    silent.opaque = 5;
    write_cmd(&mut raw, &silent).await;
    let mut follow = request(ECHO);
    follow.opaque = 6;
    write_cmd(&mut raw, &follow).await;
    assert_eq!(read_cmd(&mut raw).await.opaque, 6);
    server.shutdown().await;
}

#[tokio::test]
async fn unknown_code_is_not_supported() {
    let (server, _processor) = server().await;
    let client = RemotingClient::new(ClientConfig::default(), None);
    let resp = client
        .invoke(&server.local_addr().to_string(), request(4242), WAIT)
        .await
        .unwrap();
    assert_eq!(resp.code, ResponseCode::REQUEST_CODE_NOT_SUPPORTED.code());
    assert_eq!(
        resp.remark.as_deref(),
        Some(" request type 4242 not supported")
    );
    client.shutdown().await;
    server.shutdown().await;
}

#[tokio::test]
async fn response_uses_the_request_serialization() {
    let (server, _processor) = server().await;
    let mut raw = TcpStream::connect(server.local_addr()).await.unwrap();

    let mut binary = request(ECHO).with_body(Bytes::from_static(b"b"));
    binary.serialize_type = SerializeType::RocketMq;
    binary.opaque = 11;
    binary.ext_fields.insert("k".into(), "v".into());
    write_cmd(&mut raw, &binary).await;
    let frame = read_frame_bytes(&mut raw).await;
    assert_eq!(frame[4], 1, "header word type byte must be ROCKETMQ");
    let resp = protocol::frame::decode_frame(frame).unwrap();
    assert_eq!(resp.serialize_type, SerializeType::RocketMq);
    assert_eq!((resp.opaque, resp.field("k")), (11, Some("v")));
    assert!(resp.is_response());

    let mut json = request(ECHO);
    json.opaque = 12;
    write_cmd(&mut raw, &json).await;
    let frame = read_frame_bytes(&mut raw).await;
    assert_eq!(frame[4], 0, "header word type byte must be JSON");
    assert_eq!(protocol::frame::decode_frame(frame).unwrap().opaque, 12);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_bodies_cross_intact() {
    let (server, _processor) = server().await;
    let addr = server.local_addr().to_string();
    let client = RemotingClient::new(ClientConfig::default(), None);
    let body: Bytes = (0..3 * 1024 * 1024u32)
        .map(|i| (i % 251) as u8)
        .collect::<Vec<_>>()
        .into();
    let mut calls = Vec::new();
    for _ in 0..4 {
        let (client, addr, body) = (client.clone(), addr.clone(), body.clone());
        calls.push(tokio::spawn(async move {
            let resp = client
                .invoke(&addr, request(ECHO).with_body(body.clone()), WAIT)
                .await
                .unwrap();
            assert_eq!(resp.body, body);
        }));
    }
    // Small requests interleave with the big ones.
    for _ in 0..20 {
        let resp = client
            .invoke(&addr, request(ECHO).with_body("x"), WAIT)
            .await
            .unwrap();
        assert_eq!(&resp.body[..], b"x");
    }
    for call in calls {
        call.await.unwrap();
    }
    client.shutdown().await;
    server.shutdown().await;
}

#[tokio::test]
async fn client_reconnects_when_the_pooled_connection_closed() {
    let (server, processor) = server().await;
    let addr = server.local_addr().to_string();
    let client = RemotingClient::new(ClientConfig::default(), None);

    let first = client.connection(&addr).await.unwrap();
    let err = client
        .invoke(&addr, request(CLOSE), WAIT)
        .await
        .unwrap_err();
    assert!(
        matches!(err, RemotingError::ConnectionClosed { .. }),
        "{err}"
    );
    assert!(first.is_closed());

    let resp = client.invoke(&addr, request(ECHO), WAIT).await.unwrap();
    assert_eq!(resp.code, 0);
    let second = client.connection(&addr).await.unwrap();
    assert_ne!(first.id(), second.id());
    assert_eq!(processor.connections.lock().unwrap().len(), 2);
    client.shutdown().await;
    server.shutdown().await;
}

#[tokio::test]
async fn connect_errors_name_the_address() {
    // Bind then drop a listener to get a port nobody listens on.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let addr = format!("127.0.0.1:{port}");
    let client = RemotingClient::new(ClientConfig::default(), None);
    let err = client.invoke(&addr, request(ECHO), WAIT).await.unwrap_err();
    assert!(matches!(err, RemotingError::Connect { .. }), "{err}");
    assert!(err.to_string().contains(&addr), "{err}");

    client.shutdown().await;
    let err = client.connection(&addr).await.unwrap_err();
    assert!(matches!(err, RemotingError::Shutdown), "{err}");
}

#[tokio::test]
async fn dropping_the_last_client_clone_closes_its_connections() {
    let (server, processor) = server().await;
    let addr = server.local_addr().to_string();
    let client = RemotingClient::new(ClientConfig::default(), None);
    let conn = client.connection(&addr).await.unwrap();
    let other = client.clone();
    drop(client);
    assert!(!conn.is_closed(), "a clone still holds the pool");
    drop(other);
    tokio::time::timeout(WAIT, conn.closed()).await.unwrap();
    wait_until(|| processor.closed.lock().unwrap().len() == 1).await;
    server.shutdown().await;
}
