//! POP consumption over real TCP, as Java 5.x clients speak it: pop and
//! ack, redelivery through the retry topic with a growing attempt after the
//! invisible time, invisible-time changes, the DLQ after the group's
//! maximum, orderly pops, tag and SQL92 filters, long polling, peek,
//! notification, polling info, batch acks and bad input.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
mod pop_common;

use std::time::Duration;

use common::*;
use pop_common::*;
use protocol::body::group::SubscriptionGroupConfig;
use protocol::body::pop::{BatchAck, BatchAckMessageRequestBody};
use protocol::header::pop::{
    ChangeInvisibleTimeResponseHeader, NotificationRequestHeader, NotificationResponseHeader,
    PeekMessageRequestHeader, PollingInfoRequestHeader, PollingInfoResponseHeader,
    PopMessageResponseHeader,
};
use protocol::message::sysflag::perm;
use protocol::{RemotingCommand, RequestCode, ResponseCode};
use testkit::TestCluster;

async fn one_queue_topic(c: &TestCluster, topic: &str, messages: &[(&str, &str)]) {
    c.broker
        .state()
        .topics
        .put(broker::topics::topic_config(topic, 1, 1, perm::READ_WRITE));
    for (body, tags) in messages {
        send_ok(c, send_v1(topic, 0, body.as_bytes(), &props(tags, ""))).await;
    }
    wait_queue(c, topic, 0, messages.len() as i64).await;
}

fn set_max_retries(c: &TestCluster, retries: i32) {
    let mut g = SubscriptionGroupConfig::new(POP_GROUP);
    g.retry_max_times = retries;
    c.broker.state().groups.put(g);
}

#[tokio::test]
async fn pop_then_ack_consumes_each_message_once() {
    let c = TestCluster::start().await;
    one_queue_topic(&c, "T_POP_ACK", &[("a", ""), ("b", ""), ("c", "")]).await;
    let (r, got) = pop(&c, &pop_req("T_POP_ACK", -1, 32, 60_000)).await;
    assert_eq!(r.code, 0, "{:?}", r.remark);
    assert_eq!(bodies_of(&got), ["a", "b", "c"]);
    assert!(got.iter().all(|m| m.reconsume_times == 0));
    let h: PopMessageResponseHeader = r.decode_header().unwrap();
    assert_eq!(h.invisible_time, 60_000);
    // In flight: invisible to the next pop.
    let (r, none) = pop(&c, &pop_req("T_POP_ACK", -1, 32, 60_000)).await;
    assert_eq!(
        r.code,
        ResponseCode::PULL_NOT_FOUND.code(),
        "{:?}",
        r.remark
    );
    assert!(none.is_empty());
    for m in &got {
        let r = c.call(ack_cmd(m)).await;
        assert_eq!(r.code, 0, "{:?}", r.remark);
    }
    // Acked twice: the delivery is gone.
    assert_error(
        &c.call(ack_cmd(&got[0])).await,
        ResponseCode::NO_MESSAGE,
        "expired or unknown",
    );
    assert_eq!(c.broker.state().pop.inflight_count(), 0);
    c.shutdown().await;
}

#[tokio::test]
async fn unacked_messages_come_back_from_the_retry_topic_with_a_higher_attempt() {
    let c = TestCluster::start().await;
    one_queue_topic(&c, "T_POP_REVIVE", &[("x", "")]).await;
    let (_, first) = pop(&c, &pop_req("T_POP_REVIVE", 0, 1, 100)).await;
    assert_eq!(bodies_of(&first), ["x"]);
    let mut wait = pop_req("T_POP_REVIVE", -1, 1, 60_000);
    wait.poll_time = 20_000;
    let (r, again) = pop(&c, &wait).await;
    assert_eq!(r.code, 0, "{:?}", r.remark);
    assert_eq!(bodies_of(&again), ["x"]);
    assert_eq!(again[0].topic, "%RETRY%G_POP_T_POP_REVIVE");
    assert_eq!(again[0].reconsume_times, 1);
    // The first delivery's handle is dead; the new one acks.
    assert_error(
        &c.call(ack_cmd(&first[0])).await,
        ResponseCode::NO_MESSAGE,
        "",
    );
    let r = c.call(ack_cmd(&again[0])).await;
    assert_eq!(r.code, 0, "{:?}", r.remark);
    let (r, _) = pop(&c, &pop_req("T_POP_REVIVE", -1, 1, 60_000)).await;
    assert_eq!(r.code, ResponseCode::PULL_NOT_FOUND.code());
    c.shutdown().await;
}

