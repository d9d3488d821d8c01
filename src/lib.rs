//! registry-gc: records what GitLab CI pushed (webhooks → store) and removes stale registry tags
//! safely (policy → gc → registry). One module per stage of that flow.

pub mod app;
pub mod cli;
pub mod clock;
pub mod cluster;
pub mod config;
pub mod gc;
pub mod gitlab;
mod http;
mod metrics;
pub mod model;
pub mod policy;
pub mod process;
pub mod registry;
pub mod secret;
pub mod store;
pub mod telemetry;
pub mod text;
mod webhook;
