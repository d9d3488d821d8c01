//! registry-gc: records what GitLab CI pushed (webhooks → store) and removes stale registry tags
//! safely (policy → gc → registry). One module per stage of that flow.

pub mod cli;
pub mod config;
pub mod gc;
pub mod http;
pub mod metrics;
pub mod policy;
pub mod registry;
pub mod store;
pub mod telemetry;
pub mod webhook;
