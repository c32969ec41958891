//! Per-request ACL 1.0 validation: whitelists, the signature, admin-only
//! request codes, then the topic and group permissions the request code
//! touches (Java's table, plus POP which Java 4.x predates).

use std::net::IpAddr;

use protocol::signature::{verify_request, ACCESS_KEY};
use protocol::{RemotingCommand, RequestCode};

use super::file::{Account, PlainAcl, RETRY_PREFIX};
use super::perm::Perm;

/// Traces are written by every client, so sending them never needs a grant.
const TRACE_TOPIC: &str = "RMQ_SYS_TRACE_TOPIC";

/// Why a request was refused; the text names the account and resource.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    #[error("No accessKey is configured")]
    NoAccessKey,
    #[error("No acl config for {0}")]
    UnknownKey(String),
    #[error("Check signature failed for accessKey={0}")]
    BadSignature(String),
    /// A gRPC request whose `authorization` metadata cannot be read.
    #[error("Malformed authorization metadata: {0}")]
    BadAuthorization(String),
    #[error("Need admin permission for request code={code}, but accessKey={key} is not")]
    NotAdmin { code: i32, key: String },
    #[error("No {perm} permission for {kind}:{name}, accessKey={key}")]
    Resource {
        perm: &'static str,
        kind: &'static str,
        name: String,
        key: String,
    },
}

/// Request codes only admin accounts may call: Java's list, the ACL
/// administration codes 50–54 (which Java left open), and Apogee's other
/// codes that change or wipe broker state.
fn admin_only(code: i32) -> bool {
    use RequestCode as C;
    matches!(code, 50..=54)
        || [
            C::UPDATE_AND_CREATE_TOPIC,
            C::UPDATE_AND_CREATE_TOPIC_LIST,
            C::UPDATE_BROKER_CONFIG,
            C::UPDATE_AND_CREATE_SUBSCRIPTIONGROUP,
            C::UPDATE_AND_CREATE_SUBSCRIPTIONGROUP_LIST,
            C::DELETE_SUBSCRIPTIONGROUP,
            C::DELETE_TOPIC_IN_BROKER,
            C::UPDATE_AND_CREATE_STATIC_TOPIC,
            C::INVOKE_BROKER_TO_RESET_OFFSET,
            C::CLEAN_EXPIRED_CONSUMEQUEUE,
            C::DELETE_EXPIRED_COMMITLOG,
            C::CLEAN_UNUSED_TOPIC,
            C::CLONE_GROUP_OFFSET,
        ]
        .iter()
        .any(|c| c.code() == code)
}

/// The (resource, permission) pairs a request needs. Groups are named by
/// their retry topic.
pub fn needs(req: &RemotingCommand) -> Vec<(String, Perm)> {
    use RequestCode as C;
    let field = |k: &str| req.ext_fields.get(k).cloned();
    let group = |k: &str| field(k).map(|g| format!("{RETRY_PREFIX}{g}"));
    let send = |topic: Option<String>| match topic {
        // A retry topic is the group's resource: sending into it needs SUB.
        Some(t) if t.starts_with(RETRY_PREFIX) => vec![(t, Perm::SUB)],
        Some(t) => vec![(t, Perm::PUB)],
        None => vec![],
    };
    let sub = |items: Vec<Option<String>>| {
        items
            .into_iter()
            .flatten()
            .map(|r| (r, Perm::SUB))
            .collect::<Vec<_>>()
    };
    match req.request_code_enum() {
        C::SEND_MESSAGE => send(field("topic")),
        C::SEND_MESSAGE_V2 | C::SEND_BATCH_MESSAGE => send(field("b")),
        C::CONSUMER_SEND_MSG_BACK => sub(vec![group("group")]),
        C::PULL_MESSAGE | C::LITE_PULL_MESSAGE | C::POP_MESSAGE | C::UPDATE_CONSUMER_OFFSET => {
            sub(vec![field("topic"), group("consumerGroup")])
        }
        C::QUERY_MESSAGE => sub(vec![field("topic")]),
        C::UNREGISTER_CLIENT | C::GET_CONSUMER_LIST_BY_GROUP => sub(vec![group("consumerGroup")]),
        C::HEART_BEAT => heartbeat_needs(&req.body),
        _ => vec![],
    }
}

