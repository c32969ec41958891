//! The ACL 1.0 file of the security tests, `fixtures/plain_acl.yml` (the
//! interop suites and `scripts/bench-acl` read the same file): an admin
//! account the broker signs its own calls with, an operator (admin), a
//! PUB-only publisher and a SUB-only subscriber.

use std::path::{Path, PathBuf};

/// The file's text. It ends with the accounts list, so a test may append
/// an account.
pub const PLAIN_ACL: &str = include_str!("../fixtures/plain_acl.yml");

/// The broker's own account (`accessKey`/`secretKey` of broker.conf): admin.
pub const BROKER_ADMIN: (&str, &str) = ("brokerAdmin", "broker-admin-secret");
/// An admin account for operators.
pub const OPERATOR: (&str, &str) = ("operator", "operator-secret");
/// PUB on every topic, nothing else.
pub const PUBLISHER: (&str, &str) = ("publisher", "pub-secret");
/// SUB on every topic and group, nothing else.
pub const SUBSCRIBER: (&str, &str) = ("subscriber", "sub-secret");

/// Writes [`PLAIN_ACL`] as `dir/plain_acl.yml` and returns its path.
pub fn write(dir: &Path) -> PathBuf {
    let path = dir.join("plain_acl.yml");
    std::fs::write(&path, PLAIN_ACL).expect("write the ACL file");
    path
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fixture_holds_the_named_accounts() {
        let acl = acl::PlainAcl::parse(PLAIN_ACL).unwrap();
        for (key, secret) in [BROKER_ADMIN, OPERATOR, PUBLISHER, SUBSCRIBER] {
            assert_eq!(acl.accounts[key].secret_key, secret);
        }
        assert!(acl.accounts["brokerAdmin"].admin && acl.accounts["operator"].admin);
        assert!(!acl.accounts["publisher"].admin && !acl.accounts["subscriber"].admin);
        // A test may append an account.
        let more = format!("{PLAIN_ACL}  - accessKey: latecomer\n    secretKey: late-secret\n");
        assert_eq!(acl::PlainAcl::parse(&more).unwrap().accounts.len(), 5);
    }
}