#[tokio::test]
async fn change_invisible_time_returns_a_working_handle() {
    let c = TestCluster::start().await;
    one_queue_topic(&c, "T_POP_CHANGE", &[("x", "")]).await;
    let (_, got) = pop(&c, &pop_req("T_POP_CHANGE", -1, 1, 60_000)).await;
    let r = c.call(change_cmd(&got[0], 100)).await;
    assert_eq!(r.code, 0, "{:?}", r.remark);
    let h: ChangeInvisibleTimeResponseHeader = r.decode_header().unwrap();
    assert_eq!(h.invisible_time, 100);
    // Now visible again soon: a long poll gets the redelivery.
    let mut wait = pop_req("T_POP_CHANGE", -1, 1, 60_000);
    wait.poll_time = 20_000;
    let (r, again) = pop(&c, &wait).await;
    assert_eq!(r.code, 0, "{:?}", r.remark);
    assert_eq!(
        (bodies_of(&again), again[0].reconsume_times),
        (vec!["x".into()], 1)
    );
    // Extending a live delivery: the handle the Java client rebuilds from
    // the answer acks it.
    let r = c.call(change_cmd(&again[0], 30_000)).await;
    assert_eq!(r.code, 0, "{:?}", r.remark);
    let h: ChangeInvisibleTimeResponseHeader = r.decode_header().unwrap();
    let mut renewed = again[0].clone();
    renewed.extra_info = format!(
        "{off} {} {} {} 1 {} {} {off}",
        h.pop_time,
        h.invisible_time,
        h.revive_qid,
        c.broker_config.broker_name,
        renewed.queue_id,
        off = renewed.queue_offset
    );
    let r = c.call(ack_cmd(&renewed)).await;
    assert_eq!(r.code, 0, "{:?}", r.remark);
    c.shutdown().await;
}

#[tokio::test]
async fn past_the_groups_maximum_a_message_goes_to_the_dlq() {
    let c = TestCluster::start().await;
    set_max_retries(&c, 1);
    one_queue_topic(&c, "T_POP_DLQ", &[("d", "")]).await;
    let mut wait = pop_req("T_POP_DLQ", -1, 1, 100);
    wait.poll_time = 20_000;
    let (_, first) = pop(&c, &wait).await;
    assert_eq!(first[0].reconsume_times, 0);
    let (_, second) = pop(&c, &wait).await;
    assert_eq!(
        (bodies_of(&second), second[0].reconsume_times),
        (vec!["d".into()], 1)
    );
    // The second expiry passes the maximum (1 retry): dead letter.
    wait_queue(&c, "%DLQ%G_POP", 0, 1).await;
    let r = c.call(pull_cmd(&pull_req("%DLQ%G_POP", 0, 0, 0))).await;
    assert_eq!(r.code, 0, "{:?}", r.remark);
    assert_eq!(bodies(&r.body), vec![b"d".to_vec()]);
    let mut quick = pop_req("T_POP_DLQ", -1, 1, 60_000);
    quick.poll_time = 300;
    let (r, none) = pop(&c, &quick).await;
    assert_eq!(
        r.code,
        ResponseCode::POLLING_TIMEOUT.code(),
        "{:?}",
        r.remark
    );
    assert!(none.is_empty());
    c.shutdown().await;
}

#[tokio::test]
async fn orderly_pops_serve_each_queue_in_order_one_message_at_a_time() {
    let c = TestCluster::start().await;
    one_queue_topic(&c, "T_POP_ORDER", &[("o0", ""), ("o1", ""), ("o2", "")]).await;
    let mut h = pop_req("T_POP_ORDER", -1, 32, 60_000);
    h.order = Some(true);
    let (_, a) = pop(&c, &h).await;
    assert_eq!(bodies_of(&a), ["o0"]);
    // The queue is locked while o0 is in flight.
    let (r, none) = pop(&c, &h).await;
    assert_eq!(
        r.code,
        ResponseCode::PULL_NOT_FOUND.code(),
        "{:?}",
        r.remark
    );
    assert!(none.is_empty());
    assert_eq!(c.call(ack_cmd(&a[0])).await.code, 0);
    // o1 expires unacked: it comes back in place, before o2.
    let mut short = h.clone();
    short.invisible_time = 100;
    let (_, b) = pop(&c, &short).await;
    assert_eq!(bodies_of(&b), ["o1"]);
    let mut wait = h.clone();
    wait.poll_time = 20_000;
    let (r, again) = pop(&c, &wait).await;
    assert_eq!(r.code, 0, "{:?}", r.remark);
    assert_eq!(bodies_of(&again), ["o1"]);
    assert_eq!(
        (again[0].topic.as_str(), again[0].reconsume_times),
        ("T_POP_ORDER", 1)
    );
    assert_eq!(c.call(ack_cmd(&again[0])).await.code, 0);
    let (_, last) = pop(&c, &h).await;
    assert_eq!(
        (bodies_of(&last), last[0].reconsume_times),
        (vec!["o2".into()], 0)
    );
    c.shutdown().await;
}

