//! The lite pull consumer: assign queues, poll, seek back, commit.
//!
//! `cargo run -p apogee-client --example lite_pull [namesrv]`

use std::time::Duration;

use client::{ConsumeFrom, LitePullConsumer, Message, Producer};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt().with_env_filter("info").init();
    let ns = std::env::args()
        .nth(1)
        .unwrap_or_else(|| client::DEFAULT_NAMESRV.to_string());
    let producer = Producer::builder()
        .namesrv(&ns)
        .group("LitePG")
        .build()
        .await?;
    for i in 0..10 {
        producer
            .send(Message::new("LiteTopic", format!("lite {i}")))
            .await?;
    }
    let consumer = LitePullConsumer::builder()
        .namesrv(&ns)
        .group("LiteCG")
        .consume_from(ConsumeFrom::FirstOffset)
        .build()
        .await?;
    let queues = consumer.fetch_queues("LiteTopic").await?;
    consumer.assign(queues.clone()).await?;
    let mut total = 0;
    while total < 10 {
        let msgs = consumer.poll(Duration::from_secs(5)).await?;
        if msgs.is_empty() {
            break;
        }
        for m in &msgs {
            println!(
                "polled {}#{} {}",
                m.queue_id,
                m.queue_offset,
                String::from_utf8_lossy(&m.body)
            );
        }
        total += msgs.len();
    }
    consumer.commit().await?;
    if let Some(mq) = queues.first() {
        consumer.seek(mq, 0).await?;
        let again = consumer.poll(Duration::from_secs(5)).await?;
        println!("after seek to 0: {} message(s) again", again.len());
    }
    consumer.shutdown().await;
    producer.shutdown().await;
    Ok(())
}
