//! RocketMQ's ACL request signature (ACL 1.0 and 2.0 on remoting): base64 of
//! HMAC-SHA1, keyed by the secret key, over the values of every ext field
//! but `Signature`, in key order, followed by the body.

use base64::Engine;
use hmac::{Hmac, Mac};
use sha1::Sha1;

use crate::command::RemotingCommand;
use crate::fields::SortedFields;

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
    let sig = sign_sorted_raw(keyed(secret_key), fields, body);
    // Base64 is ASCII.
    String::from_utf8_lossy(&sig).into_owned()
}

/// The signature of fields in key order, into a fixed buffer.
fn sign_sorted_raw<'a, I>(mac: Hmac<Sha1>, fields: I, body: &[u8]) -> [u8; SIGNATURE_LEN]
where
    I: IntoIterator<Item = (&'a str, &'a str)>,
{
    let mut signing = Signing::new(mac);
    for (_, v) in fields.into_iter().filter(|(k, _)| *k != SIGNATURE) {
        signing.update(v.as_bytes());
    }
    signing.finish(body)
}

/// An HMAC-SHA1 keyed with `secret_key`.
fn keyed(secret_key: &str) -> Hmac<Sha1> {
    // HMAC takes keys of any length (longer ones are hashed first).
    <Hmac<Sha1> as hmac::digest::KeyInit>::new_from_slice(secret_key.as_bytes())
        .unwrap_or_else(|_| unreachable_key())
}

/// `new_from_slice` of HMAC never fails; an empty key stands in should it.
#[cold]
fn unreachable_key() -> Hmac<Sha1> {
    <Hmac<Sha1> as hmac::digest::KeyInit>::new(&Default::default())
}

/// Length of a signature: base64 of the 20 bytes of an HMAC-SHA1.
pub const SIGNATURE_LEN: usize = 28;

/// An account keyed once, for requests that write their header themselves
/// (the client's pre-encoded sends): it hands out a [`Signing`] already fed
/// with the `AccessKey` (and `SecurityToken`) values, which sort before
/// every lowercase field name. Cloning the keyed HMAC is a copy of its
/// state: signing a request allocates nothing.
#[derive(Clone)]
pub struct Signer {
    access_key: String,
    security_token: Option<String>,
    /// Keyed, fed with `AccessKey` then `SecurityToken`.
    prefix: Hmac<Sha1>,
    /// Keyed, fed with nothing.
    keyed: Hmac<Sha1>,
}

impl std::fmt::Debug for Signer {
    /// Never prints the secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("access_key", &self.access_key)
            .finish_non_exhaustive()
    }
}

impl Signer {
    /// The account `access_key`/`secret_key`; an empty `security_token` is
    /// none (it is not sent).
    pub fn new(access_key: &str, secret_key: &str, security_token: Option<&str>) -> Signer {
        let keyed = keyed(secret_key);
        let security_token = security_token.filter(|t| !t.is_empty()).map(str::to_string);
        let mut prefix = keyed.clone();
        // "AccessKey" < "SecurityToken" < "Signature" < any lowercase name.
        prefix.update(access_key.as_bytes());
        if let Some(t) = &security_token {
            prefix.update(t.as_bytes());
        }
        Signer {
            access_key: access_key.to_string(),
            security_token,
            prefix,
            keyed,
        }
    }

    /// The `AccessKey` value.
    pub fn access_key(&self) -> &str {
        &self.access_key
    }

    /// The `SecurityToken` value, if any.
    pub fn security_token(&self) -> Option<&str> {
        self.security_token.as_deref()
    }

    /// A signature in progress, fed with the `AccessKey` and `SecurityToken`
    /// values: feed it the values of the request's other ext fields in key
    /// order when every one of their names sorts after `Signature` (all
    /// lowercase names do), then [`Signing::finish`] with the body.
    pub fn start(&self) -> Signing {
        Signing::new(self.prefix.clone())
    }

    /// Adds `AccessKey`, `SecurityToken` (when set) and `Signature` to a
    /// request about to be sent, whatever its field names.
    pub fn sign_request(&self, cmd: &mut RemotingCommand) {
        cmd.ext_fields
            .insert(ACCESS_KEY.into(), self.access_key.clone());
        if let Some(t) = &self.security_token {
            cmd.ext_fields.insert(SECURITY_TOKEN.into(), t.clone());
        }
        let sig = sign_sorted_raw(
            self.keyed.clone(),
            cmd.ext_fields.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            &cmd.body,
        );
        cmd.ext_fields
            .insert(SIGNATURE.into(), String::from_utf8_lossy(&sig).into_owned());
    }
}

/// Field values waiting to be hashed: a send's sixteen values (numbers,
/// names, the properties) are gathered and hashed in one update, where an
/// update per value costs the hash's buffering each time.
const PENDING: usize = 256;

/// A signature being computed: the ext field values in key order, then the
/// body.
#[derive(Clone)]
pub struct Signing {
    mac: Hmac<Sha1>,
    pending: [u8; PENDING],
    len: usize,
}

