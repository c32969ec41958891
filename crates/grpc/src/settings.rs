//! The settings the server sends back on Telemetry: the client's own
//! settings completed with the Java proxy's defaults (clients copy some
//! fields verbatim, so none may be left at zero).

use crate::convert::duration;
use crate::pb::{
    self, retry_policy, settings::PubSub, ClientType, CustomizedBackoff, ExponentialBackoff,
    Metric, RetryPolicy,
};

/// Largest body a producer may send (what the proxy announces).
pub const MAX_BODY_SIZE: i32 = 4 * 1024 * 1024;
/// Messages per receive a consumer asks for.
pub const RECEIVE_BATCH_SIZE: i32 = 32;
/// Long-polling time consumers use, ms.
pub const LONG_POLLING_MS: i64 = 20_000;
/// Deliveries of a message before it goes to the DLQ (16 retries + 1).
pub const MAX_DELIVERY_ATTEMPTS: i32 = 17;
/// Consumer backoff before each redelivery: RocketMQ's delay levels.
const CONSUMER_BACKOFF_MS: [i64; 18] = [
    1_000, 5_000, 10_000, 30_000, 60_000, 120_000, 180_000, 240_000, 300_000, 360_000, 420_000,
    480_000, 540_000, 600_000, 1_200_000, 1_800_000, 3_600_000, 7_200_000,
];

/// The settings to answer `client` with. `fifo` says whether the
/// consumer group consumes orderly.
pub fn effective(client: &pb::Settings, fifo: bool) -> pb::Settings {
    let mut s = client.clone();
    s.metric = Some(Metric {
        on: false,
        endpoints: None,
    });
    let kind = client
        .client_type
        .and_then(|t| ClientType::try_from(t).ok());
    match s.pub_sub.as_mut() {
        Some(PubSub::Publishing(p)) => {
            p.max_body_size = MAX_BODY_SIZE;
            p.validate_message_type = true;
            s.backoff_policy = Some(producer_backoff());
        }
        Some(PubSub::Subscription(sub)) => {
            sub.receive_batch_size = Some(RECEIVE_BATCH_SIZE);
            sub.long_polling_timeout = Some(duration(LONG_POLLING_MS));
            sub.fifo = Some(fifo);
            s.backoff_policy = Some(consumer_backoff());
        }
        None if kind == Some(ClientType::Producer) => {
            s.pub_sub = Some(PubSub::Publishing(pb::Publishing {
                topics: Vec::new(),
                max_body_size: MAX_BODY_SIZE,
                validate_message_type: true,
            }));
            s.backoff_policy = Some(producer_backoff());
        }
        None => {}
    }
    s
}

fn producer_backoff() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 3,
        strategy: Some(retry_policy::Strategy::ExponentialBackoff(
            ExponentialBackoff {
                initial: Some(duration(10)),
                max: Some(duration(1_000)),
                multiplier: 2.0,
            },
        )),
    }
}

fn consumer_backoff() -> RetryPolicy {
    RetryPolicy {
        max_attempts: MAX_DELIVERY_ATTEMPTS,
        strategy: Some(retry_policy::Strategy::CustomizedBackoff(
            CustomizedBackoff {
                next: CONSUMER_BACKOFF_MS.iter().map(|&ms| duration(ms)).collect(),
            },
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn producer_settings_get_body_limit_and_exponential_backoff() {
        let client = pb::Settings {
            client_type: Some(ClientType::Producer as i32),
            pub_sub: Some(PubSub::Publishing(pb::Publishing {
                topics: vec![],
                max_body_size: 0,
                validate_message_type: false,
            })),
            ..Default::default()
        };
        let s = effective(&client, false);
        let Some(PubSub::Publishing(p)) = s.pub_sub else {
            panic!("no publishing")
        };
        assert_eq!(p.max_body_size, MAX_BODY_SIZE);
        assert!(p.validate_message_type);
        let b = s.backoff_policy.unwrap();
        assert_eq!(b.max_attempts, 3);
        assert!(matches!(
            b.strategy,
            Some(retry_policy::Strategy::ExponentialBackoff(_))
        ));
    }

    #[test]
    fn consumer_settings_get_batch_poll_and_fifo() {
        let client = pb::Settings {
            client_type: Some(ClientType::SimpleConsumer as i32),
            pub_sub: Some(PubSub::Subscription(pb::Subscription::default())),
            ..Default::default()
        };
        let s = effective(&client, true);
        let Some(PubSub::Subscription(sub)) = s.pub_sub else {
            panic!("no subscription")
        };
        assert_eq!(sub.receive_batch_size, Some(32));
        assert_eq!(sub.fifo, Some(true));
        assert_eq!(sub.long_polling_timeout.unwrap().seconds, 20);
        assert_eq!(s.backoff_policy.unwrap().max_attempts, 17);
    }
}
