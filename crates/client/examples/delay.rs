//! Delayed messages: by delay level (level 3 = 10 s) and, on 5.x-style
//! brokers with timer support, by absolute delivery time.
//!
//! `cargo run -p apogee-client --example delay [namesrv]`

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use client::{ConsumeResult, Message, Producer, PushConsumer};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt().with_env_filter("info").init();
    let ns = std::env::args()
        .nth(1)
        .unwrap_or_else(|| client::DEFAULT_NAMESRV.to_string());
    let producer = Producer::builder()
        .namesrv(&ns)
        .group("DelayPG")
        .build()
        .await?;
    let consumer = PushConsumer::builder()
        .namesrv(&ns)
        .group("DelayCG")
        .subscribe("DelayTopic", "*")
        .listener(|msgs| async move {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_millis())
                .unwrap_or(0);
            for m in &msgs {
                let waited = now as i64 - m.born_timestamp;
                println!(
                    "{} delivered after {waited} ms",
                    String::from_utf8_lossy(&m.body)
                );
            }
            ConsumeResult::Success
        })
        .build()
        .await?;
    producer
        .send(Message::new("DelayTopic", "level 3 (10 s)").with_delay_level(3))
        .await?;
    let at = SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis() as i64 + 5_000;
    producer
        .send(Message::new("DelayTopic", "deliver at +5 s").with_deliver_time_ms(at))
        .await?;
    tokio::time::sleep(Duration::from_secs(20)).await;
    consumer.shutdown().await;
    producer.shutdown().await;
    Ok(())
}
