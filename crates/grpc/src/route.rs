//! QueryRoute and QueryAssignment: the NameServer's routes as 5.x clients
//! expect them. Every broker's queues point back at the endpoint the
//! client dialled, which forwards to the owning broker over remoting.

use std::collections::HashMap;
use std::net::IpAddr;

use client::instance::TopicRoute;
use protocol::message::sysflag::perm;

use crate::convert;
use crate::core::Core;
use crate::error::{GrpcError, GrpcResult};
use crate::pb::{self, AddressScheme, Code, MessageType, Permission};

/// The endpoints to advertise: the ones the client dialled, with a scheme
/// that matches the host form, or `fallback` when it sent none.
pub fn endpoints(requested: Option<pb::Endpoints>, fallback: &str) -> pb::Endpoints {
    let addresses = match requested {
        Some(e) if !e.addresses.is_empty() => e.addresses,
        _ => {
            let (host, port) = fallback.rsplit_once(':').unwrap_or((fallback, "8081"));
            vec![pb::Address {
                host: host.trim_matches(['[', ']']).to_string(),
                port: port.parse().unwrap_or(8081),
            }]
        }
    };
    let scheme = match addresses.first().map(|a| a.host.parse::<IpAddr>()) {
        Some(Ok(IpAddr::V4(_))) => AddressScheme::IPv4,
        Some(Ok(IpAddr::V6(_))) => AddressScheme::IPv6,
        _ => AddressScheme::DomainName,
    };
    // A domain name may carry only one address (Python builds `dns:h:p`).
    let addresses = if scheme == AddressScheme::DomainName {
        addresses.into_iter().take(1).collect()
    } else {
        addresses
    };
    pb::Endpoints {
        scheme: scheme as i32,
        addresses,
    }
}

fn permission(readable: bool, writable: bool) -> Permission {
    match (readable, writable) {
        (true, true) => Permission::ReadWrite,
        (true, false) => Permission::Read,
        (false, true) => Permission::Write,
        (false, false) => Permission::None,
    }
}

/// The queues of `route` on master brokers, numbered from 0 per broker;
/// `endpoints` names where each broker is served.
pub fn queues(
    topic: &pb::Resource,
    route: &TopicRoute,
    endpoints: &HashMap<String, pb::Endpoints>,
    dialled: &pb::Endpoints,
    types: &[MessageType],
) -> Vec<pb::MessageQueue> {
    let mut out = Vec::new();
    let mut datas: Vec<_> = route.data.queue_datas.iter().collect();
    datas.sort_by(|a, b| a.broker_name.cmp(&b.broker_name));
    for q in datas {
        let has_master = route
            .broker(&q.broker_name)
            .is_some_and(|b| b.broker_addrs.contains_key(&0));
        if !has_master {
            continue;
        }
        let broker = pb::Broker {
            name: q.broker_name.clone(),
            id: 0,
            endpoints: Some(endpoints.get(&q.broker_name).unwrap_or(dialled).clone()),
        };
        for id in 0..q.read_queue_nums.max(q.write_queue_nums) {
            let readable = id < q.read_queue_nums && perm::is_readable(q.perm);
            let writable = id < q.write_queue_nums && perm::is_writeable(q.perm);
            out.push(pb::MessageQueue {
                topic: Some(topic.clone()),
                id,
                permission: permission(readable, writable) as i32,
                broker: Some(broker.clone()),
                accept_message_types: types.iter().map(|t| *t as i32).collect(),
            });
        }
    }
    out
}

/// Where each broker of `route` serves gRPC: this endpoint (as the
/// client dialled it) for the local broker, the broker's own
/// `grpcListenPort` on its host for the others. POP state lives in each
/// broker, so receives and acks must reach the broker that owns the queue.
async fn broker_endpoints(
    core: &Core,
    route: &TopicRoute,
    dialled: &pb::Endpoints,
) -> HashMap<String, pb::Endpoints> {
    let mut out = HashMap::new();
    for b in &route.data.broker_datas {
        if b.broker_name == core.local.config.broker_name {
            out.insert(b.broker_name.clone(), dialled.clone());
            continue;
        }
        let Some(addr) = b.broker_addrs.get(&0) else {
            continue;
        };
        let Some((host, _)) = addr.rsplit_once(':') else {
            continue;
        };
        match core.upstream.grpc_port(addr).await {
            Ok(port) => {
                let asked = pb::Endpoints {
                    scheme: 0,
                    addresses: vec![pb::Address {
                        host: host.trim_matches(['[', ']']).to_string(),
                        port: i32::from(port),
                    }],
                };
                out.insert(b.broker_name.clone(), endpoints(Some(asked), addr));
            }
            // Sends still work through this endpoint; receives from that
            // broker will say where the problem is.
            Err(e) => tracing::warn!(broker = %b.broker_name, error = %e, "no gRPC endpoint known"),
        }
    }
    out
}

