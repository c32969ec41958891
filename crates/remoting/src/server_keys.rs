//! The config keys of a client-facing listener that the broker and the
//! NameServer both take: its TLS (Java's `tls.server.*` keys) and its
//! connection limits (Apogee's `server*` keys). Declared once here; each
//! role's config embeds [`ServerKeys`] with `#[serde(flatten)]`, so the keys
//! stay top-level in files, environment variables and GET_*_CONFIG answers.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::RemotingError;
use crate::server::ServerConfig;
use crate::tls::TlsServerSettings;

/// A listener's TLS and limits, as config keys. No field of it may be
/// `flatten` itself: [`crate::NoOtherKeys`] relies on this struct taking
/// its keys by name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ServerKeys {
    /// Bytes of answers queued for one peer past which its connection is
    /// not read until the peer takes them (Netty's high-water mark).
    pub write_buffer_high_water_mark: usize,
    /// Requests of one connection processed at the same time (parked pulls
    /// included); more are answered SYSTEM_BUSY. Apogee's own key.
    pub server_max_in_flight_per_connection: usize,
    /// A write to a peer that makes no progress for this many
    /// milliseconds closes its connection (0: never). Apogee's own key.
    pub server_write_stall_timeout_millis: u64,
    /// Connections open at once, from one address, and the last slots kept
    /// for addresses with few connections. Apogee's own keys.
    pub server_max_connections: usize,
    pub server_max_connections_per_ip: usize,
    pub server_reserved_connections: usize,
    /// Bytes all connections may hold for frames not fully received yet.
    /// Apogee's own key.
    pub server_max_unfinished_frame_bytes: usize,
    /// TLS (Java's keys): `disabled`, `permissive` (TLS and plaintext on
    /// one port; without a certificate: plaintext only) or `enforcing`.
    #[serde(rename = "tls.server.mode")]
    pub tls_server_mode: String,
    #[serde(rename = "tls.server.certPath")]
    pub tls_server_cert_path: String,
    #[serde(rename = "tls.server.keyPath")]
    pub tls_server_key_path: String,
    /// Encrypted keys are not supported: must stay empty.
    #[serde(rename = "tls.server.keyPassword")]
    pub tls_server_key_password: String,
    #[serde(rename = "tls.server.trustCertPath")]
    pub tls_server_trust_cert_path: String,
    /// `none`, `optional` or `require`.
    #[serde(rename = "tls.server.need.client.auth")]
    pub tls_server_need_client_auth: String,
}

impl Default for ServerKeys {
    fn default() -> Self {
        let limits = ServerConfig::default();
        ServerKeys {
            write_buffer_high_water_mark: limits.write_buffer_high_water_mark,
            server_max_in_flight_per_connection: limits.max_in_flight_per_connection,
            server_write_stall_timeout_millis: u64::try_from(
                limits.write_stall_timeout.as_millis(),
            )
            .unwrap_or(u64::MAX),
            server_max_connections: limits.max_connections,
            server_max_connections_per_ip: limits.max_connections_per_ip,
            server_reserved_connections: limits.reserved_connections,
            server_max_unfinished_frame_bytes: limits.max_unfinished_frame_bytes,
            tls_server_mode: "permissive".into(),
            tls_server_cert_path: String::new(),
            tls_server_key_path: String::new(),
            tls_server_key_password: String::new(),
            tls_server_trust_cert_path: String::new(),
            tls_server_need_client_auth: "none".into(),
        }
    }
}

impl ServerKeys {
    /// The `tls.server.*` keys, parsed (files are read by
    /// [`TlsServerSettings::build`]).
    ///
    /// # Errors
    /// [`RemotingError::TlsConfig`] naming `tls.server.mode` or
    /// `tls.server.need.client.auth` when its value is not a known one.
    pub fn tls_settings(&self) -> Result<TlsServerSettings, RemotingError> {
        Ok(TlsServerSettings {
            mode: self.tls_server_mode.parse()?,
            cert_path: self.tls_server_cert_path.clone(),
            key_path: self.tls_server_key_path.clone(),
            key_password: self.tls_server_key_password.clone(),
            trust_cert_path: self.tls_server_trust_cert_path.clone(),
            client_auth: self.tls_server_need_client_auth.parse()?,
        })
    }