/// Consumers in a heartbeat need SUB on their group and topics; a body
/// that is not a heartbeat needs nothing here (the handler refuses it).
fn heartbeat_needs(body: &[u8]) -> Vec<(String, Perm)> {
    let Ok(json) = serde_json::from_slice::<serde_json::Value>(body) else {
        return vec![];
    };
    let mut out = Vec::new();
    let consumers = json["consumerDataSet"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    for consumer in consumers {
        if let Some(g) = consumer["groupName"].as_str() {
            out.push((format!("{RETRY_PREFIX}{g}"), Perm::SUB));
        }
        let subs = consumer["subscriptionDataSet"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default();
        for s in subs {
            if let Some(t) = s["topic"].as_str() {
                out.push((t.to_string(), Perm::SUB));
            }
        }
    }
    out
}

/// Who a request authenticated as.
#[derive(Debug, Clone, Copy)]
pub enum Verdict<'a> {
    /// A whitelisted source address: no further checks (Java's rule).
    Pass,
    /// A signed request of this account.
    Account(&'a Account),
}

impl PlainAcl {
    /// Validates one request from `peer`, in Java's order.
    ///
    /// # Errors
    /// [`Denied`] saying which check failed.
    pub fn validate(&self, peer: IpAddr, req: &RemotingCommand) -> Result<(), Denied> {
        match self.authenticate(peer, req)? {
            Verdict::Pass => Ok(()),
            Verdict::Account(account) => self.authorize(account, Some(req.code), needs(req)),
        }
    }

    /// Checks a remoting request's whitelists, key and signature.
    ///
    /// # Errors
    /// [`Denied`]: no key, an unknown key or a bad signature.
    pub fn authenticate(&self, peer: IpAddr, req: &RemotingCommand) -> Result<Verdict<'_>, Denied> {
        if self.global_white.iter().any(|p| p.matches(peer)) {
            return Ok(Verdict::Pass);
        }
        let key = req.ext_fields.get(ACCESS_KEY).ok_or(Denied::NoAccessKey)?;
        let account = self.account(key)?;
        if account.white.matches(peer) {
            return Ok(Verdict::Pass);
        }
        if !verify_request(req, &account.secret_key) {
            return Err(Denied::BadSignature(key.clone()));
        }
        Ok(Verdict::Account(account))
    }

    /// The account of `key`.
    ///
    /// # Errors
    /// [`Denied::UnknownKey`].
    pub fn account(&self, key: &str) -> Result<&Account, Denied> {
        self.accounts
            .get(key)
            .ok_or_else(|| Denied::UnknownKey(key.to_string()))
    }

    /// Whether the global whitelist or `account`'s own lets `peer` pass.
    pub fn whitelisted(&self, peer: IpAddr, account: Option<&Account>) -> bool {
        self.global_white.iter().any(|p| p.matches(peer))
            || account.is_some_and(|a| a.white.matches(peer))
    }

    /// Checks an authenticated `account` against request `code` (admin-only
    /// codes; `None` for gRPC) and the (resource, permission) pairs it needs.
    ///
    /// # Errors
    /// [`Denied::NotAdmin`] or [`Denied::Resource`] naming what is missing.
    pub fn authorize(
        &self,
        account: &Account,
        code: Option<i32>,
        needed: Vec<(String, Perm)>,
    ) -> Result<(), Denied> {
        if account.admin {
            return Ok(());
        }
        let key = &account.access_key;
        if let Some(code) = code.filter(|c| admin_only(*c)) {
            return Err(Denied::NotAdmin {
                code,
                key: key.clone(),
            });
        }
        if needed
            .iter()
            .any(|(r, p)| r == TRACE_TOPIC && *p == Perm::PUB)
        {
            return Ok(());
        }
        for (resource, perm) in needed {
            let is_group = resource.starts_with(RETRY_PREFIX);
            let owned = account
                .resources
                .get(&resource)
                .copied()
                .unwrap_or(if is_group {
                    account.default_group
                } else {
                    account.default_topic
                });
            if !owned.grants(perm) {
                let (kind, name) = match resource.strip_prefix(RETRY_PREFIX) {
                    Some(g) => ("group", g.to_string()),
                    None => ("topic", resource),
                };
                return Err(Denied::Resource {
                    perm: perm.name(),
                    kind,
                    name,
                    key: key.clone(),
                });
            }
        }
        Ok(())
    }

    /// The NameServer's rule for requests that change it (registrations,
    /// KV config, permissions, settings): a whitelisted address, or a
    /// request signed by an admin account.
    ///
    /// # Errors
    /// [`Denied`] naming the failed check; [`Denied::NotAdmin`] for a
    /// signed request of an account that is not an admin.
    pub fn validate_admin(&self, peer: IpAddr, req: &RemotingCommand) -> Result<(), Denied> {
        match self.authenticate(peer, req)? {
            Verdict::Pass => Ok(()),
            Verdict::Account(account) if account.admin => Ok(()),
            Verdict::Account(account) => Err(Denied::NotAdmin {
                code: req.code,
                key: account.access_key.clone(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::signature::sign_request;

    const FILE: &str = "\
globalWhiteRemoteAddresses: [10.9.*.*]
accounts:
  - accessKey: publisher
    secretKey: pub-secret
    defaultTopicPerm: PUB
    groupPerms: [g1=SUB]
  - accessKey: subscriber
    secretKey: sub-secret
    defaultTopicPerm: SUB
    defaultGroupPerm: SUB
    topicPerms: [secret=DENY]
  - accessKey: administrator
    secretKey: admin-secret
    admin: true
  - accessKey: trusted1
    secretKey: trusted-secret
    whiteRemoteAddress: 10.1.1.1
";

    fn acl() -> PlainAcl {
        PlainAcl::parse(FILE).unwrap()
    }
    fn local() -> IpAddr {
        "127.0.0.1".parse().unwrap()
    }
    fn req(
        code: RequestCode,
        fields: &[(&str, &str)],
        key: Option<(&str, &str)>,
    ) -> RemotingCommand {
        let mut cmd = RemotingCommand::request(code);
        for (k, v) in fields {
            cmd.ext_fields.insert((*k).into(), (*v).into());
        }
        if let Some((ak, sk)) = key {
            sign_request(&mut cmd, ak, sk);
        }
        cmd
    }
    fn pull(key: (&str, &str)) -> RemotingCommand {
        req(
            RequestCode::PULL_MESSAGE,
            &[("topic", "T1"), ("consumerGroup", "g1")],
            Some(key),
        )
    }
    fn send(key: (&str, &str)) -> RemotingCommand {
        req(
            RequestCode::SEND_MESSAGE_V2,
            &[("a", "p"), ("b", "T1")],
            Some(key),
        )
    }

    #[test]
    fn publishers_send_and_subscribers_pull() {
        let acl = acl();
        assert_eq!(
            acl.validate(local(), &send(("publisher", "pub-secret"))),
            Ok(())
        );
        let err = acl
            .validate(local(), &pull(("publisher", "pub-secret")))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "No SUB permission for topic:T1, accessKey=publisher"
        );
        assert_eq!(
            acl.validate(local(), &pull(("subscriber", "sub-secret"))),
            Ok(())
        );
        let err = acl
            .validate(local(), &send(("subscriber", "sub-secret")))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "No PUB permission for topic:T1, accessKey=subscriber"
        );
        let denied = req(
            RequestCode::QUERY_MESSAGE,
            &[("topic", "secret")],
            Some(("subscriber", "sub-secret")),
        );
        assert!(acl.validate(local(), &denied).is_err());
    }

    #[test]
    fn keys_signatures_and_admin_codes_are_checked() {
        let acl = acl();
        let unsigned = req(RequestCode::SEND_MESSAGE_V2, &[("b", "T1")], None);
        assert_eq!(acl.validate(local(), &unsigned), Err(Denied::NoAccessKey));
        assert_eq!(
            acl.validate(local(), &send(("nobody11", "whatever"))),
            Err(Denied::UnknownKey("nobody11".into()))
        );
        assert_eq!(
            acl.validate(local(), &send(("publisher", "wrong-secret"))),
            Err(Denied::BadSignature("publisher".into()))
        );
        let create = |key| {
            req(
                RequestCode::UPDATE_AND_CREATE_TOPIC,
                &[("topic", "T9")],
                Some(key),
            )
        };
        assert!(matches!(
            acl.validate(local(), &create(("publisher", "pub-secret"))),
            Err(Denied::NotAdmin { code: 17, .. })
        ));
        assert_eq!(
            acl.validate(local(), &create(("administrator", "admin-secret"))),
            Ok(())
        );
    }

    #[test]
    fn name_server_changes_need_an_admin_or_a_whitelisted_address() {
        let acl = acl();
        let register = |key| req(RequestCode::REGISTER_BROKER, &[("brokerName", "b")], key);
        assert_eq!(
            acl.validate_admin(local(), &register(Some(("administrator", "admin-secret")))),
            Ok(())
        );
        assert_eq!(
            acl.validate_admin(local(), &register(Some(("publisher", "pub-secret")))),
            Err(Denied::NotAdmin {
                code: RequestCode::REGISTER_BROKER.code(),
                key: "publisher".into()
            })
        );
        assert_eq!(
            acl.validate_admin(local(), &register(Some(("administrator", "wrong-secret")))),
            Err(Denied::BadSignature("administrator".into()))
        );
        assert_eq!(
            acl.validate_admin(local(), &register(None)),
            Err(Denied::NoAccessKey)
        );
        assert_eq!(
            acl.validate_admin("10.9.0.1".parse().unwrap(), &register(None)),
            Ok(())
        );
    }

    #[test]
    fn whitelists_bypass_checks() {
        let acl = acl();
        let unsigned = req(
            RequestCode::DELETE_TOPIC_IN_BROKER,
            &[("topic", "T1")],
            None,
        );
        assert_eq!(acl.validate("10.9.3.4".parse().unwrap(), &unsigned), Ok(()));
        let mut bad_sig = pull(("trusted1", "trusted-secret"));
        bad_sig.ext_fields.insert("topic".into(), "changed".into());
        assert_eq!(acl.validate("10.1.1.1".parse().unwrap(), &bad_sig), Ok(()));
        assert!(acl.validate(local(), &bad_sig).is_err());
    }

    #[test]
    fn heartbeats_need_sub_on_consumer_groups_and_topics() {
        let mut hb = RemotingCommand::request(RequestCode::HEART_BEAT);
        hb.body = bytes::Bytes::from_static(
            br#"{"clientID":"c","consumerDataSet":[{"groupName":"g1","subscriptionDataSet":[{"topic":"T1"}]}],"producerDataSet":[]}"#,
        );
        assert_eq!(
            needs(&hb),
            vec![
                ("%RETRY%g1".to_string(), Perm::SUB),
                ("T1".to_string(), Perm::SUB)
            ]
        );
        sign_request(&mut hb, "publisher", "pub-secret");
        assert!(acl().validate(local(), &hb).is_err());
    }
}
