//! The console's static files, embedded at build time (hand-written ES
//! modules and CSS under `crates/http/web/`; no build step, no npm).

use axum::extract::Path;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::sources::Sources;

/// `(name, content type, text)` of every asset.
const FILES: &[(&str, &str, &str)] = &[
    (
        "style.css",
        "text/css; charset=utf-8",
        include_str!("../web/style.css"),
    ),
    ("app.js", JS, include_str!("../web/app.js")),
    ("ui.js", JS, include_str!("../web/ui.js")),
    ("chart.js", JS, include_str!("../web/chart.js")),
    ("cluster.js", JS, include_str!("../web/cluster.js")),
    ("topics.js", JS, include_str!("../web/topics.js")),
    ("groups.js", JS, include_str!("../web/groups.js")),
    ("messages.js", JS, include_str!("../web/messages.js")),
    ("send.js", JS, include_str!("../web/send.js")),
    ("login.js", JS, include_str!("../web/login.js")),
];

const JS: &str = "text/javascript; charset=utf-8";
const INDEX: &str = include_str!("../web/index.html");

/// `/` and `/assets/{file}`.
pub fn routes() -> Router<Sources> {
    Router::new()
        .route("/", get(index))
        .route("/assets/{file}", get(asset))
}

async fn index() -> Response {
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], INDEX).into_response()
}

async fn asset(Path(file): Path<String>) -> Response {
    match FILES.iter().find(|(name, _, _)| *name == file) {
        Some((_, kind, text)) => (
            [
                (header::CONTENT_TYPE, *kind),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            *text,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, format!("no asset named '{file}'")).into_response(),
    }
}
