//! The console's JSON API, over the client crate's admin calls (so it works
//! the same against the local broker and a remote cluster). Errors come back
//! as `{"error": "..."}` with a 4xx/5xx status (see [`crate::error`]).

mod browse;
mod cluster;
mod groups;
mod messages;
mod resend;
mod topics;
mod track;

use axum::routing::{get, post};
use axum::Router;

use crate::error::HttpError;
use crate::sources::Sources;

/// The `/api` routes.
pub fn routes() -> Router<Sources> {
    Router::new()
        .route("/cluster", get(cluster::overview))
        .route("/topics", get(topics::list).post(topics::upsert))
        .route("/topics/{name}", get(topics::detail).delete(topics::delete))
        .route("/groups", get(groups::list).post(groups::create))
        .route("/groups/{name}", get(groups::detail).delete(groups::delete))
        .route("/groups/{name}/reset", post(groups::reset))
        .route("/messages", post(messages::send))
        .route("/messages/by-key", get(messages::by_key))
        .route("/messages/by-id", get(messages::by_id))
        .route("/messages/by-time", get(browse::by_time))
        .route("/messages/resend", post(resend::resend))
        .route("/messages/track", get(track::track))
        .route("/login", post(crate::gate::login))
        .route("/logout", post(crate::gate::logout))
        .route("/session", get(crate::gate::session))
}

/// A required, non-blank text field, or an error naming it.
pub(crate) fn required<'a>(field: &str, value: Option<&'a str>) -> Result<&'a str, HttpError> {
    match value.map(str::trim) {
        Some(v) if !v.is_empty() => Ok(v),
        _ => Err(HttpError::BadRequest(format!(
            "the field '{field}' is required"
        ))),
    }
}
