//! `/metrics`: Prometheus text format with Apache RocketMQ 5's metric names
//! and labels (as its OpenTelemetry exporter prints them since 5.1.4).
//! Counters come from the broker's registry; gauges are computed from the
//! broker's tables at scrape time; NameServer figures from its route table
//! and request counts; process figures from `/proc`.

mod broker_counters;
mod broker_events;
mod broker_gauges;
mod encode;
mod namesrv;
mod process;

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use broker::state::BrokerState;
use prometheus_client::registry::Registry;

use crate::sources::Sources;

/// The content type of the classic Prometheus text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// GET /metrics.
pub async fn handler(State(s): State<Sources>) -> Response {
    // Lag gauges walk every group and queue: keep that off the runtime's
    // worker threads.
    match tokio::task::spawn_blocking(move || render(&s)).await {
        Ok(Ok(text)) => ([(header::CONTENT_TYPE, CONTENT_TYPE)], text).into_response(),
        Ok(Err(e)) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

/// The whole page.
///
/// # Errors
/// Only a formatting failure of the encoder.
pub fn render(s: &Sources) -> Result<String, std::fmt::Error> {
    let mut out = String::new();
    if let Some(b) = &s.broker {
        let mut registry = Registry::with_labels(base_labels(b).into_iter());
        registry.register_collector(Box::new(broker_counters::Counters(b.clone())));
        registry.register_collector(Box::new(broker_gauges::Gauges(b.clone())));
        registry.register_collector(Box::new(broker_events::Events(b.clone())));
        prometheus_client::encoding::prometheus_text::encode(&mut out, &registry)?;
    }
    if let Some(n) = &s.namesrv {
        let labels: Vec<Label> = vec![("node_type".into(), "namesrv".into())];
        let mut registry = Registry::with_labels(labels.into_iter());
        registry.register_collector(Box::new(namesrv::Namesrv(n.clone())));
        prometheus_client::encoding::prometheus_text::encode(&mut out, &registry)?;
    }
    // Process figures carry no broker labels: they describe the process
    // (broker, NameServer or console alike).
    let mut proc_registry = Registry::default();
    proc_registry.register_collector(Box::new(process::Process));
    prometheus_client::encoding::prometheus_text::encode(&mut out, &proc_registry)?;
    Ok(out)
}

type Label = (
    std::borrow::Cow<'static, str>,
    std::borrow::Cow<'static, str>,
);

/// `cluster`, `node_type`, `node_id` (the broker name, as Apache uses it).
fn base_labels(b: &Arc<BrokerState>) -> Vec<Label> {
    vec![
        (
            "cluster".into(),
            b.config.broker_cluster_name.clone().into(),
        ),
        ("node_type".into(), "broker".into()),
        ("node_id".into(), b.config.broker_name.clone().into()),
    ]
}
