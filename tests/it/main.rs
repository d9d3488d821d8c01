//! Integration tests, one binary: real SQLite, real Postgres, real docker-registry.

mod bad_input;
mod cluster;
mod daemon;
mod e2e;
mod faults;
mod gc_safety;
mod gitlab;
mod hostile;
mod journal;
mod metrics;
mod registry;
mod store;
mod support;
mod webhooks;
