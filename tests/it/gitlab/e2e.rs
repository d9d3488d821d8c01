//! End to end on both backends, with a real docker-registry and the daemon's store: webhooks lost
//! for a branch deletion and a merge are healed by reconciliation and the run removes that
//! branch's tags; a project no webhook ever described is imported, its existing tags become
//! tracked, a second import changes nothing, and the run removes exactly the stale tags.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, TimeDelta, Utc};
use registry_gc::config::{Config, ProjectConfig};
use registry_gc::gc::TagOutcome;
use registry_gc::gc::{ProjectPlan, Trigger};
use registry_gc::gitlab::fetch::{import_project, reconcile_project, ImportRequest};
use registry_gc::gitlab::finding::batch;
use registry_gc::gitlab::import::tracking_report;
use registry_gc::gitlab::reconcile::{Images, Recorded, Watermark};
use registry_gc::model::RunStatus;
use registry_gc::model::{Change, ProjectUpsert};
use registry_gc::registry::Format;
use registry_gc::store::Applied;

use super::{budget, client_with};
use crate::support::app::TestApp;
use crate::support::db::both_backends;
use crate::support::gitlab::{self, zeros};
use crate::support::gitlab_api::shapes::{self, PROJECT_ID};
use crate::support::gitlab_api::{FakeGitLab, World};
use crate::support::registry::{TestImage, TestRegistry};
use crate::support::scenario::{self, config, names, sha, summary, tags, CI, PROD};

fn project_config(toml: &str) -> ProjectConfig {
    Config::from_toml(toml).unwrap().projects.remove(0)
}

fn images(config: &ProjectConfig) -> Images<'_> {
    Images {
        config,
        registry: config.registry_host(),
        project_path: "group/app",
        default_branch: Some("main"),
    }
}

fn upsert() -> ProjectUpsert {
    ProjectUpsert {
        id: PROJECT_ID,
        path: "group/app".into(),
        default_branch: Some("main".into()),
    }
}

/// (deleted?, reason code, message) of `tag` in `repo` in the plan.
fn verdict(plan: &ProjectPlan, repo: &str, tag: &str) -> (bool, String, String) {
    for action in plan.plan.actions.iter().filter(|a| a.repository() == repo) {
        if let Some((_, reason)) = action.tags().into_iter().find(|(t, _)| *t == tag) {
            return (true, reason.code().to_owned(), reason.to_string());
        }
    }
    let kept = plan
        .plan
        .kept
        .iter()
        .find(|k| *k.repository == *repo && k.tag == tag);
    let kept = kept.unwrap_or_else(|| panic!("{repo}:{tag} not in the plan"));
    (
        false,
        kept.reason.code().to_owned(),
        kept.reason.to_string(),
    )
}

async fn plan_now(app: &TestApp) -> ProjectPlan {
    app.gc
        .plan(Some("group/app"))
        .await
        .unwrap()
        .remove(0)
        .unwrap()
}

/// GitLab after the merge of !1 and the deletion of feature/a, whose webhooks were lost.
fn gitlab_after_merge(now: DateTime<Utc>) -> World {
    let old = now - TimeDelta::hours(1);
    World {
        project: shapes::project("main"),
        branches: vec![shapes::branch("main", &sha(0, 1), true)],
        merge_requests: vec![shapes::merge_request(
            1,
            "feature/a",
            "merged",
            "2026-11-21T10:00:00Z".parse().unwrap(),
        )],
        pipelines: vec![
            shapes::pipeline(601, "main", &sha(0, 1), "success", false, old),
            shapes::pipeline(501, "feature/a", &sha(1, 1), "success", false, old),
        ],
        ..Default::default()
    }
}

