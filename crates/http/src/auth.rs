//! Console accounts and sessions when the broker checks ACL 1.0 accounts
//! (`aclEnable`): only admin accounts of `plain_acl.yml` may log in (access
//! key and secret key); a session holds a client signed with that account,
//! which the console's API then uses. The HTTP side (cookie, middleware,
//! login routes) is in `gate.rs`.

use std::collections::HashMap;
use std::io::Read;
use std::sync::Arc;
use std::time::{Duration, Instant};

use acl::SharedAcl;
use axum::http::{header, HeaderMap};
use base64::Engine;
use client::{Admin, Client, ClientOptions, Producer};
use parking_lot::Mutex;

use crate::error::{ApiResult, HttpError};

/// The session cookie's name.
pub const COOKIE: &str = "apogee_session";
/// How long a session lasts without use.
pub const IDLE: Duration = Duration::from_secs(8 * 3600);

/// One logged-in account: its signed admin client and console producer.
pub struct Session {
    pub access_key: String,
    client: Client,
    admin: Arc<Admin>,
    producer: Arc<tokio::sync::OnceCell<Producer>>,
    last_used: Instant,
}

/// The accounts that may log in and the open sessions.
pub struct Auth {
    /// The broker's ACL file, reloaded when it changes: a login is checked
    /// against the accounts as they are now.
    acl: Arc<SharedAcl>,
    namesrv: String,
    /// TLS of the sessions' clients (the broker's `tls.enable` and
    /// `tls.client.*`); none: plaintext.
    tls: Option<client::TlsClientSettings>,
    /// Whether `/metrics` needs a session or basic auth.
    pub metrics_require_auth: bool,
    sessions: Mutex<HashMap<String, Session>>,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth")
            .field("acl_file", &self.acl.path())
            .field("metrics_require_auth", &self.metrics_require_auth)
            .finish_non_exhaustive()
    }
}

impl Auth {
    /// Logins against the admin accounts of `acl`; sessions sign their
    /// cluster calls and reach the cluster through `namesrv`.
    pub fn from_acl(acl: Arc<SharedAcl>, namesrv: &str, metrics_require_auth: bool) -> Auth {
        Auth {
            acl,
            namesrv: namesrv.to_owned(),
            tls: None,
            metrics_require_auth,
            sessions: Mutex::new(HashMap::new()),
        }
    }

    /// Sessions' clients speak TLS with `tls` (none: plaintext).
    #[must_use]
    pub fn with_tls(mut self, tls: Option<client::TlsClientSettings>) -> Auth {
        self.tls = tls;
        self
    }

    /// Checks an account's keys.
    ///
    /// # Errors
    /// [`HttpError::Unauthorized`] for an unknown key or a wrong secret,
    /// [`HttpError::Forbidden`] for a right secret of an account that is
    /// not an admin.
    pub fn check(&self, access_key: &str, secret_key: &str) -> ApiResult<()> {
        let rules = self.acl.current();
        match rules.accounts.get(access_key) {
            Some(account) if same(account.secret_key.as_bytes(), secret_key.as_bytes()) => {
                if account.admin {
                    Ok(())
                } else {
                    Err(HttpError::Forbidden(format!(
                        "account {access_key} is not an admin account (admin: true in plain_acl.yml)"
                    )))
                }
            }
            _ => Err(HttpError::Unauthorized(
                "wrong access key or secret key".into(),
            )),
        }
    }

    /// Opens a session for a checked account; returns its token.
    pub fn open(&self, access_key: &str, secret_key: &str) -> ApiResult<String> {
        let mut options = ClientOptions::default();
        options.add_namesrv(&self.namesrv);
        options.access_key = Some(access_key.to_owned());
        options.secret_key = Some(secret_key.to_owned());
        options.tls.clone_from(&self.tls);
        let client = Client::start(options)?;
        let token = new_token()?;
        let session = Session {
            access_key: access_key.to_owned(),
            admin: Arc::new(Admin::with_client(&client)),
            client,
            producer: Arc::default(),
            last_used: Instant::now(),
        };
        self.sessions.lock().insert(token.clone(), session);
        Ok(token)
    }

    /// The session of `token`, refreshed, as (account, admin, producer).
    pub fn session(&self, token: &str) -> Option<SessionSources> {
        let mut sessions = self.sessions.lock();
        let s = sessions.get_mut(token)?;
        if s.last_used.elapsed() > IDLE {
            return None;
        }
        s.last_used = Instant::now();
        Some(SessionSources {
            access_key: s.access_key.clone(),
            admin: s.admin.clone(),
            producer: s.producer.clone(),
        })
    }

    /// Closes a session (and expired ones), shutting their clients down.
    pub async fn close(&self, token: &str) {
        let closed: Vec<Session> = {
            let mut sessions = self.sessions.lock();
            let stale: Vec<String> = sessions
                .iter()
                .filter(|(k, s)| *k == token || s.last_used.elapsed() > IDLE)
                .map(|(k, _)| k.clone())
                .collect();
            stale.iter().filter_map(|k| sessions.remove(k)).collect()
        };
        for s in closed {
            shutdown_session(s).await;
        }
    }

    /// Closes every session (process shutdown).
    pub async fn shutdown(&self) {
        let all: Vec<Session> = self.sessions.lock().drain().map(|(_, s)| s).collect();
        for s in all {
            shutdown_session(s).await;
        }
    }
}

async fn shutdown_session(s: Session) {
    if let Some(p) = s.producer.get() {
        p.shutdown().await;
    }
    s.client.shutdown().await;
}

/// What a request made under a session uses instead of the process's own.
#[derive(Clone)]
pub struct SessionSources {
    pub access_key: String,
    pub admin: Arc<Admin>,
    pub producer: Arc<tokio::sync::OnceCell<Producer>>,
}

/// Byte strings compared in time independent of where they differ.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// 32 random bytes from the OS, hex-encoded.
fn new_token() -> ApiResult<String> {
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(HttpError::Io)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

pub fn cookie_token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|kv| {
            let (k, v) = kv.trim().split_once('=')?;
            (k == COOKIE).then_some(v)
        })
}

/// `Authorization: Basic base64(accessKey:secretKey)`.
pub fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let encoded = value.strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, pass) = text.split_once(':')?;
    Some((user.to_owned(), pass.to_owned()))
}
