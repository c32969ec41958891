//! Pulls over real TCP: found, not found, offset moved, long polling woken
//! by a send (answered with the request's own opaque on a raw socket), long
//! polling timing out, and commit offsets carried in pulls.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use bytes::BytesMut;
use common::*;
use protocol::header::offset::{OffsetResponseHeader, QueryConsumerOffsetRequestHeader};
use protocol::header::pull::PullMessageResponseHeader;
use protocol::message::sysflag::pull as pullflag;
use protocol::{frame, RemotingCommand, RequestCode, ResponseCode};
use testkit::TestCluster;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn next_begin(r: &RemotingCommand) -> i64 {
    r.decode_header::<PullMessageResponseHeader>()
        .unwrap()
        .next_begin_offset
}

async fn seeded(topic: &str, n: usize) -> TestCluster {
    let c = TestCluster::start().await;
    for i in 0..n {
        send_ok(&c, send_v1(topic, 0, format!("m{i}").as_bytes(), "")).await;
    }
    wait_queue(&c, topic, 0, n as i64).await;
    c
}

#[tokio::test]
async fn pull_found_not_found_and_moved() {
    let c = seeded("T_PULL", 3).await;
    let r = c.call(pull_cmd(&pull_req("T_PULL", 0, 1, 0))).await;
    assert_eq!(r.code, 0, "{:?}", r.remark);
    assert_eq!(bodies(&r.body), vec![b"m1".to_vec(), b"m2".to_vec()]);
    assert_eq!(next_begin(&r), 3);
    let h: PullMessageResponseHeader = r.decode_header().unwrap();
    assert_eq!((h.min_offset, h.max_offset), (0, 3));

    // At the end of the queue: nothing yet, keep the offset.
    let r = c.call(pull_cmd(&pull_req("T_PULL", 0, 3, 0))).await;
    assert_eq!(
        r.code,
        ResponseCode::PULL_NOT_FOUND.code(),
        "{:?}",
        r.remark
    );
    assert_eq!(next_begin(&r), 3);
    assert!(r.body.is_empty());

    // Far past the end: moved back to the max offset.
    let r = c.call(pull_cmd(&pull_req("T_PULL", 0, 100, 0))).await;
    assert_eq!(
        r.code,
        ResponseCode::PULL_OFFSET_MOVED.code(),
        "{:?}",
        r.remark
    );
    assert_eq!(next_begin(&r), 3);

    // maxMsgNums caps the batch.
    let mut h = pull_req("T_PULL", 0, 0, 0);
    h.max_msg_nums = 1;
    let r = c.call(pull_cmd(&h)).await;
    assert_eq!(bodies(&r.body), vec![b"m0".to_vec()]);
    assert_eq!(next_begin(&r), 1);
    c.shutdown().await;
}

async fn read_frame(sock: &mut TcpStream, buf: &mut BytesMut) -> RemotingCommand {
    loop {
        if let Some((cmd, used)) = frame::decode(buf, frame::DEFAULT_MAX_FRAME).unwrap() {
            let _ = buf.split_to(used);
            return cmd;
        }
        let n = sock.read_buf(buf).await.unwrap();
        assert!(n > 0, "the broker closed the connection");
    }
}

