//! End to end: a realistic GitLab history replayed into the running daemon, images pushed to a real
//! docker-registry, then garbage collection: dry run, a run that crashes between the dummy PUT and
//! its DELETE, the run that finishes it, and a run with nothing left to do. SQLite and Postgres.

use std::collections::{BTreeMap, BTreeSet};

use std::sync::Arc;

use chrono::{TimeDelta, Utc};
use registry_gc::config::Config;
use registry_gc::gc::protect::{NoClusterProtection, ProtectionSource, UnavailableProtection};
use registry_gc::gc::summary::{Outcome, RunSummary};
use registry_gc::gc::{CrashPoint, GcError, Trigger};
use registry_gc::gc::{Gc, ManualClock};
use registry_gc::metrics::Metrics;
use registry_gc::registry::{Digest, Format, RegistryClient};
use registry_gc::store::model::RunStatus;
use serde_json::Value;

use crate::support::app::{project_toml, TestApp};
use crate::support::db::both_backends;
use crate::support::gitlab::{self, zeros};
use crate::support::registry::{TestImage, TestRegistry};

const CI: &str = "group/app/app-ci";
const PROD: &str = "group/app/app";

fn config(registry: &TestRegistry) -> String {
    config_with(registry, "")
}

/// The test project on `registry`, deleting for real; `project_extra` goes into its table.
fn config_with(registry: &TestRegistry, project_extra: &str) -> String {
    let host = registry.url().trim_start_matches("http://").to_owned();
    let project = project_toml(&host, project_extra);
    format!(
        "{project}\n[gc]\ndry_run = false\nschedule = \"\"\n\n[[registries]]\nurl = \"{}\"\n",
        registry.url()
    )
}

/// A commit SHA named after its branch and number (40 hex characters).
fn sha(branch: u8, n: u8) -> String {
    format!("{branch:02x}{n:02x}{}", "ab".repeat(18))
}

struct World<'a> {
    app: &'a TestApp,
    registry: &'a TestRegistry,
}

impl World<'_> {
    async fn hook(&self, event: &str, body: Value) {
        let (status, answer) = self.app.deliver(event, &body, None).await;
        assert_eq!(status, 200, "{event}: {answer}");
    }

    /// A pipeline that builds one image and pushes it under every tag CI would push.
    async fn pipeline(
        &self,
        id: i64,
        branch: &str,
        commit: &str,
        status: &str,
        mr: Option<i64>,
        tags: &[(&str, String)],
    ) {
        self.hook(
            "Pipeline Hook",
            gitlab::pipeline(id, branch, commit, "running", false, mr),
        )
        .await;
        let image = TestImage::random(Format::Docker, 1, 512);
        for (repo, tag) in tags {
            self.registry.push_image(repo, tag, &image).await;
        }
        if status != "running" {
            self.hook(
                "Pipeline Hook",
                gitlab::pipeline(id, branch, commit, status, false, mr),
            )
            .await;
        }
    }

    async fn replay(&self) {
        // main: five deploys; the branch tag and `prod` move with each.
        self.hook(
            "Push Hook",
            gitlab::push("main", &zeros(), &sha(0, 1), &[sha(0, 1)]),
        )
        .await;
        for n in 1..=5u8 {
            let commit = sha(0, n);
            let tags = [
                (CI, commit.clone()),
                (CI, "main".to_owned()),
                (PROD, format!("prod-{commit}")),
                (PROD, "prod".to_owned()),
            ];
            self.pipeline(600 + i64::from(n), "main", &commit, "success", None, &tags)
                .await;
        }
        // feature/a: two pipelines, merged in !1, branch deleted.
        self.hook(
            "Push Hook",
            gitlab::push("feature/a", &zeros(), &sha(1, 1), &[sha(1, 1)]),
        )
        .await;
        self.hook(
            "Merge Request Hook",
            gitlab::merge_request(1, "feature/a", "opened", "open", "2026-11-20T09:00:00Z"),
        )
        .await;
        for n in 1..=2u8 {
            let tags = [(CI, sha(1, n)), (CI, "feature-a".to_owned())];
            self.pipeline(
                500 + i64::from(n),
                "feature/a",
                &sha(1, n),
                "success",
                None,
                &tags,
            )
            .await;
        }
        self.hook(
            "Merge Request Hook",
            gitlab::merge_request(1, "feature/a", "merged", "merge", "2026-11-21T10:00:00Z"),
        )
        .await;
        self.hook(
            "Push Hook",
            gitlab::push("feature/a", &sha(1, 2), &zeros(), &[]),
        )
        .await;
        // feature/b: a failed pipeline, MR !2 closed, branch still there.
        self.hook(
            "Push Hook",
            gitlab::push("feature/b", &zeros(), &sha(2, 1), &[sha(2, 1)]),
        )
        .await;
        self.hook(
            "Merge Request Hook",
            gitlab::merge_request(2, "feature/b", "opened", "open", "2026-11-20T09:00:00Z"),
        )
        .await;
        self.pipeline(
            511,
            "feature/b",
            &sha(2, 1),
            "failed",
            None,
            &[(CI, sha(2, 1)), (CI, "feature-b".to_owned())],
        )
        .await;
        self.hook(
            "Merge Request Hook",
            gitlab::merge_request(2, "feature/b", "closed", "close", "2026-11-21T10:00:00Z"),
        )
        .await;
        // feature/c: MR !3 open, one finished pipeline and one still running.
        self.hook(
            "Push Hook",
            gitlab::push("feature/c", &zeros(), &sha(3, 0), &[sha(3, 0)]),
        )
        .await;
        self.hook(
            "Merge Request Hook",
            gitlab::merge_request(3, "feature/c", "opened", "open", "2026-11-20T09:00:00Z"),
        )
        .await;
        self.pipeline(
            520,
            "feature/c",
            &sha(3, 0),
            "success",
            Some(3),
            &[(CI, sha(3, 0)), (CI, "feature-c".to_owned())],
        )
        .await;
        self.pipeline(
            521,
            "feature/c",
            &sha(3, 1),
            "running",
            Some(3),
            &[(CI, sha(3, 1)), (CI, "feature-c".to_owned())],
        )
        .await;
        // A release tag on the last deploy; its image is the deployed one.
        self.hook("Tag Push Hook", gitlab::tag_push("v1.2.0", &sha(0, 5)))
            .await;
        self.hook(
            "Pipeline Hook",
            gitlab::pipeline(607, "v1.2.0", &sha(0, 5), "success", true, None),
        )
        .await;
        let client = self.registry.client();
        let prod = client.resolve(PROD, "prod").await.unwrap().unwrap();
        let manifest = client
            .fetch_manifest(PROD, prod.as_str())
            .await
            .unwrap()
            .unwrap();
        client
            .put_manifest(
                PROD,
                "v1.2.0",
                registry_gc::registry::manifest::DOCKER_MANIFEST,
                manifest.bytes,
            )
            .await
            .unwrap();
    }
}

