//! End to end: a realistic GitLab history replayed into the running daemon, images pushed to a real
//! docker-registry, then garbage collection: dry run, a run that crashes between the dummy PUT and
//! its DELETE, the run that finishes it, and a run with nothing left to do. SQLite and Postgres.

use chrono::{TimeDelta, Utc};
use registry_gc::gc::TagOutcome;
use registry_gc::gc::{CrashPoint, GcError, Trigger};
use registry_gc::model::RunStatus;

use crate::support::app::TestApp;
use crate::support::db::both_backends;
use crate::support::gitlab_registry::GitLabRegistry;
use crate::support::registry::TestRegistry;
use crate::support::scenario::{
    assert_replay_survivors, config, config_at, sha, summary, tags, World, CI,
};

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
        assert_eq!(summary(&dry).total(TagOutcome::DryRun), 12, "{:?}", dry.summary);
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
        assert_replay_survivors(&before, &after);

        let runs = app.api("/api/v1/gc/runs").await["runs"].clone();
        let statuses: Vec<&str> = runs.as_array().unwrap().iter().map(|r| r["status"].as_str().unwrap()).collect();
        assert_eq!(statuses, ["finished", "interrupted", "finished"]);

        // The read API now shows the digest each kept tag had in the registry.
        let recorded = app.api("/api/v1/projects/group/app/tags?ref=main&kind=ci-branch").await["tags"].clone();
        let main_digest = before[&(CI.to_owned(), "main".to_owned())].to_string();
        assert!(recorded.as_array().unwrap().iter().all(|t| t["digest"] == main_digest.as_str()), "{recorded}");

        // Nothing left to do.
        let again = app.gc.run(Trigger::Cli, None).await.unwrap();
        assert_eq!(summary(&again).total(TagOutcome::Removed), 0, "{:?}", again.summary);
        assert_eq!(tags(&client).await, after);
    }
}

both_backends! {
    async fn garbage_collection_reads_a_gitlab_registry_in_pages(backend: Backend) {
        let registry = TestRegistry::start().await;
        let front = GitLabRegistry::start(&registry).await;
        let app = TestApp::spawn_with(backend, &config_at(&front.url, "")).await;
        let world = World { app: &app, registry: &registry };
        world.replay().await;
        let client = registry.client();
        let before = tags(&client).await;
        app.clock.set(Utc::now() + TimeDelta::days(3));

        let run = app.gc.run(Trigger::Cli, None).await.unwrap();
        assert_eq!(run.status, RunStatus::Finished, "{:?}", run.summary);
        assert!(summary(&run).errors.is_empty(), "{:?}", run.summary);
        let after = tags(&client).await;
        assert_replay_survivors(&before, &after);
        assert_eq!(front.count("GET gitlab-check"), 1, "{:?}", front.requests());
        assert!(front.count("HEAD v2") >= 12, "every removed tag was re-checked: {:?}", front.requests());

        // Nothing left to do: the run reads two repositories in a page each and HEADs nothing.
        let seen = front.requests();
        let again = app.gc.run(Trigger::Cli, None).await.unwrap();
        assert_eq!(summary(&again).total(TagOutcome::Removed), 0, "{:?}", again.summary);
        let now = front.requests();
        let made: u64 = now.iter().map(|(k, n)| n - seen.get(k).copied().unwrap_or(0)).sum();
        eprintln!("a run with nothing to delete: {made} requests ({now:?})");
        assert_eq!(now.get("HEAD v2"), seen.get("HEAD v2"), "{now:?}");
        assert!(made <= 3, "{made} requests: {now:?}");
    }
}
