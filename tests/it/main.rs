//! Integration tests, one binary: real SQLite, real Postgres, real docker-registry.

mod bad_input;
mod daemon;
mod e2e;
mod gc_safety;
mod journal;
mod registry;
mod store;
mod support;
mod webhooks;
