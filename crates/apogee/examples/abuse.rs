//! Careless and hostile clients, one per row of `scripts/bench-abuse`:
//! `abuse MODE BROKER_ADDR NAMESRV_ADDR [HOLD_SECS]`. Each prints one line
//! saying what it got back. Raw frames, so nothing in the client library
//! softens what the server sees.

use std::io::Write;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use bytes::BytesMut;
use protocol::body::heartbeat::{ConsumerData, HeartbeatData, SubscriptionData};
use protocol::frame::{self, encode};
use protocol::header::namesrv::RegisterBrokerRequestHeader;
use protocol::header::pull::PullMessageRequestHeader;
use protocol::header::send::SendMessageRequestHeader;
use protocol::{RemotingCommand, RequestCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

const TOPIC: &str = "AbuseTopic";

#[tokio::main]
async fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let [_, mode, broker, namesrv, rest @ ..] = args.as_slice() else {
        bail!("usage: abuse MODE BROKER_ADDR NAMESRV_ADDR [HOLD_SECS]");
    };
    let hold = Duration::from_secs(rest.first().map_or(Ok(10), |s| s.parse())?);
    let line = match mode.as_str() {
        "unread-pulls" => unread_pulls(broker, hold).await?,
        "partial-frames" => partial_frames(broker, hold).await?,
        "ext-fields" => ext_fields(broker).await?,
        "zlib-bomb" => zlib_bomb(namesrv).await?,
        "sql-terms" => sql_terms(broker).await?,
        "sql-heavy" => sql_heavy(broker, hold).await?,
        "groups" => groups(broker).await?,
        "connections" => connections(broker, hold).await?,
        other => bail!("unknown mode {other}"),
    };
    println!("{line}");
    Ok(())
}

async fn connect(addr: &str) -> Result<TcpStream> {
    TcpStream::connect(addr)
        .await
        .with_context(|| format!("connect {addr}"))
}

fn frame_of(cmd: &RemotingCommand) -> BytesMut {
    let mut out = BytesMut::new();
    encode(cmd, &mut out);
    out
}

/// Reads one answer, skipping requests the server sends meanwhile (a
/// heartbeat's NOTIFY_CONSUMER_IDS_CHANGED), or reports what ended the
/// connection.
async fn answer(s: &mut TcpStream) -> Result<RemotingCommand> {
    let mut buf = BytesMut::new();
    loop {
        while let Some((cmd, used)) = frame::decode(&buf, usize::MAX)? {
            let _ = buf.split_to(used);
            if cmd.is_response() {
                return Ok(cmd);
            }
        }
        if s.read_buf(&mut buf).await? == 0 {
            bail!("connection closed by the server");
        }
    }
}

fn describe(r: Result<RemotingCommand>) -> String {
    match r {
        Ok(cmd) => format!(
            "code {} remark {:?}",
            cmd.code,
            cmd.remark.unwrap_or_default()
        ),
        Err(e) => e.to_string(),
    }
}

/// 12,000 pulls of 32 messages, never reading the answers.
async fn unread_pulls(broker: &str, hold: Duration) -> Result<String> {
    let mut s = connect(broker).await?;
    let h = PullMessageRequestHeader {
        consumer_group: "abuse_pull".into(),
        topic: TOPIC.into(),
        queue_id: 0,
        queue_offset: 0,
        max_msg_nums: 32,
        sys_flag: protocol::message::sysflag::pull::SUBSCRIPTION,
        subscription: Some("*".into()),
        expression_type: Some("TAG".into()),
        ..PullMessageRequestHeader::default()
    };
    let mut frames = BytesMut::new();
    for i in 0..12_000 {
        let mut cmd = RemotingCommand::request_with_header(RequestCode::PULL_MESSAGE, &h);
        cmd.opaque = i;
        encode(&cmd, &mut frames);
    }
    let sent = tokio::time::timeout(hold, s.write_all(&frames)).await;
    tokio::time::sleep(hold).await;
    Ok(format!(
        "12000 pulls {} and held unread",
        if matches!(sent, Ok(Ok(()))) {
            "written"
        } else {
            "partly written (server stopped reading)"
        }
    ))
}

/// 30 connections each holding the first 16 MiB - 1 of a 16 MiB frame.
async fn partial_frames(broker: &str, hold: Duration) -> Result<String> {
    let mut tasks = Vec::new();
    for _ in 0..30 {
        let addr = broker.to_owned();
        tasks.push(tokio::spawn(async move {
            let mut s = connect(&addr).await?;
            let len: u32 = 16 * 1024 * 1024 - 4;
            let mut data = len.to_be_bytes().to_vec();
            data.extend_from_slice(&[0, 0, 0, 2, b'{', b'}']);
            data.resize(len as usize, b' ');
            let wrote = tokio::time::timeout(hold, s.write_all(&data)).await;
            tokio::time::sleep(hold).await;
            anyhow::Ok(matches!(wrote, Ok(Ok(()))))
        }));
    }
    let mut whole = 0;
    for t in tasks {
        if matches!(t.await, Ok(Ok(true))) {
            whole += 1;
        }
    }
    Ok(format!(
        "{whole} of 30 unfinished 16 MiB frames fully written"
    ))
}

