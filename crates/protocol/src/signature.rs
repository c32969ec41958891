//! RocketMQ's ACL request signature (ACL 1.0 and 2.0 on remoting): base64 of
//! HMAC-SHA1, keyed by the secret key, over the values of every ext field
//! but `Signature`, in key order, followed by the body.

use base64::Engine;
use hmac::{Hmac, Mac};
use sha1::Sha1;

use crate::command::RemotingCommand;

/// Ext field naming the account.
pub const ACCESS_KEY: &str = "AccessKey";
/// Ext field holding the signature.
pub const SIGNATURE: &str = "Signature";
/// Ext field clients may add; signed, never checked.
pub const SECURITY_TOKEN: &str = "SecurityToken";
/// Added outside the header by Java clients up to 4.9.3, which therefore
/// left it out of what they signed.
const UNIQUE_KEY_QUERY: &str = "_UNIQUE_KEY_QUERY";
/// Request `version` of Java 4.9.3: clients at or below it sign without
/// `_UNIQUE_KEY_QUERY`.
const V4_9_3: i32 = 399;

/// The signature of `fields` (key, value pairs, any order) and `body`.
pub fn sign<'a, I>(secret_key: &str, fields: I, body: &[u8]) -> String
where
    I: IntoIterator<Item = (&'a str, &'a str)>,
{
    let mut sorted: Vec<(&str, &str)> = fields.into_iter().collect();
    sorted.sort_unstable_by(|a, b| a.0.cmp(b.0));
    sign_sorted(secret_key, sorted, body)
}

/// [`sign`] of fields already in key order (a request's ext fields, a
/// `BTreeMap`): no copy and no sort per request.
fn sign_sorted<'a, I>(secret_key: &str, fields: I, body: &[u8]) -> String
where
    I: IntoIterator<Item = (&'a str, &'a str)>,
{
    // HMAC accepts keys of any length, so this cannot fail.
    let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(secret_key.as_bytes()) else {
        return String::new();
    };
    for (_, v) in fields.into_iter().filter(|(k, _)| *k != SIGNATURE) {
        mac.update(v.as_bytes());
    }
    mac.update(body);
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// Adds `AccessKey` and `Signature` to a request about to be sent.
pub fn sign_request(cmd: &mut RemotingCommand, access_key: &str, secret_key: &str) {
    cmd.ext_fields.insert(ACCESS_KEY.into(), access_key.into());
    let signature = sign_sorted(
        secret_key,
        cmd.ext_fields.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        &cmd.body,
    );
    cmd.ext_fields.insert(SIGNATURE.into(), signature);
}

/// Whether a received request carries a valid signature for `secret_key`.
/// Requests from clients up to 4.9.3 are checked without
/// `_UNIQUE_KEY_QUERY`, which those clients did not sign.
pub fn verify_request(cmd: &RemotingCommand, secret_key: &str) -> bool {
    let Some(given) = cmd.ext_fields.get(SIGNATURE) else {
        return false;
    };
    let old_client = cmd.version <= V4_9_3;
    let fields = cmd
        .ext_fields
        .iter()
        .filter(|(k, _)| !(old_client && k.as_str() == UNIQUE_KEY_QUERY))
        .map(|(k, v)| (k.as_str(), v.as_str()));
    let expected = sign_sorted(secret_key, fields, &cmd.body);
    constant_time_eq(expected.as_bytes(), given.as_bytes())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codes::RequestCode;

    const FIELDS: [(&str, &str); 3] = [
        ("topic", "T1"),
        ("AccessKey", "RocketMQ"),
        ("consumerGroup", "G1"),
    ];

    #[test]
    fn matches_the_reference_vectors() {
        assert_eq!(
            sign("12345678", FIELDS, b""),
            "UgL/0e5hsIl6C05rFf41ZC7Apxk="
        );
        let body = [0x01, 0x02, 0x68, 0x65, 0x6c, 0x6c, 0x6f];
        assert_eq!(
            sign("12345678", FIELDS, &body),
            "1W5B5PTbhSczU97mHXppdrIJrgc="
        );
    }

    #[test]
    fn a_signed_request_verifies_and_a_changed_one_does_not() {
        let mut cmd = RemotingCommand::request(RequestCode::PULL_MESSAGE);
        cmd.ext_fields.insert("topic".into(), "T1".into());
        cmd.body = bytes::Bytes::from_static(b"payload");
        sign_request(&mut cmd, "RocketMQ", "12345678");
        assert!(verify_request(&cmd, "12345678"));
        assert!(!verify_request(&cmd, "wrong-secret"));
        let mut tampered = cmd.clone();
        tampered.ext_fields.insert("topic".into(), "T2".into());
        assert!(!verify_request(&tampered, "12345678"));
        let mut unsigned = cmd;
        unsigned.ext_fields.remove(SIGNATURE);
        assert!(!verify_request(&unsigned, "12345678"));
    }

    #[test]
    fn old_clients_did_not_sign_the_unique_key_query() {
        let mut cmd = RemotingCommand::request(RequestCode::QUERY_MESSAGE);
        cmd.version = 399;
        cmd.ext_fields.insert("topic".into(), "T1".into());
        sign_request(&mut cmd, "RocketMQ", "12345678");
        cmd.ext_fields
            .insert(UNIQUE_KEY_QUERY.into(), "true".into());
        assert!(verify_request(&cmd, "12345678"));
        cmd.version = 400;
        assert!(!verify_request(&cmd, "12345678"));
    }
}
