//! The RocketMQ 5.x gRPC endpoint.

pub mod pb {
    #![allow(clippy::all, clippy::pedantic, missing_docs)]
    tonic::include_proto!("apache.rocketmq.v2");
}
