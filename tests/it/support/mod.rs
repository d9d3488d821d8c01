//! Test support: real collaborators started per test and stopped after.

pub mod app;
pub mod binary;
pub mod db;
pub mod fault_proxy;
pub mod gitlab;
pub mod gitlab_api;
pub mod gitlab_registry;
pub mod kube_api;
pub mod kube_objects;
pub mod registry;
pub mod scenario;
pub mod tmpfs;

/// Logs to the test output when `TEST_LOG` is set.
pub fn init_test_log() {
    if std::env::var_os("TEST_LOG").is_some() {
        registry_gc::telemetry::init(
            registry_gc::config::LogFormat::Human,
            "debug,sqlx=warn,hyper=info",
        );
    }
}
