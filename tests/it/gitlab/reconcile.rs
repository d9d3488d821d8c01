//! Reconciliation, hook health and bulk-push detection through the real client against the fake,
//! from hand-built records: what is found, what is refused (empty pages, implausible shrink, 5xx),
//! which requests it takes, and the watermark.

use chrono::{DateTime, TimeDelta, Utc};
use registry_gc::config::{Config, ProjectConfig};
use registry_gc::gitlab::fetch::{bulk_pushes_since, check_hook, reconcile_project};
use registry_gc::gitlab::hooks::AlertStatus;
use registry_gc::gitlab::reconcile::{Images, ReconcileError, Recorded, Watermark};
use registry_gc::model::Change;
use registry_gc::model::*;

use super::{budget, client_with};
use crate::support::app::project_toml;
use crate::support::gitlab_api::shapes::{self, PROJECT_ID};
use crate::support::gitlab_api::{FakeGitLab, Fault, World};

fn sha(n: i64) -> String {
    format!("{n:040x}")
}

fn branch_record(name: &str, updated: DateTime<Utc>) -> RefRecord {
    RefRecord {
        project_id: PROJECT_ID,
        kind: RefKind::Branch,
        name: name.into(),
        slug: registry_gc::model::slugify(name),
        state: RefState::Live,
        protected: false,
        last_sha: Some(sha(1)),
        created_at: Some(updated),
        deleted_at: None,
        deleted_by: None,
        last_pipeline_at: None,
        updated_at: updated,
    }
}

fn state(now: DateTime<Utc>, live: &[&str]) -> ProjectState {
    ProjectState {
        project: Some(ProjectRecord {
            id: PROJECT_ID,
            path: "group/app".into(),
            default_branch: Some("main".into()),
            first_seen: now - TimeDelta::days(1),
            last_event_at: now - TimeDelta::hours(2),
        }),
        refs: live
            .iter()
            .map(|n| branch_record(n, now - TimeDelta::hours(2)))
            .collect(),
        ..Default::default()
    }
}

fn config() -> ProjectConfig {
    Config::from_toml(&project_toml("registry.example.com", ""))
        .unwrap()
        .projects
        .remove(0)
}

fn images(config: &ProjectConfig) -> Images<'_> {
    Images {
        config,
        registry: "registry.example.com",
        project_path: "group/app",
        default_branch: Some("main"),
    }
}

fn world(branches: &[&str]) -> World {
    World {
        project: shapes::project("main"),
        branches: branches
            .iter()
            .map(|n| shapes::branch(n, &sha(2), *n == "main"))
            .collect(),
        ..Default::default()
    }
}

fn show(change: &Change) -> String {
    match change {
        Change::RefPushed { name, .. } => format!("live {name}"),
        Change::RefDeleted { name, .. } => format!("deleted {name}"),
        Change::Pipeline(p) => format!("pipeline {} {}", p.id, p.status),
        Change::MergeRequest { record, .. } => format!("mr !{} {}", record.iid, record.state),
        Change::ImageTag(t) => format!("tag {}", t.tag),
    }
}

/// Records: main and feature/a live, !1 opened, pipeline 501 finished.
fn recorded_before_the_merge(now: DateTime<Utc>) -> ProjectState {
    let mut recorded = state(now, &["main", "feature/a"]);
    recorded.merge_requests.push(MergeRequestRecord {
        project_id: PROJECT_ID,
        iid: 1,
        id: Some(1001),
        source_branch: "feature/a".into(),
        target_branch: "main".into(),
        state: MrState::Opened,
        merged_at: None,
        closed_at: None,
        updated_at: Some(now - TimeDelta::hours(3)),
    });
    recorded.pipelines.push(PipelineRecord {
        project_id: PROJECT_ID,
        id: 501,
        iid: Some(401),
        ref_name: "feature/a".into(),
        tag: false,
        sha: sha(501).into(),
        source: Some("push".into()),
        status: PipelineStatus::Success,
        merge_request_iid: None,
        created_at: None,
        finished_at: None,
        updated_at: now - TimeDelta::hours(2),
    });
    recorded
}