async fn tags(client: &RegistryClient) -> BTreeMap<(String, String), Digest> {
    let mut out = BTreeMap::new();
    for repo in [CI, PROD] {
        for tag in client.list_tags(repo).await.unwrap() {
            let digest = client.resolve(repo, &tag).await.unwrap().unwrap();
            out.insert((repo.to_owned(), tag), digest);
        }
    }
    out
}

fn names(tags: &BTreeMap<(String, String), Digest>, repo: &str) -> BTreeSet<String> {
    tags.keys()
        .filter(|(r, _)| r == repo)
        .map(|(_, t)| t.clone())
        .collect()
}

fn summary(run: &registry_gc::store::model::RunRecord) -> RunSummary {
    serde_json::from_value(run.summary.clone()).unwrap()
}

both_backends! {
    async fn garbage_collection_end_to_end(backend: Backend) {
        let registry = TestRegistry::start().await;
        let app = TestApp::spawn_with(backend, &config(&registry)).await;
        let world = World { app: &app, registry: &registry };
        world.replay().await;
        let client = registry.client();
        let before = tags(&client).await;
        assert_eq!(before.len(), 21, "{before:?}");
        // Past every grace period and the minimum age of tags first seen just now.
        app.clock.set(Utc::now() + TimeDelta::days(3));

        // The plan explains itself.
        let plan = app.api("/api/v1/plan").await;
        let actions = plan["plans"][0]["actions"].as_array().unwrap().clone();
        assert!(!actions.is_empty() && plan["errors"].as_array().unwrap().is_empty(), "{plan}");
        let kept = plan["plans"][0]["kept"].as_array().unwrap().clone();
        assert!(kept.iter().all(|k| k["reason"]["message"].as_str().is_some_and(|m| !m.is_empty())), "{plan}");

        // A dry run deletes nothing and journals what it would do: app-ci loses 9 commit tags, the
        // deleted and the closed branch's cache tags; app loses prod-1 (current + last 3 kept).
        let dry = app.gc.run(Trigger::Cli, Some(true)).await.unwrap();
        assert!(dry.dry_run);
        assert_eq!(summary(&dry).total(Outcome::DryRun), 12, "{:?}", dry.summary);
        assert_eq!(tags(&client).await, before, "a dry run changed the registry");

        // A run that dies between pointing tags at the dummy and deleting it.
        app.gc.set_crash_point(CrashPoint::AfterRepoint);
        assert!(matches!(app.gc.run(Trigger::Cli, None).await, Err(GcError::Crashed)));
        let m5 = sha(0, 5);
        let on_dummy = client.resolve(CI, &m5).await.unwrap().unwrap();
        assert_ne!(on_dummy, before[&(CI.to_owned(), m5.clone())], "the crash point is after the re-point");
        assert_eq!(client.resolve(CI, "main").await.unwrap().unwrap(), before[&(CI.to_owned(), "main".to_owned())]);

        // The next run finishes it and deletes the rest.
        app.gc.set_crash_point(CrashPoint::Never);
        let run = app.gc.run(Trigger::Cli, None).await.unwrap();
        let done = summary(&run);
        assert_eq!(run.status, RunStatus::Finished, "{:?}", run.summary);
        assert_eq!(done.resumed, 1, "{:?}", run.summary);
        assert!(done.errors.is_empty(), "{:?}", done.errors);
        let after = tags(&client).await;
        let expected_ci: BTreeSet<String> = ["main".to_owned(), "feature-c".to_owned(), sha(3, 1)].into();
        assert_eq!(names(&after, CI), expected_ci);
        let expected_prod: BTreeSet<String> = ["prod".to_owned(), "v1.2.0".to_owned(), format!("prod-{}", sha(0, 5)), format!("prod-{}", sha(0, 4)), format!("prod-{}", sha(0, 3)), format!("prod-{}", sha(0, 2))].into();
        assert_eq!(names(&after, PROD), expected_prod);
        for (key, digest) in &after {
            assert_eq!(&before[key], digest, "kept tag {key:?} changed digest");
        }

        let runs = app.api("/api/v1/gc/runs").await["runs"].clone();
        let statuses: Vec<&str> = runs.as_array().unwrap().iter().map(|r| r["status"].as_str().unwrap()).collect();
        assert_eq!(statuses, ["finished", "interrupted", "finished"]);

        // The read API now shows the digest each kept tag had in the registry.
        let recorded = app.api("/api/v1/projects/group/app/tags?ref=main&kind=ci-branch").await["tags"].clone();
        let main_digest = before[&(CI.to_owned(), "main".to_owned())].to_string();
        assert!(recorded.as_array().unwrap().iter().all(|t| t["digest"] == main_digest.as_str()), "{recorded}");

        // Nothing left to do.
        let again = app.gc.run(Trigger::Cli, None).await.unwrap();
        assert_eq!(summary(&again).total(Outcome::Removed), 0, "{:?}", again.summary);
        assert_eq!(tags(&client).await, after);
    }
}