impl Signing {
    fn new(mac: Hmac<Sha1>) -> Signing {
        Signing {
            mac,
            pending: [0; PENDING],
            len: 0,
        }
    }

    /// The next field's value.
    pub fn update(&mut self, value: &[u8]) {
        let end = self.len + value.len();
        if end > PENDING {
            self.flush();
            if value.len() > PENDING {
                self.mac.update(value);
                return;
            }
        }
        if let Some(room) = self.pending.get_mut(self.len..self.len + value.len()) {
            room.copy_from_slice(value);
            self.len += value.len();
        }
    }

    /// Hashes the values gathered so far.
    fn flush(&mut self) {
        self.mac.update(&self.pending[..self.len]);
        self.len = 0;
    }

    /// The base64 signature, after the body.
    pub fn finish(mut self, body: &[u8]) -> [u8; SIGNATURE_LEN] {
        self.flush();
        self.mac.update(body);
        let digest = self.mac.finalize().into_bytes();
        let mut out = [0u8; SIGNATURE_LEN];
        // 20 bytes always make 28 characters of padded base64.
        let _ = base64::engine::general_purpose::STANDARD.encode_slice(digest, &mut out);
        out
    }
}

/// Adds `AccessKey` and `Signature` to a request about to be sent (a
/// caller signing many requests keeps a [`Signer`]).
pub fn sign_request(cmd: &mut RemotingCommand, access_key: &str, secret_key: &str) {
    Signer::new(access_key, secret_key, None).sign_request(cmd);
}

/// Whether a received request carries a valid signature for `secret_key`
/// (a server checking many requests of one account keeps a [`SigningKey`]).
pub fn verify_request(cmd: &RemotingCommand, secret_key: &str) -> bool {
    SigningKey::new(secret_key).verify(cmd)
}

/// A secret key with its HMAC state computed once (the key padded and
/// hashed into the inner and outer states), for a server that checks the
/// requests of one account: verifying clones that state, so a check costs
/// the hash of the request's values and body only, and allocates nothing.
#[derive(Clone)]
pub struct SigningKey {
    keyed: Hmac<Sha1>,
}

impl std::fmt::Debug for SigningKey {
    /// Never prints the secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKey(..)")
    }
}

impl SigningKey {
    /// The HMAC state of `secret_key`.
    pub fn new(secret_key: &str) -> SigningKey {
        SigningKey {
            keyed: keyed(secret_key),
        }
    }

    /// Whether `cmd` carries a valid signature for this key.
    pub fn verify(&self, cmd: &RemotingCommand) -> bool {
        self.verify_fields(&cmd.ext_fields.sorted(), cmd.version, &cmd.body)
    }

    /// Whether `fields` (a request's, sorted once by the caller) and `body`
    /// carry a valid signature for this key. The values are fed in key
    /// order without a copy. Requests from clients up to 4.9.3 (`version`)
    /// are checked without `_UNIQUE_KEY_QUERY`, which those clients did not
    /// sign.
    pub fn verify_fields(&self, fields: &SortedFields<'_>, version: i32, body: &[u8]) -> bool {
        let Some(given) = fields.get(SIGNATURE) else {
            return false;
        };
        let old_client = version <= V4_9_3;
        let signed = fields
            .iter()
            .filter(|(k, _)| !(old_client && *k == UNIQUE_KEY_QUERY));
        let expected = sign_sorted_raw(self.keyed.clone(), signed, body);
        constant_time_eq(&expected, given.as_bytes())
    }
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

    /// Values gathered before hashing sign as the plain HMAC of them all,
    /// whatever their sizes (short ones, one filling the buffer, one longer
    /// than it).
    #[test]
    fn gathered_values_sign_as_their_concatenation() {
        let sizes = [0usize, 1, 9, 200, 55, 256, 3, 257, 1000, 17, 255, 1];
        let values: Vec<Vec<u8>> = sizes
            .iter()
            .enumerate()
            .map(|(i, n)| (0..*n).map(|j| (i * 31 + j) as u8).collect())
            .collect();
        let body = b"the body";
        for upto in 0..=values.len() {
            let mut signing = Signing::new(keyed("12345678"));
            let mut plain = keyed("12345678");
            for v in &values[..upto] {
                signing.update(v);
                plain.update(v);
            }
            plain.update(body);
            let mut expected = [0u8; SIGNATURE_LEN];
            let _ = base64::engine::general_purpose::STANDARD
                .encode_slice(plain.finalize().into_bytes(), &mut expected);
            assert_eq!(signing.finish(body), expected, "first {upto} values");
        }
    }

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
        let key = SigningKey::new("12345678");
        assert!(key.verify(&cmd));
        assert!(!key.verify(&tampered));
        assert!(!SigningKey::new("wrong-secret").verify(&cmd));
        let mut unsigned = cmd;
        unsigned.ext_fields.remove(SIGNATURE);
        assert!(!verify_request(&unsigned, "12345678"));
        assert!(!key.verify(&unsigned));
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
