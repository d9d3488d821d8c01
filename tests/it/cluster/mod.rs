//! Cluster protection against a fake Kubernetes API server (`support::kube_api`), whose payloads
//! are recorded in the API server's format, read by a real `kube::Client` over loopback. Short
//! timeouts keep these tests to a few seconds; every server stops when its test ends.

mod e2e;
mod failures;
mod images;
mod kubeconfig;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use registry_gc::cluster::{ClusterEntry, ClusterSettings, Connection, KubernetesProtection};

use crate::support::kube_api::FakeKube;

/// The GitLab registry the tests protect.
pub const HOST: &str = "registry.example.com";

/// A distinct `sha256:` digest per `n`.
pub fn digest(n: u8) -> String {
    format!("sha256:{}", format!("{n:02x}").repeat(32))
}

/// One cluster named `prod`, small pages, short timeouts, a staleness no test reaches by accident.
pub fn settings() -> ClusterSettings {
    ClusterSettings {
        clusters: vec![ClusterEntry {
            name: "prod".into(),
            ..ClusterEntry::in_cluster()
        }],
        staleness_secs: 30,
        request_timeout_ms: 1_000,
        sync_timeout_ms: 3_000,
        watch_timeout_secs: 5,
        page_size: 2,
        retry_max_ms: 200,
        ..ClusterSettings::default()
    }
}

/// Starts the source with each named cluster pointed at its fake API server.
pub fn start(settings: &ClusterSettings, fakes: &[(&str, &FakeKube)]) -> KubernetesProtection {
    crate::support::init_test_log();
    let connections: HashMap<String, Connection> = fakes
        .iter()
        .map(|(name, fake)| {
            (
                name.to_string(),
                Connection::Config(Box::new(fake.config())),
            )
        })
        .collect();
    KubernetesProtection::start_with(settings, connections).expect("valid settings")
}

/// Polls `check` every 20 ms until it holds; fails after 3 s.
pub async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(3);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
