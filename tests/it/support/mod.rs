//! Test support: real collaborators started per test and stopped after.

pub mod app;
pub mod db;
pub mod gitlab;
pub mod registry;
pub mod scenario;

/// Logs to the test output when `TEST_LOG` is set.
pub fn init_test_log() {
    if std::env::var_os("TEST_LOG").is_some() {
        registry_gc::telemetry::init(
            registry_gc::config::LogFormat::Human,
            "debug,sqlx=warn,hyper=info",
        );
    }
}
