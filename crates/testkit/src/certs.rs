//! Test certificates made at test time with rcgen: a CA, a server
//! certificate for `localhost` and `127.0.0.1` signed by it, and a client
//! certificate, written as PEM files into a directory. Depends on rcgen and
//! std only, so the remoting crate's tests include this file as it is.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};

/// Paths of the PEM files [`TestCerts::write`] made.
#[derive(Debug, Clone)]
pub struct TestCerts {
    /// The CA certificate (a client's `tls.client.trustCertPath`, a
    /// server's `tls.server.trustCertPath`).
    pub ca: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
    /// A second CA that signed nothing here: trusting only it must fail.
    pub other_ca: PathBuf,
}

fn path_str(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

impl TestCerts {
    /// Makes the certificates and writes them under `dir`.
    ///
    /// # Panics
    /// If rcgen or the file system fails (test set-up only).
    #[allow(clippy::expect_used)]
    pub fn write(dir: &Path) -> TestCerts {
        let (ca, ca_key) = ca("Apogee test CA");
        let (other_ca, _) = ca_pair("Apogee other CA");
        let server = leaf(
            &["localhost", "127.0.0.1"],
            "apogee-server",
            ExtendedKeyUsagePurpose::ServerAuth,
        );
        let client = leaf(&[], "apogee-client", ExtendedKeyUsagePurpose::ClientAuth);
        let sign = |(params, key): (CertificateParams, KeyPair)| {
            let cert = params
                .signed_by(&key, &ca, &ca_key)
                .expect("sign a test certificate");
            (cert.pem(), key.serialize_pem())
        };
        let (server_cert, server_key) = sign(server);
        let (client_cert, client_key) = sign(client);
        let put = |name: &str, text: &str| {
            let p = dir.join(name);
            std::fs::write(&p, text).expect("write a test certificate");
            p
        };
        TestCerts {
            ca: put("ca.pem", &ca.pem()),
            server_cert: put("server.pem", &server_cert),
            server_key: put("server.key", &server_key),
            client_cert: put("client.pem", &client_cert),
            client_key: put("client.key", &client_key),
            other_ca: put("other-ca.pem", &other_ca),
        }
    }

    pub fn ca_str(&self) -> String {
        path_str(&self.ca)
    }
    pub fn server_cert_str(&self) -> String {
        path_str(&self.server_cert)
    }
    pub fn server_key_str(&self) -> String {
        path_str(&self.server_key)
    }
    pub fn client_cert_str(&self) -> String {
        path_str(&self.client_cert)
    }
    pub fn client_key_str(&self) -> String {
        path_str(&self.client_key)
    }
    pub fn other_ca_str(&self) -> String {
        path_str(&self.other_ca)
    }
}

#[allow(clippy::expect_used)]
fn ca(name: &str) -> (rcgen::Certificate, KeyPair) {
    let key = KeyPair::generate().expect("generate a CA key");
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let cert = params.self_signed(&key).expect("self-sign the test CA");
    (cert, key)
}

fn ca_pair(name: &str) -> (String, String) {
    let (cert, key) = ca(name);
    (cert.pem(), key.serialize_pem())
}

#[allow(clippy::expect_used)]
fn leaf(sans: &[&str], cn: &str, usage: ExtendedKeyUsagePurpose) -> (CertificateParams, KeyPair) {
    let key = KeyPair::generate().expect("generate a key");
    let sans: Vec<String> = sans.iter().map(|s| (*s).to_string()).collect();
    let mut params = CertificateParams::new(sans).expect("certificate parameters");
    params.distinguished_name.push(DnType::CommonName, cn);
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = vec![usage];
    (params, key)
}
