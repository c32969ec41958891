//! Request handlers, one file per request family.

pub mod admin;
pub mod broker_config;
pub mod broker_consume;
pub mod clients;
pub mod controller;
pub mod delay;
pub mod lock;
pub mod maintenance;
pub mod metadata_pages;
pub mod offsets;
pub mod producers;
pub mod pull;
pub mod query;
pub mod recall;
pub mod relay;
pub mod reset;
pub mod retry;
pub mod send;
pub mod stats;
pub mod stats_view;
pub mod transaction;