#[tokio::test]
async fn an_orderly_pop_takes_the_head_of_every_free_queue() {
    let c = TestCluster::start().await;
    let topic = "T_POP_ORDER_QUEUES";
    c.broker
        .state()
        .topics
        .put(broker::topics::topic_config(topic, 2, 2, perm::READ_WRITE));
    for (q, body) in [(0, "q0a"), (0, "q0b"), (1, "q1a"), (1, "q1b")] {
        send_ok(&c, send_v1(topic, q, body.as_bytes(), "")).await;
    }
    wait_queue(&c, topic, 0, 2).await;
    wait_queue(&c, topic, 1, 2).await;
    let mut h = pop_req(topic, -1, 32, 60_000);
    h.order = Some(true);
    let (_, got) = pop(&c, &h).await;
    let mut heads = bodies_of(&got);
    heads.sort();
    assert_eq!(heads, ["q0a", "q1a"]);
    let q1 = got.iter().find(|m| m.queue_id == 1).unwrap();
    assert_eq!(c.call(ack_cmd(q1)).await.code, 0);
    // Queue 0 is still locked; queue 1 moves on.
    let (_, next) = pop(&c, &h).await;
    assert_eq!(bodies_of(&next), ["q1b"]);
    c.shutdown().await;
}

#[tokio::test]
async fn tag_and_sql_filters_select_what_is_popped() {
    let c = TestCluster::start_with(|b, _| b.enable_property_filter = true).await;
    one_queue_topic(&c, "T_POP_TAG", &[("a1", "A"), ("b1", "B"), ("a2", "A")]).await;
    let mut h = pop_req("T_POP_TAG", -1, 32, 60_000);
    h.exp = Some("A".into());
    let (_, got) = pop(&c, &h).await;
    assert_eq!(bodies_of(&got), ["a1", "a2"]);

    one_queue_topic(&c, "T_POP_SQL", &[("b", "B"), ("a", "A")]).await;
    let mut h = pop_req("T_POP_SQL", -1, 32, 60_000);
    h.exp_type = Some("SQL92".into());
    h.exp = Some("TAGS = 'B'".into());
    let (_, got) = pop(&c, &h).await;
    assert_eq!(bodies_of(&got), ["b"]);
    h.exp = Some("TAGS = = ".into());
    let (r, _) = pop(&c, &h).await;
    assert_eq!(
        r.code,
        ResponseCode::SUBSCRIPTION_PARSE_FAILED.code(),
        "{:?}",
        r.remark
    );
    c.shutdown().await;
}

