//! The Telemetry stream: a client's settings in, the effective settings
//! (and later transaction checks) out. The response stream opens at once
//! and stays open until the client ends it or the server stops.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Streaming;

use crate::auth::{self, Caller};
use crate::convert;
use crate::core::Core;
use crate::error::ok;
use crate::pb::{self, settings::PubSub, telemetry_command::Command, TelemetryCommand};
use crate::settings;

static STREAMS: AtomicU64 = AtomicU64::new(1);

/// What the server sends on one stream.
pub type Outbound = ReceiverStream<Result<TelemetryCommand, tonic::Status>>;

/// Starts serving one Telemetry stream of `client`.
pub fn open(
    core: Arc<Core>,
    client: String,
    caller: Caller,
    inbound: Streaming<TelemetryCommand>,
) -> Outbound {
    let (tx, rx) = mpsc::channel(64);
    let stream = STREAMS.fetch_add(1, Ordering::Relaxed);
    let cancel = core.cancel.clone();
    let tasks = core.tasks.clone();
    tasks.spawn(async move {
        tokio::select! {
            _ = cancel.cancelled() => {}
            _ = serve(&core, &client, &caller, stream, inbound, &tx) => {}
        }
        core.sessions.remove(&client, stream);
    });
    ReceiverStream::new(rx)
}

async fn serve(
    core: &Core,
    client: &str,
    caller: &Caller,
    stream: u64,
    mut inbound: Streaming<TelemetryCommand>,
    tx: &mpsc::Sender<Result<TelemetryCommand, tonic::Status>>,
) {
    loop {
        let cmd = match inbound.message().await {
            Ok(Some(cmd)) => cmd,
            Ok(None) => return,
            Err(e) => {
                tracing::debug!(%client, error = %e, "telemetry stream ended");
                return;
            }
        };
        if let Some(Command::Settings(s)) = &cmd.command {
            // A refused client gets the status on the stream, which then ends.
            if let Err(e) = auth::check(core, caller, "Telemetry", auth::settings_needs(s)) {
                let denied = TelemetryCommand {
                    status: Some(e.status()),
                    command: None,
                };
                let _ = tx.send(Ok(denied)).await;
                return;
            }
        }
        match cmd.command {
            Some(Command::Settings(s)) => match on_settings(core, client, stream, s, tx).await {
                Ok(reply) => {
                    if tx.send(Ok(reply)).await.is_err() {
                        return;
                    }
                }
                Err(status) => {
                    let _ = tx.send(Err(status)).await;
                    return;
                }
            },
            Some(Command::ThreadStackTrace(_)) | Some(Command::VerifyMessageResult(_)) => {
                tracing::debug!(%client, "telemetry answer received");
            }
            other => {
                tracing::debug!(%client, command = ?other.is_some(), "unexpected telemetry command ignored")
            }
        }
    }
}

/// The settings to answer `s` with (the consumer group's FIFO flag looked
/// up on a broker of its first topic).
pub async fn reply_for(core: &Core, s: &pb::Settings) -> TelemetryCommand {
    let mut fifo = false;
    if let Some(PubSub::Subscription(sub)) = &s.pub_sub {
        let group = sub
            .group
            .as_ref()
            .map(|g| g.name.clone())
            .unwrap_or_default();
        if let Some(topic) = sub
            .subscriptions
            .iter()
            .filter_map(|e| e.topic.as_ref())
            .next()
        {
            if let Ok(route) = core.upstream.route(&topic.name).await {
                fifo = core.upstream.group_orderly(&group, &route).await;
            }
        }
    }
    TelemetryCommand {
        status: Some(ok()),
        command: Some(Command::Settings(settings::effective(s, fifo))),
    }
}

/// Sends the settings again on a client's first heartbeat.
pub async fn repush(core: &Core, client: &str) {
    if let Some((s, sender)) = core.sessions.first_repush(client) {
        let reply = reply_for(core, &s).await;
        let _ = sender.try_send(Ok(reply));
    }
}

async fn on_settings(
    core: &Core,
    client: &str,
    stream: u64,
    s: pb::Settings,
    tx: &mpsc::Sender<Result<TelemetryCommand, tonic::Status>>,
) -> Result<TelemetryCommand, tonic::Status> {
    match &s.pub_sub {
        Some(PubSub::Publishing(p)) => {
            for t in &p.topics {
                convert::check_topic(&t.name)
                    .map_err(|e| tonic::Status::invalid_argument(e.to_string()))?;
            }
        }
        Some(PubSub::Subscription(sub)) => {
            let group = sub
                .group
                .as_ref()
                .map(|g| g.name.clone())
                .unwrap_or_default();
            convert::check_group(&group)
                .map_err(|e| tonic::Status::invalid_argument(e.to_string()))?;
        }
        None => {
            return Err(tonic::Status::invalid_argument(
                "settings carry neither publishing nor subscription",
            ))
        }
    }
    let producer = matches!(s.pub_sub, Some(PubSub::Publishing(_)));
    core.sessions
        .register(client, stream, s.clone(), tx.clone());
    if producer {
        core.heartbeat_now.notify_one();
    }
    Ok(reply_for(core, &s).await)
}
