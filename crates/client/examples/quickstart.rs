//! Sends ten messages and consumes them with a push consumer.
//!
//! Run against `apogee standalone`:
//! `cargo run -p apogee-client --example quickstart [namesrv]`

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use client::{ConsumeFrom, ConsumeResult, Message, Producer, PushConsumer};

fn namesrv() -> String {
    std::env::args()
        .nth(1)
        .or_else(|| std::env::var("APOGEE_NAMESRV").ok())
        .unwrap_or_else(|| client::DEFAULT_NAMESRV.to_string())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt().with_env_filter("info").init();
    let ns = namesrv();
    let producer = Producer::builder()
        .namesrv(&ns)
        .group("QuickstartPG")
        .build()
        .await?;
    for i in 0..10 {
        let msg = Message::new("QuickstartTopic", format!("hello {i}"))
            .with_tags("TagA")
            .with_keys([format!("key-{i}")]);
        let r = producer.send(msg).await?;
        println!(
            "sent {} -> {}#{} @{}",
            r.msg_id, r.queue.broker_name, r.queue.queue_id, r.queue_offset
        );
    }

    let seen = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&seen);
    let consumer = PushConsumer::builder()
        .namesrv(&ns)
        .group("QuickstartCG")
        .subscribe("QuickstartTopic", "TagA")
        .consume_from(ConsumeFrom::FirstOffset)
        .listener(move |msgs| {
            let counter = Arc::clone(&counter);
            async move {
                for m in &msgs {
                    println!(
                        "received {} {:?}",
                        m.msg_id,
                        String::from_utf8_lossy(&m.body)
                    );
                }
                counter.fetch_add(msgs.len(), Ordering::Relaxed);
                ConsumeResult::Success
            }
        })
        .build()
        .await?;
    for _ in 0..60 {
        if seen.load(Ordering::Relaxed) >= 10 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    println!("consumed {} messages", seen.load(Ordering::Relaxed));
    consumer.shutdown().await;
    producer.shutdown().await;
    Ok(())
}