/// QueryRoute.
///
/// # Errors
/// ILLEGAL_TOPIC, TOPIC_NOT_FOUND.
pub async fn query_route(
    core: &Core,
    req: pb::QueryRouteRequest,
) -> GrpcResult<Vec<pb::MessageQueue>> {
    let topic = req.topic.unwrap_or_default();
    convert::check_topic(&topic.name)?;
    let route = core.upstream.fresh_route(&topic.name).await?;
    let types = core.upstream.accepted_types(&topic.name, &route).await;
    let eps = endpoints(req.endpoints, &core.advertised);
    let served = broker_endpoints(core, &route, &eps).await;
    let queues = queues(&topic, &route, &served, &eps, &types);
    if queues.is_empty() {
        return Err(GrpcError::invalid(
            Code::TopicNotFound,
            format!("topic `{}` has no queue on a master broker", topic.name),
        ));
    }
    Ok(queues)
}

/// QueryAssignment: one assignment per readable broker (queue id -1, "any
/// queue of that broker"), or one per queue for an orderly group.
///
/// # Errors
/// ILLEGAL_TOPIC, ILLEGAL_CONSUMER_GROUP, TOPIC_NOT_FOUND, FORBIDDEN when
/// nothing is readable.
pub async fn query_assignment(
    core: &Core,
    req: pb::QueryAssignmentRequest,
) -> GrpcResult<Vec<pb::Assignment>> {
    let topic = req.topic.unwrap_or_default();
    let group = req.group.unwrap_or_default();
    convert::check_topic(&topic.name)?;
    convert::check_group(&group.name)?;
    let route = core.upstream.fresh_route(&topic.name).await?;
    let types = core.upstream.accepted_types(&topic.name, &route).await;
    let eps = endpoints(req.endpoints, &core.advertised);
    let orderly = core.upstream.group_orderly(&group.name, &route).await;
    let served = broker_endpoints(core, &route, &eps).await;
    let readable = queues(&topic, &route, &served, &eps, &types)
        .into_iter()
        .filter(|q| {
            q.permission == Permission::Read as i32 || q.permission == Permission::ReadWrite as i32
        });
    let mut out: Vec<pb::Assignment> = Vec::new();
    for mut q in readable {
        if !orderly {
            let broker = q.broker.as_ref().map(|b| b.name.clone());
            if out.iter().any(|a| {
                a.message_queue
                    .as_ref()
                    .and_then(|m| m.broker.as_ref())
                    .map(|b| b.name.clone())
                    == broker
            }) {
                continue;
            }
            q.id = -1;
        }
        out.push(pb::Assignment {
            message_queue: Some(q),
        });
    }
    if out.is_empty() {
        return Err(GrpcError::invalid(
            Code::Forbidden,
            format!("topic `{}` has no readable queue", topic.name),
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::body::route::{BrokerData, QueueData, TopicRouteData};

    fn route() -> TopicRoute {
        let mut data = TopicRouteData::default();
        for (name, has_master) in [("b", true), ("a", true), ("slave-only", false)] {
            let mut addrs = std::collections::BTreeMap::new();
            addrs.insert(if has_master { 0 } else { 1 }, "127.0.0.1:1".to_string());
            data.broker_datas.push(BrokerData {
                broker_name: name.into(),
                broker_addrs: addrs,
                ..Default::default()
            });
            data.queue_datas.push(QueueData {
                broker_name: name.into(),
                perm: perm::READ_WRITE,
                read_queue_nums: 2,
                write_queue_nums: 1,
                topic_sys_flag: 0,
            });
        }
        TopicRoute::new("T", data)
    }

    #[test]
    fn queues_are_masters_only_numbered_from_zero_with_permissions() {
        let eps = endpoints(None, "127.0.0.1:8081");
        let topic = pb::Resource {
            resource_namespace: String::new(),
            name: "T".into(),
        };
        let other = endpoints(None, "127.0.0.2:9000");
        let served = HashMap::from([("b".to_string(), other.clone())]);
        let qs = queues(&topic, &route(), &served, &eps, &[MessageType::Normal]);
        assert_eq!(
            qs[0].broker.as_ref().unwrap().endpoints.as_ref(),
            Some(&eps)
        );
        assert_eq!(
            qs[2].broker.as_ref().unwrap().endpoints.as_ref(),
            Some(&other)
        );
        let got: Vec<_> = qs
            .iter()
            .map(|q| (q.broker.as_ref().unwrap().name.as_str(), q.id, q.permission))
            .collect();
        assert_eq!(
            got,
            vec![
                ("a", 0, Permission::ReadWrite as i32),
                ("a", 1, Permission::Read as i32),
                ("b", 0, Permission::ReadWrite as i32),
                ("b", 1, Permission::Read as i32),
            ]
        );
        assert_eq!(qs[0].accept_message_types, vec![MessageType::Normal as i32]);
    }

    #[test]
    fn endpoint_schemes_follow_the_host_form() {
        let e = endpoints(None, "127.0.0.1:9000");
        assert_eq!(e.scheme, AddressScheme::IPv4 as i32);
        assert_eq!(e.addresses[0].port, 9000);
        let asked = pb::Endpoints {
            scheme: 0,
            addresses: vec![
                pb::Address {
                    host: "localhost".into(),
                    port: 1,
                },
                pb::Address {
                    host: "other".into(),
                    port: 2,
                },
            ],
        };
        let e = endpoints(Some(asked), "x:1");
        assert_eq!(e.scheme, AddressScheme::DomainName as i32);
        assert_eq!(e.addresses.len(), 1);
        assert_eq!(
            endpoints(None, "[::1]:5").scheme,
            AddressScheme::IPv6 as i32
        );
    }
}
