//! Requests the server sends on a client's connection.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;
use common::*;
use protocol::ResponseCode;
use remoting::{ClientConfig, Processor, RemotingClient};

#[tokio::test]
async fn server_invokes_the_client_processor() {
    let (server, server_side) = server().await;
    let addr = server.local_addr().to_string();
    let client_side = Arc::new(Scripted::default());
    let client = RemotingClient::new(
        ClientConfig::default(),
        Some(client_side.clone() as Arc<dyn Processor>),
    );

    // A first request makes the server see the connection.
    client.invoke(&addr, request(ECHO), WAIT).await.unwrap();
    let conn = server_side.last_conn.lock().unwrap().clone().unwrap();
    let client_conn = client.connection(&addr).await.unwrap();
    assert_eq!(conn.peer_addr(), client_conn.local_addr());

    let resp = conn
        .invoke(request(ECHO).with_body(Bytes::from_static(b"check")), WAIT)
        .await
        .unwrap();
    assert_eq!(resp.code, ResponseCode::SUCCESS.code());
    assert_eq!(&resp.body[..], b"check");
    assert_eq!(client_side.requests.load(Ordering::SeqCst), 1);
    assert_eq!(conn.pending_requests(), 0);

    // Oneway in that direction is delivered and not answered.
    conn.invoke_oneway(request(ECHO)).await.unwrap();
    let resp = conn.invoke(request(ECHO), WAIT).await.unwrap();
    assert_eq!(resp.code, 0);
    assert_eq!(client_side.requests.load(Ordering::SeqCst), 3);

    client.shutdown().await;
    server.shutdown().await;
}

#[tokio::test]
async fn client_without_processor_answers_not_supported() {
    let (server, server_side) = server().await;
    let addr = server.local_addr().to_string();
    let client = RemotingClient::new(ClientConfig::default(), None);
    client.invoke(&addr, request(ECHO), WAIT).await.unwrap();
    let conn = server_side.last_conn.lock().unwrap().clone().unwrap();

    let resp = conn.invoke(request(39), WAIT).await.unwrap();
    assert_eq!(resp.code, ResponseCode::REQUEST_CODE_NOT_SUPPORTED.code());
    assert_eq!(
        resp.remark.as_deref(),
        Some(" request type 39 not supported")
    );
    client.shutdown().await;
    server.shutdown().await;
}
