//! The broker's tables: what it knows about topics, groups, offsets,
//! clients, locks, subscriptions and waiting pulls, and the state the
//! delivery and replication services keep. Each table guards itself with a
//! short lock that is never held across `.await`. Tables import only the
//! ground floor (config, error), never each other's users.

pub mod arrivals;
pub mod clients;
pub mod delay;
pub mod groups;
pub mod ha;
pub mod lease;
pub mod locks;
pub mod metadata;
pub mod offsets;
pub mod pop;
pub mod role;
pub mod subscription;
pub mod timer;
pub mod topics;
pub mod transactions;
