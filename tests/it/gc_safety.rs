//! The garbage collector deletes nothing when in doubt, and only what its rules allow: untracked
//! tags only where an age rule is configured, nothing while cluster protection is unreadable or the
//! registry is down; runs triggered through the API. SQLite and Postgres, real registry.

use std::sync::Arc;

use chrono::{TimeDelta, Utc};
use registry_gc::clock::ManualClock;
use registry_gc::cluster::{NoClusterProtection, UnavailableProtection};
use registry_gc::gc::TagOutcome;
use registry_gc::gc::Trigger;
use registry_gc::model::RunStatus;
use registry_gc::registry::Format;
use serde_json::Value;

use crate::support::app::TestApp;
use crate::support::db::both_backends;
use crate::support::registry::{RegistryOptions, TestImage, TestRegistry};
use crate::support::scenario::{
    config, config_with, deploy_again, deploy_once, gc_with, names, summary, tags, World, CI, PROD,
};

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
        assert_eq!(summary(&refused).total(TagOutcome::Removed), 0);
        let metrics = app.http.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
        assert!(metrics.contains(r#"registry_gc_gc_refusals_total{reason="registry_unreachable"} 1"#), "{metrics}");
        assert!(metrics.contains(r#"registry_gc_gc_runs_total{status="refused",trigger="cli"} 1"#), "{metrics}");
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
        assert!(summary(&run).total(TagOutcome::Removed) > 0, "{:?}", run.summary);
    }

    async fn registry_with_deletion_disabled_changes_nothing(backend: Backend) {
        let options = RegistryOptions { delete_enabled: false, ..RegistryOptions::default() };
        let registry = TestRegistry::start_with(options).await;
        let app = TestApp::spawn_with(backend, &config(&registry)).await;
        let world = World { app: &app, registry: &registry };
        deploy_once(&world).await;
        deploy_again(&world).await;
        let before = tags(&registry.client()).await;
        app.clock.set(Utc::now() + TimeDelta::days(3));
        let run = app.gc.run(Trigger::Cli, None).await.unwrap();
        let done = summary(&run);
        assert!(done.tags_planned > 0 && done.total(TagOutcome::Removed) == 0, "{:?}", run.summary);
        assert!(run.error.as_deref().unwrap_or_default().contains("disabled"), "{:?}", run.error);
        assert_eq!(tags(&registry.client()).await, before, "tags changed on a registry that cannot delete");
        let metrics = app.http.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
        assert!(metrics.contains(r#"registry_gc_gc_refusals_total{reason="deletion_disabled"}"#), "{metrics}");
    }
}
