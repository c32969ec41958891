//! Consumers: the push consumer, the lite pull consumer, and what they
//! share (subscriptions, allocation, offsets, pulling).

pub mod allocate;
pub mod subscription;
