//! `--tls` and its companions, shared by `apogee admin` and `apogee bench`.

use clap::Args;

/// TLS flags of the client commands.
#[derive(Args, Debug, Clone, Default)]
pub struct TlsArgs {
    /// Talk TLS to NameServers and brokers (checking their certificates
    /// against --tls-ca, or the system's roots).
    #[arg(long, global = true)]
    pub tls: bool,
    /// CA certificate file (PEM) servers' certificates must chain to.
    #[arg(long = "tls-ca", value_name = "FILE", global = true, requires = "tls")]
    pub tls_ca: Option<String>,
    /// Our certificate (PEM), for servers that require client certificates.
    #[arg(
        long = "tls-cert",
        value_name = "FILE",
        global = true,
        requires_all = ["tls", "tls_key"]
    )]
    pub tls_cert: Option<String>,
    /// The private key (PEM, unencrypted) of --tls-cert.
    #[arg(
        long = "tls-key",
        value_name = "FILE",
        global = true,
        requires = "tls_cert"
    )]
    pub tls_key: Option<String>,
}

impl TlsArgs {
    /// The client's TLS settings; None without --tls.
    pub fn settings(&self) -> Option<client::TlsClientSettings> {
        self.tls.then(|| client::TlsClientSettings {
            trust_cert_path: self.tls_ca.clone().unwrap_or_default(),
            cert_path: self.tls_cert.clone().unwrap_or_default(),
            key_path: self.tls_key.clone().unwrap_or_default(),
            ..client::TlsClientSettings::default()
        })
    }
}
