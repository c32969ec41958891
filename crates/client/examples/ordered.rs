//! Ordered messages: every step of an order goes to the queue chosen by
//! the order id, and an orderly listener sees each queue in order.
//!
//! `cargo run -p apogee-client --example ordered [namesrv]`

use std::time::Duration;

use client::producer::select_by_key;
use client::{ConsumeFrom, ConsumeResult, Message, Producer, PushConsumer};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt().with_env_filter("info").init();
    let ns = std::env::args()
        .nth(1)
        .unwrap_or_else(|| client::DEFAULT_NAMESRV.to_string());
    let producer = Producer::builder()
        .namesrv(&ns)
        .group("OrderPG")
        .build()
        .await?;
    for order in 0..4 {
        let order_id = format!("order-{order}");
        for step in ["created", "paid", "shipped", "done"] {
            let msg = Message::new("OrderTopic", format!("{order_id}:{step}"))
                .with_keys([order_id.clone()]);
            let id = order_id.clone();
            let r = producer
                .send_with_selector(msg, move |queues, _| select_by_key(queues, &id))
                .await?;
            println!("{order_id} {step} -> queue {}", r.queue.queue_id);
        }
    }
    let consumer = PushConsumer::builder()
        .namesrv(&ns)
        .group("OrderCG")
        .subscribe("OrderTopic", "*")
        .consume_from(ConsumeFrom::FirstOffset)
        .orderly_listener(|msgs| async move {
            for m in &msgs {
                println!(
                    "queue {} offset {}: {}",
                    m.queue_id,
                    m.queue_offset,
                    String::from_utf8_lossy(&m.body)
                );
            }
            ConsumeResult::Success
        })
        .build()
        .await?;
    tokio::time::sleep(Duration::from_secs(10)).await;
    consumer.shutdown().await;
    producer.shutdown().await;
    Ok(())
}