    /// These TLS keys with the default limits (another role serving the
    /// same certificate).
    pub fn tls_only(&self) -> ServerKeys {
        ServerKeys {
            tls_server_mode: self.tls_server_mode.clone(),
            tls_server_cert_path: self.tls_server_cert_path.clone(),
            tls_server_key_path: self.tls_server_key_path.clone(),
            tls_server_key_password: self.tls_server_key_password.clone(),
            tls_server_trust_cert_path: self.tls_server_trust_cert_path.clone(),
            tls_server_need_client_auth: self.tls_server_need_client_auth.clone(),
            ..ServerKeys::default()
        }
    }

    /// Checks what serde cannot (without reading the TLS files).
    ///
    /// # Errors
    /// [`RemotingError::Config`] or [`RemotingError::TlsConfig`] naming the
    /// key.
    pub fn validate(&self) -> Result<(), RemotingError> {
        let bad = |key: &str, why: &str| {
            Err(RemotingError::Config {
                key: key.into(),
                why: why.into(),
            })
        };
        if self.server_max_in_flight_per_connection == 0 {
            return bad("serverMaxInFlightPerConnection", "must be positive");
        }
        if self.server_max_connections_per_ip == 0 {
            return bad("serverMaxConnectionsPerIp", "must be positive");
        }
        if self.server_reserved_connections >= self.server_max_connections {
            return bad(
                "serverReservedConnections",
                "must be below serverMaxConnections",
            );
        }
        self.tls_settings()?;
        Ok(())
    }

    /// The listener's settings, TLS files read; what these keys do not
    /// cover keeps [`ServerConfig::default`].
    ///
    /// # Errors
    /// [`RemotingError::TlsConfig`] naming the `tls.server.*` key that is
    /// bad (a file that cannot be read, enforcing without a certificate...).
    pub fn server_config(&self) -> Result<ServerConfig, RemotingError> {
        Ok(ServerConfig {
            tls: self.tls_settings()?.build()?,
            max_connections: self.server_max_connections,
            max_connections_per_ip: self.server_max_connections_per_ip,
            reserved_connections: self.server_reserved_connections,
            max_in_flight_per_connection: self.server_max_in_flight_per_connection,
            write_buffer_high_water_mark: self.write_buffer_high_water_mark,
            write_stall_timeout: Duration::from_millis(self.server_write_stall_timeout_millis),
            max_unfinished_frame_bytes: self.server_max_unfinished_frame_bytes,
            ..ServerConfig::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_servers_and_valid() {
        let keys = ServerKeys::default();
        keys.validate().unwrap();
        let built = keys.server_config().unwrap();
        let plain = ServerConfig::default();
        assert_eq!(built.max_connections, plain.max_connections);
        assert_eq!(built.write_stall_timeout, plain.write_stall_timeout);
        assert_eq!(built.tls.effective_mode(), crate::TlsMode::Disabled);
    }

    #[test]
    fn a_bad_value_names_its_key() {
        let cases = [
            (
                ServerKeys {
                    server_max_in_flight_per_connection: 0,
                    ..ServerKeys::default()
                },
                "serverMaxInFlightPerConnection",
            ),
            (
                ServerKeys {
                    server_reserved_connections: 10,
                    server_max_connections: 10,
                    ..ServerKeys::default()
                },
                "serverReservedConnections",
            ),
            (
                ServerKeys {
                    tls_server_need_client_auth: "always".into(),
                    ..ServerKeys::default()
                },
                "tls.server.need.client.auth",
            ),
        ];
        for (keys, key) in cases {
            let err = keys.validate().unwrap_err().to_string();
            assert!(err.starts_with(key), "{key}: {err}");
        }
    }
}