#[tokio::test]
async fn parked_pull_is_woken_by_a_send_with_its_own_opaque() {
    let c = seeded("T_LONGPOLL", 1).await;
    let mut sock = TcpStream::connect(c.broker_addr()).await.unwrap();
    let mut h = pull_req("T_LONGPOLL", 0, 1, pullflag::SUSPEND);
    h.suspend_timeout_millis = 20_000;
    let mut pull = pull_cmd(&h);
    pull.opaque = 777_001;
    let mut out = BytesMut::new();
    frame::encode(&pull, &mut out);
    sock.write_all(&out).await.unwrap();

    // Parked: no answer while the queue is empty.
    let mut buf = BytesMut::new();
    let early = tokio::time::timeout(Duration::from_millis(300), sock.read_buf(&mut buf)).await;
    assert!(
        early.is_err(),
        "the pull was answered before any message arrived"
    );
    send_ok(&c, send_v1("T_LONGPOLL", 1, b"other queue", "")).await;
    let early = tokio::time::timeout(Duration::from_millis(300), sock.read_buf(&mut buf)).await;
    assert!(early.is_err(), "answered for another queue's message");

    send_ok(&c, send_v1("T_LONGPOLL", 0, b"wake", "")).await;
    // Well inside the 20 s hold: only a wake-up answers this soon.
    let r = tokio::time::timeout(Duration::from_secs(10), read_frame(&mut sock, &mut buf))
        .await
        .expect("the parked pull was not woken by the send");
    assert!(r.is_response());
    assert_eq!(r.opaque, 777_001, "answered with the request's opaque");
    assert_eq!(r.code, 0, "{:?}", r.remark);
    assert_eq!(bodies(&r.body), vec![b"wake".to_vec()]);
    assert_eq!(next_begin(&r), 2);
    c.shutdown().await;
}

#[tokio::test]
async fn parked_pull_times_out_as_not_found() {
    let c = seeded("T_LP_TIMEOUT", 1).await;
    let mut h = pull_req("T_LP_TIMEOUT", 0, 1, pullflag::SUSPEND);
    h.suspend_timeout_millis = 300;
    let started = tokio::time::Instant::now();
    let r = c.call(pull_cmd(&h)).await;
    assert_eq!(
        r.code,
        ResponseCode::PULL_NOT_FOUND.code(),
        "{:?}",
        r.remark
    );
    assert_eq!(next_begin(&r), 1);
    assert!(
        started.elapsed() >= Duration::from_millis(250),
        "the pull was held for its suspend time"
    );
    c.shutdown().await;
}

#[tokio::test]
async fn commit_offset_carried_in_a_pull_is_stored() {
    let c = seeded("T_PULL_COMMIT", 3).await;
    let mut h = pull_req("T_PULL_COMMIT", 0, 2, pullflag::COMMIT_OFFSET);
    h.commit_offset = 2;
    let r = c.call(pull_cmd(&h)).await;
    assert_eq!(r.code, 0, "{:?}", r.remark);
    let q = c
        .call(RemotingCommand::request_with_header(
            RequestCode::QUERY_CONSUMER_OFFSET,
            &QueryConsumerOffsetRequestHeader {
                consumer_group: GROUP.into(),
                topic: "T_PULL_COMMIT".into(),
                queue_id: 0,
                set_zero_if_not_found: None,
            },
        ))
        .await;
    assert_eq!(q.code, 0, "{:?}", q.remark);
    assert_eq!(q.decode_header::<OffsetResponseHeader>().unwrap().offset, 2);

    // Without the flag, the commitOffset field is ignored.
    let mut h = pull_req("T_PULL_COMMIT", 0, 0, 0);
    h.commit_offset = 1;
    c.call(pull_cmd(&h)).await;
    let q = c
        .call(RemotingCommand::request_with_header(
            RequestCode::QUERY_CONSUMER_OFFSET,
            &QueryConsumerOffsetRequestHeader {
                consumer_group: GROUP.into(),
                topic: "T_PULL_COMMIT".into(),
                queue_id: 0,
                set_zero_if_not_found: None,
            },
        ))
        .await;
    assert_eq!(q.decode_header::<OffsetResponseHeader>().unwrap().offset, 2);
    c.shutdown().await;
}

