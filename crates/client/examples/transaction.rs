//! Transactional messages: a half message, a local transaction, then
//! commit or rollback; unknown outcomes are settled by the checker.
//!
//! `cargo run -p apogee-client --example transaction [namesrv]`

use std::time::Duration;

use client::{Message, TransactionProducer, TransactionState};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt().with_env_filter("info").init();
    let ns = std::env::args()
        .nth(1)
        .unwrap_or_else(|| client::DEFAULT_NAMESRV.to_string());
    let producer = TransactionProducer::builder()
        .namesrv(&ns)
        .group("TxPG")
        .checker(|msg| async move {
            // A real checker looks the transaction up (e.g. in a database).
            println!("broker checks {}", msg.msg_id);
            TransactionState::Commit
        })
        .build()
        .await?;
    for (i, state) in [
        TransactionState::Commit,
        TransactionState::Rollback,
        TransactionState::Unknown,
    ]
    .into_iter()
    .enumerate()
    {
        let msg = Message::new("TxTopic", format!("tx {i}"));
        let r = producer
            .send_in_transaction(msg, move |_msg, _sent| async move { state })
            .await?;
        println!("{} -> {:?}", r.send.msg_id, r.state);
    }
    // Give the broker time to check the unknown one back.
    tokio::time::sleep(Duration::from_secs(70)).await;
    producer.shutdown().await;
    Ok(())
}
