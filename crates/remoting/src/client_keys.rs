//! The config keys of a role's own outbound connections that the broker
//! and the NameServer both take: Java's `tls.enable` and `tls.client.*`.
//! Declared once here; each role's config embeds [`ClientTlsKeys`] with
//! `#[serde(flatten)]`, so the keys stay top-level in files, environment
//! variables and GET_*_CONFIG answers.

use serde::{Deserialize, Serialize};

use crate::tls::TlsClientSettings;

/// TLS of the connections a role opens (a broker registering with
/// NameServers, a slave calling its master, the console's clients). No
/// field of it may be `flatten` itself: [`crate::NoOtherKeys`] relies on
/// this struct taking its keys by name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ClientTlsKeys {
    /// Connect with TLS.
    #[serde(rename = "tls.enable")]
    pub enable: bool,
    /// CA file the servers' certificates must chain to; empty: the
    /// system's roots.
    #[serde(rename = "tls.client.trustCertPath")]
    pub trust_cert_path: String,
    /// Our certificate, for servers that require one.
    #[serde(rename = "tls.client.certPath")]
    pub cert_path: String,
    #[serde(rename = "tls.client.keyPath")]
    pub key_path: String,
    /// Encrypted keys are not supported: must stay empty.
    #[serde(rename = "tls.client.keyPassword")]
    pub key_password: String,
    /// Check the server's certificate (false: accept any, tests only).
    #[serde(rename = "tls.client.authServer")]
    pub auth_server: bool,
}

impl Default for ClientTlsKeys {
    fn default() -> Self {
        ClientTlsKeys {
            enable: false,
            trust_cert_path: String::new(),
            cert_path: String::new(),
            key_path: String::new(),
            key_password: String::new(),
            auth_server: true,
        }
    }
}

impl ClientTlsKeys {
    /// The client settings when `tls.enable` is on (files are read by
    /// [`TlsClientSettings::build`]).
    pub fn settings(&self) -> Option<TlsClientSettings> {
        self.enable.then(|| TlsClientSettings {
            trust_cert_path: self.trust_cert_path.clone(),
            cert_path: self.cert_path.clone(),
            key_path: self.key_path.clone(),
            key_password: self.key_password.clone(),
            verify_server: self.auth_server,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_javas_and_settings_follow_tls_enable() {
        let keys: ClientTlsKeys = serde_json::from_str(
            r#"{"tls.enable":true,"tls.client.trustCertPath":"/ca.pem","tls.client.authServer":false}"#,
        )
        .expect("known keys");
        let settings = keys.settings().expect("tls.enable is on");
        assert_eq!(settings.trust_cert_path, "/ca.pem");
        assert!(!settings.verify_server);
        assert!(ClientTlsKeys::default().settings().is_none());
    }
}