#[tokio::test]
async fn pull_with_registered_subscription_filters_by_tag() {
    let c = TestCluster::start().await;
    send_ok(&c, send_v1("T_PULL_SUB", 0, b"a", &props("A", ""))).await;
    send_ok(&c, send_v1("T_PULL_SUB", 0, b"b", &props("B", ""))).await;
    wait_queue(&c, "T_PULL_SUB", 0, 2).await;
    // No SUBSCRIPTION flag and no heartbeat: the group's subscription is unknown.
    let mut h = pull_req("T_PULL_SUB", 0, 0, 0);
    h.sys_flag = 0;
    let r = c.call(pull_cmd(&h)).await;
    assert_error(&r, ResponseCode::SUBSCRIPTION_NOT_EXIST, "T_PULL_SUB");
    // An explicit tag subscription filters on the broker.
    let mut h = pull_req("T_PULL_SUB", 0, 0, 0);
    h.subscription = Some("B".into());
    let r = c.call(pull_cmd(&h)).await;
    assert_eq!(r.code, 0, "{:?}", r.remark);
    assert_eq!(bodies(&r.body), vec![b"b".to_vec()]);
    c.shutdown().await;
}

#[tokio::test]
async fn pull_uses_the_subscription_registered_by_heartbeat() {
    let c = TestCluster::start().await;
    send_ok(&c, send_v1("T_PULL_HB", 0, b"a", &props("A", ""))).await;
    send_ok(&c, send_v1("T_PULL_HB", 0, b"b", &props("B", ""))).await;
    wait_queue(&c, "T_PULL_HB", 0, 2).await;
    let mut data = protocol::body::heartbeat::HeartbeatData::from_json_bytes(&heartbeat_body(
        "10.0.0.5@5",
        GROUP,
        "T_PULL_HB",
    ))
    .unwrap();
    data.consumer_data_set[0].subscription_data_set[0].sub_string = "B".into();
    data.consumer_data_set[0].subscription_data_set[0].sub_version = 10;
    let hb =
        RemotingCommand::request(RequestCode::HEART_BEAT).with_body(data.to_json_bytes().unwrap());
    assert_eq!(c.call(hb).await.code, 0);

    let mut h = pull_req("T_PULL_HB", 0, 0, 0);
    h.sys_flag = 0;
    h.subscription = None;
    h.sub_version = 10;
    let r = c.call(pull_cmd(&h)).await;
    assert_eq!(r.code, 0, "{:?}", r.remark);
    assert_eq!(bodies(&r.body), vec![b"b".to_vec()]);
    // A client with a newer subscription than the broker knows must heartbeat first.
    h.sub_version = 11;
    let r = c.call(pull_cmd(&h)).await;
    assert_error(&r, ResponseCode::SUBSCRIPTION_NOT_LATEST, GROUP);
    c.shutdown().await;
}

