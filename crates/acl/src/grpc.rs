//! The 5.x gRPC clients' credentials: metadata `authorization:
//! MQv2-HMAC-SHA1 Credential=<ak>[/...], SignedHeaders=x-mq-date-time,
//! Signature=<hex>` where the signature is HMAC-SHA1, keyed by the secret,
//! of the exact `x-mq-date-time` value. As the Java proxy, the date is not
//! checked for skew (clients send local time labelled `Z`).

use std::net::IpAddr;

use hmac::{Hmac, Mac};
use sha1::Sha1;

use crate::check::{Denied, Verdict};
use crate::file::PlainAcl;

/// Metadata key of the credentials.
pub const AUTHORIZATION: &str = "authorization";
/// Metadata key of the signed date.
pub const DATE_TIME: &str = "x-mq-date-time";

/// The fields of an `authorization` value.
#[derive(Debug, PartialEq, Eq)]
pub struct Authorization {
    pub access_key: String,
    pub signature: Vec<u8>,
}

/// Parses an `authorization` value as the proxy does: the algorithm up to
/// the first space, then `,`-separated `key=value` pairs; the credential's
/// access key ends at the first `/`.
///
/// # Errors
/// [`Denied::BadAuthorization`] naming what is missing or malformed;
/// [`Denied::NoAccessKey`] for an empty credential (Python clients without
/// credentials send one).
pub fn parse(value: &str) -> Result<Authorization, Denied> {
    let bad = |why: &str| Denied::BadAuthorization(why.to_string());
    let (_, pairs) = value
        .trim()
        .split_once(' ')
        .ok_or_else(|| bad("expected `MQv2-HMAC-SHA1 Credential=..., Signature=...`"))?;
    let mut access_key = None;
    let mut signature = None;
    for pair in pairs.split(',') {
        let Some((k, v)) = pair.trim().split_once('=') else {
            continue;
        };
        match k.trim() {
            "Credential" => {
                let v = v.trim();
                access_key = Some(v.split_once('/').map_or(v, |(ak, _)| ak).to_string());
            }
            "Signature" => signature = Some(v.trim().to_string()),
            _ => {}
        }
    }
    let access_key = access_key
        .filter(|ak| !ak.is_empty())
        .ok_or(Denied::NoAccessKey)?;
    let signature = signature.ok_or_else(|| bad("no Signature"))?;
    let signature = hex_decode(&signature).ok_or_else(|| bad("Signature is not hex"))?;
    Ok(Authorization {
        access_key,
        signature,
    })
}

fn hex_decode(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    text.as_bytes()
        .chunks(2)
        .map(|pair| {
            let s = std::str::from_utf8(pair).ok()?;
            u8::from_str_radix(s, 16).ok()
        })
        .collect()
}

/// The signature a client with `secret` puts on `date_time` (lower-case hex).
pub fn sign(secret: &str, date_time: &str) -> String {
    mac(secret, date_time)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn mac(secret: &str, date_time: &str) -> Vec<u8> {
    // HMAC accepts keys of any length, so this cannot fail.
    let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(secret.as_bytes()) else {
        return Vec::new();
    };
    mac.update(date_time.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

impl PlainAcl {
    /// Authenticates a gRPC call from `peer` with its `authorization` and
    /// `x-mq-date-time` metadata values, in the remoting order: global
    /// whitelist, key, the account's whitelist, signature.
    ///
    /// # Errors
    /// [`Denied`] naming the failed check.
    pub fn authenticate_grpc(
        &self,
        peer: IpAddr,
        authorization: Option<&str>,
        date_time: Option<&str>,
    ) -> Result<Verdict<'_>, Denied> {
        if self.whitelisted(peer, None) {
            return Ok(Verdict::Pass);
        }
        let auth = parse(authorization.ok_or(Denied::NoAccessKey)?)?;
        let account = self.account(&auth.access_key)?;
        if self.whitelisted(peer, Some(account)) {
            return Ok(Verdict::Pass);
        }
        let date_time = date_time.ok_or_else(|| {
            Denied::BadAuthorization(format!("no {DATE_TIME} metadata to check the signature"))
        })?;
        let expected = mac(&account.secret_key, date_time);
        let same = expected.len() == auth.signature.len()
            && expected
                .iter()
                .zip(&auth.signature)
                .fold(0u8, |acc, (x, y)| acc | (x ^ y))
                == 0;
        if !same {
            return Err(Denied::BadSignature(auth.access_key));
        }
        Ok(Verdict::Account(account))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "\
globalWhiteRemoteAddresses: [10.9.*.*]
accounts:
  - accessKey: publisher
    secretKey: pub-secret
    defaultTopicPerm: PUB
";

    fn header(ak: &str, sig: &str) -> String {
        format!("MQv2-HMAC-SHA1 Credential={ak}/20260101/rocketmq, SignedHeaders=x-mq-date-time, Signature={sig}")
    }

    #[test]
    fn signatures_are_checked_in_either_hex_case() {
        let acl = PlainAcl::parse(FILE).unwrap();
        let local: IpAddr = "127.0.0.1".parse().unwrap();
        let date = "20260101T120000Z";
        let sig = sign("pub-secret", date);
        for s in [sig.clone(), sig.to_uppercase()] {
            let v = acl.authenticate_grpc(local, Some(&header("publisher", &s)), Some(date));
            assert!(matches!(v, Ok(Verdict::Account(a)) if a.access_key == "publisher"));
        }
        let wrong = sign("other-secret", date);
        assert_eq!(
            acl.authenticate_grpc(local, Some(&header("publisher", &wrong)), Some(date))
                .unwrap_err(),
            Denied::BadSignature("publisher".into())
        );
        assert_eq!(
            acl.authenticate_grpc(
                local,
                Some(&header("publisher", &sig)),
                Some("20260101T120001Z")
            )
            .unwrap_err(),
            Denied::BadSignature("publisher".into())
        );
        assert_eq!(
            acl.authenticate_grpc(local, Some(&header("nobody99", &sig)), Some(date))
                .unwrap_err(),
            Denied::UnknownKey("nobody99".into())
        );
    }

    #[test]
    fn missing_and_malformed_metadata_are_named() {
        let acl = PlainAcl::parse(FILE).unwrap();
        let local: IpAddr = "127.0.0.1".parse().unwrap();
        assert_eq!(
            acl.authenticate_grpc(local, None, None).unwrap_err(),
            Denied::NoAccessKey
        );
        // Python clients without credentials send an empty credential.
        assert_eq!(
            acl.authenticate_grpc(local, Some(&header("", "00")), Some("d"))
                .unwrap_err(),
            Denied::NoAccessKey
        );
        let err = acl
            .authenticate_grpc(local, Some(&header("publisher", "xyz")), Some("d"))
            .unwrap_err();
        assert!(err.to_string().contains("not hex"), "{err}");
        let err = acl
            .authenticate_grpc(local, Some("garbage"), Some("d"))
            .unwrap_err();
        assert!(err.to_string().contains("Malformed"), "{err}");
        let sig = sign("pub-secret", "d");
        let err = acl
            .authenticate_grpc(local, Some(&header("publisher", &sig)), None)
            .unwrap_err();
        assert!(err.to_string().contains("x-mq-date-time"), "{err}");
        // The global whitelist needs no credentials.
        assert!(matches!(
            acl.authenticate_grpc("10.9.1.1".parse().unwrap(), None, None),
            Ok(Verdict::Pass)
        ));
    }
}
