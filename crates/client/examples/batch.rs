//! Batch sends: many small messages of one topic in one request, split
//! to stay under the 4 MiB limit.
//!
//! `cargo run -p apogee-client --example batch [namesrv]`

use client::producer::split_batches;
use client::{Message, Producer};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt().with_env_filter("info").init();
    let ns = std::env::args()
        .nth(1)
        .unwrap_or_else(|| client::DEFAULT_NAMESRV.to_string());
    let producer = Producer::builder()
        .namesrv(&ns)
        .group("BatchPG")
        .build()
        .await?;
    let msgs: Vec<Message> = (0..1000)
        .map(|i| Message::new("BatchTopic", format!("batch message {i}")).with_tags("B"))
        .collect();
    for batch in split_batches(msgs, 1024 * 1024) {
        let n = batch.len();
        let r = producer.send_batch(batch).await?;
        println!(
            "batch of {n} -> queue {} first offset {}",
            r.queue.queue_id, r.queue_offset
        );
    }
    producer.shutdown().await;
    Ok(())
}