#[tokio::test]
async fn a_parked_pull_ignores_messages_its_tags_do_not_match() {
    let c = seeded("T_LP_TAGS", 1).await;
    let mut h = pull_req("T_LP_TAGS", 0, 1, pullflag::SUSPEND);
    h.suspend_timeout_millis = 20_000;
    h.subscription = Some("B".into());
    let (client, addr) = (c.client.clone(), c.broker_addr());
    let parked = tokio::spawn(async move {
        client
            .invoke(&addr, pull_cmd(&h), Duration::from_secs(15))
            .await
            .unwrap()
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    send_ok(&c, send_v1("T_LP_TAGS", 0, b"a", &props("A", ""))).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!parked.is_finished(), "woken by a message it does not want");
    send_ok(&c, send_v1("T_LP_TAGS", 0, b"b", &props("B", ""))).await;
    let r = tokio::time::timeout(Duration::from_secs(10), parked)
        .await
        .expect("the matching message woke the pull")
        .unwrap();
    assert_eq!(r.code, 0, "{:?}", r.remark);
    assert_eq!(bodies(&r.body), vec![b"b".to_vec()]);
    assert_eq!(next_begin(&r), 3);
    c.shutdown().await;
}

#[tokio::test]
async fn shutdown_does_not_wait_for_parked_pulls() {
    let c = seeded("T_LP_SHUTDOWN", 1).await;
    let mut h = pull_req("T_LP_SHUTDOWN", 0, 1, pullflag::SUSPEND);
    h.suspend_timeout_millis = 25_000;
    let (client, addr) = (c.client.clone(), c.broker_addr());
    let parked = tokio::spawn(async move {
        client
            .invoke(&addr, pull_cmd(&h), Duration::from_secs(30))
            .await
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!parked.is_finished());
    tokio::time::timeout(Duration::from_secs(10), c.shutdown())
        .await
        .expect("shutdown finished while a pull was parked");
    // The parked pull ends (answered or its connection closed), not hangs.
    tokio::time::timeout(Duration::from_secs(5), parked)
        .await
        .expect("the parked pull ended at shutdown")
        .unwrap()
        .ok();
}

#[tokio::test]
async fn lite_pull_reads_like_pull() {
    let c = seeded("T_LITE", 2).await;
    let h = pull_req("T_LITE", 0, 0, pullflag::LITE_PULL);
    let r = c
        .call(RemotingCommand::request_with_header(
            RequestCode::LITE_PULL_MESSAGE,
            &h,
        ))
        .await;
    assert_eq!(r.code, 0, "{:?}", r.remark);
    assert_eq!(bodies(&r.body), vec![b"m0".to_vec(), b"m1".to_vec()]);
    c.shutdown().await;
}

#[tokio::test]
async fn sql92_subscriptions_filter_on_properties() {
    let c = TestCluster::start().await;
    for (body, a) in [(&b"low"[..], "1"), (&b"high"[..], "10")] {
        let mut p = protocol::message::Properties::new();
        p.insert("a", a);
        send_ok(&c, send_v1("T_SQL", 0, body, &p.encode())).await;
    }
    wait_queue(&c, "T_SQL", 0, 2).await;
    let mut h = pull_req("T_SQL", 0, 0, 0);
    h.expression_type = Some("SQL92".into());
    h.subscription = Some("a > 5".into());
    let r = c.call(pull_cmd(&h)).await;
    assert_eq!(r.code, 0, "{:?}", r.remark);
    assert_eq!(bodies(&r.body), vec![b"high".to_vec()]);
    h.subscription = Some("a >".into());
    let r = c.call(pull_cmd(&h)).await;
    assert_error(&r, ResponseCode::SUBSCRIPTION_PARSE_FAILED, "a >");
    c.shutdown().await;
}

/// filterScanBudgetMillis bounds one SQL92 pull's scan: with a budget of 0
/// a pull over non-matching messages answers PULL_RETRY_IMMEDIATELY with
/// the offset it reached (32 entries on), and pulling on from each answer
/// reaches the one matching message: nothing is skipped.
#[tokio::test]
async fn sql92_pull_scan_stops_at_the_budget_and_goes_on() {
    let c = TestCluster::start_with(|_, store| store.filter_scan_budget_millis = 0).await;
    for i in 0..100 {
        let mut p = protocol::message::Properties::new();
        p.insert("a", i.to_string());
        send_ok(
            &c,
            send_v1("T_SQLB", 0, format!("m{i}").as_bytes(), &p.encode()),
        )
        .await;
    }
    wait_queue(&c, "T_SQLB", 0, 100).await;
    let mut h = pull_req("T_SQLB", 0, 0, 0);
    h.expression_type = Some("SQL92".into());
    h.subscription = Some("a = 90".into());
    let r = c.call(pull_cmd(&h)).await;
    assert_eq!(
        r.code,
        ResponseCode::PULL_RETRY_IMMEDIATELY.code(),
        "{:?}",
        r.remark
    );
    assert_eq!(next_begin(&r), 32);
    let mut from = next_begin(&r);
    let mut pulls = 1;
    let found = loop {
        h.queue_offset = from;
        let r = c.call(pull_cmd(&h)).await;
        pulls += 1;
        assert!(pulls < 10, "each pull makes progress");
        if r.code == 0 {
            break r;
        }
        assert_eq!(r.code, ResponseCode::PULL_RETRY_IMMEDIATELY.code());
        assert!(next_begin(&r) > from);
        from = next_begin(&r);
    };
    assert_eq!(bodies(&found.body), vec![b"m90".to_vec()]);
    c.shutdown().await;
}
