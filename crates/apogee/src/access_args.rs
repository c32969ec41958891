//! `--access-key`/`--secret-key` and the TLS flags, for the client
//! commands that sign and encrypt: `apogee bench` and `apogee console`.

use clap::Args;

/// The account and TLS flags of the client commands that take them as
/// their own (every bench mode, `apogee console`).
#[derive(Args, Debug, Clone, Default)]
pub struct AccessArgs {
    /// ACL 1.0 account requests are signed with (with --secret-key).
    #[arg(
        long = "access-key",
        env = "APOGEE_ACCESS_KEY",
        requires = "secret_key"
    )]
    pub access_key: Option<String>,
    /// Secret key of --access-key.
    #[arg(
        long = "secret-key",
        env = "APOGEE_SECRET_KEY",
        requires = "access_key"
    )]
    pub secret_key: Option<String>,
    #[command(flatten)]
    pub tls: crate::tls_args::TlsArgs,
}

impl AccessArgs {
    /// The ACL account, when both keys are given.
    pub fn credentials(&self) -> Option<(&str, &str)> {
        match (&self.access_key, &self.secret_key) {
            (Some(ak), Some(sk)) => Some((ak, sk)),
            _ => None,
        }
    }

    /// Client settings for `namesrv` with these flags.
    pub fn options(&self, namesrv: &str) -> client::ClientOptions {
        let mut options = client::ClientOptions {
            access_key: self.access_key.clone(),
            secret_key: self.secret_key.clone(),
            tls: self.tls.settings(),
            ..client::ClientOptions::default()
        };
        options.add_namesrv(namesrv);
        options
    }
}