both_backends! {
    async fn reconciliation_heals_lost_webhooks(backend: Backend) {
        let registry = TestRegistry::start().await;
        let toml = config(&registry);
        let app = TestApp::spawn_with(backend, &toml).await;
        let world = scenario::World { app: &app, registry: &registry };
        scenario::deploy_once(&world).await;
        world.hook("Push Hook", gitlab::push("feature/a", &zeros(), &sha(1, 1), &[sha(1, 1)])).await;
        world.hook("Merge Request Hook", gitlab::merge_request(1, "feature/a", "opened", "open", "2026-11-20T09:00:00Z")).await;
        world.pipeline(501, "feature/a", &sha(1, 1), "success", None, &[(CI, sha(1, 1)), (CI, "feature-a".to_owned())]).await;
        app.clock.set(Utc::now() + TimeDelta::days(3));
        let (deleted, code, _) = verdict(&plan_now(&app).await, CI, "feature-a");
        assert_eq!((deleted, code.as_str()), (false, "merge-request-open"), "the webhooks alone keep it");

        let now = Utc::now();
        let fake = FakeGitLab::start(gitlab_after_merge(now)).await;
        let client = client_with(&fake, |_| {});
        let project = project_config(&toml);
        let state = app.store.project_state(PROJECT_ID).await.unwrap();
        let recorded = Recorded::of(PROJECT_ID, &state);
        let found = reconcile_project(&client, &budget(), &recorded, Watermark::default(), Some(images(&project)), now).await.unwrap();
        let reasons: Vec<String> = found.found.iter().map(|f| f.reason.to_string()).collect();
        let at = now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        assert_eq!(reasons, [
            format!("merge request !1 merged (found by reconciliation at {at})"),
            format!("branch feature/a deleted (found by reconciliation at {at})"),
        ]);
        let b = batch(upsert(), now, &found.found).unwrap();
        let project_before = app.store.project_by_id(PROJECT_ID).await.unwrap();
        assert_eq!(app.store.apply(&b).await.unwrap(), Applied::Recorded { changes: 2 });
        let healed = app.store.project_state(PROJECT_ID).await.unwrap();
        app.store.apply(&b).await.unwrap();
        assert_eq!(app.store.project_state(PROJECT_ID).await.unwrap(), healed, "applying the same findings again changes nothing");
        assert_eq!(healed.project, project_before, "a reconciliation is not a webhook delivery: last_event_at stays");

        // Nothing more to find, from the watermark the first run returned.
        let state = app.store.project_state(PROJECT_ID).await.unwrap();
        let recorded = Recorded::of(PROJECT_ID, &state);
        let again = reconcile_project(&client, &budget(), &recorded, found.watermark, Some(images(&project)), Utc::now()).await.unwrap();
        assert!(again.found.is_empty(), "{:?}", again.found);
        assert!(found.watermark.merge_requests.is_some());

        let (deleted, code, message) = verdict(&plan_now(&app).await, CI, "feature-a");
        assert_eq!((deleted, code.as_str()), (true, "branch-deleted"), "{message}");
        assert!(message.contains(&format!("branch feature/a deleted (found by reconciliation at {at})")), "{message}");
        let run = app.gc.run(Trigger::Cli, None).await.unwrap();
        assert_eq!(run.status, RunStatus::Finished, "{:?}", run.summary);
        let left = tags(&registry.client()).await;
        let ci: BTreeSet<String> = ["main".to_owned()].into();
        assert_eq!(names(&left, CI), ci, "feature/a's tags and the finished commit tags went");
        assert!(names(&left, PROD).contains("prod"));
    }

    async fn import_adopts_a_project_and_the_run_removes_only_stale_tags(backend: Backend) {
        let registry = TestRegistry::start().await;
        let toml = config(&registry);
        let app = TestApp::spawn_with(backend, &toml).await;
        let now = Utc::now();
        let fake = FakeGitLab::start(history_without_webhooks(&registry, now).await).await;
        assert!(app.gc.plan(Some("group/app")).await.unwrap()[0].is_err(), "never heard of: refused");

        let client = client_with(&fake, |_| {});
        let project = project_config(&toml);
        let state = app.store.project_state(PROJECT_ID).await.unwrap();
        let request = ImportRequest { recorded: Recorded::of(PROJECT_ID, &state), config: &project, since: TimeDelta::days(90), now };
        let imported = import_project(&client, &budget(), request).await.unwrap();
        let deletions: Vec<&str> = imported.found.iter().filter_map(|f| match &f.change {
            Change::RefDeleted { name, .. } => Some(name.as_str()),
            _ => None,
        }).collect();
        assert_eq!(deletions, ["feature/x"]);
        let b = batch(imported.project.clone(), now, &imported.found).unwrap();
        assert!(matches!(app.store.apply(&b).await.unwrap(), Applied::Recorded { .. }));

        let client_reg = registry.client();
        let mut listed = BTreeMap::new();
        for repo in [CI, PROD] {
            listed.insert(repo.to_owned(), client_reg.list_tags(repo).await.unwrap());
        }
        let report = tracking_report(&state.image_tags, &imported.found, &listed);
        let counts: Vec<(&str, usize, usize, usize)> = report.iter().map(|r| (r.repository.as_str(), r.tags, r.newly_tracked, r.untracked)).collect();
        assert_eq!(counts, [(PROD, 6, 6, 0), (CI, 9, 8, 1)]);

        // Importing again changes nothing.
        let state = app.store.project_state(PROJECT_ID).await.unwrap();
        let request = ImportRequest { recorded: Recorded::of(PROJECT_ID, &state), config: &project, since: TimeDelta::days(90), now: Utc::now() };
        let again = import_project(&client, &budget(), request).await.unwrap();
        assert!(again.found.is_empty(), "{:?}", again.found);
        assert!(batch(again.project, now, &again.found).is_none());

        app.clock.set(Utc::now() + TimeDelta::days(3));
        let before = tags(&client_reg).await;
        let run = app.gc.run(Trigger::Cli, None).await.unwrap();
        assert_eq!(run.status, RunStatus::Finished, "{:?}", run.summary);
        assert_eq!(summary(&run).total(TagOutcome::Removed), 8, "{:?}", run.summary);
        let after = tags(&client_reg).await;
        let ci: BTreeSet<String> = ["main".to_owned(), "manual".to_owned()].into();
        assert_eq!(names(&after, CI), ci);
        let prod: BTreeSet<String> = ["prod".to_owned(), format!("prod-{}", sha(0, 5)), format!("prod-{}", sha(0, 4)), format!("prod-{}", sha(0, 3)), format!("prod-{}", sha(0, 2))].into();
        assert_eq!(names(&after, PROD), prod);
        for (key, digest) in &after {
            assert_eq!(&before[key], digest, "kept tag {key:?} changed digest");
        }
    }
}

