//! Background services: delay-level and timer delivery, the transaction
//! check, replication and registration. Services are siblings of the
//! request handlers: neither imports the other; both go down to rules,
//! records, state and tables.

pub mod clients;
pub mod controller;
pub mod delay;
pub mod delivery;
pub mod ha;
pub mod register;
pub mod timer;
pub mod transaction;