/// GitLab: !1 merged, feature/a gone, feature/b new with a running pipeline.
fn gitlab_after_the_merge(now: DateTime<Utc>) -> World {
    let mut w = world(&["main", "feature/b"]);
    let merge = shapes::merge_request(1, "feature/a", "merged", now - TimeDelta::hours(1));
    w.merge_requests.push(merge);
    let old = now - TimeDelta::hours(2) - TimeDelta::minutes(5);
    let recent = now - TimeDelta::minutes(30);
    w.pipelines.push(shapes::pipeline(
        501,
        "feature/a",
        &sha(501),
        "success",
        false,
        old,
    ));
    w.pipelines.push(shapes::pipeline(
        502,
        "feature/b",
        &sha(502),
        "running",
        false,
        recent,
    ));
    w
}

#[tokio::test]
async fn lost_deletion_merge_and_pipeline_are_found() {
    let now = Utc::now();
    let recorded_state = recorded_before_the_merge(now);
    let fake = FakeGitLab::start(gitlab_after_the_merge(now)).await;
    let client = client_with(&fake, |_| {});
    let config = config();
    let recorded = Recorded::of(PROJECT_ID, &recorded_state);
    let images = Some(images(&config));
    let r = reconcile_project(
        &client,
        &budget(),
        &recorded,
        Watermark::default(),
        images,
        now,
    )
    .await
    .unwrap();
    let shown: Vec<String> = r.found.iter().map(|f| show(&f.change)).collect();
    let commit_tag = format!("tag {}", sha(502));
    let expect = [
        "mr !1 merged",
        "live feature/b",
        "pipeline 502 running",
        &commit_tag,
        "tag feature-b",
        "deleted feature/a",
    ];
    assert_eq!(shown, expect);
    let merged_at = (now - TimeDelta::hours(1)).trunc_subsecs_ms();
    assert_eq!(r.watermark.merge_requests, Some(merged_at));
    let recent = (now - TimeDelta::minutes(30)).trunc_subsecs_ms();
    assert_eq!(r.watermark.pipelines, Some(recent));
    assert_eq!(
        fake.requests_to("/repository/branches/"),
        1,
        "only feature/a is confirmed"
    );
    assert_eq!(
        fake.requests_to("/pipelines/"),
        1,
        "only the new pipeline is read in full"
    );
}

trait Millis {
    fn trunc_subsecs_ms(self) -> Self;
}

impl Millis for DateTime<Utc> {
    /// The API gives milliseconds.
    fn trunc_subsecs_ms(self) -> Self {
        chrono::DurationRound::duration_trunc(self, TimeDelta::milliseconds(1)).unwrap()
    }
}

#[tokio::test]
async fn the_empty_pages_bug_aborts_before_any_confirmation() {
    let now = Utc::now();
    let names = ["a", "b", "c", "d", "main"];
    let mut w = world(&names);
    w.empty_pages_bug = true;
    let fake = FakeGitLab::start(w).await;
    let client = client_with(&fake, |s| s.per_page = 2);
    let recorded_state = state(now, &names);
    let recorded = Recorded::of(PROJECT_ID, &recorded_state);
    let err = reconcile_project(
        &client,
        &budget(),
        &recorded,
        Watermark::default(),
        None,
        now,
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("empty pages"), "{err}");
    assert_eq!(fake.requests_to("/repository/branches/"), 0);
    assert_eq!(
        fake.requests_to("/merge_requests"),
        0,
        "the project stops at the first doubt"
    );
}

