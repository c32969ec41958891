//! `/health` (the process answers) and `/ready` (the store is recovered
//! and the broker is registered with a NameServer; a NameServer is ready
//! once it listens).

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

use crate::sources::Sources;

/// Liveness: always 200 while the process serves requests.
pub async fn health() -> Json<Value> {
    Json(json!({ "status": "UP" }))
}

/// Readiness, with the reason when not ready.
pub async fn ready(State(s): State<Sources>) -> (StatusCode, Json<Value>) {
    match not_ready_reason(&s).await {
        None => (StatusCode::OK, Json(json!({ "status": "READY" }))),
        Some(reason) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "NOT_READY", "reason": reason })),
        ),
    }
}

async fn not_ready_reason(s: &Sources) -> Option<String> {
    // A broker state exists only after the store recovered, so what is left
    // to check is registration: ask the NameServers whether they list us.
    let broker = s.broker.as_ref()?;
    let Some(admin) = s.admin.as_ref() else {
        return Some("no NameServer address configured".into());
    };
    let info = match admin.cluster_info().await {
        Ok(i) => i,
        Err(e) => return Some(format!("cannot reach a NameServer: {e}")),
    };
    let name = &broker.config.broker_name;
    let listed = info.broker_addr_table.get(name).is_some_and(|b| {
        b.broker_addrs
            .values()
            .any(|a| *a == broker.advertised_addr)
    });
    if listed {
        None
    } else {
        Some(format!(
            "broker {name} is not registered with the NameServer yet"
        ))
    }
}
