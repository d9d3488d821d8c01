//! The reconciler as the daemon and `registry-gc reconcile` run it: configured by `[gitlab]`, built
//! by the app, applying what it finds through the store with its watermarks, on SQLite and Postgres.
//! GitLab is the fake in `support::gitlab_api` (GitLab's shapes and pagination headers).

use chrono::{TimeDelta, Utc};
use registry_gc::gc::Trigger;

use crate::support::app::TestApp;
use crate::support::db::{both_backends, Backend};
use crate::support::gitlab::{self, zeros};
use crate::support::gitlab_api::shapes::{self, PROJECT_ID};
use crate::support::gitlab_api::{FakeGitLab, World};
use crate::support::registry::TestRegistry;
use crate::support::scenario::{self, config, names, sha, summary, tags, CI};

/// The scenario's app with a `[gitlab]` section for `fake` (not scheduled) plus `extra`, after
/// the scenario's first deploy.
async fn gitlab_app(
    backend: Backend,
    registry: &TestRegistry,
    fake: &FakeGitLab,
    extra: &str,
) -> TestApp {
    let app = TestApp::spawn_with(backend, &gitlab_toml(registry, fake, extra)).await;
    scenario::deploy_once(&scenario::World {
        app: &app,
        registry,
    })
    .await;
    app
}

fn gitlab_toml(registry: &TestRegistry, fake: &FakeGitLab, extra: &str) -> String {
    format!(
        "{}\n[gitlab]\nurl = \"{}\"\ntoken = \"{}\"\nschedule = \"\"\nbackoff_initial_ms = 5\nbackoff_max_ms = 20\n{extra}\n",
        config(registry),
        fake.url,
        crate::support::gitlab_api::TOKEN
    )
}

both_backends! {
    async fn the_configured_reconciler_heals_lost_webhooks(backend: Backend) {
        let registry = TestRegistry::start().await;
        let now = Utc::now();
        let old = now - TimeDelta::hours(1);
        let fake = FakeGitLab::start(World {
            project: shapes::project("main"),
            branches: vec![shapes::branch("main", &sha(0, 1), true)],
            merge_requests: vec![shapes::merge_request(1, "feature/a", "merged", "2026-11-21T10:00:00Z".parse().unwrap())],
            pipelines: vec![
                shapes::pipeline(601, "main", &sha(0, 1), "success", false, old),
                shapes::pipeline(501, "feature/a", &sha(1, 1), "success", false, old),
            ],
            hooks: vec![shapes::hook(9, "https://registry-gc.example.com/webhooks/gitlab", "temporarily_disabled", Some(now + TimeDelta::hours(1)))],
            ..Default::default()
        }).await;
        let app = gitlab_app(backend, &registry, &fake, "hook_url = \"https://registry-gc.example.com/webhooks/gitlab\"").await;
        let world = scenario::World { app: &app, registry: &registry };
        world.hook("Push Hook", gitlab::push("feature/a", &zeros(), &sha(1, 1), &[sha(1, 1)])).await;
        world.hook("Merge Request Hook", gitlab::merge_request(1, "feature/a", "opened", "open", "2026-11-20T09:00:00Z")).await;
        world.pipeline(501, "feature/a", &sha(1, 1), "success", None, &[(CI, sha(1, 1)), (CI, "feature-a".to_owned())]).await;
        let reconciler = app.app.reconciler.as_ref().expect("[gitlab] builds a reconciler");
        // The test clock stands still; a reconciliation is stamped after the webhooks it heals.
        app.clock.set(Utc::now());

        // A dry run finds the lost merge and deletion and writes nothing.
        let dry = reconciler.reconcile(None, true).await;
        assert_eq!((dry.len(), dry[0].error.as_deref()), (1, None), "{dry:?}");
        assert_eq!(dry[0].found.len(), 2, "{dry:?}");
        assert!(app.store.reconcile_state(PROJECT_ID).await.unwrap().is_none(), "a dry run saved a watermark");

        let done = reconciler.reconcile(None, false).await;
        assert!(done[0].found.iter().any(|f| f.starts_with("branch feature/a deleted (found by reconciliation at")), "{done:?}");
        let saved = app.store.reconcile_state(PROJECT_ID).await.unwrap().unwrap();
        assert!(saved.last_success_at.is_some() && saved.mr_watermark.is_some(), "{saved:?}");
        let metrics = app.http.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
        assert!(metrics.contains("registry_gc_reconcile_last_success_timestamp_seconds{project=\"group/app\"}"), "{metrics}");
        // The hook GitLab disabled for a while is reported: metric, API and the reconcile output.
        assert!(metrics.contains("registry_gc_gitlab_hook_alert_status{project=\"group/app\"} 1"), "{metrics}");
        let hook = done[0].hook.as_ref().expect("hook_url set: the hook is checked");
        assert_eq!(hook.hook_id, Some(9));
        let projects = app.api("/api/v1/projects").await;
        let warnings = &projects["projects"][0]["hook"]["warnings"];
        assert!(warnings.as_array().unwrap().iter().any(|w| w["code"] == "temporarily-disabled"), "{projects}");
        let again = reconciler.reconcile(None, false).await;
        assert!(again[0].found.is_empty(), "{again:?}");

        app.clock.set(Utc::now() + TimeDelta::days(3));
        let run = app.gc.run(Trigger::Cli, None).await.unwrap();
        assert!(summary(&run).errors.is_empty(), "{:?}", run.summary);
        let left = names(&tags(&registry.client()).await, CI);
        assert!(!left.contains("feature-a") && !left.contains(&sha(1, 1)), "{left:?}");
        assert!(left.contains("main"), "{left:?}");
    }
}

