//! TLS settings of both sides, read from PEM files with RocketMQ's key
//! names (`tls.server.*`, `tls.client.*`), turned into rustls
//! configurations. Every error names the key whose file or value is bad.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::server::WebPkiClientVerifier;
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use tokio_rustls::{TlsAcceptor, TlsConnector};

use crate::error::RemotingError;

/// `tls.server.mode`: what a server accepts on its port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TlsMode {
    /// Plaintext only; a TLS handshake is refused.
    Disabled,
    /// TLS and plaintext on the same port, told apart by the first byte.
    #[default]
    Permissive,
    /// TLS only; a plaintext connection is closed before any request is read.
    Enforcing,
}

impl FromStr for TlsMode {
    type Err = RemotingError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "disabled" => Ok(TlsMode::Disabled),
            "permissive" => Ok(TlsMode::Permissive),
            "enforcing" => Ok(TlsMode::Enforcing),
            _ => Err(bad(
                "tls.server.mode",
                format!("`{s}` is not one of disabled, permissive, enforcing"),
            )),
        }
    }
}

impl fmt::Display for TlsMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TlsMode::Disabled => "disabled",
            TlsMode::Permissive => "permissive",
            TlsMode::Enforcing => "enforcing",
        })
    }
}

/// `tls.server.need.client.auth`: whether clients must show a certificate
/// signed by `tls.server.trustCertPath`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClientAuth {
    #[default]
    None,
    /// A certificate is checked if the client sends one.
    Optional,
    /// A client without a valid certificate fails the handshake.
    Require,
}

impl FromStr for ClientAuth {
    type Err = RemotingError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "none" | "" => Ok(ClientAuth::None),
            "optional" => Ok(ClientAuth::Optional),
            "require" => Ok(ClientAuth::Require),
            _ => Err(bad(
                "tls.server.need.client.auth",
                format!("`{s}` is not one of none, optional, require"),
            )),
        }
    }
}

/// A server's TLS settings, as the config keys give them (empty path:
/// not set).
#[derive(Debug, Clone, Default)]
pub struct TlsServerSettings {
    pub mode: TlsMode,
    /// `tls.server.certPath`: the certificate chain, PEM.
    pub cert_path: String,
    /// `tls.server.keyPath`: the private key, PEM (PKCS#8, PKCS#1 or SEC1).
    pub key_path: String,
    /// `tls.server.keyPassword`: only unencrypted keys are supported, so a
    /// non-empty value is refused with a way out.
    pub key_password: String,
    /// `tls.server.trustCertPath`: CA certificates client certificates
    /// must chain to.
    pub trust_cert_path: String,
    pub client_auth: ClientAuth,
}

/// What a server does with TLS, built from [`TlsServerSettings`].
#[derive(Clone)]
pub struct ServerTls {
    pub(crate) mode: TlsMode,
    /// None: no certificate configured, so plaintext only.
    pub(crate) acceptor: Option<TlsAcceptor>,
}

impl fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerTls")
            .field("mode", &self.mode)
            .field("certificate", &self.acceptor.is_some())
            .finish()
    }
}

impl ServerTls {
    /// Plaintext only.
    pub fn disabled() -> ServerTls {
        ServerTls {
            mode: TlsMode::Disabled,
            acceptor: None,
        }
    }

    /// The mode in force: permissive without a certificate serves
    /// plaintext only, so it counts as disabled.
    pub fn effective_mode(&self) -> TlsMode {
        if self.acceptor.is_none() {
            TlsMode::Disabled
        } else {
            self.mode
        }
    }

    /// A rustls server configuration for other listeners (the gRPC port),
    /// with the given ALPN protocols; None when no certificate is set.
    pub fn rustls_config(&self, alpn: &[&[u8]]) -> Option<Arc<rustls::ServerConfig>> {
        let acceptor = self.acceptor.as_ref()?;
        let mut config = (**acceptor.config()).clone();
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Some(Arc::new(config))
    }
}

