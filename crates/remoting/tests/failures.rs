//! Timeouts, closed connections, and peers that send bytes that are not
//! frames: only the offending connection is dropped.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::{BufMut, BytesMut};
use common::*;
use remoting::{ClientConfig, RemotingClient, RemotingError, ServerConfig};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

#[tokio::test]
async fn request_timeout_forgets_the_request() {
    let (server, _processor) = server().await;
    let addr = server.local_addr().to_string();
    let client = RemotingClient::new(ClientConfig::default(), None);

    let err = client
        .invoke(&addr, request(SILENT), Duration::from_millis(100))
        .await
        .unwrap_err();
    assert!(
        matches!(err, RemotingError::Timeout { millis: 100, .. }),
        "{err}"
    );
    let conn = client.connection(&addr).await.unwrap();
    assert_eq!(conn.pending_requests(), 0);

    // A late response (to a timed-out request) is ignored and the
    // connection keeps working.
    let mut slow = request(SLEEP);
    slow.ext_fields.insert("ms".into(), "150".into());
    let err = conn
        .invoke(slow, Duration::from_millis(20))
        .await
        .unwrap_err();
    assert!(matches!(err, RemotingError::Timeout { .. }), "{err}");
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert_eq!(conn.invoke(request(ECHO), WAIT).await.unwrap().code, 0);
    assert!(!conn.is_closed());
    client.shutdown().await;
    server.shutdown().await;
}

#[tokio::test]
async fn closed_connection_fails_pending_invokes() {
    let (server, processor) = server().await;
    let addr = server.local_addr().to_string();
    let client = RemotingClient::new(ClientConfig::default(), None);
    let conn = client.connection(&addr).await.unwrap();

    let waiting: Vec<_> = (0..5)
        .map(|_| {
            let conn = conn.clone();
            tokio::spawn(async move { conn.invoke(request(HANG), WAIT).await })
        })
        .collect();
    wait_until(|| processor.requests.load(Ordering::SeqCst) == 5).await;
    assert_eq!(conn.pending_requests(), 5);
    // The server drops the connection under the waiting requests.
    let server_conn = processor.last_conn.lock().unwrap().clone().unwrap();
    server_conn.close();
    tokio::time::timeout(WAIT, server_conn.closed())
        .await
        .unwrap();
    tokio::time::timeout(WAIT, conn.closed()).await.unwrap();
    for w in waiting {
        let err = tokio::time::timeout(WAIT, w)
            .await
            .unwrap()
            .unwrap()
            .unwrap_err();
        assert!(
            matches!(err, RemotingError::ConnectionClosed { .. }),
            "{err}"
        );
    }
    assert!(conn.is_closed());
    let err = conn.invoke(request(ECHO), WAIT).await.unwrap_err();
    assert!(
        matches!(err, RemotingError::ConnectionClosed { .. }),
        "{err}"
    );
    let err = conn.invoke_oneway(request(ECHO)).await.unwrap_err();
    assert!(
        matches!(err, RemotingError::ConnectionClosed { .. }),
        "{err}"
    );
    client.shutdown().await;
    server.shutdown().await;
}

fn frame_with_header(type_byte: u8, header: &[u8]) -> BytesMut {
    let mut b = BytesMut::new();
    b.put_u32(4 + header.len() as u32);
    b.put_u32((u32::from(type_byte) << 24) | header.len() as u32);
    b.put_slice(header);
    b
}

/// Sends `bytes` (and closes our write side if `then_close`), expects the
/// server to drop the connection with a warning naming us, and checks a
/// healthy connection still works.
async fn bad_input_drops_only_that_connection(bytes: &[u8], then_close: bool, reason: &str) {
    let logs = Logs::default();
    let _guard = logs.capture();
    let (server, processor) = server().await;
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

    let mut bad = TcpStream::connect(server.local_addr()).await.unwrap();
    let bad_addr = bad.local_addr().unwrap();
    bad.write_all(bytes).await.unwrap();
    if then_close {
        bad.shutdown().await.unwrap();
    }
    expect_closed(&mut bad).await;

    assert_eq!(
        client
            .invoke(&addr, request(ECHO), WAIT)
            .await
            .unwrap()
            .code,
        0
    );
    assert_eq!(processor.connections.lock().unwrap().len(), 1);
    let text = logs.text();
    let line = text
        .lines()
        .find(|l| l.contains("WARN") && l.contains(&bad_addr.to_string()))
        .unwrap_or_else(|| panic!("no warning naming {bad_addr} in:\n{text}"));
    assert!(line.contains(reason), "{line}");
    client.shutdown().await;
    server.shutdown().await;
}