/// 8 connections in parallel, each one 15 MiB frame with 1.1 million ext fields.
async fn ext_fields(broker: &str) -> Result<String> {
    let mut header = String::from(
        r#"{"code":34,"flag":0,"language":"JAVA","opaque":1,"serializeTypeCurrentRPC":"JSON","version":479,"extFields":{"#,
    );
    for i in 0..1_100_000 {
        if i > 0 {
            header.push(',');
        }
        header.push_str(&format!("\"{i}\":\"v\""));
    }
    header.push_str("}}");
    let mut frame = Vec::with_capacity(header.len() + 8);
    frame.extend_from_slice(&((header.len() + 4) as u32).to_be_bytes());
    frame.extend_from_slice(&(header.len() as u32).to_be_bytes());
    frame.extend_from_slice(header.as_bytes());
    let frame = std::sync::Arc::new(frame);
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (addr, frame) = (broker.to_owned(), frame.clone());
        tasks.push(tokio::spawn(async move {
            let mut s = connect(&addr).await?;
            let _ = s.write_all(&frame).await;
            anyhow::Ok(describe(answer(&mut s).await))
        }));
    }
    let mut outcomes = Vec::new();
    for t in tasks {
        outcomes.push(t.await?.unwrap_or_else(|e| e.to_string()));
    }
    outcomes.dedup();
    Ok(format!(
        "{} byte header x8: {}",
        header.len(),
        outcomes.join("; ")
    ))
}

/// REGISTER_BROKER with a zlib body inflating to 256 MiB, 4 times.
async fn zlib_bomb(namesrv: &str) -> Result<String> {
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..256 {
        z.write_all(&zeros)?;
    }
    let bomb = z.finish()?;
    let h = RegisterBrokerRequestHeader {
        broker_name: "abuse".into(),
        broker_addr: "127.0.0.1:1".into(),
        cluster_name: "abuse".into(),
        ha_server_addr: "127.0.0.1:2".into(),
        broker_id: 0,
        compressed: Some(true),
        ..RegisterBrokerRequestHeader::default()
    };
    let mut outcome = String::new();
    for i in 0..4 {
        let mut s = connect(namesrv).await?;
        let mut cmd = RemotingCommand::request_with_header(RequestCode::REGISTER_BROKER, &h)
            .with_body(bomb.clone());
        cmd.opaque = i;
        s.write_all(&frame_of(&cmd)).await?;
        outcome = describe(answer(&mut s).await);
    }
    Ok(format!("{} byte bomb x4: {outcome}", bomb.len()))
}

fn heartbeat(groups: Vec<ConsumerData>) -> Result<RemotingCommand> {
    let data = HeartbeatData {
        client_id: "abuse@1".into(),
        consumer_data_set: groups,
        ..HeartbeatData::default()
    };
    Ok(RemotingCommand::request(RequestCode::HEART_BEAT).with_body(data.to_json_bytes()?))
}

fn consumer(group: String, expression_type: &str, expression: &str) -> ConsumerData {
    ConsumerData {
        group_name: group,
        subscription_data_set: vec![SubscriptionData {
            topic: TOPIC.into(),
            sub_string: expression.into(),
            expression_type: expression_type.into(),
            sub_version: 1,
            ..SubscriptionData::default()
        }],
        ..ConsumerData::default()
    }
}

/// A SQL92 subscription of 50,000 AND terms, then two pulls with it.
async fn sql_terms(broker: &str) -> Result<String> {
    let expr = vec!["a = 1"; 50_000].join(" AND ");
    let mut s = connect(broker).await?;
    s.write_all(&frame_of(&heartbeat(vec![consumer(
        "abuse_sql".into(),
        "SQL92",
        &expr,
    )])?))
    .await?;
    let hb = describe(answer(&mut s).await);
    let h = PullMessageRequestHeader {
        consumer_group: "abuse_sql".into(),
        topic: TOPIC.into(),
        queue_id: 0,
        queue_offset: 0,
        max_msg_nums: 32,
        sys_flag: protocol::message::sysflag::pull::SUBSCRIPTION,
        subscription: Some(expr.clone()),
        expression_type: Some("SQL92".into()),
        ..PullMessageRequestHeader::default()
    };
    let mut pulls = Vec::new();
    for i in 0..2 {
        let mut cmd = RemotingCommand::request_with_header(RequestCode::PULL_MESSAGE, &h);
        cmd.opaque = 10 + i;
        s.write_all(&frame_of(&cmd)).await?;
        pulls.push(describe(answer(&mut s).await));
    }
    pulls.dedup();
    let short = |t: String| t.chars().take(160).collect::<String>();
    Ok(format!(
        "{} byte expression: heartbeat {}; pulls {}",
        expr.len(),
        short(hb),
        short(pulls.join("; "))
    ))
}