impl TlsServerSettings {
    /// Reads the files and builds the server side.
    ///
    /// # Errors
    /// [`RemotingError::TlsConfig`] naming the key: `enforcing` without a
    /// certificate, a file that cannot be read or holds no PEM item of the
    /// right kind, a key password (encrypted keys are not supported),
    /// client authentication without `tls.server.trustCertPath`.
    pub fn build(&self) -> Result<ServerTls, RemotingError> {
        if !self.key_password.is_empty() {
            return Err(bad(
                "tls.server.keyPassword",
                "encrypted private keys are not supported; decrypt the key \
                 (`openssl pkcs8 -in enc.pem -out key.pem -nocrypt`) and leave the password empty",
            ));
        }
        let has_cert = !self.cert_path.is_empty() || !self.key_path.is_empty();
        if self.mode == TlsMode::Disabled || !has_cert {
            if self.mode == TlsMode::Enforcing {
                return Err(bad(
                    "tls.server.certPath",
                    "tls.server.mode=enforcing needs tls.server.certPath and tls.server.keyPath",
                ));
            }
            return Ok(ServerTls {
                mode: self.mode,
                acceptor: None,
            });
        }
        let certs = read_certs("tls.server.certPath", &self.cert_path)?;
        let key = read_key("tls.server.keyPath", &self.key_path)?;
        let builder = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| bad("tls.server.mode", e.to_string()))?;
        let builder = match self.client_auth {
            ClientAuth::None => builder.with_no_client_auth(),
            auth => {
                if self.trust_cert_path.is_empty() {
                    return Err(bad(
                        "tls.server.trustCertPath",
                        "tls.server.need.client.auth needs the CA file client certificates chain to",
                    ));
                }
                let roots = read_roots("tls.server.trustCertPath", &self.trust_cert_path)?;
                let verifier =
                    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider());
                let verifier = if auth == ClientAuth::Optional {
                    verifier.allow_unauthenticated()
                } else {
                    verifier
                };
                let verifier = verifier
                    .build()
                    .map_err(|e| bad("tls.server.trustCertPath", e.to_string()))?;
                builder.with_client_cert_verifier(verifier)
            }
        };
        let config = builder.with_single_cert(certs, key).map_err(|e| {
            bad(
                "tls.server.keyPath",
                format!("does not fit the certificate: {e}"),
            )
        })?;
        Ok(ServerTls {
            mode: self.mode,
            acceptor: Some(TlsAcceptor::from(Arc::new(config))),
        })
    }
}

/// A client's TLS settings (Java's `tls.client.*` keys). Empty paths: not
/// set.
#[derive(Debug, Clone)]
pub struct TlsClientSettings {
    /// `tls.client.trustCertPath`: CA certificates the server's chain must
    /// lead to; empty: the system's roots.
    pub trust_cert_path: String,
    /// `tls.client.certPath` / `tls.client.keyPath`: our certificate, for
    /// servers that require one.
    pub cert_path: String,
    pub key_path: String,
    /// `tls.client.keyPassword`: refused when set, as on the server.
    pub key_password: String,
    /// `tls.client.authServer`: check the server's certificate (default
    /// true; false accepts any certificate, for tests only).
    pub verify_server: bool,
}

impl Default for TlsClientSettings {
    fn default() -> Self {
        TlsClientSettings {
            trust_cert_path: String::new(),
            cert_path: String::new(),
            key_path: String::new(),
            key_password: String::new(),
            verify_server: true,
        }
    }
}

/// The client side of TLS, built from [`TlsClientSettings`]; cheap to clone.
#[derive(Clone)]
pub struct ClientTls {
    pub(crate) connector: TlsConnector,
}

impl fmt::Debug for ClientTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientTls").finish_non_exhaustive()
    }
}