#[tokio::test]
async fn an_implausible_shrink_aborts_the_project() {
    let now = Utc::now();
    let names: Vec<String> = (0..10).map(|i| format!("b{i}")).collect();
    let live: Vec<&str> = names.iter().map(String::as_str).collect();
    let fake = FakeGitLab::start(world(&["b0", "b1"])).await;
    let client = client_with(&fake, |_| {});
    let recorded_state = state(now, &live);
    let recorded = Recorded::of(PROJECT_ID, &recorded_state);
    let err = reconcile_project(
        &client,
        &budget(),
        &recorded,
        Watermark::default(),
        None,
        now,
    )
    .await
    .unwrap_err();
    assert!(matches!(err, ReconcileError::Implausible(_)), "{err}");
    assert!(err.to_string().contains("only 2 of the 10"), "{err}");
    assert_eq!(fake.requests_to("/repository/branches/"), 0);
}

#[tokio::test]
async fn a_server_error_fails_the_project_and_a_200_refutes_a_deletion() {
    let now = Utc::now();
    let mut w = world(&["main", "feature/a"]);
    w.hidden_from_list = vec!["feature/a".into()];
    let fake = FakeGitLab::start(w).await;
    let client = client_with(&fake, |s| s.retries = 1);
    let recorded_state = state(now, &["main", "feature/a"]);
    let recorded = Recorded::of(PROJECT_ID, &recorded_state);
    let r = reconcile_project(
        &client,
        &budget(),
        &recorded,
        Watermark::default(),
        None,
        now,
    )
    .await
    .unwrap();
    assert!(r.found.is_empty(), "{:?}", r.found);
    assert!(
        r.notes
            .iter()
            .any(|n| n.contains("feature/a") && n.contains("exists (200)")),
        "{:?}",
        r.notes
    );

    fake.fault("/pipelines", Fault::Status(500));
    fake.fault("/pipelines", Fault::Status(500));
    let err = reconcile_project(
        &client,
        &budget(),
        &recorded,
        Watermark::default(),
        None,
        now,
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("HTTP 500"), "{err}");
}

/// Our hook temporarily disabled, another hook healthy, main running, a bulk push.
fn gitlab_with_a_sick_hook(now: DateTime<Utc>) -> World {
    let mut w = world(&["main"]);
    let until = now + TimeDelta::minutes(16);
    w.hooks.push(shapes::hook(
        1,
        "https://chat.example.com/hook",
        "executable",
        None,
    ));
    w.hooks.push(shapes::hook(
        2,
        "https://registry-gc.example.com/webhooks/gitlab",
        "temporarily_disabled",
        Some(until),
    ));
    w.pipelines.push(shapes::pipeline(
        700,
        "main",
        &sha(700),
        "running",
        false,
        now - TimeDelta::minutes(3),
    ));
    w.events.push(shapes::push_event(
        1,
        "pushed to",
        Some("main"),
        None,
        now - TimeDelta::minutes(20),
    ));
    w.events.push(shapes::push_event(
        2,
        "deleted",
        None,
        Some(7),
        now - TimeDelta::minutes(10),
    ));
    w
}

#[tokio::test]
async fn hook_health_and_bulk_pushes() {
    let now = Utc::now();
    let fake = FakeGitLab::start(gitlab_with_a_sick_hook(now)).await;
    let client = client_with(&fake, |s| {
        s.hook_url = Some(
            "https://registry-gc.example.com/webhooks/gitlab"
                .parse()
                .unwrap(),
        );
    });
    let health = check_hook(
        &client,
        &budget(),
        PROJECT_ID,
        Some("group/app"),
        Some(now - TimeDelta::hours(2)),
        now,
    )
    .await
    .unwrap();
    assert_eq!(
        (health.hook_id, &health.alert_status),
        (Some(2), &AlertStatus::TemporarilyDisabled)
    );
    let codes: Vec<String> = health
        .warnings
        .iter()
        .map(|w| {
            serde_json::to_value(w).unwrap()["code"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(codes, ["temporarily-disabled", "silent"]);

    let bulk = bulk_pushes_since(&client, &budget(), PROJECT_ID, now - TimeDelta::hours(1))
        .await
        .unwrap();
    assert_eq!(bulk.len(), 1);
    assert_eq!((bulk[0].event_id, bulk[0].ref_count), (2, 7));
}
