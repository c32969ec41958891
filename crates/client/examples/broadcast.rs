//! Broadcasting: two members of one group each receive every message;
//! offsets are kept in local files.
//!
//! `cargo run -p apogee-client --example broadcast [namesrv]`

use std::time::Duration;

use client::{ConsumeFrom, ConsumeResult, Message, Producer, PushConsumer};

async fn member(ns: &str, name: &'static str) -> client::Result<PushConsumer> {
    PushConsumer::builder()
        .namesrv(ns)
        .group("BroadcastCG")
        .broadcasting()
        .subscribe("BroadcastTopic", "*")
        .consume_from(ConsumeFrom::FirstOffset)
        .listener(move |msgs| async move {
            for m in &msgs {
                println!("{name} got {}", String::from_utf8_lossy(&m.body));
            }
            ConsumeResult::Success
        })
        .build()
        .await
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt().with_env_filter("info").init();
    let ns = std::env::args()
        .nth(1)
        .unwrap_or_else(|| client::DEFAULT_NAMESRV.to_string());
    let producer = Producer::builder()
        .namesrv(&ns)
        .group("BroadcastPG")
        .build()
        .await?;
    for i in 0..5 {
        producer
            .send(Message::new("BroadcastTopic", format!("news {i}")))
            .await?;
    }
    let a = member(&ns, "member-a").await?;
    let b = member(&ns, "member-b").await?;
    tokio::time::sleep(Duration::from_secs(10)).await;
    a.shutdown().await;
    b.shutdown().await;
    producer.shutdown().await;
    Ok(())
}
