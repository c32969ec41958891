//! The HTTP side of console login (see `auth.rs` for accounts and
//! sessions): the session cookie (HttpOnly, SameSite=Strict), the API's
//! guard, `/metrics`' guard when `httpMetricsRequireAuth` is on (a session
//! or basic auth with an admin account's `accessKey:secretKey`), the login,
//! logout and session routes, and the extractor that hands handlers the
//! session's signed clients.

use axum::extract::{FromRef, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use crate::auth::{basic_credentials, cookie_token, SessionSources, COOKIE, IDLE};
use crate::error::{ApiResult, HttpError};
use crate::sources::Sources;

/// Guards the API: with login on, every route but login and session needs
/// a live session, whose signed clients the handlers then use.
pub async fn require_session(State(s): State<Sources>, mut req: Request, next: Next) -> Response {
    let Some(auth) = s.auth.as_ref() else {
        return next.run(req).await;
    };
    let path = req.uri().path();
    if path.ends_with("/login") || path.ends_with("/session") {
        return next.run(req).await;
    }
    match cookie_token(req.headers()).and_then(|t| auth.session(t)) {
        Some(session) => {
            req.extensions_mut().insert(session);
            next.run(req).await
        }
        None => HttpError::Unauthorized("login required: sign in with an admin account".into())
            .into_response(),
    }
}

/// Guards `/metrics` when `httpMetricsRequireAuth` is on: a session cookie
/// or basic auth with an admin account passes.
pub async fn protect_metrics(State(s): State<Sources>, req: Request, next: Next) -> Response {
    let Some(auth) = s.auth.as_ref().filter(|a| a.metrics_require_auth) else {
        return next.run(req).await;
    };
    let by_cookie = cookie_token(req.headers()).is_some_and(|t| auth.session(t).is_some());
    let by_basic =
        basic_credentials(req.headers()).is_some_and(|(k, p)| auth.check(&k, &p).is_ok());
    if by_cookie || by_basic {
        return next.run(req).await;
    }
    let mut r = (
        StatusCode::UNAUTHORIZED,
        "metrics need an admin account: basic auth with its accessKey:secretKey\n",
    )
        .into_response();
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"apogee metrics\""),
    );
    r
}

/// The handlers' view of the sources: the process's own, with the
/// session's signed admin client and producer when logged in.
pub struct Console(pub Sources);

impl<S> FromRequestParts<S> for Console
where
    Sources: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let mut s = Sources::from_ref(state);
        if let Some(session) = parts.extensions.get::<SessionSources>() {
            s.admin = Some(session.admin.clone());
            s.producer = session.producer.clone();
        }
        Ok(Console(s))
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LoginBody {
    access_key: Option<String>,
    secret_key: Option<String>,
}

fn session_cookie(token: &str, max_age: u64) -> HeaderValue {
    let text = format!("{COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/; Max-Age={max_age}");
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// POST /api/login `{accessKey, secretKey}`.
pub async fn login(State(s): State<Sources>, Json(body): Json<LoginBody>) -> ApiResult<Response> {
    let Some(auth) = s.auth.as_ref() else {
        return Err(HttpError::BadRequest(
            "login is off: the broker runs without ACL (aclEnable=false)".into(),
        ));
    };
    let key = required("accessKey", body.access_key.as_deref())?;
    let secret = required("secretKey", body.secret_key.as_deref())?;
    auth.check(key, secret)?;
    let token = auth.open(key, secret)?;
    let mut r = Json(json!({ "user": key })).into_response();
    r.headers_mut()
        .insert(header::SET_COOKIE, session_cookie(&token, IDLE.as_secs()));
    Ok(r)
}

/// POST /api/logout: ends the session and clears the cookie.
pub async fn logout(State(s): State<Sources>, headers: HeaderMap) -> Response {
    if let (Some(auth), Some(token)) = (s.auth.as_ref(), cookie_token(&headers)) {
        auth.close(token).await;
    }
    let mut r = Json(json!({ "user": null })).into_response();
    r.headers_mut()
        .insert(header::SET_COOKIE, session_cookie("", 0));
    r
}

/// GET /api/session: whether login is required and who is logged in.
pub async fn session(State(s): State<Sources>, headers: HeaderMap) -> Json<serde_json::Value> {
    let user = s
        .auth
        .as_ref()
        .and_then(|a| cookie_token(&headers).and_then(|t| a.session(t)))
        .map(|x| x.access_key);
    Json(json!({ "loginRequired": s.auth.is_some(), "user": user }))
}

/// A non-blank field, or an error naming it.
fn required<'a>(field: &str, value: Option<&'a str>) -> ApiResult<&'a str> {
    match value.map(str::trim) {
        Some(v) if !v.is_empty() => Ok(v),
        _ => Err(HttpError::BadRequest(format!(
            "the field '{field}' is required"
        ))),
    }
}
