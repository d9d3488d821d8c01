//! Fail closed: a 403 on one kind, a server that never finishes the initial list, and a watch that
//! goes silent past the staleness each make protection unavailable, naming the cluster and kind.

use std::time::{Duration, Instant};

use super::{eventually, settings, start, HOST};
use crate::support::kube_api::{Behaviour, FakeKube};

#[tokio::test]
async fn a_403_on_one_kind_makes_protection_unavailable_naming_cluster_and_kind() {
    let fake = FakeKube::start().await;
    fake.set_behaviour("cronjobs", Behaviour::Forbidden);
    let source = start(&settings(), &[("prod", &fake)]);

    let started = Instant::now();
    let p = source.protections_for(HOST).await;
    let reason = p.unavailable_reason().expect("unavailable");
    assert!(
        reason.starts_with("cluster prod: cronjobs.batch (all namespaces): 403 Forbidden: "),
        "{reason}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "a 403 is final: no waiting for the sync timeout"
    );
    assert!(p.tags.is_empty() && p.digests.is_empty());
    assert_eq!(source.snapshot_now().problems().len(), 1, "only that kind");
}

#[tokio::test]
async fn a_server_that_never_finishes_the_initial_list_is_unavailable_after_the_timeout() {
    let fake = FakeKube::start().await;
    fake.set_behaviour("pods", Behaviour::HangList);
    let mut s = settings();
    s.request_timeout_ms = 300;
    s.sync_timeout_ms = 800;
    let source = start(&s, &[("prod", &fake)]);

    let started = Instant::now();
    let p = source.protections_for(HOST).await;
    let waited = started.elapsed();
    let reason = p.unavailable_reason().expect("unavailable");
    assert!(
        reason.starts_with(
            "cluster prod: pods (all namespaces): not listed yet: list timed out after 300ms"
        ),
        "{reason}"
    );
    assert!(
        waited >= Duration::from_millis(600) && waited < Duration::from_secs(2),
        "waited {waited:?}"
    );
    // After the sync timeout a caller no longer waits.
    let again = Instant::now();
    assert!(source
        .protections_for(HOST)
        .await
        .unavailable_reason()
        .is_some());
    assert!(again.elapsed() < Duration::from_millis(200));
}

#[tokio::test]
async fn a_watch_that_goes_silent_past_the_staleness_makes_protection_unavailable() {
    let fake = FakeKube::start().await;
    fake.set_behaviour("pods", Behaviour::GoSilent);
    let mut s = settings();
    s.staleness_secs = 1;
    s.request_timeout_ms = 300;
    let source = start(&s, &[("prod", &fake)]);

    assert_eq!(
        source.protections_for(HOST).await.unavailable_reason(),
        None,
        "listed and fresh"
    );
    let unavailable = || {
        source
            .snapshot_now()
            .protections_for(HOST)
            .unavailable_reason()
            .map(str::to_owned)
    };
    eventually("staleness passes", || unavailable().is_some()).await;
    let reason = unavailable().unwrap();
    assert!(
        reason.starts_with(
            "cluster prod: pods (all namespaces): no event or bookmark for 1s (staleness 1s)"
        ),
        "{reason}"
    );
    assert!(
        reason.contains("last error: list timed out"),
        "the relist after silence hangs too: {reason}"
    );
    assert_eq!(
        source.snapshot_now().problems().len(),
        1,
        "the other kinds get bookmarks"
    );
}
