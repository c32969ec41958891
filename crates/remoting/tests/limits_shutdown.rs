//! The connection limit and graceful shutdown of servers and clients.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::atomic::Ordering;
use std::sync::Arc;

use common::*;
use remoting::{ClientConfig, Processor, RemotingClient, RemotingError, ServerConfig};
use tokio::net::TcpStream;

#[tokio::test]
async fn connections_beyond_the_limit_are_closed() {
    let logs = Logs::default();
    let _guard = logs.capture();
    let config = ServerConfig {
        max_connections: 1,
        ..ServerConfig::default()
    };
    let (server, processor) = server_with(config).await;
    let addr = server.local_addr().to_string();
    let client = RemotingClient::new(ClientConfig::default(), None);
    assert_eq!(
        client
            .invoke(&addr, request(ECHO), WAIT)
            .await
            .unwrap()
            .code,
        0
    );

    let mut second = TcpStream::connect(server.local_addr()).await.unwrap();
    let second_addr = second.local_addr().unwrap();
    expect_closed(&mut second).await;
    assert!(
        logs.text()
            .lines()
            .any(|l| l.contains("connection limit reached") && l.contains(&second_addr.to_string())),
        "{}",
        logs.text()
    );
    assert_eq!(
        client
            .invoke(&addr, request(ECHO), WAIT)
            .await
            .unwrap()
            .code,
        0
    );

    // The slot frees when the first connection closes.
    client.close(&addr);
    wait_until(|| processor.closed.lock().unwrap().len() == 1).await;
    let mut third = TcpStream::connect(server.local_addr()).await.unwrap();
    let mut req = request(ECHO);
    req.opaque = 3;
    write_cmd(&mut third, &req).await;
    assert_eq!(read_cmd(&mut third).await.opaque, 3);
    client.shutdown().await;
    server.shutdown().await;
}

#[tokio::test]
async fn shutdown_completes_while_a_request_is_processed() {
    let (server, processor) = server().await;
    let addr = server.local_addr().to_string();
    let client = RemotingClient::new(ClientConfig::default(), None);
    let waiting = {
        let (client, addr) = (client.clone(), addr.clone());
        tokio::spawn(async move { client.invoke(&addr, request(HANG), WAIT).await })
    };
    wait_until(|| processor.requests.load(Ordering::SeqCst) == 1).await;

    tokio::time::timeout(WAIT, server.shutdown())
        .await
        .expect("shutdown must not wait for a request that never ends");
    let err = waiting.await.unwrap().unwrap_err();
    assert!(
        matches!(err, RemotingError::ConnectionClosed { .. }),
        "{err}"
    );
    assert_eq!(processor.closed.lock().unwrap().len(), 1);
    client.shutdown().await;
}

#[tokio::test]
async fn shutdown_closes_every_connected_client() {
    let (server, processor) = server().await;
    let local = server.local_addr();
    let client = RemotingClient::new(ClientConfig::default(), None);
    let conn = client.connection(&local.to_string()).await.unwrap();
    let mut raws = Vec::new();
    for i in 0..3 {
        let mut raw = TcpStream::connect(local).await.unwrap();
        let mut req = request(ECHO);
        req.opaque = i;
        write_cmd(&mut raw, &req).await;
        assert_eq!(read_cmd(&mut raw).await.opaque, i);
        raws.push(raw);
    }
    // Make sure the server has accepted the pooled connection too.
    conn.invoke(request(ECHO), WAIT).await.unwrap();

    tokio::time::timeout(WAIT, server.shutdown()).await.unwrap();
    for raw in &mut raws {
        expect_closed(raw).await;
    }
    wait_until(|| conn.is_closed()).await;
    let closed = processor.closed.lock().unwrap().clone();
    assert_eq!(
        closed.len(),
        4,
        "on_connection_closed once per connection: {closed:?}"
    );
    // Nothing listens any more.
    assert!(TcpStream::connect(local).await.is_err());
    client.shutdown().await;
}

#[tokio::test]
async fn client_shutdown_completes_while_its_processor_is_busy() {
    let (server, server_side) = server().await;
    let addr = server.local_addr().to_string();
    let client_side = Arc::new(Scripted::default());
    let client = RemotingClient::new(
        ClientConfig::default(),
        Some(client_side.clone() as Arc<dyn Processor>),
    );
    client.invoke(&addr, request(ECHO), WAIT).await.unwrap();
    let conn = server_side.last_conn.lock().unwrap().clone().unwrap();
    let waiting = tokio::spawn(async move { conn.invoke(request(HANG), WAIT).await });
    wait_until(|| client_side.requests.load(Ordering::SeqCst) == 1).await;

    tokio::time::timeout(WAIT, client.shutdown()).await.unwrap();
    let err = waiting.await.unwrap().unwrap_err();
    assert!(
        matches!(err, RemotingError::ConnectionClosed { .. }),
        "{err}"
    );
    assert_eq!(client_side.closed.lock().unwrap().len(), 1);
    let err = client.invoke(&addr, request(ECHO), WAIT).await.unwrap_err();
    assert!(matches!(err, RemotingError::Shutdown), "{err}");
    server.shutdown().await;
}
