//! Priority by dedicated queues: urgent messages go to their own topic, and
//! the consumer always drains that topic before it takes normal work.
//!
//! `cargo run -p apogee-client --example priority [namesrv]`

use std::time::Duration;

use client::{ConsumeFrom, LitePullConsumer, Message, MessageExt, Producer};

const HIGH: &str = "OrdersHigh";
const NORMAL: &str = "OrdersNormal";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt().with_env_filter("info").init();
    let ns = std::env::args()
        .nth(1)
        .unwrap_or_else(|| client::DEFAULT_NAMESRV.to_string());
    let producer = Producer::builder()
        .namesrv(&ns)
        .group("PriorityPG")
        .build()
        .await?;
    // A backlog of normal work, then a few urgent orders behind it.
    for i in 0..20 {
        producer
            .send(Message::new(NORMAL, format!("normal {i}")))
            .await?;
    }
    for i in 0..3 {
        producer
            .send(Message::new(HIGH, format!("urgent {i}")))
            .await?;
    }

    let high = consumer(&ns, "PriorityHighCG", HIGH).await?;
    let normal = consumer(&ns, "PriorityNormalCG", NORMAL).await?;
    let mut handled = 0;
    while handled < 23 {
        // Urgent work first: a short poll of the high-priority topic.
        let urgent = high.poll(Duration::from_millis(100)).await?;
        if !urgent.is_empty() {
            handled += handle("HIGH  ", &urgent);
            continue;
        }
        // Only when nothing urgent waits, one batch of normal work.
        let work = normal.poll(Duration::from_millis(500)).await?;
        if work.is_empty() && urgent.is_empty() {
            break;
        }
        handled += handle("normal", &work);
    }
    high.commit().await?;
    normal.commit().await?;
    high.shutdown().await;
    normal.shutdown().await;
    producer.shutdown().await;
    Ok(())
}

async fn consumer(ns: &str, group: &str, topic: &str) -> client::Result<LitePullConsumer> {
    let c = LitePullConsumer::builder()
        .namesrv(ns)
        .group(group)
        .consume_from(ConsumeFrom::FirstOffset)
        .build()
        .await?;
    let queues = c.fetch_queues(topic).await?;
    c.assign(queues).await?;
    Ok(c)
}

fn handle(kind: &str, msgs: &[MessageExt]) -> usize {
    for m in msgs {
        println!("{kind} {}", String::from_utf8_lossy(&m.body));
    }
    msgs.len()
}