// A push of more refs than GitLab sends push hooks for (here four branches deleted at once) sends
// no hook at all; the bulk-push watch sees it in the project's push events and reconciles the
// project at once, and does not take the same push as a reason twice.
both_backends! {
    async fn a_bulk_push_is_reconciled_at_once(backend: Backend) {
        let registry = TestRegistry::start().await;
        let kept: Vec<String> = (1..=5).map(|i| format!("keep/{i}")).collect();
        let gone: Vec<String> = ["a", "b", "c", "d"].iter().map(|b| format!("topic/{b}")).collect();
        let mut branches = vec![shapes::branch("main", &sha(0, 1), true)];
        branches.extend(kept.iter().map(|b| shapes::branch(b, &sha(2, 1), false)));
        let fake = FakeGitLab::start(World {
            project: shapes::project("main"),
            branches,
            ..Default::default()
        }).await;
        let app = gitlab_app(backend, &registry, &fake, "bulk_push_schedule = \"\"").await;
        let world = scenario::World { app: &app, registry: &registry };
        for (i, branch) in kept.iter().chain(&gone).enumerate() {
            let commit = sha(3, i as u8);
            world.hook("Push Hook", gitlab::push(branch, &zeros(), &commit, std::slice::from_ref(&commit))).await;
        }
        let reconciler = app.app.reconciler.as_ref().expect("[gitlab] builds a reconciler");
        app.clock.set(Utc::now());
        let live = |refs: &[registry_gc::model::RefRecord], name: &str| {
            refs.iter().any(|r| r.name == name && r.state == registry_gc::model::RefState::Live)
        };

        // No bulk push: nothing reconciled.
        assert!(reconciler.reconcile_bulk_pushed().await.is_empty());
        let refs = app.store.refs(PROJECT_ID).await.unwrap();
        assert!(gone.iter().all(|b| live(&refs, b)), "{refs:?}");

        fake.world.lock().unwrap().events.push(shapes::push_event(7, "deleted", None, Some(4), Utc::now()));
        let done = reconciler.reconcile_bulk_pushed().await;
        assert_eq!(done.len(), 1, "{done:?}");
        assert_eq!(done[0].error, None, "{done:?}");
        let refs = app.store.refs(PROJECT_ID).await.unwrap();
        assert!(gone.iter().all(|b| !live(&refs, b)), "{refs:?}");
        assert!(kept.iter().all(|b| live(&refs, b)) && live(&refs, "main"), "{refs:?}");
        let deleted = refs.iter().find(|r| r.name == "topic/a").unwrap();
        assert_eq!(deleted.deleted_by.as_deref(), Some("reconciliation"));

        // Looked at again: the same push is no reason to reconcile again.
        assert!(reconciler.reconcile_bulk_pushed().await.is_empty());
        assert_eq!(fake.requests_to("/events"), 3, "one push-events request per look");
    }
}

// `enabled = false` for one project: the schedule and the bulk-push watch leave it alone; named on
// the command line (`reconcile --project`) it is reconciled.
both_backends! {
    async fn a_project_with_reconciliation_disabled_is_reconciled_only_when_named(backend: Backend) {
        let registry = TestRegistry::start().await;
        let fake = FakeGitLab::start(World {
            project: shapes::project("main"),
            branches: vec![shapes::branch("main", &sha(0, 1), true)],
            ..Default::default()
        }).await;
        let app = gitlab_app(backend, &registry, &fake, "[gitlab.projects.\"group/app\"]\nenabled = false").await;
        let reconciler = app.app.reconciler.as_ref().expect("[gitlab] builds a reconciler");
        app.clock.set(Utc::now());

        assert!(reconciler.reconcile(None, false).await.is_empty());
        fake.world.lock().unwrap().events.push(shapes::push_event(7, "pushed new", None, Some(5), Utc::now()));
        assert!(reconciler.reconcile_bulk_pushed().await.is_empty());
        assert_eq!(fake.requests_to("/projects/"), 0, "nothing asked about a disabled project");

        let named = reconciler.reconcile(Some("group/app"), false).await;
        assert_eq!((named.len(), named[0].error.as_deref()), (1, None), "{named:?}");
        assert!(fake.requests_to("/repository/branches") > 0);
    }
}