/// The most a selector within the caps can cost: 800 messages each with
/// 30 KB of properties (3,000 pairs), then for HOLD seconds pulls of an
/// expression with 256 references to properties none of them has (so no
/// message matches and every pull scans as far as it may), 16 in flight.
async fn sql_heavy(broker: &str, hold: Duration) -> Result<String> {
    const SQL_TOPIC: &str = "AbuseSqlTopic";
    let mut s = connect(broker).await?;
    let props: String = (0..3000).map(|i| format!("k{i}\u{1}vv\u{2}")).collect();
    let h = SendMessageRequestHeader {
        producer_group: "abuse_sql_producer".into(),
        topic: SQL_TOPIC.into(),
        default_topic: "TBW102".into(),
        default_topic_queue_nums: 4,
        queue_id: 0,
        properties: Some(props.clone()),
        ..SendMessageRequestHeader::default()
    };
    for i in 0..800 {
        let mut cmd = RemotingCommand::request_with_header(RequestCode::SEND_MESSAGE, &h)
            .with_body(vec![b'x'; 64]);
        cmd.opaque = i;
        s.write_all(&frame_of(&cmd)).await?;
        let r = answer(&mut s).await?;
        if r.code != 0 {
            bail!("seeding send {i}: code {} {:?}", r.code, r.remark);
        }
    }
    let expr = (0..256)
        .map(|i| format!("x{i} = 'a'"))
        .collect::<Vec<_>>()
        .join(" OR ");
    let pull = PullMessageRequestHeader {
        consumer_group: "abuse_sql_heavy".into(),
        topic: SQL_TOPIC.into(),
        queue_id: 0,
        queue_offset: 0,
        max_msg_nums: 32,
        sys_flag: protocol::message::sysflag::pull::SUBSCRIPTION,
        subscription: Some(expr),
        expression_type: Some("SQL92".into()),
        ..PullMessageRequestHeader::default()
    };
    let started = Instant::now();
    let (mut pulls, mut slowest, mut last) = (0u32, Duration::ZERO, String::new());
    while started.elapsed() < hold {
        let window = Instant::now();
        for i in 0..16 {
            let mut cmd = RemotingCommand::request_with_header(RequestCode::PULL_MESSAGE, &pull);
            cmd.opaque = 10_000 + i;
            s.write_all(&frame_of(&cmd)).await?;
        }
        // Several answers may arrive in one read: keep the buffer.
        let mut buf = BytesMut::new();
        let mut got = 0;
        while got < 16 {
            while let Some((cmd, used)) = frame::decode(&buf, usize::MAX)? {
                let _ = buf.split_to(used);
                if cmd.is_response() {
                    last = describe(Ok(cmd));
                    got += 1;
                    pulls += 1;
                }
            }
            if got < 16 && s.read_buf(&mut buf).await? == 0 {
                bail!("connection closed by the server after {pulls} pulls");
            }
        }
        slowest = slowest.max(window.elapsed());
    }
    Ok(format!(
        "{} byte properties x800, 256-reference selector: {pulls} pulls answered, \
         slowest window of 16 {} ms; last {}",
        props.len(),
        slowest.as_millis(),
        last.chars().take(60).collect::<String>()
    ))
}

/// One heartbeat naming 1,000 new groups; prints how long the answer took.
async fn groups(broker: &str) -> Result<String> {
    let run = std::process::id();
    let consumers = (0..1000)
        .map(|i| consumer(format!("abuse_group_{run}_{i}"), "TAG", "*"))
        .collect();
    let mut s = connect(broker).await?;
    let started = Instant::now();
    s.write_all(&frame_of(&heartbeat(consumers)?)).await?;
    let r = describe(answer(&mut s).await);
    Ok(format!(
        "1000-group heartbeat answered in {} ms: {r}",
        started.elapsed().as_millis()
    ))
}

/// 10,100 connections from 127.0.0.2, held open.
async fn connections(broker: &str, hold: Duration) -> Result<String> {
    let addr: std::net::SocketAddr = broker.parse()?;
    let mut held = Vec::new();
    let mut failed = 0;
    for _ in 0..10_100 {
        let socket = TcpSocket::new_v4()?;
        socket.bind("127.0.0.2:0".parse()?)?;
        match socket.connect(addr).await {
            Ok(s) => held.push(s),
            Err(_) => failed += 1,
        }
    }
    // Count the ones the server kept: a refused one reads EOF at once.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut open = 0;
    for s in &held {
        let mut b = [0u8; 1];
        if matches!(s.try_read(&mut b), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock) {
            open += 1;
        }
    }
    tokio::time::sleep(hold).await;
    Ok(format!(
        "10100 connections from 127.0.0.2: {open} kept open, {} closed by the server, {failed} failed to connect",
        held.len() - open
    ))
}