impl TlsClientSettings {
    /// Reads the files (or the system roots) and builds the client side.
    ///
    /// # Errors
    /// [`RemotingError::TlsConfig`] naming the key whose file is bad, or
    /// when no system root certificate can be loaded.
    pub fn build(&self) -> Result<ClientTls, RemotingError> {
        if !self.key_password.is_empty() {
            return Err(bad(
                "tls.client.keyPassword",
                "encrypted private keys are not supported; decrypt the key and leave the password empty",
            ));
        }
        let builder = rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| bad("tls.enable", e.to_string()))?;
        let builder = if !self.verify_server {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AnyServer(provider())))
        } else if self.trust_cert_path.is_empty() {
            builder.with_root_certificates(system_roots()?)
        } else {
            builder.with_root_certificates(read_roots(
                "tls.client.trustCertPath",
                &self.trust_cert_path,
            )?)
        };
        let config = match (self.cert_path.is_empty(), self.key_path.is_empty()) {
            (true, true) => builder.with_no_client_auth(),
            (false, false) => builder
                .with_client_auth_cert(
                    read_certs("tls.client.certPath", &self.cert_path)?,
                    read_key("tls.client.keyPath", &self.key_path)?,
                )
                .map_err(|e| {
                    bad(
                        "tls.client.keyPath",
                        format!("does not fit the certificate: {e}"),
                    )
                })?,
            _ => {
                return Err(bad(
                    "tls.client.certPath",
                    "tls.client.certPath and tls.client.keyPath go together",
                ))
            }
        };
        Ok(ClientTls {
            connector: TlsConnector::from(Arc::new(config)),
        })
    }
}

/// The name a client checks the server's certificate against: the host
/// part of `host:port` (an IP address is matched against IP SANs).
pub(crate) fn server_name(addr: &str) -> Result<ServerName<'static>, RemotingError> {
    let host = match addr.rsplit_once(':') {
        Some((host, _)) => host,
        None => addr,
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    ServerName::try_from(host.to_string()).map_err(|e| RemotingError::TlsHandshake {
        addr: addr.to_string(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidInput, e),
    })
}

/// ring: it builds with a C compiler alone (aws-lc-rs, rustls' preferred
/// provider, wants more of the build machine). rustls deprecates it only
/// because it lacks post-quantum key exchange; classical TLS 1.2/1.3 is
/// what RocketMQ peers speak.
#[allow(deprecated)]
fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn bad(key: &str, why: impl Into<String>) -> RemotingError {
    RemotingError::TlsConfig {
        key: key.to_string(),
        why: why.into(),
    }
}

fn read_certs(key: &str, path: &str) -> Result<Vec<CertificateDer<'static>>, RemotingError> {
    let certs = CertificateDer::pem_file_iter(Path::new(path))
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| bad(key, format!("{path}: {e}")))?;
    if certs.is_empty() {
        return Err(bad(key, format!("{path}: no PEM CERTIFICATE in the file")));
    }
    Ok(certs)
}

fn read_key(key: &str, path: &str) -> Result<PrivateKeyDer<'static>, RemotingError> {
    if path.is_empty() {
        return Err(bad(key, "not set, but a certificate is"));
    }
    let text = std::fs::read(PathBuf::from(path)).map_err(|e| bad(key, format!("{path}: {e}")))?;
    if text.windows(b"ENCRYPTED".len()).any(|w| w == b"ENCRYPTED") {
        return Err(bad(
            key,
            format!("{path} holds an encrypted key, which is not supported; decrypt it first"),
        ));
    }
    PrivateKeyDer::from_pem_slice(&text).map_err(|e| bad(key, format!("{path}: {e}")))
}

fn read_roots(key: &str, path: &str) -> Result<RootCertStore, RemotingError> {
    let mut roots = RootCertStore::empty();
    for cert in read_certs(key, path)? {
        roots
            .add(cert)
            .map_err(|e| bad(key, format!("{path}: {e}")))?;
    }
    Ok(roots)
}

fn system_roots() -> Result<RootCertStore, RemotingError> {
    let found = rustls_native_certs::load_native_certs();
    let mut roots = RootCertStore::empty();
    let (added, _) = roots.add_parsable_certificates(found.certs);
    if added == 0 {
        let why = found
            .errors
            .first()
            .map_or_else(|| "none found".to_string(), ToString::to_string);
        return Err(bad(
            "tls.client.trustCertPath",
            format!("not set, and the system's root certificates cannot be loaded: {why}"),
        ));
    }
    Ok(roots)
}

/// `tls.client.authServer=false`: accepts any server certificate (the
/// handshake's signatures are still checked).
#[derive(Debug)]
struct AnyServer(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyServer {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
