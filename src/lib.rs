//! registry-gc: records what GitLab CI pushed (webhooks → store) and removes stale registry tags
//! safely (policy → gc → registry). One module per stage of that flow.

pub mod config;
pub mod policy;
pub mod registry;
pub mod store;
pub mod webhook;
