//! Test support: real collaborators started per test and stopped after.

pub mod registry;
