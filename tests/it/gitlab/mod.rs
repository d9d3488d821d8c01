//! The GitLab API client, reconciliation, import and hook checks against a GitLab fake on loopback
//! (`support::gitlab_api`) that answers in GitLab's exact shapes; end to end on both backends.

mod client;
mod e2e;
mod reconcile;
mod service;
mod state;

use registry_gc::gitlab::{Budget, GitLabClient, GitLabSettings};
use registry_gc::secret::Secret;

use crate::support::gitlab_api::{FakeGitLab, TOKEN};

/// Settings for the fake: short backoffs and timeouts so faults cost milliseconds.
pub fn settings(fake: &FakeGitLab) -> GitLabSettings {
    let mut s = GitLabSettings::new(fake.url.parse().unwrap(), Secret::new(TOKEN));
    s.backoff_initial_ms = 5;
    s.backoff_max_ms = 20;
    s.max_retry_wait_secs = 1;
    s.request_timeout_ms = 2_000;
    s.connect_timeout_ms = 500;
    s
}

pub fn client_with(fake: &FakeGitLab, tweak: impl FnOnce(&mut GitLabSettings)) -> GitLabClient {
    let mut s = settings(fake);
    tweak(&mut s);
    GitLabClient::new(s).unwrap()
}

pub fn budget() -> Budget {
    Budget::new(1_000)
}
