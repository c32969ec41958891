//! Errors of the HTTP endpoints, mapped to a status and a JSON body
//! `{"error": "..."}` in one place.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

/// What an endpoint can fail with.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// A request field is missing or malformed; the text names it.
    #[error("{0}")]
    BadRequest(String),
    /// The named topic, group or message does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The cluster answered with an error or could not be reached.
    #[error("{0}")]
    Cluster(#[from] client::ClientError),
    /// No session, or a wrong access key or secret key.
    #[error("{0}")]
    Unauthorized(String),
    /// The account may not use the console.
    #[error("{0}")]
    Forbidden(String),
    /// This process has no admin client (no NameServer configured).
    #[error("this process has no NameServer address: the console API is off")]
    NoAdmin,
    /// Binding or serving the listener failed.
    #[error("http listener: {0}")]
    Io(#[from] std::io::Error),
}

impl HttpError {
    fn status(&self) -> StatusCode {
        match self {
            HttpError::BadRequest(_) => StatusCode::BAD_REQUEST,
            HttpError::NotFound(_) => StatusCode::NOT_FOUND,
            HttpError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            HttpError::Forbidden(_) => StatusCode::FORBIDDEN,
            HttpError::Cluster(_) => StatusCode::BAD_GATEWAY,
            HttpError::NoAdmin => StatusCode::SERVICE_UNAVAILABLE,
            HttpError::Io(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "error": self.to_string() });
        (self.status(), Json(body)).into_response()
    }
}

/// Result of an API handler.
pub type ApiResult<T> = Result<T, HttpError>;
