//! Per-request ACL 1.0 validation: whitelists, the signature, admin-only
//! request codes, then the topic and group permissions the request code
//! touches (Java's table, plus POP which Java 4.x predates).

use std::net::IpAddr;

use protocol::fields::SortedFields;
use protocol::signature::ACCESS_KEY;
use protocol::{RemotingCommand, RequestCode};

use super::file::{Account, PlainAcl, Resource, RETRY_PREFIX};
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

/// [`Denied::NotAdmin`] when `code` is admin-only (`account` is not an
/// admin).
fn refuse_admin_code(account: &Account, code: Option<i32>) -> Result<(), Denied> {
    match code.filter(|c| admin_only(*c)) {
        Some(code) => Err(Denied::NotAdmin {
            code,
            key: account.access_key.clone(),
        }),
        None => Ok(()),
    }
}

/// Checks the topic and group permissions request `req` needs against
/// `account`, reading the names from its sorted `fields`: nothing is
/// copied or allocated (but for a heartbeat, whose names are in its JSON
/// body).
fn check_request(
    account: &Account,
    req: &RemotingCommand,
    fields: &SortedFields<'_>,
) -> Result<(), Denied> {
    use RequestCode as C;
    let field = |k: &str| fields.get(k);
    let sub = |resources: &[Option<Resource<'_>>]| {
        resources
            .iter()
            .flatten()
            .try_for_each(|r| check(account, *r, Perm::SUB))
    };
    let topic = |k: &str| field(k).map(Resource::of_topic);
    let group = |k: &str| field(k).map(Resource::Group);
    match req.request_code_enum() {
        C::SEND_MESSAGE => check_send(account, field("topic")),
        C::SEND_MESSAGE_V2 | C::SEND_BATCH_MESSAGE => check_send(account, field("b")),
        C::CONSUMER_SEND_MSG_BACK => sub(&[group("group")]),
        C::PULL_MESSAGE | C::LITE_PULL_MESSAGE | C::POP_MESSAGE | C::UPDATE_CONSUMER_OFFSET => {
            sub(&[topic("topic"), group("consumerGroup")])
        }
        C::QUERY_MESSAGE => sub(&[topic("topic")]),
        C::UNREGISTER_CLIENT | C::GET_CONSUMER_LIST_BY_GROUP => sub(&[group("consumerGroup")]),
        C::HEART_BEAT => heartbeat_needs(&req.body)
            .iter()
            .try_for_each(|(r, p)| check(account, Resource::of_topic(r), *p)),
        _ => Ok(()),
    }
}

/// A send needs PUB on its topic; a retry topic is its group's resource,
/// which needs SUB; trace data needs no grant.
fn check_send(account: &Account, topic: Option<&str>) -> Result<(), Denied> {
    match topic {
        None | Some(TRACE_TOPIC) => Ok(()),
        Some(t) => match Resource::of_topic(t) {
            Resource::Group(g) => check(account, Resource::Group(g), Perm::SUB),
            r => check(account, r, Perm::PUB),
        },
    }
}

/// Whether `account` owns `perm` on `resource`, else the denial naming both.
fn check(account: &Account, resource: Resource<'_>, perm: Perm) -> Result<(), Denied> {
    if account.perm(resource).grants(perm) {
        return Ok(());
    }
    let (kind, name) = match resource {
        Resource::Topic(t) => ("topic", t),
        Resource::Group(g) => ("group", g),
    };
    Err(Denied::Resource {
        perm: perm.name(),
        kind,
        name: name.to_string(),
        key: account.access_key.clone(),
    })
}

/// Consumers in a heartbeat need SUB on their group and topics; a body
/// that is not a heartbeat needs nothing here (the handler refuses it).
/// Groups are named by their retry topic.
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
        if self.global_white.iter().any(|p| p.matches(peer)) {
            return Ok(());
        }
        // One pass over the request's fields serves the key, the signature
        // and the resource names (a decoded request never builds its map).
        let fields = req.ext_fields.sorted();
        match self.authenticate_fields(peer, req, &fields)? {
            Verdict::Pass => Ok(()),
            Verdict::Account(account) if account.admin => Ok(()),
            Verdict::Account(account) => {
                refuse_admin_code(account, Some(req.code))?;
                check_request(account, req, &fields)
            }
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
        self.authenticate_fields(peer, req, &req.ext_fields.sorted())
    }

    /// [`PlainAcl::authenticate`] past the global whitelist, with the
    /// request's fields already sorted.
    fn authenticate_fields(
        &self,
        peer: IpAddr,
        req: &RemotingCommand,
        fields: &SortedFields<'_>,
    ) -> Result<Verdict<'_>, Denied> {
        let key = fields.get(ACCESS_KEY).ok_or(Denied::NoAccessKey)?;
        let account = self.account(key)?;
        if account.white.matches(peer) {
            return Ok(Verdict::Pass);
        }
        if !account.key.verify_fields(fields, req.version, &req.body) {
            return Err(Denied::BadSignature(key.to_string()));
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
    /// codes; `None` for gRPC) and the (resource, permission) pairs it needs
    /// (groups named by their retry topic).
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
        refuse_admin_code(account, code)?;
        if needed
            .iter()
            .any(|(r, p)| r == TRACE_TOPIC && *p == Perm::PUB)
        {
            return Ok(());
        }
        needed
            .iter()
            .try_for_each(|(r, p)| check(account, Resource::of_topic(r), *p))
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
  - accessKey: consumer1
    secretKey: consumer-secret
    topicPerms: [T1=SUB, '%RETRY%g3=SUB']
    groupPerms: [g1=SUB]
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
    fn retry_topics_are_their_groups_and_traces_need_no_grant() {
        let acl = acl();
        let key = Some(("consumer1", "consumer-secret"));
        let pull = |topic, group| {
            let r = req(
                RequestCode::PULL_MESSAGE,
                &[("topic", topic), ("consumerGroup", group)],
                key,
            );
            acl.validate(local(), &r).map_err(|e| e.to_string())
        };
        assert_eq!(pull("T1", "g1"), Ok(()));
        // A retry topic is the group's resource, not a topic's.
        assert_eq!(pull("%RETRY%g1", "g1"), Ok(()));
        // A topicPerms entry naming a retry topic grants its group.
        assert_eq!(pull("T1", "g3"), Ok(()));
        assert_eq!(
            pull("T2", "g1"),
            Err("No SUB permission for topic:T2, accessKey=consumer1".into())
        );
        assert_eq!(
            pull("%RETRY%g2", "g1"),
            Err("No SUB permission for group:g2, accessKey=consumer1".into())
        );
        let send = |topic| {
            let r = req(RequestCode::SEND_MESSAGE_V2, &[("b", topic)], key);
            acl.validate(local(), &r).map_err(|e| e.to_string())
        };
        // Sending back into a retry topic needs SUB on the group.
        assert_eq!(send("%RETRY%g1"), Ok(()));
        assert_eq!(
            send("%RETRY%g2"),
            Err("No SUB permission for group:g2, accessKey=consumer1".into())
        );
        assert_eq!(send(TRACE_TOPIC), Ok(()));
        assert_eq!(
            send("T1"),
            Err("No PUB permission for topic:T1, accessKey=consumer1".into())
        );
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
            heartbeat_needs(&hb.body),
            vec![
                ("%RETRY%g1".to_string(), Perm::SUB),
                ("T1".to_string(), Perm::SUB)
            ]
        );
        sign_request(&mut hb, "publisher", "pub-secret");
        assert!(acl().validate(local(), &hb).is_err());
    }
}
