//! Create then send: a topic created through the admin API takes sends at
//! once, whatever its queue count. The broker answers the creation only
//! after the NameServers route the topic, so the producer never sends by
//! the TBW102 template's route (whose queue ids the broker would refuse).

use client::admin::TopicSpec;
use client::Admin;
use client::{Message, SendStatus};
use testkit::TestCluster;

use crate::support::producer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_created_topic_takes_sends_at_once_with_any_queue_count() {
    let cluster = TestCluster::start().await;
    let ns = cluster.namesrv_addr();
    let producer = producer(&ns, "CreateSendPG").await;
    let admin = Admin::connect(&ns).unwrap();
    for queues in [1, 2, 3, 7, 16] {
        let topic = format!("CreateSend{queues}");
        admin
            .create_topic(None, &TopicSpec::new(&topic, queues))
            .await
            .unwrap();
        for i in 0..12 {
            let r = producer
                .send(Message::new(&topic, format!("m{i}")))
                .await
                .unwrap_or_else(|e| panic!("{topic}: send {i} right after create: {e}"));
            assert_eq!(r.status, SendStatus::Ok);
            assert!(r.queue.queue_id < queues, "{topic}: {:?}", r.queue);
        }
    }
    admin.shutdown().await;
}