async fn deploy_once(world: &World<'_>) {
    world
        .hook(
            "Push Hook",
            gitlab::push("main", &zeros(), &sha(0, 1), &[sha(0, 1)]),
        )
        .await;
    let tags = [
        (CI, sha(0, 1)),
        (CI, "main".to_owned()),
        (PROD, format!("prod-{}", sha(0, 1))),
        (PROD, "prod".to_owned()),
    ];
    world
        .pipeline(601, "main", &sha(0, 1), "success", None, &tags)
        .await;
}

both_backends! {
    async fn untracked_tags_expire_only_where_configured(backend: Backend) {
        let registry = TestRegistry::start().await;
        let extra = r#"repository_retention = { "group/app/app-ci" = { untracked_max_age = "30d" } }"#;
        let app = TestApp::spawn_with(backend, &config_with(&registry, extra)).await;
        let world = World { app: &app, registry: &registry };
        deploy_once(&world).await;
        // Pushed by hand, never seen by a webhook; the test images say they were built in 2024.
        let old = TestImage::random(Format::Oci, 1, 256);
        registry.push_image(CI, "manual-build", &old).await;
        registry.push_image(PROD, "manual-build", &old).await;
        app.clock.set(Utc::now() + TimeDelta::days(3));

        let run = app.gc.run(Trigger::Cli, None).await.unwrap();
        assert_eq!(run.status, RunStatus::Finished, "{:?}", run.summary);
        let left = tags(&registry.client()).await;
        assert!(!names(&left, CI).contains("manual-build"), "expired untracked tag kept: {left:?}");
        assert!(names(&left, PROD).contains("manual-build"), "untracked tag without an age rule deleted");
        assert!(names(&left, CI).contains("main") && names(&left, PROD).contains("prod"));
    }

    async fn api_runs_and_refusals(backend: Backend) {
        let mut registry = TestRegistry::start().await;
        let app = TestApp::spawn_with(backend, &config(&registry)).await;
        let world = World { app: &app, registry: &registry };
        deploy_once(&world).await;
        app.clock.set(Utc::now() + TimeDelta::days(3));

        let url = app.url("/api/v1/gc/runs");
        let body = serde_json::json!({ "dry_run": true, "wait": true });
        assert_eq!(app.http.post(&url).json(&body).send().await.unwrap().status(), 401);
        let response = app.http.post(&url).bearer_auth(crate::support::app::ADMIN).json(&body).send().await.unwrap();
        assert_eq!(response.status(), 200);
        let run: Value = response.json().await.unwrap();
        assert_eq!((run["dry_run"].as_bool(), run["status"].as_str()), (Some(true), Some("finished")), "{run}");
        let detail = app.api(&format!("/api/v1/gc/runs/{}", run["id"])).await;
        let journal = detail["journal"].as_array().unwrap();
        assert!(!journal.is_empty() && journal.iter().all(|e| e["state"] == "dry-run"), "{detail}");
        assert!(journal.iter().all(|e| e["reason"].as_str().is_some_and(|r| !r.is_empty())));

        // Registry down: the run deletes nothing, says why, and counts the refusal.
        registry.stop();
        let refused = app.gc.run(Trigger::Cli, None).await.unwrap();
        assert_eq!(refused.status, RunStatus::Refused);
        assert!(refused.error.as_deref().unwrap_or_default().contains("unreachable"), "{:?}", refused.error);
        assert_eq!(summary(&refused).total(Outcome::Removed), 0);
        let metrics = app.http.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
        assert!(metrics.contains(r#"registry_gc_gc_refusals_total{reason="registry_unreachable"} 1"#), "{metrics}");
        assert!(metrics.contains(r#"registry_gc_gc_runs_total{status="refused"} 1"#), "{metrics}");
        registry.restart().await;
        let tags_after = tags(&registry.client()).await;
        assert_eq!(tags_after.len(), 4, "nothing was deleted: {tags_after:?}");
    }

    async fn unavailable_cluster_protection_deletes_nothing(backend: Backend) {
        let registry = TestRegistry::start().await;
        let toml = config(&registry);
        let app = TestApp::spawn_with(backend, &toml).await;
        let world = World { app: &app, registry: &registry };
        deploy_once(&world).await;
        deploy_again(&world).await;
        let before = tags(&registry.client()).await;
        let clock = Arc::new(ManualClock::new(Utc::now() + TimeDelta::days(3)));
        // The same daemon, but its cluster protection cannot be read.
        let unavailable = Arc::new(UnavailableProtection("the Kubernetes API did not answer".into()));
        let gc = gc_with(&toml, &app, unavailable, clock.clone());
        let run = gc.run(Trigger::Cli, None).await.unwrap();
        let done = summary(&run);
        assert!(done.tags_planned == 0 && done.tags_kept > 0, "{:?}", run.summary);
        assert!(run.error.as_deref().unwrap_or_default().contains("Kubernetes API did not answer"), "{:?}", run.error);
        assert_eq!(tags(&registry.client()).await, before, "something was deleted without cluster protection");
        // With protection readable again, the superseded commit tag goes.
        let gc = gc_with(&toml, &app, Arc::new(NoClusterProtection), clock);
        let run = gc.run(Trigger::Cli, None).await.unwrap();
        assert!(summary(&run).total(Outcome::Removed) > 0, "{:?}", run.summary);
    }
}

/// A collector over the test daemon's store and configuration with its own protection and clock.
fn gc_with(
    toml: &str,
    app: &TestApp,
    protection: Arc<dyn ProtectionSource>,
    clock: Arc<ManualClock>,
) -> Gc {
    let mut config = Config::from_toml(toml).unwrap();
    config.database = app.db.config.clone();
    Gc::new(
        Arc::new(config),
        app.store.clone(),
        protection,
        clock,
        Metrics::new(),
    )
    .unwrap()
}

/// A second deploy on main, so the first deploy's commit tag becomes deletable.
async fn deploy_again(world: &World<'_>) {
    world
        .hook(
            "Push Hook",
            gitlab::push("main", &sha(0, 1), &sha(0, 2), &[sha(0, 2)]),
        )
        .await;
    let tags = [
        (CI, sha(0, 2)),
        (CI, "main".to_owned()),
        (PROD, format!("prod-{}", sha(0, 2))),
        (PROD, "prod".to_owned()),
    ];
    world
        .pipeline(602, "main", &sha(0, 2), "success", None, &tags)
        .await;
}