#[tokio::test]
async fn garbage_bytes() {
    bad_input_drops_only_that_connection(
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        false,
        "exceeds the maximum",
    )
    .await;
}

#[tokio::test]
async fn oversized_length_word() {
    bad_input_drops_only_that_connection(
        &[0x01, 0x00, 0x00, 0x01, 0, 0, 0, 0],
        false,
        "exceeds the maximum",
    )
    .await;
}

#[tokio::test]
async fn too_small_length_word() {
    bad_input_drops_only_that_connection(&[0, 0, 0, 2, 0, 0], false, "too small").await;
}

#[tokio::test]
async fn truncated_frame_then_close() {
    let full = frame_with_header(0, br#"{"code":9001,"flag":0,"opaque":1}"#);
    bad_input_drops_only_that_connection(&full[..full.len() - 5], true, "middle of a frame").await;
}

#[tokio::test]
async fn json_header_with_wrong_types() {
    let frame = frame_with_header(0, br#"{"code":"x"}"#);
    bad_input_drops_only_that_connection(&frame, false, "bad frame").await;
}

#[tokio::test]
async fn header_that_is_not_json() {
    let frame = frame_with_header(0, b"\x00\x01garbage");
    bad_input_drops_only_that_connection(&frame, false, "bad frame").await;
}

#[tokio::test]
async fn unknown_serialize_type() {
    let frame = frame_with_header(7, b"{}");
    bad_input_drops_only_that_connection(&frame, false, "unknown serialize type 7").await;
}

#[tokio::test]
async fn header_longer_than_frame() {
    let mut frame = BytesMut::new();
    frame.put_u32(6);
    frame.put_u32(100);
    frame.put_slice(b"{}");
    bad_input_drops_only_that_connection(&frame, false, "does not fit").await;
}

#[tokio::test]
async fn small_max_frame_is_enforced() {
    let config = ServerConfig {
        max_frame: 1024,
        ..ServerConfig::default()
    };
    let (server, _processor) = server_with(config).await;
    let addr = server.local_addr().to_string();
    let client = RemotingClient::new(ClientConfig::default(), None);
    let big = request(ECHO).with_body(vec![0u8; 2048]);
    let err = client.invoke(&addr, big, WAIT).await.unwrap_err();
    assert!(
        matches!(err, RemotingError::ConnectionClosed { .. }),
        "{err}"
    );
    assert_eq!(
        client
            .invoke(&addr, request(ECHO), WAIT)
            .await
            .unwrap()
            .code,
        0
    );
    client.shutdown().await;
    server.shutdown().await;
}

#[tokio::test]
async fn idle_connections_are_closed() {
    let config = ServerConfig {
        idle_timeout: Duration::from_millis(500),
        ..ServerConfig::default()
    };
    let (server, processor) = server_with(config).await;
    let opened = tokio::time::Instant::now();
    let mut raw = TcpStream::connect(server.local_addr()).await.unwrap();
    // Traffic keeps it open past the timeout...
    for i in 0..4 {
        let mut req = request(ECHO);
        req.opaque = i;
        write_cmd(&mut raw, &req).await;
        assert_eq!(read_cmd(&mut raw).await.opaque, i);
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    // ...silence closes it.
    expect_closed(&mut raw).await;
    assert!(
        opened.elapsed() >= Duration::from_millis(600),
        "closed while in use"
    );
    // The socket closes before the processor hears of it.
    wait_until(|| processor.closed.lock().unwrap().len() == 1).await;
    server.shutdown().await;
}

#[tokio::test]
async fn zero_or_huge_idle_timeout_never_closes() {
    for idle_timeout in [Duration::ZERO, Duration::MAX] {
        let config = ServerConfig {
            idle_timeout,
            ..ServerConfig::default()
        };
        let (server, _processor) = server_with(config).await;
        let mut raw = TcpStream::connect(server.local_addr()).await.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        let mut req = request(ECHO);
        req.opaque = 8;
        write_cmd(&mut raw, &req).await;
        assert_eq!(read_cmd(&mut raw).await.opaque, 8);
        server.shutdown().await;
    }
}
