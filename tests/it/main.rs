//! Integration tests, one binary: real SQLite, real Postgres, real docker-registry.

mod registry;
mod support;
