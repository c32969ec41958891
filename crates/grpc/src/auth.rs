//! ACL on the gRPC endpoint: the caller's `authorization` metadata is
//! checked against the local broker's `plain_acl.yml` (when `aclEnable` is
//! on), then the topic and group permissions the RPC needs, as the Java
//! proxy does. Failures answer UNAUTHORIZED (40100) in the response's
//! status, the code Java's proxy uses for authentication and authorization
//! alike; the message names the account and the resource.

use std::net::{IpAddr, Ipv4Addr};

use acl::{Perm, Verdict, RETRY_PREFIX};
use tonic::Request;

use crate::core::Core;
use crate::error::{GrpcError, GrpcResult};
use crate::pb::{self, Code};

/// Who called: the socket's address and the credential metadata.
#[derive(Debug, Clone)]
pub struct Caller {
    peer: IpAddr,
    authorization: Option<String>,
    date_time: Option<String>,
}

impl Caller {
    /// The caller of `req` (read before the request is taken apart).
    pub fn of<T>(req: &Request<T>) -> Caller {
        let meta = |key: &str| {
            req.metadata()
                .get(key)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        Caller {
            // Without a socket address only the "any address" whitelist matches.
            peer: req
                .remote_addr()
                .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |a| a.ip()),
            authorization: meta(acl::grpc::AUTHORIZATION),
            date_time: meta(acl::grpc::DATE_TIME),
        }
    }
}

/// What an RPC needs: topics and groups with a permission each.
#[derive(Debug, Default)]
pub struct Needs(Vec<(String, Perm)>);

impl Needs {
    /// `perm` on a topic (skipped when the request names none: the RPC
    /// itself refuses that).
    pub fn topic(mut self, topic: Option<&pb::Resource>, perm: Perm) -> Self {
        if let Some(t) = topic.filter(|t| !t.name.is_empty()) {
            self.0.push((t.name.clone(), perm));
        }
        self
    }

    /// SUB on a consumer group (stored under its retry topic, as the file
    /// keeps group permissions).
    pub fn group(mut self, group: Option<&pb::Resource>) -> Self {
        if let Some(g) = group.filter(|g| !g.name.is_empty()) {
            self.0
                .push((format!("{RETRY_PREFIX}{}", g.name), Perm::SUB));
        }
        self
    }

    /// SUB on a queue's topic.
    pub fn queue(self, queue: Option<&pb::MessageQueue>) -> Self {
        self.topic(queue.and_then(|q| q.topic.as_ref()), Perm::SUB)
    }
}

/// Checks `caller` for the RPC `what` needing `needs`; passes everything
/// when the broker's ACL is off.
///
/// # Errors
/// UNAUTHORIZED with the reason (no or unknown key, bad signature, missing
/// permission), logged at WARN at most once a second.
pub fn check(core: &Core, caller: &Caller, what: &str, needs: Needs) -> GrpcResult<()> {
    let Some(shared) = &core.local.acl else {
        return Ok(());
    };
    let rules = shared.current();
    let verdict = rules
        .authenticate_grpc(
            caller.peer,
            caller.authorization.as_deref(),
            caller.date_time.as_deref(),
        )
        .and_then(|verdict| match verdict {
            Verdict::Pass => Ok(()),
            Verdict::Account(account) => rules.authorize(account, None, needs.0),
        });
    verdict.map_err(|denied| {
        shared.log_denial(caller.peer, what, &denied);
        GrpcError::invalid(Code::Unauthorized, denied.to_string())
    })
}

/// What a client's Telemetry settings need: PUB on each topic it will
/// publish to; SUB on its group and each topic it subscribes to.
pub fn settings_needs(s: &pb::Settings) -> Needs {
    use pb::settings::PubSub;
    match &s.pub_sub {
        Some(PubSub::Publishing(p)) => p
            .topics
            .iter()
            .fold(Needs::default(), |n, t| n.topic(Some(t), Perm::PUB)),
        Some(PubSub::Subscription(sub)) => sub
            .subscriptions
            .iter()
            .fold(Needs::default().group(sub.group.as_ref()), |n, e| {
                n.topic(e.topic.as_ref(), Perm::SUB)
            }),
        None => Needs::default(),
    }
}