/// Five deploys of main and a merged, deleted feature/x, pushed to the registry by a CI the daemon
/// never heard from, plus a hand-made tag; GitLab's view of that history.
async fn history_without_webhooks(registry: &TestRegistry, now: DateTime<Utc>) -> World {
    let days_ago = |d: i64, m: i64| now - TimeDelta::days(d) + TimeDelta::minutes(m);
    let mut pipelines = Vec::new();
    let image = TestImage::random(Format::Docker, 1, 256);
    registry.push_image(CI, &sha(1, 1), &image).await;
    registry.push_image(CI, "feature-x", &image).await;
    pipelines.push(shapes::pipeline(
        501,
        "feature/x",
        &sha(1, 1),
        "success",
        false,
        days_ago(3, 0),
    ));
    for n in 1..=5u8 {
        let commit = sha(0, n);
        let image = TestImage::random(Format::Docker, 1, 256);
        for (repo, tag) in [
            (CI, commit.clone()),
            (CI, "main".into()),
            (PROD, format!("prod-{commit}")),
            (PROD, "prod".into()),
        ] {
            registry.push_image(repo, &tag, &image).await;
        }
        pipelines.push(shapes::pipeline(
            600 + i64::from(n),
            "main",
            &commit,
            "success",
            false,
            days_ago(2, n.into()),
        ));
    }
    registry
        .push_image(CI, "manual", &TestImage::random(Format::Oci, 1, 128))
        .await;
    World {
        project: shapes::project("main"),
        branches: vec![shapes::branch("main", &sha(0, 5), true)],
        merge_requests: vec![shapes::merge_request(
            1,
            "feature/x",
            "merged",
            days_ago(2, 0),
        )],
        pipelines,
        ..Default::default()
    }
}