#[tokio::test]
async fn a_long_poll_is_answered_when_a_message_arrives() {
    let c = TestCluster::start().await;
    one_queue_topic(&c, "T_POP_POLL", &[]).await;
    let mut h = pop_req("T_POP_POLL", -1, 4, 60_000);
    h.poll_time = 20_000;
    let waiting = {
        let (c2, h2) = (&c, h.clone());
        async move { pop(c2, &h2).await }
    };
    let sender = async {
        // Wait until the pop is parked, then send.
        let info = RemotingCommand::request_with_header(
            RequestCode::POLLING_INFO,
            &PollingInfoRequestHeader {
                consumer_group: POP_GROUP.into(),
                topic: "T_POP_POLL".into(),
                queue_id: -1,
                broker_name: None,
            },
        );
        loop {
            let r = c.call(info.clone()).await;
            assert_eq!(r.code, 0, "{:?}", r.remark);
            let n = r
                .decode_header::<PollingInfoResponseHeader>()
                .unwrap()
                .polling_num;
            if n == 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        send_ok(&c, send_v1("T_POP_POLL", 0, b"late", "")).await;
    };
    let ((r, got), ()) = tokio::join!(waiting, sender);
    assert_eq!(r.code, 0, "{:?}", r.remark);
    assert_eq!(bodies_of(&got), ["late"]);
    c.shutdown().await;
}

#[tokio::test]
async fn peek_and_notification_look_without_taking() {
    let c = TestCluster::start().await;
    one_queue_topic(&c, "T_POP_PEEK", &[("p", "")]).await;
    let peek = RemotingCommand::request_with_header(
        RequestCode::PEEK_MESSAGE,
        &PeekMessageRequestHeader {
            consumer_group: POP_GROUP.into(),
            topic: "T_POP_PEEK".into(),
            queue_id: 0,
            max_msg_nums: 8,
            broker_name: None,
        },
    );
    let notify = RemotingCommand::request_with_header(
        RequestCode::NOTIFICATION,
        &NotificationRequestHeader {
            consumer_group: POP_GROUP.into(),
            topic: "T_POP_PEEK".into(),
            queue_id: -1,
            poll_time: 0,
            ..Default::default()
        },
    );
    for _ in 0..2 {
        let r = c.call(peek.clone()).await;
        assert_eq!((r.code, bodies(&r.body)), (0, vec![b"p".to_vec()]));
    }
    let has = |r: &RemotingCommand| {
        r.decode_header::<NotificationResponseHeader>()
            .unwrap()
            .has_msg
    };
    assert!(has(&c.call(notify.clone()).await));
    let (_, got) = pop(&c, &pop_req("T_POP_PEEK", -1, 8, 60_000)).await;
    assert_eq!(bodies_of(&got), ["p"]);
    assert!(!has(&c.call(notify).await));
    assert_eq!(c.call(peek).await.code, ResponseCode::PULL_NOT_FOUND.code());
    c.shutdown().await;
}

#[tokio::test]
async fn batch_ack_settles_every_marked_offset() {
    let c = TestCluster::start().await;
    one_queue_topic(&c, "T_POP_BATCH", &[("0", ""), ("1", ""), ("2", "")]).await;
    let (r, got) = pop(&c, &pop_req("T_POP_BATCH", -1, 32, 60_000)).await;
    let h: PopMessageResponseHeader = r.decode_header().unwrap();
    let start = got[0].queue_offset;
    // Offsets start and start+2: bits 0 and 2.
    let body = BatchAckMessageRequestBody {
        broker_name: c.broker_config.broker_name.clone(),
        acks: vec![BatchAck {
            consumer_group: POP_GROUP.into(),
            topic: "T_POP_BATCH".into(),
            retry: "0".into(),
            start_offset: start,
            queue_id: 0,
            revive_queue_id: h.revive_qid,
            pop_time: h.pop_time,
            invisible_time: h.invisible_time,
            bit_set: vec![0b101],
        }],
    };
    let json = String::from_utf8(body.to_json_bytes().unwrap()).unwrap();
    assert!(json.contains(r#""b":"BQ==""#), "{json}");
    let r = c
        .call(RemotingCommand::request(RequestCode::BATCH_ACK_MESSAGE).with_body(json))
        .await;
    assert_eq!(r.code, 0, "{:?}", r.remark);
    assert_eq!(c.broker.state().pop.inflight_count(), 1);
    assert_eq!(
        c.call(ack_cmd(&got[0])).await.code,
        ResponseCode::NO_MESSAGE.code()
    );
    assert_eq!(c.call(ack_cmd(&got[1])).await.code, 0);
    let r = c
        .call(RemotingCommand::request(RequestCode::BATCH_ACK_MESSAGE).with_body("{not json"))
        .await;
    assert_eq!(
        r.code,
        ResponseCode::INVALID_PARAMETER.code(),
        "{:?}",
        r.remark
    );
    c.shutdown().await;
}

#[tokio::test]
async fn bad_pop_input_gets_a_clear_error_and_changes_nothing() {
    let c = TestCluster::start().await;
    one_queue_topic(&c, "T_POP_BAD", &[("x", "")]).await;
    let mut h = pop_req("T_POP_BAD", -1, 0, 60_000);
    assert_error(
        &pop(&c, &h).await.0,
        ResponseCode::INVALID_PARAMETER,
        "maxMsgNums",
    );
    h.max_msg_nums = 33;
    assert_error(
        &pop(&c, &h).await.0,
        ResponseCode::INVALID_PARAMETER,
        "maxMsgNums",
    );
    h.max_msg_nums = 1;
    h.invisible_time = -5;
    assert_error(
        &pop(&c, &h).await.0,
        ResponseCode::INVALID_PARAMETER,
        "invisibleTime",
    );
    h.invisible_time = 60_000;
    h.queue_id = 7;
    assert_error(
        &pop(&c, &h).await.0,
        ResponseCode::INVALID_PARAMETER,
        "queueId[7]",
    );
    let h = pop_req("T_POP_NOPE", -1, 1, 60_000);
    assert_error(
        &pop(&c, &h).await.0,
        ResponseCode::TOPIC_NOT_EXIST,
        "T_POP_NOPE",
    );
    let mut missing = pop_cmd(&pop_req("T_POP_BAD", -1, 1, 60_000));
    missing.ext_fields.remove("consumerGroup");
    assert_error(
        &c.call(missing).await,
        ResponseCode::INVALID_PARAMETER,
        "consumerGroup",
    );

    let (_, got) = pop(&c, &pop_req("T_POP_BAD", -1, 1, 60_000)).await;
    let mut forged = got[0].clone();
    forged.extra_info = "1 2 three".into();
    assert_error(
        &c.call(ack_cmd(&forged)).await,
        ResponseCode::INVALID_PARAMETER,
        "extraInfo",
    );
    forged.extra_info = got[0].extra_info.replace("broker", "other");
    assert_error(
        &c.call(ack_cmd(&forged)).await,
        ResponseCode::INVALID_PARAMETER,
        "other",
    );
    let r = c.call(change_cmd(&got[0], -1)).await;
    assert_error(&r, ResponseCode::INVALID_PARAMETER, "invisibleTime");
    // None of that touched the delivery.
    assert_eq!(c.call(ack_cmd(&got[0])).await.code, 0);
    c.shutdown().await;
}

#[tokio::test]
async fn an_orderly_message_past_the_maximum_goes_to_the_dlq_and_the_queue_moves_on() {
    let c = TestCluster::start().await;
    set_max_retries(&c, 1);
    one_queue_topic(&c, "T_POP_ORDER_DLQ", &[("first", ""), ("second", "")]).await;
    let mut h = pop_req("T_POP_ORDER_DLQ", -1, 1, 100);
    h.order = Some(true);
    h.poll_time = 20_000;
    let (_, a) = pop(&c, &h).await;
    let (_, b) = pop(&c, &h).await;
    assert_eq!(bodies_of(&a), ["first"]);
    assert_eq!(
        (bodies_of(&b), b[0].reconsume_times),
        (vec!["first".into()], 1)
    );
    // Two attempts were the maximum: the next pop gets the next message.
    h.invisible_time = 60_000;
    let (r, c2) = pop(&c, &h).await;
    assert_eq!(r.code, 0, "{:?}", r.remark);
    assert_eq!(
        (bodies_of(&c2), c2[0].reconsume_times),
        (vec!["second".into()], 0)
    );
    wait_queue(&c, "%DLQ%G_POP", 0, 1).await;
    let r = c.call(pull_cmd(&pull_req("%DLQ%G_POP", 0, 0, 0))).await;
    assert_eq!(bodies(&r.body), vec![b"first".to_vec()]);
    c.shutdown().await;
}

#[tokio::test]
async fn pop_state_survives_a_restart() {
    let c = TestCluster::start().await;
    one_queue_topic(
        &c,
        "T_POP_RESTART",
        &[("acked", ""), ("held", ""), ("fresh", "")],
    )
    .await;
    let (_, got) = pop(&c, &pop_req("T_POP_RESTART", -1, 2, 1_000)).await;
    assert_eq!(bodies_of(&got), ["acked", "held"]);
    assert_eq!(c.call(ack_cmd(&got[0])).await.code, 0);
    let c = c.restart_broker().await;
    // The acked message stays acked; the held one comes back once its
    // invisible time passes, and its old handle is then dead.
    let held = got[1].clone();
    let mut h = pop_req("T_POP_RESTART", -1, 32, 60_000);
    let (_, next) = pop(&c, &h).await;
    assert_eq!(bodies_of(&next), ["fresh"]);
    h.poll_time = 20_000;
    let (_, back) = pop(&c, &h).await;
    assert_eq!(
        (bodies_of(&back), back[0].reconsume_times),
        (vec!["held".into()], 1)
    );
    assert_eq!(
        c.call(ack_cmd(&held)).await.code,
        ResponseCode::NO_MESSAGE.code()
    );
    c.shutdown().await;
}

#[tokio::test]
async fn an_admin_reset_moves_a_pop_group_back() {
    let c = TestCluster::start().await;
    one_queue_topic(&c, "T_POP_RESET", &[("r0", ""), ("r1", "")]).await;
    let (_, got) = pop(&c, &pop_req("T_POP_RESET", -1, 32, 60_000)).await;
    assert_eq!(bodies_of(&got), ["r0", "r1"]);
    for m in &got {
        assert_eq!(c.call(ack_cmd(m)).await.code, 0);
    }
    let reset = RemotingCommand::request_with_header(
        RequestCode::INVOKE_BROKER_TO_RESET_OFFSET,
        &protocol::header::offset::ResetOffsetRequestHeader {
            topic: "T_POP_RESET".into(),
            group: POP_GROUP.into(),
            queue_id: None,
            offset: Some(1),
            timestamp: 0,
            is_force: true,
        },
    );
    // No consumer is connected: the broker stores the reset and says so.
    let r = c.call(reset).await;
    assert!(
        r.code == 0 || r.code == ResponseCode::CONSUMER_NOT_ONLINE.code(),
        "{r:?}"
    );
    let (_, again) = pop(&c, &pop_req("T_POP_RESET", -1, 32, 60_000)).await;
    assert_eq!(bodies_of(&again), ["r1"]);
    c.shutdown().await;
}

#[tokio::test]
async fn a_notification_long_poll_answers_when_a_message_arrives() {
    let c = TestCluster::start().await;
    one_queue_topic(&c, "T_POP_NOTIFY", &[]).await;
    let notify = RemotingCommand::request_with_header(
        RequestCode::NOTIFICATION,
        &NotificationRequestHeader {
            consumer_group: POP_GROUP.into(),
            topic: "T_POP_NOTIFY".into(),
            queue_id: -1,
            poll_time: 20_000,
            ..Default::default()
        },
    );
    let addr = c.broker_addr();
    let waiting = c.client.invoke(&addr, notify, Duration::from_secs(30));
    let sender = async {
        // Send once the notification is parked (it counts as polling).
        let info = RemotingCommand::request_with_header(
            RequestCode::POLLING_INFO,
            &PollingInfoRequestHeader {
                consumer_group: POP_GROUP.into(),
                topic: "T_POP_NOTIFY".into(),
                queue_id: 0,
                broker_name: None,
            },
        );
        while c
            .call(info.clone())
            .await
            .decode_header::<PollingInfoResponseHeader>()
            .unwrap()
            .polling_num
            == 0
        {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        send_ok(&c, send_v1("T_POP_NOTIFY", 0, b"n", "")).await;
    };
    let (r, ()) = tokio::join!(waiting, sender);
    let r = r.unwrap();
    assert_eq!(r.code, 0, "{:?}", r.remark);
    let h: NotificationResponseHeader = r.decode_header().unwrap();
    assert!(h.has_msg);
    assert_eq!(h.polling_full, Some(false));
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_pops_hand_out_each_message_once() {
    let c = std::sync::Arc::new(TestCluster::start().await);
    let topic = "T_POP_CONCURRENT";
    c.broker
        .state()
        .topics
        .put(broker::topics::topic_config(topic, 4, 4, perm::READ_WRITE));
    for i in 0..200 {
        send_ok(&c, send_v1(topic, i % 4, format!("c{i}").as_bytes(), "")).await;
    }
    for q in 0..4 {
        wait_queue(&c, topic, q, 50).await;
    }
    let tasks: Vec<_> = (0..4)
        .map(|_| {
            let c = c.clone();
            tokio::spawn(async move {
                let mut mine = Vec::new();
                loop {
                    let (r, got) = pop(&c, &pop_req(topic, -1, 7, 60_000)).await;
                    if got.is_empty() {
                        assert_eq!(
                            r.code,
                            ResponseCode::PULL_NOT_FOUND.code(),
                            "{:?}",
                            r.remark
                        );
                        return mine;
                    }
                    for m in &got {
                        assert_eq!(c.call(ack_cmd(m)).await.code, 0);
                    }
                    mine.extend(bodies_of(&got));
                }
            })
        })
        .collect();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    all.sort();
    let unique: std::collections::BTreeSet<_> = all.iter().cloned().collect();
    assert_eq!((all.len(), unique.len()), (200, 200));
    match std::sync::Arc::try_unwrap(c) {
        Ok(c) => c.shutdown().await,
        Err(_) => panic!("cluster still shared"),
    }
}
