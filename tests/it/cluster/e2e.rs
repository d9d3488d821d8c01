//! Garbage collection with cluster protection on, end to end on SQLite and Postgres: the daemon's
//! records from a replayed GitLab history, a real docker-registry, and the Kubernetes source reading
//! a fake API server (payloads in the API server's format). A rollback ReplicaSet keeps an old prod
//! deploy, a pod running a digest keeps a commit tag, each with its reason; with the API server
//! down nothing is deleted and the run says why; a rollout between planning and deleting is seen.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use chrono::{TimeDelta, Utc};
use registry_gc::clock::ManualClock;
use registry_gc::cluster::{Connection, KubernetesProtection, ProtectionSource};
use registry_gc::gc::{TagOutcome, Trigger};
use registry_gc::policy::Protections;

use super::settings;
use crate::support::app::TestApp;
use crate::support::db::both_backends;
use crate::support::kube_api::FakeKube;
use crate::support::kube_objects::{container, container_status, pod, pod_spec, replica_set};
use crate::support::registry::TestRegistry;
use crate::support::scenario::{config, gc_with, names, sha, summary, tags, World, CI, PROD};

/// The source reading `fake`, with a short first-sync wait.
fn source(fake: &FakeKube) -> KubernetesProtection {
    let mut settings = settings();
    settings.sync_timeout_ms = 1_500;
    let connection = Connection::Config(Box::new(fake.config()));
    let connections = HashMap::from([("prod".to_owned(), connection)]);
    KubernetesProtection::start_with(&settings, connections).unwrap()
}

/// The cluster: web's old ReplicaSet (rollback history, 0 replicas) runs `app:prod-<first deploy>`;
/// a review pod runs the image of `app-ci:<feature/a's first commit>` under a tag the registry
/// does not have, so only its digest (`imageID`) protects it.
fn cluster(fake: &FakeKube, host: &str, review_digest: &str) {
    let old = format!("{host}/{PROD}:prod-{}", sha(0, 1));
    fake.put(
        "replicasets",
        replica_set(
            "shop",
            "web-7d9c",
            "web",
            0,
            12,
            pod_spec(vec![container("web", &old)]),
        ),
    );
    let pinned = format!("{host}/{CI}:review-pinned");
    let status = container_status("app", &pinned, &format!("{host}/{CI}@{review_digest}"));
    fake.put(
        "pods",
        pod(
            "review",
            "review-1",
            pod_spec(vec![container("app", &pinned)]),
            vec![status],
        ),
    );
}

/// Protects nothing on its first call (planning), then `repository:tag` (a rollout that landed
/// between planning and deleting).
struct RolloutDuringRun {
    calls: AtomicUsize,
    repository: String,
    tag: String,
}

#[async_trait::async_trait]
impl ProtectionSource for RolloutDuringRun {
    async fn protections(&self) -> Protections {
        if self.calls.fetch_add(1, Ordering::SeqCst) == 0 {
            return Protections::available();
        }
        Protections::in_use([(self.repository.as_str(), self.tag.as_str())], [])
    }
}

both_backends! {
    async fn rollback_targets_and_running_digests_survive_and_a_dead_api_deletes_nothing(backend: Backend) {
        let registry = TestRegistry::start().await;
        let toml = config(&registry);
        let app = TestApp::spawn_with(backend, &toml).await;
        World { app: &app, registry: &registry }.replay().await;
        let client = registry.client();
        let before = tags(&client).await;
        let host = registry.url().trim_start_matches("http://").to_owned();
        let review = before[&(CI.to_owned(), sha(1, 1))].to_string();
        let clock = Arc::new(ManualClock::new(Utc::now() + TimeDelta::days(3)));

        // The API server is down: the run deletes nothing and says which cluster.
        let dead = FakeKube::start().await;
        let unreachable = source(&dead);
        drop(dead);
        let gc = gc_with(&toml, &app, Arc::new(unreachable), clock.clone());
        let run = gc.run(Trigger::Cli, None).await.unwrap();
        assert_eq!(summary(&run).total(TagOutcome::Removed), 0, "{:?}", run.summary);
        let said = run.error.clone().unwrap_or_default();
        assert!(said.contains("cluster protection unavailable") && said.contains("cluster prod"), "{said}");
        assert_eq!(tags(&client).await, before, "something was deleted while the cluster could not be read");

        // The API server answers: the plan names who uses what it keeps.
        let fake = FakeKube::start().await;
        cluster(&fake, &host, &review);
        let gc = gc_with(&toml, &app, Arc::new(source(&fake)), clock);
        let plans = gc.plan(None).await.unwrap();
        let plan = serde_json::to_value(plans[0].as_ref().unwrap()).unwrap();
        let kept = |repo: &str, tag: &str| {
            let found = plan["kept"].as_array().unwrap().iter().find(|k| k["repository"] == repo && k["tag"] == tag);
            found.map(|k| k["reason"]["message"].as_str().unwrap().to_owned()).unwrap_or_default()
        };
        let rollback = kept(PROD, &format!("prod-{}", sha(0, 1)));
        assert!(rollback.contains("rollback target: ReplicaSet shop/web-7d9c (revision 12)"), "{rollback}");
        let running = kept(CI, &sha(1, 1));
        assert!(running.contains("running digest in pod review/review-1"), "{running}");

        // The run removes everything else the plan of the end-to-end test removes (12 - 2).
        let run = gc.run(Trigger::Cli, None).await.unwrap();
        assert_eq!(summary(&run).total(TagOutcome::Removed), 10, "{:?}", run.summary);
        let after = tags(&client).await;
        assert!(names(&after, PROD).contains(&format!("prod-{}", sha(0, 1))));
        assert!(names(&after, CI).contains(&sha(1, 1)));
        assert!(!names(&after, CI).contains(&sha(0, 1)), "an unprotected commit tag stayed");
        for (key, digest) in &after {
            assert_eq!(Some(digest), before.get(key), "{key:?} changed digest");
        }
    }

    async fn a_rollout_between_planning_and_deleting_is_seen(backend: Backend) {
        let registry = TestRegistry::start().await;
        let toml = config(&registry);
        let app = TestApp::spawn_with(backend, &toml).await;
        World { app: &app, registry: &registry }.replay().await;
        let client = registry.client();
        let clock = Arc::new(ManualClock::new(Utc::now() + TimeDelta::days(3)));
        let rollout = RolloutDuringRun { calls: AtomicUsize::new(0), repository: CI.to_owned(), tag: sha(0, 1) };
        let gc = gc_with(&toml, &app, Arc::new(rollout), clock);
        let run = gc.run(Trigger::Cli, None).await.unwrap();
        let done = summary(&run);
        assert_eq!(done.total(TagOutcome::Removed), 11, "{:?}", run.summary);
        assert_eq!(done.total(TagOutcome::Skipped), 1, "{:?}", run.summary);
        assert!(names(&tags(&client).await, CI).contains(&sha(0, 1)), "the tag the rollout uses was deleted");
        let journal = app.store.journal_of_run(run.id).await.unwrap();
        let entry = journal.iter().find(|e| e.tag == sha(0, 1)).unwrap();
        assert!(entry.detail.as_deref().unwrap_or_default().contains("re-checked right before deleting"), "{entry:?}");
    }
}
