//! What one careless or hostile peer can hold: answers it does not read,
//! requests in flight, unfinished frames, oversized headers, connections
//! from one address. Each cap's answer, and that the server is fine after.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::BytesMut;
use common::*;
use protocol::frame::encode;
use protocol::ResponseCode;
use remoting::ServerConfig;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpSocket, TcpStream};

fn big(opaque: i32, size: usize) -> protocol::RemotingCommand {
    let mut req = request(BIG);
    req.opaque = opaque;
    req.ext_fields.insert("size".into(), size.to_string());
    req
}

async fn echo_works(addr: SocketAddr) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let mut req = request(ECHO);
    req.opaque = 77;
    write_cmd(&mut s, &req).await;
    let answer = read_cmd(&mut s).await;
    assert_eq!((answer.opaque, answer.code), (77, 0));
}

#[tokio::test]
async fn answers_a_peer_does_not_read_stop_its_requests_being_processed() {
    const HIGH_WATER: usize = 256 * 1024;
    const ANSWER: usize = 32 * 1024;
    const REQUESTS: i32 = 400;
    let config = ServerConfig {
        write_buffer_high_water_mark: HIGH_WATER,
        ..ServerConfig::default()
    };
    let (server, processor) = server_with(config).await;
    let mut s = TcpStream::connect(server.local_addr()).await.unwrap();
    // 400 requests for 12.5 MiB of answers, none read yet.
    let mut frames = BytesMut::new();
    for i in 0..REQUESTS {
        encode(&big(i, ANSWER), &mut frames);
    }
    s.write_all(&frames).await.unwrap();
    // Reading them all shows nothing was lost, and the connection works.
    for i in 0..REQUESTS {
        let answer = read_cmd(&mut s).await;
        assert_eq!(answer.opaque, i);
        assert_eq!(answer.body.len(), ANSWER);
    }
    // No request started while more than the mark (plus the answers of the
    // few requests a backed-up connection processes at once) was queued.
    let most = processor.max_backlog.load(Ordering::SeqCst);
    assert!(
        most <= HIGH_WATER + 8 * (ANSWER + 128),
        "a request started with {most} bytes queued"
    );
    assert_eq!(processor.requests.load(Ordering::SeqCst), REQUESTS as usize);
    server.shutdown().await;
}

#[tokio::test]
async fn a_peer_that_never_reads_is_closed_after_the_write_stall_timeout() {
    let config = ServerConfig {
        write_buffer_high_water_mark: 64 * 1024,
        write_stall_timeout: Duration::from_millis(200),
        ..ServerConfig::default()
    };
    let (server, processor) = server_with(config).await;
    let s = TcpStream::connect(server.local_addr()).await.unwrap();
    let (_rd, mut wr) = s.into_split();
    let mut frames = BytesMut::new();
    for i in 0..200 {
        encode(&big(i, 256 * 1024), &mut frames);
    }
    // The server may stop reading before all of it is sent.
    let _ = tokio::time::timeout(WAIT, wr.write_all(&frames)).await;
    wait_until(|| processor.closed.lock().unwrap().len() == 1).await;
    echo_works(server.local_addr()).await;
    server.shutdown().await;
}

#[tokio::test]
async fn requests_past_the_in_flight_cap_are_answered_system_busy() {
    let config = ServerConfig {
        max_in_flight_per_connection: 2,
        ..ServerConfig::default()
    };
    let (server, processor) = server_with(config).await;
    let mut s = TcpStream::connect(server.local_addr()).await.unwrap();
    for opaque in 1..=2 {
        let mut req = request(HANG);
        req.opaque = opaque;
        write_cmd(&mut s, &req).await;
    }
    wait_until(|| processor.requests.load(Ordering::SeqCst) == 2).await;
    let mut req = request(ECHO);
    req.opaque = 3;
    write_cmd(&mut s, &req).await;
    let busy = read_cmd(&mut s).await;
    assert_eq!(busy.opaque, 3);
    assert_eq!(busy.code, ResponseCode::SYSTEM_BUSY.code());
    let remark = busy.remark.unwrap_or_default();
    assert!(remark.starts_with("[REJECTREQUEST]system busy"), "{remark}");
    // Other connections are not affected.
    echo_works(server.local_addr()).await;
    server.shutdown().await;
}

#[tokio::test]
async fn unfinished_frames_past_the_shared_cap_close_their_connection() {
    let config = ServerConfig {
        max_unfinished_frame_bytes: 512 * 1024,
        ..ServerConfig::default()
    };
    let (server, _processor) = server_with(config).await;
    let mut s = TcpStream::connect(server.local_addr()).await.unwrap();
    // The start of a 4 MiB frame, 1 MiB of it sent.
    let mut head = (4u32 << 20).to_be_bytes().to_vec();
    head.extend_from_slice(&[0, 0, 0, 2, b'{', b'}']);
    s.write_all(&head).await.unwrap();
    let _ = tokio::time::timeout(WAIT, s.write_all(&vec![0u8; 1 << 20])).await;
    expect_closed(&mut s).await;
    // Its share was given back: others still get through.
    echo_works(server.local_addr()).await;
    server.shutdown().await;
}

#[tokio::test]
async fn a_header_with_too_many_fields_closes_only_its_connection() {
    let (server, _processor) = server().await;
    let mut s = TcpStream::connect(server.local_addr()).await.unwrap();
    let mut req = request(ECHO);
    for i in 0..=protocol::command::MAX_EXT_FIELDS {
        req.ext_fields.insert(format!("k{i}"), "v".into());
    }
    write_cmd(&mut s, &req).await;
    expect_closed(&mut s).await;
    echo_works(server.local_addr()).await;
    server.shutdown().await;
}

#[tokio::test]
async fn one_address_cannot_hold_every_connection() {
    let config = ServerConfig {
        max_connections_per_ip: 2,
        ..ServerConfig::default()
    };
    let (server, _processor) = server_with(config).await;
    let addr = server.local_addr();
    let from = |ip: &str| {
        let socket = TcpSocket::new_v4().unwrap();
        socket
            .bind(SocketAddr::new(ip.parse().unwrap(), 0))
            .unwrap();
        socket.connect(addr)
    };
    let _a = from("127.0.0.2").await.unwrap();
    let _b = from("127.0.0.2").await.unwrap();
    let mut c = from("127.0.0.2").await.unwrap();
    expect_closed(&mut c).await;
    assert_eq!(server.refused_connections(), 1);
    echo_works(addr).await;
    server.shutdown().await;
}
